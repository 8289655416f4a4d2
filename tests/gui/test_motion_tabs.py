"""Motion in the window: a video dropped on the Dream picture or the Style content slot is
made frame by frame into the frame strip, a zoom from the Dream form, Stop and Run again
continues, the question before a long job, Save video, the close question, bad videos."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import texture, write_clip

from cnnstudio.core import image_saving
from cnnstudio.core.dream import estimate
from cnnstudio.core.dream.params import DreamParams
from cnnstudio.core.video.reader import probe
from cnnstudio.core.video.writer import read_metadata
from cnnstudio.gui.tabs.motion import questions
from cnnstudio.gui.tabs.motion.jobs import FrameSaved

RUN_TIMEOUT_MS = 180_000
FRAME = DreamParams(
    weights="random", layers={"mixed2": 1.0}, octaves=1, steps=1, step_size=0.05, jitter=0,
    seed=4, max_size=96,
)  # fmt: skip


@pytest.fixture
def dream(qtbot, window):
    tab = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(tab)
    tab.form.set_params(FRAME)
    tab.errors = []
    tab.show_error = lambda message, details="": tab.errors.append(message)
    return tab


def open_video(qtbot, tab, view, path, drop_files):
    with qtbot.waitSignal(tab.motion.probe_runner.done, timeout=30_000):
        assert drop_files(view.viewport(), [path]).isAccepted()


def run(qtbot, tab):
    with qtbot.waitSignal(tab.runner.done, timeout=RUN_TIMEOUT_MS):
        tab.run_job()


def save(qtbot, tab, path):
    tab.motion.ask_save_video = lambda _name: str(path)
    with qtbot.waitSignal(tab.motion.save_runner.done, timeout=30_000):
        tab.save_result()  # Ctrl+S: the video, in motion mode


def test_a_video_dropped_on_dream_is_dreamed_into_the_strip_and_saved(
    qtbot, dream, tmp_path, drop_files
):
    clip = write_clip(tmp_path / "clip.mp4", count=4)
    open_video(qtbot, dream, dream.preview, clip, drop_files)
    assert dream.motion.active() and dream.motion.panel.isVisibleTo(dream)
    assert dream.motion.panel.source_label.text() == "clip.mp4: 4 frames, 64x48, 12 fps"
    formats = []
    dream.runner.progress.connect(lambda _event: formats.append(dream.progress.format()))
    run(qtbot, dream)
    assert dream.motion.panel.strip.count() == 4 and not dream.errors
    assert any(text.startswith("Frame 2 of 4 - step 1/1 - ETA") for text in formats)
    assert dream.unsaved_work().startswith("Dream: the 4 frames of clip.mp4 are not saved")
    strip = dream.motion.panel.strip
    strip.select(0)  # scrubbing shows that frame
    assert dream.preview.image().shape == (48, 64, 3)
    save(qtbot, dream, tmp_path / "dreamed.mp4")
    assert probe(tmp_path / "dreamed.mp4").frames == 4
    meta = read_metadata(tmp_path / "dreamed.mp4")
    assert meta["job"] == "dream-video" and meta["complete"] is True
    assert meta["source"] == "clip.mp4" and meta["params"]["video"]["temporal"] is True
    assert dream.unsaved_work() is None
    frames_dir = dream.motion.frames_dir
    assert len(list(frames_dir.glob("frame_*.png"))) == 4  # kept until the tab moves on
    dream.motion.discard_saved_frames()  # a new run, a new video, closing: saved: they go
    assert not frames_dir.exists()


def test_a_stopped_zoom_keeps_its_frames_and_run_continues_it(
    qtbot, dream, tmp_path, stop_motion_at_first
):
    dream.set_source(texture(64, 80, seed=3), "texture")
    dream.form.zoom_group.setChecked(True)
    dream.form.zoom_group.frames_spin.setValue(3)
    assert dream.motion.panel.isVisibleTo(dream)
    # the job waits after its first frame until the window has pressed Stop
    undo = stop_motion_at_first(dream.runner, FrameSaved, dream.stop_job)
    run(qtbot, dream)
    undo()
    kept = dream.motion.frame_count()
    assert kept == 1 and dream.progress.format() == "Stopped"
    assert f"{kept} frames of the zoom of texture kept" in dream.window().status_label.text()
    asked = []
    dream.motion.ask_resume = lambda text: asked.append(text) or questions.CONTINUE
    run(qtbot, dream)
    assert asked == [
        f"{kept} of 3 frames of the zoom of texture were made before. Continue from frame "
        f"{kept + 1}, or start again?"
    ]
    assert dream.motion.frame_count() == 3  # the earlier frames and the new ones
    save(qtbot, dream, tmp_path / "zoom.gif")
    meta = read_metadata(tmp_path / "zoom.gif")
    assert meta["job"] == "dream-zoom" and meta["frames"] == 3


def test_a_long_job_asks_first_and_offers_a_smaller_size(qtbot, dream, tmp_path, drop_files):
    clip = write_clip(tmp_path / "wide.mp4", count=2, size=(320, 240))
    open_video(qtbot, dream, dream.preview, clip, drop_files)
    estimate_rate = estimate.STEP_SECONDS_PER_MEGAPIXEL
    asked = []
    dream.motion.ask_workload = lambda text, plan: asked.append((text, plan)) or questions.CANCEL
    try:
        estimate.STEP_SECONDS_PER_MEGAPIXEL = 6e4  # a slow machine: over two hours
        dream.run_job()
        assert not dream.runner.running
        ((text, plan),) = asked
        assert text.startswith("wide.mp4: 2 frames at 320x240: about 2:")
        side = max(plan.suggested_size)
        assert side < 320 and f"; at {plan.suggested_size[0]}x" in text
        assert plan.suggested_seconds <= 7200 < plan.seconds
        dream.motion.ask_workload = lambda text, plan: questions.SMALLER
        run(qtbot, dream)
    finally:
        estimate.STEP_SECONDS_PER_MEGAPIXEL = estimate_rate
    assert dream.motion.panel.size_spin.value() == side
    frame = image_saving_load(dream.motion.panel.strip.path(0))
    assert max(frame.shape[:2]) == side


def test_a_long_job_of_small_frames_offers_the_first_frames_that_fit(
    qtbot, dream, tmp_path, drop_files, monkeypatch
):
    clip = write_clip(tmp_path / "clip.mp4", count=5)
    open_video(qtbot, dream, dream.preview, clip, drop_files)
    # 64x48 frames of 50 minutes each: no size helps enough, two frames fit
    monkeypatch.setattr(estimate, "STEP_SECONDS_PER_MEGAPIXEL", 9.8e5)
    buttons = []

    def answer(text, plan):
        # the real box, answered by a click on its frames button
        from PySide6.QtCore import Qt, QTimer
        from PySide6.QtWidgets import QApplication, QMessageBox

        def click():
            box = next(
                w for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.objectName() == "motionWorkloadBox"
            )  # fmt: skip
            buttons.extend(b.text() for b in box.buttons())
            frames = next(b for b in box.buttons() if b.text().startswith("Make the first"))
            qtbot.mouseClick(frames, Qt.MouseButton.LeftButton)

        QTimer.singleShot(0, click)
        return questions.ask_workload(dream, text, plan)

    dream.motion.ask_workload = answer
    said = []
    dream.status.connect(said.append)
    run(qtbot, dream)
    assert set(buttons) == {"Make the first 2 frames", "Go ahead as it is", "Cancel"}
    assert dream.motion.frame_count() == 2 and not dream.errors
    assert "clip.mp4: the first 2 frames this time" in said
    # a zoom: the Frames box takes the frames that fit
    dream.motion.close_video()
    dream.set_source(texture(48, 64, seed=3), "texture")
    dream.form.zoom_group.setChecked(True)
    dream.form.zoom_group.frames_spin.setValue(6)
    dream.motion.ask_workload = lambda text, plan: questions.FEWER
    run(qtbot, dream)
    assert dream.form.zoom_group.frames_spin.value() == 2 and dream.motion.frame_count() == 2


def image_saving_load(path):
    from cnnstudio.core import images

    return images.load_image(path)


def test_a_bad_video_is_refused_naming_the_file(qtbot, dream, tmp_path, drop_files):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is no video")
    open_video(qtbot, dream, dream.preview, bad, drop_files)
    assert not dream.motion.active()
    (message,) = dream.errors
    assert message.startswith("Video broken.mp4: ")


def test_a_video_on_the_style_content_slot_is_painted_frame_by_frame(
    qtbot, window, tmp_path, drop_files
):
    style = window.tab_by_key("style")
    window.tabs.setCurrentWidget(style)
    style.form.weights_picker.set_value("random")
    style.form.steps_spin.setValue(2)
    style.add_style(texture(32, 32, seed=8), "texture")
    clip = write_clip(tmp_path / "clip.mp4", count=3)
    open_video(qtbot, style, style.pictures.content_slot, clip, drop_files)
    assert style.motion.active() and style.pictures.content.shape == (48, 64, 3)
    style.motion.panel.strength.setValue(500.0)
    run(qtbot, style)
    assert style.motion.frame_count() == 3
    message = style.unsaved_work()
    assert message.startswith("Style: the 3 frames of clip.mp4 are not saved")
    style.motion.ask_save_video = lambda _name: str(tmp_path / "styled.mp4")
    assert style.can_save_work() and style.save_work()  # the close question's Save
    meta = read_metadata(tmp_path / "styled.mp4")
    assert meta["job"] == "style-video" and meta["params"]["style"]["temporal_weight"] == 500.0


def test_the_guide_slot_sets_the_guide_objective(qtbot, dream, tmp_path):
    guide = image_saving.save_image(tmp_path / "guide.png", texture(40, 40, seed=1))
    form = dream.form
    form.guide_slot.set_path(str(guide))
    params = form.params()
    assert params.objective == "guide" and params.guide == str(guide)
    assert form.guide_slot.view.image() is not None
    form.guide_slot.set_path("")
    assert form.params().objective == "mean" and form.params().guide is None
    form.set_params(params)
    assert form.params() == params
    np.testing.assert_array_equal(form.guide_slot.view.image().shape, (40, 40, 3))


def test_ticking_the_zoom_turns_a_preset_into_motion_frames(qtbot, window):
    form = window.tab_by_key("dream").form
    form.apply_preset("tf2")  # 5 octaves of 50 steps: ages for every frame
    form.zoom_group.setChecked(True)
    assert form.preset_combo.current_preset() == "motion"
    assert (form.params().octaves, form.params().steps) == (1, 10)
    form.zoom_group.setChecked(False)
    form.steps_spin.setValue(7)  # settings of one's own stay
    form.zoom_group.setChecked(True)
    assert form.params().steps == 7


def test_a_video_job_that_fails_before_its_first_frame_leaves_no_frames_folder(
    qtbot, dream, tmp_path, drop_files, monkeypatch
):
    from cnnstudio.core import paths

    clip = write_clip(tmp_path / "clip.mp4", count=2)
    open_video(qtbot, dream, dream.preview, clip, drop_files)
    dream.form.set_params(FRAME.replace(weights="imagenet"))  # not on this machine
    missing = []
    monkeypatch.setattr(dream, "show_missing_weights", missing.append)
    run(qtbot, dream)
    assert missing and "ImageNet weights" in missing[0]
    motion = paths.data_dir() / "motion"
    assert not motion.exists() or not list(motion.iterdir())


def test_a_zoom_stopped_before_its_first_frame_says_nothing_was_kept(
    qtbot, dream, stop_motion_at_first
):
    from cnnstudio.core import paths
    from cnnstudio.core.video.events import FrameProgress

    dream.set_source(texture(64, 80, seed=3), "texture")
    dream.form.zoom_group.setChecked(True)
    dream.form.zoom_group.frames_spin.setValue(3)
    undo = stop_motion_at_first(dream.runner, FrameProgress, dream.stop_job)  # first step
    said = []
    dream.status.connect(said.append)
    run(qtbot, dream)
    undo()
    assert dream.motion.frame_count() == 0
    assert said[-1] == "Stopped before the first frame of the zoom of texture: nothing kept"
    motion = paths.data_dir() / "motion"
    assert not motion.exists() or not list(motion.iterdir())
