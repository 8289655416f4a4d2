"""Nothing made is thrown away without a question: Ctrl+Q (pressed for real) or opening a
new picture over an unsaved result asks Save / Discard / Cancel, as image editors do; a
running job counts as work (closing stops it); Ctrl+S mid-run saves the picture so far."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnstudio.core.events import Preview, Progress
from cnnstudio.core.image_saving import save_image
from cnnstudio.core.images import read_params
from cnnstudio.gui.widgets import dialogs


def picture(value: int = 90) -> np.ndarray:
    y, x = np.mgrid[0:40, 0:60]
    return np.stack([x * 4, y * 5, np.full_like(x, value)], axis=-1).astype(np.uint8)


def finished_dream(dream) -> np.ndarray:
    """A dream that has finished (as after a run) and was not saved."""
    dream.set_source(picture(10), "photo.png")
    dream._run_params = dream.form.params()
    dream._run_source = "photo.png"
    result = picture(200)
    dream._keep_result(result, stopped_at=None)
    dream._update_buttons()
    return result


def press_quit(qtbot, window) -> None:
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)


def test_ctrl_q_with_an_unsaved_dream_asks_and_cancel_keeps_everything(
    qtbot, active_window, unsaved_questions
):
    dream = active_window.tab_by_key("dream")
    result = finished_dream(dream)
    unsaved_questions.answers.append(dialogs.CANCEL)
    press_quit(qtbot, active_window)
    ((message, can_save),) = unsaved_questions
    assert "Dream: the dreamed picture is not saved." in message and can_save
    assert active_window.isVisible() and not active_window._closed
    assert dream.result_image() is result
    assert "Not closed" in active_window.status_label.text()


def test_save_saves_then_closes_and_a_cancelled_save_keeps_the_window(
    qtbot, active_window, unsaved_questions, tmp_path
):
    dream = active_window.tab_by_key("dream")
    result = finished_dream(dream)
    unsaved_questions.answers += [dialogs.SAVE, dialogs.SAVE]
    dream.ask_save_path = lambda: None  # the save dialog cancelled: do not close
    press_quit(qtbot, active_window)
    assert active_window.isVisible() and not active_window._closed

    out = tmp_path / "kept.png"
    dream.ask_save_path = lambda: str(out)
    press_quit(qtbot, active_window)
    assert active_window._closed and not active_window.isVisible()
    assert np.array_equal(np.asarray(__import__("PIL.Image").Image.open(out)), result)
    assert read_params(out)["job"] == "dream"


def test_nothing_unsaved_closes_without_a_question(qtbot, active_window, unsaved_questions):
    dream = active_window.tab_by_key("dream")
    finished_dream(dream)
    dream._saved_picture = dream.result_image()  # as after Save
    active_window.close()
    assert unsaved_questions == [] and active_window._closed


def test_a_running_job_counts_and_save_keeps_its_picture_so_far(
    qtbot, active_window, unsaved_questions, tmp_path
):
    dream = active_window.tab_by_key("dream")
    train = active_window.tab_by_key("train")
    hold = threading.Event()

    def long_dream():
        yield Preview(picture(150), 7, 100)
        yield Progress(7, 100, 1.0)
        while not hold.wait(0.02):
            yield Progress(7, 100, 1.0)

    dream._run_params = dream.form.params()
    dream._run_source = "photo.png"
    with qtbot.waitSignal(dream.runner.preview, timeout=10_000):
        dream.runner.run_generator(long_dream)
    assert active_window.tabs.tabText(active_window.tabs.indexOf(dream)) == "Dream \u2022"
    unsaved_questions.answers.append(dialogs.SAVE)
    out = tmp_path / "so-far.png"
    dream.ask_save_path = lambda: str(out)
    if train is not None:
        train.is_busy = lambda: True  # e.g. a training run: the default says closing stops it
    press_quit(qtbot, active_window)
    ((message, can_save),) = unsaved_questions
    assert "Dream: a dream is running; closing stops it." in message and can_save
    if train is not None:
        assert "Train: a job is running; closing stops it." in message
    assert active_window._closed and not dream.runner.running
    assert read_params(out)["preview_step"] == 7


def test_opening_a_picture_over_an_unsaved_result_asks(qtbot, window, unsaved_questions, tmp_path):
    dream = window.tab_by_key("dream")
    result = finished_dream(dream)
    other = save_image(tmp_path / "other.png", picture(60))
    unsaved_questions.answers.append(dialogs.CANCEL)
    dream.open_image(str(other))
    assert unsaved_questions[-1] == (
        "The dreamed picture is not saved. Save it before opening other.png?",
        True,
    )
    assert dream.result_image() is result and dream.source_image().shape == (40, 60, 3)
    assert dream._source_name == "photo.png"  # still the old picture

    unsaved_questions.answers.append(dialogs.SAVE)
    saved = tmp_path / "dream.png"
    dream.ask_save_path = lambda: str(saved)
    dream.open_image(str(other))
    assert saved.is_file() and dream._source_name == "other.png"
    assert dream.result_image() is None


def test_ctrl_s_mid_run_saves_the_picture_so_far_with_its_step(qtbot, active_window, tmp_path):
    dream = active_window.tab_by_key("dream")
    active_window.tabs.setCurrentWidget(dream)
    dream.set_source(picture(10), "cat.png")
    hold = threading.Event()

    def long_dream():
        yield Preview(picture(120), 12, 50)
        while not hold.wait(0.02):
            yield Progress(12, 50, 1.0)

    dream._run_params = dream.form.params()
    dream._run_source = "cat.png"
    with qtbot.waitSignal(dream.runner.preview, timeout=10_000):
        dream.runner.run_generator(long_dream)
    assert dream.save_button.isEnabled()
    assert dream.suggested_name() == "cat-dream-step12.png"
    out = tmp_path / "mid.png"
    dream.ask_save_path = lambda: str(out)
    dream.run_button.setFocus()
    qtbot.keyClick(dream.run_button, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    meta = read_params(out)
    assert meta["preview_step"] == 12 and meta["preview_of_steps"] == 50
    assert "step 12" in active_window.status_label.text()
    with qtbot.waitSignal(dream.runner.done, timeout=10_000):
        hold.set()
        dream.stop_job()


def test_style_ctrl_s_mid_run_saves_the_snapshot_chosen(qtbot, window, tmp_path):
    style = window.tab_by_key("style")
    style.set_content(picture(10), "content.png")
    style.form.snapshot_spin.setValue(1)
    style._next_snapshot = 1
    style._run_params = style.form.params()
    style._run_meta = {"content": "content.png", "styles": ["s.png"], "style_blend": None}
    hold = threading.Event()
    shown = threading.Semaphore(0)  # one frame at a time: the latest preview wins
    style.runner.preview.connect(lambda _event: shown.release())

    def long_style():
        for step in (1, 2, 3):
            yield Preview(picture(40 * step), step, 30)
            shown.acquire(timeout=10)
        while not hold.wait(0.02):
            yield Progress(3, 30, 1.0)

    style.runner.run_generator(long_style)
    qtbot.waitUntil(lambda: len(style.snapshots) == 3, timeout=10_000)
    style.select_snapshot(0)
    assert style.suggested_name() == "content-style-step1.png"
    out = tmp_path / "first.png"
    style.ask_save_path = lambda: str(out)
    style.save_result()
    assert read_params(out)["preview_step"] == 1
    with qtbot.waitSignal(style.runner.done, timeout=10_000):
        hold.set()
        style.stop_job()


def test_the_question_box_offers_save_only_when_there_is_something_to_save(qtbot):
    box = dialogs.unsaved_work_box(None, "Lost?", can_save=True)
    buttons = {box.standardButton(b) for b in box.buttons()}
    assert buttons == {
        QMessageBox.StandardButton.Save,
        QMessageBox.StandardButton.Discard,
        QMessageBox.StandardButton.Cancel,
    }
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    box.deleteLater()
    box = dialogs.unsaved_work_box(None, "Lost?", can_save=False)
    assert box.button(QMessageBox.StandardButton.Save) is None
    box.deleteLater()


@pytest.mark.parametrize("focus_text_field", [False, True])
def test_ctrl_c_copies_the_picture_and_leaves_text_fields_their_copy(
    qtbot, active_window, focus_text_field
):
    dream = active_window.tab_by_key("dream")
    active_window.tabs.setCurrentWidget(dream)
    source = picture(77)
    dream.set_source(source, "photo.png")
    clipboard = QApplication.clipboard()
    clipboard.setText("before")
    if focus_text_field:
        spin = dream.form.octave_scale_spin
        spin.setFocus()
        qtbot.waitUntil(spin.hasFocus)
        spin.selectAll()
        qtbot.keyClick(spin, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
        assert clipboard.text() == spin.text()
        return
    dream.run_button.setFocus()
    qtbot.keyClick(dream.run_button, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    from cnnstudio.gui.clipboard import qimage_to_array

    assert np.array_equal(qimage_to_array(clipboard.image()), source)
    assert "Copied the picture (60x40)" in active_window.status_label.text()
