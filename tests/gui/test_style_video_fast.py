"""A video in the Style tab painted by a fast style model (a network with random weights,
saved in the test's own library), as a person does it: "Paint with" in the motion panel
of "Optimise a picture" (the strength box turning from the temporal weight into the
blend), F5 or "Style every frame" in "Use a fast style model", Stop keeping the frames,
Save video; the choice remembered by the model's name; a model damaged or gone said
clearly, the frames made kept."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QPushButton
from video_clips import square_frames, write_clip

from cnnstudio.core import images, library
from cnnstudio.core.faststyle import models
from cnnstudio.core.faststyle.params import FastStyleParams
from cnnstudio.core.style.params import DEFAULT_TEMPORAL_WEIGHT
from cnnstudio.core.style.timing import FAST_STYLE_SECONDS_PER_MEGAPIXEL
from cnnstudio.core.video.params import FLOW_SECONDS_PER_MEGAPIXEL
from cnnstudio.core.video.reader import probe
from cnnstudio.core.video.writer import read_metadata
from cnnstudio.gui.tabs.motion import questions
from cnnstudio.gui.tabs.motion.jobs import FrameSaved
from cnnstudio.gui.tabs.style.modes import OPTIMISE
from cnnstudio.gui.tabs.style.tab import StyleTab
from cnnstudio.gui.tabs.style.video_painter import OPTIMISATION
from cnnstudio.gui.widgets import dialogs

RUN_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def style_network():
    from cnnstudio.core.faststyle.network import build_style_network

    return build_style_network(seed=1)


def save_style_model(network, name: str = "swirls") -> library.ModelEntry:
    """A style model with random weights in the library (the test's own)."""
    styles = [np.full((32, 32, 3), (200, 60, 20), np.uint8)]
    params = FastStyleParams(styles=["swirls.png"], data="photos", size=32)
    meta = models.style_model_meta(
        params, styles, steps=10, best_step=10, held_out_loss=1.0, photos=9
    )
    return models.save_style_model(network, name, meta)


@pytest.fixture
def style(active_window):
    tab = active_window.tab_by_key("style")
    active_window.tabs.setCurrentWidget(tab)
    tab.errors = []
    tab.show_error = lambda message, details="": tab.errors.append(message)
    return tab


def open_video(qtbot, tab, view, path, drop_files) -> None:
    with qtbot.waitSignal(tab.motion.probe_runner.done, timeout=30_000):
        assert drop_files(view.viewport(), [path]).isAccepted()


def press_run(qtbot, window, tab) -> None:
    with qtbot.waitSignal(tab.runner.done, timeout=RUN_TIMEOUT_MS):
        qtbot.keyClick(window, Qt.Key.Key_F5)


def save_video(qtbot, window, tab, path) -> None:
    tab.motion.ask_save_video = lambda _name: str(path)
    with qtbot.waitSignal(tab.motion.save_runner.done, timeout=30_000):
        qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)


