"""The "Model library..." dialog: the list, rename, delete (with confirmation), export and
import, reached from File > Model library... and from the Train tab; the Classify and
Dream tabs re-list the library after a change."""

from __future__ import annotations

import json
import zipfile

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QPushButton

from cnnstudio.core import library, paths
from cnnstudio.gui.tabs.train.tab import TrainTab
from cnnstudio.gui.widgets.library_dialog import LibraryDialog


def fake_entry(name: str, **meta) -> library.ModelEntry:
    """A library entry on disk without TensorFlow: listing, renaming, deleting and
    exporting only touch the files."""
    path = paths.library_dir() / f"{name}.keras"
    path.write_bytes(b"not a real model: " + name.encode())
    library.write_sidecar(path, meta)
    return library.ModelEntry(name=name, path=path, meta=meta)


@pytest.fixture
def entries():
    return [
        fake_entry(
            "bands",
            recipe="lenet5",
            dataset="bands.npz",
            metrics={"test_accuracy": 0.9375},
            created="2026-11-20T09:30:12",
            class_names=["a", "b", "c"],
            input_size=[32, 32],
            channels=1,
        ),
        fake_entry("zeta", recipe="cifar-cnn", dataset="cifar10", created="2026-11-21T10:00:00"),
    ]


@pytest.fixture
def dialog(qtbot):
    dialog = LibraryDialog()
    qtbot.addWidget(dialog)
    yield dialog
    dialog.shutdown()
    assert not dialog.import_runner.running


def row_texts(dialog: LibraryDialog) -> list[list[str]]:
    table = dialog.table
    return [
        [table.item(row, column).text() for column in range(table.columnCount())]
        for row in range(table.rowCount())
    ]


def test_lists_name_recipe_dataset_accuracy_date(dialog, entries):
    dialog.refresh()
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(5)]
    assert headers == ["Name", "Recipe", "Dataset", "Accuracy", "Date"]
    assert row_texts(dialog) == [
        ["bands", "lenet5", "bands.npz", "93.8%", "2026-11-20 09:30"],
        ["zeta", "cifar-cnn", "cifar10", "-", "2026-11-21 10:00"],
    ]
    # nothing chosen: only Import works
    assert not dialog.findChild(QPushButton, "libraryRenameButton").isEnabled()
    assert dialog.findChild(QPushButton, "libraryImportButton").isEnabled()
    assert dialog.select("bands") and dialog.selected_entry().name == "bands"
    assert "3 classes: a, b, c" in dialog.details.text()
    # sorting by accuracy keeps each row's entry
    dialog.table.sortItems(3)
    assert dialog.table.item(0, 0).text() == "zeta"
    assert dialog.select("bands") and dialog.selected_entry().path == entries[0].path


def test_empty_library_says_how_to_fill_it(dialog):
    dialog.refresh()
    assert dialog.table.rowCount() == 0
    assert "library is empty" in dialog.details.text()


def test_rename(dialog, entries, qtbot, monkeypatch):
    dialog.refresh()
    dialog.select("bands")
    monkeypatch.setattr(dialog, "ask_new_name", lambda entry: "my bands")
    with qtbot.waitSignal(dialog.library_changed, timeout=1000):
        dialog.findChild(QPushButton, "libraryRenameButton").click()
    assert [e.name for e in library.list_models()] == ["my bands", "zeta"]
    assert library.find_model("my bands").meta["recipe"] == "lenet5"  # sidecar moved too
    assert not entries[0].path.exists() and not entries[0].sidecar_path.exists()
    assert dialog.selected_entry().name == "my bands"
    # a taken name gets a suffix instead of overwriting
    monkeypatch.setattr(dialog, "ask_new_name", lambda entry: "zeta")
    dialog.rename_selected()
    assert [e.name for e in library.list_models()] == ["zeta", "zeta-2"]
    assert "zeta-2" in dialog.status_label.text()


def test_delete_asks_first(dialog, entries, qtbot, monkeypatch):
    dialog.refresh()
    dialog.select("zeta")
    asked = []
    monkeypatch.setattr(dialog, "confirm_delete", lambda entry: asked.append(entry.name) or False)
    dialog.findChild(QPushButton, "libraryDeleteButton").click()
    assert asked == ["zeta"] and entries[1].path.exists()  # "No" keeps it
    monkeypatch.setattr(dialog, "confirm_delete", lambda entry: True)
    with qtbot.waitSignal(dialog.library_changed, timeout=1000):
        dialog.findChild(QPushButton, "libraryDeleteButton").click()
    assert not entries[1].path.exists() and not entries[1].sidecar_path.exists()
    assert [row[0] for row in row_texts(dialog)] == ["bands"]


