"""The save dialog: the chosen filter decides the suffix, and a file is never replaced
without the question being asked about its final name."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QFileDialog, QWidget

from cnnstudio.gui.settings import remember_folder
from cnnstudio.gui.widgets import dialogs

JPEG = "JPEG image (*.jpg *.jpeg)"
WEBP = "WebP image (*.webp)"
PNG = "PNG image (*.png)"


@pytest.fixture
def folder(tmp_path, qtbot):
    remember_folder(tmp_path)
    return tmp_path


def fill_in(monkeypatch, *, name_filter=None, typed=None, native=False):
    """Replace the modal run by what a person does in the dialog; returns what it saw."""
    seen = {}

    def fake_exec(dialog: QFileDialog) -> bool:
        seen["confirms_overwrite"] = not dialog.testOption(QFileDialog.Option.DontConfirmOverwrite)
        if name_filter is not None:
            dialog.selectNameFilter(name_filter)
            dialog.filterSelected.emit(name_filter)
        if native:
            dialog.setDefaultSuffix("")  # a platform dialog that ignores the default suffix
        if typed is not None:
            dialog.selectFile(typed)
        seen["files"] = dialog.selectedFiles()  # what Qt's own "replace?" check looks at
        return True

    monkeypatch.setattr(dialogs, "_exec_dialog", fake_exec)
    return seen


def test_the_filter_choice_sets_the_suffix(folder, monkeypatch, qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    seen = fill_in(monkeypatch, name_filter=JPEG)
    path = dialogs.ask_save_image(parent, "photo-dream.png", "Save dream")
    assert path == os.path.join(folder, "photo-dream.jpg")
    fill_in(monkeypatch, name_filter=WEBP, typed="other")
    assert dialogs.ask_save_image(parent, "photo-dream.png") == os.path.join(folder, "other.webp")
    assert seen["confirms_overwrite"]


def test_a_name_without_suffix_is_checked_under_its_final_name(folder, monkeypatch, qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    (folder / "photo.png").write_bytes(b"keep me")
    seen = fill_in(monkeypatch, typed="photo")
    path = dialogs.ask_save_image(parent, "result.png")
    # Qt's overwrite question is asked about the name with the suffix, photo.png
    assert seen["files"] == [os.path.join(folder, "photo.png")]
    assert seen["confirms_overwrite"] and path == os.path.join(folder, "photo.png")


def test_a_native_dialog_without_suffix_asks_again(folder, monkeypatch, qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    (folder / "photo.webp").write_bytes(b"keep me")
    questions = []

    def answer(parent, question, title=""):
        questions.append(question)
        return False

    monkeypatch.setattr(dialogs, "ask_yes_no", answer)
    fill_in(monkeypatch, name_filter=WEBP, typed="photo", native=True)
    assert dialogs.ask_save_image(parent, "result.png") is None
    assert questions == ["photo.webp already exists. Replace it?"]
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *args: True)
    expected = os.path.join(folder, "photo.webp")
    assert dialogs.ask_save_image(parent, "result.png") == expected
    # a new name needs no question
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *args: pytest.fail("asked"))
    fill_in(monkeypatch, name_filter=PNG, typed="fresh", native=True)
    assert dialogs.ask_save_image(parent, "result.png") == os.path.join(folder, "fresh.png")


def test_cancel_gives_none(folder, monkeypatch, qtbot):
    monkeypatch.setattr(dialogs, "_exec_dialog", lambda dialog: False)
    assert dialogs.ask_save_image(None, "result.png") is None