def choose_in_use_list(qtbot, use, row: int = 0) -> None:
    """Click the model on ``row`` of "Use"'s list; its first frame is styled at once."""
    listing = use.model_list
    centre = listing.visualItemRect(listing.item(row)).center()
    with qtbot.waitSignal(use.runner.done, timeout=60_000):
        qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def test_paint_with_a_style_model_from_the_optimise_page(
    qtbot, active_window, style, style_network, tmp_path, drop_files
):
    save_style_model(style_network)
    active_window.refresh_library_models()  # as after File > Model library...
    clip = write_clip(tmp_path / "clip.mp4", count=3)
    open_video(qtbot, style, style.pictures.content_slot, clip, drop_files)
    panel, painter = style.motion.panel, style.painter
    combo = painter.combo
    assert painter.isVisibleTo(style) and not painter.colors_check.isVisibleTo(style)
    assert [combo.itemText(i) for i in range(combo.count())] == [OPTIMISATION, "swirls"]
    assert panel.strength_label.text() == "Weight"
    assert panel.strength.value() == DEFAULT_TEMPORAL_WEIGHT
    assert style.estimate.text().startswith("Video, painted by the optimisation: 3 frames")
    panel.strength.setValue(800.0)

    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # the style model
    assert painter.model_name() == "swirls" and painter.colors_check.isVisibleTo(style)
    assert panel.strength_label.text() == "Blend" and panel.strength.maximum() == 1.0
    assert panel.strength.value() == 0.5 and "blended" in panel.strength.toolTip()
    panel.strength.setValue(0.3)
    assert not style.pictures.styles  # no style pictures: the model is the style
    spec = style.motion.host.motion_spec(panel.video_params())
    assert spec.seconds_per_megapixel == FAST_STYLE_SECONDS_PER_MEGAPIXEL + (
        FLOW_SECONDS_PER_MEGAPIXEL
    )
    assert spec.suggested_name == "clip-swirls.mp4" and spec.identity["model"] == "swirls"
    assert style.estimate.text() == (
        "Video, painted by the style model 'swirls': 3 frames at 64x48: under 0:01 on this computer"
    )

    press_run(qtbot, active_window, style)
    assert style.motion.frame_count() == 3 and not style.errors
    assert style.progress.format() == "Done"
    first = next(square_frames(1))
    frame = images.load_image(style.motion.panel.strip.path(0))
    assert frame.shape == first.shape and np.abs(frame.astype(int) - first).mean() > 10
    assert style.unsaved_work().startswith("Style: the 3 frames of clip.mp4 are not saved")
    save_video(qtbot, active_window, style, tmp_path / "styled.mp4")
    assert probe(tmp_path / "styled.mp4").frames == 3
    meta = read_metadata(tmp_path / "styled.mp4")
    assert meta["job"] == "style-video-fast" and meta["complete"] is True
    assert meta["params"]["style"]["model"] == "swirls"
    assert meta["params"]["video"]["blend"] == pytest.approx(0.3)

    qtbot.keyClick(combo, Qt.Key.Key_Up)  # back to the optimisation: its weight again
    assert painter.model_name() == "" and panel.strength_label.text() == "Weight"
    assert panel.strength.value() == 800.0 and panel.temporal_weight() == 800.0
    assert panel.strength_value("style-blend") == pytest.approx(0.3)


def test_f5_in_use_styles_every_frame_on_the_optimise_page(
    qtbot, active_window, style, style_network, tmp_path, drop_files
):
    save_style_model(style_network)
    qtbot.mouseClick(style.findChild(QPushButton, "styleModeUse"), Qt.MouseButton.LeftButton)
    use = style.use_panel
    assert not use.video_note.isVisibleTo(use)
    clip = write_clip(tmp_path / "clip.mp4", count=3)
    open_video(qtbot, style, use.content_slot, clip, drop_files)
    assert style.motion.active() and use.content.shape == (48, 64, 3)
    assert use.video_note.isVisibleTo(use)
    assert "first frame of clip.mp4" in use.video_note.label.text()
    assert "Style every frame (F5)" in use.video_note.label.text()
    use.colors_check.setChecked(True)
    choose_in_use_list(qtbot, use)
    assert use.result is not None and use.result.image.shape == (48, 64, 3)

    started = []
    style.runner.started.connect(lambda: started.append(style.mode))
    press_run(qtbot, active_window, style)
    assert started == [OPTIMISE] and style.mode == OPTIMISE
    assert style.painter.model_name() == "swirls" and style.painter.colors_check.isChecked()
    assert style.motion.frame_count() == 3 and not style.errors
    assert style.motion.panel.isVisibleTo(style) and style.motion.spec.label == "clip.mp4"
    save_video(qtbot, active_window, style, tmp_path / "every.mp4")
    meta = read_metadata(tmp_path / "every.mp4")
    assert meta["job"] == "style-video-fast" and meta["frames"] == 3
    assert meta["params"]["style"]["preserve_colors"] is True

    # a picture again: "Use" says nothing of videos
    picture = tmp_path / "picture.png"
    Image.fromarray(next(square_frames(1))).save(picture)
    style.set_mode("use")
    style.open_image(str(picture))
    assert not style.motion.active() and not use.video_note.isVisibleTo(use)


