"""Batch Dream and Style from the window: drop a folder on the picture (or File >
Batch...), the dialog says what will happen, the bar reads "Image i of n", each result is
saved with its parameters as it is made, unreadable pictures are listed."""

from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.core import image_saving, images
from cnnstudio.gui.widgets.batch_dialog import BatchDialog

RUN_TIMEOUT_MS = 180_000


@pytest.fixture
def folder(tmp_path):
    pictures = tmp_path / "photos"
    pictures.mkdir()
    rng = np.random.default_rng(1)
    for name in ("one.png", "two.png"):
        image_saving.save_image(pictures / name, rng.integers(0, 256, (48, 64, 3), np.uint8))
    (pictures / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (pictures / "readme.txt").write_text("hello")
    return pictures


def test_the_dialog_says_what_a_batch_will_do(qtbot, folder, tmp_path):
    dialog = BatchDialog(None, "Dream", "-dream", str(folder))
    qtbot.addWidget(dialog)
    assert dialog.out_edit.text() == str(tmp_path / "photos-dream")
    assert dialog.summary.text() == "3 pictures to do; 1 other file ignored."
    assert dialog.start_button.isEnabled()
    (tmp_path / "photos-dream").mkdir()
    image_saving.save_image(
        tmp_path / "photos-dream" / "one-dream.png", np.zeros((4, 4, 3), np.uint8)
    )
    dialog.update_summary()
    assert dialog.summary.text().startswith("2 pictures to do; 1 done before are left")
    dialog.overwrite_check.setChecked(True)
    assert dialog.summary.text().startswith("3 pictures to do")
    dialog.in_edit.setText(str(tmp_path / "nowhere"))
    assert not dialog.start_button.isEnabled() and "is not a folder" in dialog.summary.text()


def test_dropping_a_folder_on_dream_runs_a_batch(qtbot, window, folder, tmp_path, drop_files):
    dream = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(dream)
    form = dream.form
    form.weights_picker.set_value("random")
    form.steps_spin.setValue(1)
    form.octaves_spin.setValue(1)
    form.max_size_spin.setValue(64)
    form.seed_spin.setValue(2)
    out = tmp_path / "dreams"
    asked = []

    def ask_plan(dropped: str):
        asked.append(dropped)
        dialog = BatchDialog(dream, "Dream", "-dream", dropped)
        dialog.out_edit.setText(str(out))
        plan = dialog.plan()
        dialog.deleteLater()
        return plan

    dream.batch.ask_plan = ask_plan
    reports, formats = [], []
    dream.show_batch_report = reports.append
    dream.runner.progress.connect(lambda _event: formats.append(dream.progress.format()))
    with qtbot.waitSignal(dream.runner.done, timeout=RUN_TIMEOUT_MS):
        assert drop_files(dream.preview.viewport(), [folder]).isAccepted()
        assert window.tabs.tabText(window.tabs.indexOf(dream)) == "Dream \u2022"
        assert dream.unsaved_work().startswith("Dream: a batch is running")
    assert asked == [str(folder)]
    assert sorted(p.name for p in out.iterdir()) == ["one-dream.png", "two-dream.png"]
    meta = images.read_params(out / "two-dream.png")
    assert meta["source"] == "two.png" and meta["params"]["steps"] == 1
    assert any(text.startswith("Image 2 of 3") for text in formats)
    assert dream.progress.format() == "Done"
    assert "batch done: 2 of 3 saved" in window.status_label.text()
    (report,) = reports
    assert "broken.jpg" in report and "1 picture(s) were skipped" in report
    assert dream.unsaved_work() is None  # every result is saved already
    assert window.tabs.tabText(window.tabs.indexOf(dream)) == "Dream"


def test_file_batch_in_style_needs_a_style_first(qtbot, window, folder):
    style = window.tab_by_key("style")
    window.tabs.setCurrentWidget(style)
    errors = []
    style.show_error = lambda message, details="": errors.append(message)
    style.batch.ask_plan = lambda folder="": pytest.fail("asked before a style was there")
    window.batch_action.trigger()
    assert errors and "style picture" in errors[0]
    train = window.tab_by_key("train")
    window.tabs.setCurrentWidget(train)
    window.batch_action.trigger()
    assert "Batch works in the Dream and Style tabs" in window.status_label.text()
