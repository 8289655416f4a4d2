"""The "Model library..." dialog: list, rename, delete, export and import trained models.

Everything goes through :mod:`cnnstudio.core.library`; the dialog only shows the entries
and asks the questions. Importing checks the file with Keras' safe loader (it imports
TensorFlow and reads the whole model), so it runs on a :class:`JobRunner`; renaming,
deleting and exporting are file operations and run at once. After every change the
dialog emits :attr:`LibraryDialog.library_changed` so tabs that list library models
(Classify, Dream) can refresh.

One dialog per window: :func:`show_library` finds the window's dialog or makes it.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import library, paths
from cnnstudio.core.errors import StudioError
from cnnstudio.gui.messages import error_text
from cnnstudio.gui.settings import last_folder, remember_folder
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.workers import JobRunner

COLUMNS = ("Name", "Recipe", "Dataset", "Accuracy", "Date")
_ENTRY_ROLE = Qt.ItemDataRole.UserRole
_EMPTY_TEXT = (
    "The library is empty: train a model and use Train > 'Save to library...', "
    "or import a .keras file."
)


def _import_model(path: str) -> library.ModelEntry:
    """Worker job: check ``path`` with the safe loader and copy it into the library."""
    return library.import_model(path)


def format_accuracy(meta: dict) -> str:
    """The entry's test accuracy as a percentage, or "-" when unknown."""
    value = (meta.get("metrics") or {}).get("test_accuracy")
    return f"{value:.1%}" if isinstance(value, (int, float)) else "-"


def format_date(meta: dict) -> str:
    """The entry's creation date as "YYYY-MM-DD HH:MM" (the raw text if unparsable)."""
    text = str(meta.get("created") or "")
    try:
        return _dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text or "-"


class _SortItem(QTableWidgetItem):
    """A cell sorted by a key of its own (accuracy as a number, dates as ISO text)."""

    def __init__(self, text: str, key: object) -> None:
        super().__init__(text)
        self._key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        other_key = getattr(other, "_key", other.text())
        try:
            return self._key < other_key  # type: ignore[operator]
        except TypeError:
            return str(self._key) < str(other_key)