def test_export_copies_model_and_sidecar(dialog, entries, tmp_path, monkeypatch):
    dialog.refresh()
    dialog.select("bands")
    target = tmp_path / "out" / "shared"
    target.parent.mkdir()
    monkeypatch.setattr(dialog, "ask_export_path", lambda entry: str(target))
    dialog.findChild(QPushButton, "libraryExportButton").click()
    written = target.with_suffix(".keras")
    assert written.read_bytes() == entries[0].path.read_bytes()
    assert json.loads(written.with_suffix(".json").read_text())["dataset"] == "bands.npz"
    assert str(written) in dialog.status_label.text()
    # a folder that is gone: an error, not a crash
    errors = []
    monkeypatch.setattr(dialog, "show_error", lambda message, details="": errors.append(message))
    monkeypatch.setattr(dialog, "ask_export_path", lambda entry: str(tmp_path / "gone" / "x"))
    dialog.export_selected()
    assert errors and "does not exist" in errors[0]


def test_import_checks_the_file_and_refuses_code(dialog, qtbot, tmp_path, monkeypatch):
    import keras

    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2, "softmax")]
    )
    source = tmp_path / "brought.keras"
    model.save(source)
    library.write_sidecar(source, {"recipe": "lenet5", "dataset": "theirs"})
    monkeypatch.setattr(dialog, "ask_import_path", lambda: str(source))
    with qtbot.waitSignal(dialog.library_changed, timeout=60000):
        dialog.findChild(QPushButton, "libraryImportButton").click()
    qtbot.waitUntil(lambda: not dialog.import_runner.running, timeout=10000)
    assert [e.name for e in library.list_models()] == ["brought"]
    assert dialog.selected_entry().name == "brought"
    assert row_texts(dialog)[0][:3] == ["brought", "lenet5", "theirs"]

    evil = tmp_path / "evil.keras"
    config = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda"}]}}
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    errors = []
    monkeypatch.setattr(dialog, "show_error", lambda message, details="": errors.append(message))
    with qtbot.waitSignal(dialog.import_runner.failed, timeout=60000):
        dialog.import_file(str(evil))
    qtbot.waitUntil(lambda: not dialog.import_runner.running, timeout=10000)
    assert errors and "contains code" in errors[0] and "evil.keras" in errors[0]
    assert [e.name for e in library.list_models()] == ["brought"]


@pytest.fixture
def window(window):
    """The shared window (tests/gui/conftest.py); closing it stops the dialogs' imports."""
    yield window
    window.close()
    assert all(not d.import_runner.running for d in window.findChildren(LibraryDialog))


def _combo_texts(combo: QComboBox) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_file_menu_and_train_button_open_it_and_tabs_relist(window, entries, monkeypatch):
    classify = window.tab_by_key("classify")
    dream = window.tab_by_key("dream")
    train = window.tab_by_key("train")
    classify.refresh_models()
    dream.refresh_library()
    assert any("bands" in t for t in _combo_texts(classify.form.model_combo))
    assert "Library: bands" in _combo_texts(dream.form.backbone_combo)

    window.findChild(QAction, "libraryAction").trigger()
    (dialog,) = window.findChildren(LibraryDialog)
    assert dialog.isVisible() and dialog.table.rowCount() == 2
    dialog.close()
    train.findChild(QPushButton, "trainLibraryButton").click()
    assert window.findChildren(LibraryDialog) == [dialog] and dialog.isVisible()

    # a delete in the dialog reaches the tabs that list library models
    dialog.select("bands")
    monkeypatch.setattr(dialog, "confirm_delete", lambda entry: True)
    dialog.delete_selected()
    assert not any("bands" in t for t in _combo_texts(classify.form.model_combo))
    assert "Library: bands" not in _combo_texts(dream.form.backbone_combo)
    assert "Library: zeta" in _combo_texts(dream.form.backbone_combo)


def test_train_tab_outside_a_window_has_its_own_dialog(qtbot, entries):
    tab = TrainTab()
    qtbot.addWidget(tab)
    tab.library_button.click()
    (dialog,) = tab.findChildren(LibraryDialog)
    assert dialog.isVisible() and dialog.table.rowCount() == 2
    tab.library_button.click()
    assert len(tab.findChildren(LibraryDialog)) == 1
    tab.shutdown()