def test_style_every_frame_stop_keeps_the_frames_and_save_video(
    qtbot, active_window, style, style_network, tmp_path, drop_files, stop_motion_at_first
):
    save_style_model(style_network)
    style.set_mode("use")
    use = style.use_panel
    clip = write_clip(tmp_path / "clip.mp4", count=4)
    open_video(qtbot, style, use.content_slot, clip, drop_files)
    button = use.findChild(QPushButton, "fastEveryFrameButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # no model chosen yet
    assert not style.runner.running and style.mode == "use"
    assert style.errors == ["Choose a style model to style every frame of the video with"]
    choose_in_use_list(qtbot, use)

    # the job waits after its first frame until the window has pressed Stop
    undo = stop_motion_at_first(
        style.runner,
        FrameSaved,
        lambda: qtbot.mouseClick(style.stop_button, Qt.MouseButton.LeftButton),
    )
    with qtbot.waitSignal(style.runner.done, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    undo()
    assert style.mode == OPTIMISE and style.motion.frame_count() == 1
    assert style.progress.format() == "Stopped"
    assert "1 frames of clip.mp4 kept" in active_window.status_label.text()
    style.motion.ask_save_video = lambda _name: str(tmp_path / "part.mp4")
    with qtbot.waitSignal(style.motion.save_runner.done, timeout=30_000):
        qtbot.mouseClick(style.motion.panel.save_button, Qt.MouseButton.LeftButton)
    assert probe(tmp_path / "part.mp4").frames == 1


def test_paint_with_is_remembered_by_the_model_name(qtbot, style_network, tmp_path):
    entry = save_style_model(style_network)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    tabs = []

    def new_tab() -> StyleTab:
        tab = StyleTab()
        qtbot.addWidget(tab)
        tabs.append(tab)
        return tab

    try:
        first = new_tab()
        assert first.painter.choose("swirls")
        first.motion.panel.strength.setValue(0.25)
        first.painter.colors_check.setChecked(True)
        first.save_settings(settings)

        again = new_tab()
        again.restore_settings(settings)
        panel = again.motion.panel
        assert again.painter.model_name() == "swirls" and again.painter.colors_check.isChecked()
        assert panel.strength_label.text() == "Blend" and panel.strength.value() == 0.25
        assert panel.temporal_weight() == DEFAULT_TEMPORAL_WEIGHT

        library.delete_model(entry)  # gone from the library since
        gone = new_tab()
        said = []
        gone.status.connect(said.append)
        gone.restore_settings(settings)
        assert gone.painter.model_name() == "" and gone.motion.panel.strength_label.text() == (
            "Weight"
        )
        assert any("'swirls' that painted your last video is not in" in text for text in said)
    finally:
        for tab in tabs:
            tab.shutdown()


def test_a_damaged_or_missing_model_is_said_and_the_frames_stay(
    qtbot, active_window, style, style_network, tmp_path, drop_files, unsaved_questions
):
    entry = save_style_model(style_network)
    active_window.refresh_library_models()
    clip = write_clip(tmp_path / "clip.mp4", count=2)
    open_video(qtbot, style, style.pictures.content_slot, clip, drop_files)
    assert style.painter.choose("swirls")
    press_run(qtbot, active_window, style)
    frames_dir = style.motion.frames_dir
    assert style.motion.frame_count() == 2 and not style.errors

    # other settings while the frames are not saved: asked first (Cancel: nothing changes)
    unsaved_questions.answers.append(dialogs.CANCEL)
    style.painter.colors_check.setChecked(True)
    qtbot.keyClick(active_window, Qt.Key.Key_F5)
    ((question, can_save),) = unsaved_questions
    assert question.startswith("Style: the 2 frames of clip.mp4 are not saved") and can_save
    assert "Save them before a job with other settings starts?" in question
    assert not style.runner.running and style.motion.frames_dir == frames_dir
    style.painter.colors_check.setChecked(False)

    # damaged inside (same size): the library's pair check (the model file's stamp and
    # SHA-256 against its sidecar's) finds it, and it is said before anything starts
    data = bytearray(entry.path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    entry.path.write_bytes(bytes(data))
    stamp = entry.path.stat().st_mtime_ns + 10**9
    os.utime(entry.path, ns=(stamp, stamp))  # a later file, as any change makes it
    style.motion.ask_resume = lambda text: questions.CONTINUE
    qtbot.keyClick(active_window, Qt.Key.Key_F5)
    (message,) = style.errors
    assert "swirls" in message and "Choose another in 'Paint with'" in message
    assert not style.runner.running
    assert style.motion.frames_dir == frames_dir and style.motion.frame_count() == 2
    assert len(list(frames_dir.glob("frame_*.png"))) == 2

    # gone from the library: said before anything starts
    style.errors.clear()
    library.delete_model(library.resolve_model(entry.path))
    qtbot.keyClick(active_window, Qt.Key.Key_F5)
    (message,) = style.errors
    assert message.startswith("The style model 'swirls' is not in the model library any more.")
    assert "Choose another in 'Paint with'" in message and not style.runner.running
    assert style.motion.frame_count() == 2
    save_video(qtbot, active_window, style, tmp_path / "kept.mp4")
    assert probe(tmp_path / "kept.mp4").frames == 2

    active_window.refresh_library_models()  # the list catches up: the optimisation
    assert style.painter.model_name() == "" and style.motion.panel.strength_label.text() == (
        "Weight"
    )
    assert "'swirls' is not in the model library any more" in (active_window.status_label.text())