class LibraryDialog(QDialog):
    """The model library: a table of entries and Rename / Delete / Export / Import."""

    #: the library changed on disk (renamed, deleted or imported entries)
    library_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("libraryDialog")
        self.setWindowTitle("Model library")
        self.resize(760, 420)
        self._entries: list[library.ModelEntry] = []
        self.import_runner = JobRunner("Model import", self)
        self.import_runner.finished.connect(self._on_imported)
        self.import_runner.failed.connect(self._on_import_failed)
        self.import_runner.done.connect(self._update_buttons)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("libraryTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)  # Qt starts descending
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.rename_selected())

        self.details = QLabel("")
        self.details.setObjectName("libraryDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel("")
        self.status_label.setObjectName("libraryStatus")
        self.status_label.setWordWrap(True)

        self.rename_button = self._button("Rename...", "libraryRenameButton", self.rename_selected)
        self.delete_button = self._button("Delete...", "libraryDeleteButton", self.delete_selected)
        self.export_button = self._button("Export...", "libraryExportButton", self.export_selected)
        self.import_button = self._button("Import...", "libraryImportButton", self.import_file)
        self.import_button.setToolTip(
            "Copy a .keras model into the library; it is checked with the safe loader "
            "first and refused if it contains code"
        )
        close_button = self._button("Close", "libraryCloseButton", self.close)
        buttons = QHBoxLayout()
        for button in (self.rename_button, self.delete_button, self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        buttons.addWidget(close_button)

        layout = QVBoxLayout(self)
        folder = QLabel(f"Folder: {paths.library_dir()}")
        folder.setObjectName("libraryFolder")
        folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(folder)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.refresh()

    def _button(self, text: str, name: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAutoDefault(False)  # Enter in the table must not rename or delete
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # ------------------------------------------------------------------ listing

    def entries(self) -> list[library.ModelEntry]:
        """The entries listed, in library order (by name)."""
        return list(self._entries)

    def refresh(self, select: str | None = None) -> None:
        """Re-read the library; keep (or move to ``select``) the selected entry."""
        keep = select or (self.selected_entry().name if self.selected_entry() else None)
        try:
            self._entries = library.list_models()
        except (OSError, StudioError) as error:
            self._entries = []
            self.status_label.setText(f"The library could not be read: {error_text(error)}")
        self.table.setSortingEnabled(False)  # rows move while sorting is on
        self.table.clearContents()
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            meta = entry.meta
            accuracy = (meta.get("metrics") or {}).get("test_accuracy")
            cells = (
                _SortItem(entry.name, entry.name.lower()),
                _SortItem(str(meta.get("recipe") or "-"), str(meta.get("recipe") or "")),
                _SortItem(str(meta.get("dataset") or "-"), str(meta.get("dataset") or "")),
                _SortItem(
                    format_accuracy(meta),
                    float(accuracy) if isinstance(accuracy, (int, float)) else -1.0,
                ),
                _SortItem(format_date(meta), str(meta.get("created") or "")),
            )
            if entry.damaged:  # listed, with the reason; it cannot be used until fixed
                cells[1].setText("Damaged")
                for cell in cells:
                    cell.setToolTip(entry.describe())
            cells[0].setData(_ENTRY_ROLE, row)
            cells[0].setToolTip(entry.describe() if entry.damaged else str(entry.path))
            for column, item in enumerate(cells):
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(True)
        if not self._entries:
            self.details.setText(_EMPTY_TEXT)
        if keep:
            self.select(keep)
        self._selection_changed()

    def select(self, name: str) -> bool:
        """Select the entry called ``name``; False if it is not listed."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == name:
                self.table.selectRow(row)
                return True
        return False

    def selected_entry(self) -> library.ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        index = item.data(_ENTRY_ROLE) if item is not None else None
        if not isinstance(index, int) or not 0 <= index < len(self._entries):
            return None
        return self._entries[index]

    def _selection_changed(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            meta = entry.meta
            size = entry.input_size
            size_text = f"{size[1]}x{size[0]}x{entry.channels}" if size else "unknown size"
            classes = entry.class_names
            shown = ", ".join(classes[:12]) + (", ..." if len(classes) > 12 else "")
            self.details.setText(
                f"{entry.describe()}\nInput {size_text}, preprocessing "
                f"{entry.preprocessing}; {len(classes)} classes: {shown or '-'}\n{entry.path}"
                + (f"\nImported from {meta['imported_from']}" if "imported_from" in meta else "")
            )
        elif self._entries:
            self.details.setText("Select a model.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected_entry() is not None
        for button in (self.rename_button, self.delete_button, self.export_button):
            button.setEnabled(chosen)
        self.import_button.setEnabled(not self.import_runner.running)

    # ------------------------------------------------------------------ questions (tests replace)

    def ask_new_name(self, entry: library.ModelEntry) -> str | None:
        name, ok = QInputDialog.getText(
            self, "Rename model", f"New name for '{entry.name}':", text=entry.name
        )
        return name.strip() if ok and name.strip() else None

    def confirm_delete(self, entry: library.ModelEntry) -> bool:
        return dialogs.ask_yes_no(
            self,
            f"Delete '{entry.name}' from the library? Its .keras file and sidecar are "
            "removed; this cannot be undone.",
            "Delete model",
        )

    def ask_export_path(self, entry: library.ModelEntry) -> str | None:
        """Where to export; QFileDialog has already asked before replacing a file."""
        start = os.path.join(last_folder(), entry.path.name)
        path, _ = QFileDialog.getSaveFileName(self, "Export model", start, "Keras models (*.keras)")
        return path or None

    def ask_import_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model", last_folder(), "Keras models (*.keras);;All files (*)"
        )
        return path or None

    def show_error(self, message: str, details: str = "") -> QMessageBox:
        return dialogs.show_error(self, message, details, "Model library")

    # ------------------------------------------------------------------ actions

    def _report(self, text: str) -> None:
        self.status_label.setText(text)

    def rename_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        new_name = self.ask_new_name(entry)
        if not new_name or new_name == entry.name:
            return
        try:
            renamed = library.rename_model(entry, new_name)
        except OSError as error:  # a read-only folder, a file in use...
            self.show_error(f"'{entry.name}' was not renamed: {error_text(error)}")
            return
        note = "" if renamed.name == new_name else " (the name was taken or had odd characters)"
        self._report(f"Renamed '{entry.name}' to '{renamed.name}'{note}")
        self.refresh(select=renamed.name)
        self.library_changed.emit()

    def delete_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or not self.confirm_delete(entry):
            return
        try:
            library.delete_model(entry)
        except OSError as error:
            self.show_error(f"'{entry.name}' was not deleted: {error_text(error)}")
            return
        self._report(f"Deleted '{entry.name}'")
        self.refresh()
        self.library_changed.emit()

    def export_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        path = self.ask_export_path(entry)
        if not path:
            return
        remember_folder(path)
        try:
            # the file dialog confirmed replacing an existing file
            written = library.export_model(entry, path, overwrite=True)
        except (OSError, StudioError) as error:
            self.show_error(f"'{entry.name}' was not exported: {error_text(error)}")
            return
        self._report(f"Exported '{entry.name}' to {written} (with its sidecar)")

    def import_file(self, path: str | None = None) -> None:
        """Import a ``.keras`` file (asks for one without ``path``), on a worker."""
        if self.import_runner.running:
            return
        path = path or self.ask_import_path()
        if not path:
            return
        remember_folder(path)
        self._report(f"Checking {Path(path).name} with the safe loader...")
        self.import_runner.run_function(_import_model, path)
        self._update_buttons()

    def _on_imported(self, entry: object) -> None:
        if not isinstance(entry, library.ModelEntry):
            return
        self._report(f"Imported '{entry.name}' into the library")
        self.refresh(select=entry.name)
        self.library_changed.emit()

    def _on_import_failed(self, message: str) -> None:
        self._report(message)
        self.show_error(message, self.import_runner.error_details)

    # ------------------------------------------------------------------ life cycle

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()  # a model saved since the dialog was last open appears

    def shutdown(self) -> None:
        """Stop and wait for an import (the window is closing)."""
        self.import_runner.shutdown()


def show_library(parent: QWidget) -> LibraryDialog:
    """Show the model library of ``parent``'s window (made on first use), non-blocking."""
    window = parent.window()
    dialog = window.findChild(LibraryDialog)
    if dialog is None:
        dialog = LibraryDialog(window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
