"""Small dialogs every tab needs: error boxes that never block a job, image file dialogs
that remember the last folder. Tabs call these through their own methods so tests can
replace one method instead of driving a modal dialog."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget

from cnnstudio.gui.settings import last_folder, remember_folder
from cnnstudio.gui.widgets.image_view import image_suffixes

APP_TITLE = "CNN Studio"


def image_file_filter() -> str:
    patterns = " ".join(f"*{s}" for s in image_suffixes())
    return f"Images ({patterns});;All files (*)"


def show_error(
    parent: QWidget | None, message: str, details: str = "", title: str = APP_TITLE
) -> QMessageBox:
    """Show ``message`` (with a traceback under "Show Details..." when given) without
    blocking: the box is window-modal but returns at once, so running jobs and tests go on."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.setObjectName("errorBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def show_missing_resource(
    parent: QWidget | None,
    message: str,
    actions: Sequence[tuple[str, Callable[[], None]]] = (),
    title: str = "File missing",
) -> QMessageBox:
    """A non-blocking error box for a file that is not on this machine, with one button
    per way out (``(text, slot)``: "Import weights...", "Import dataset file...", ...)."""
    box = show_error(parent, message, title=title)
    for text, slot in actions:
        button = box.addButton(text, QMessageBox.ButtonRole.ActionRole)
        button.clicked.connect(lambda _checked=False, slot=slot: slot())
    return box


def import_weights_action(widget: QWidget) -> QAction | None:
    """The main window's File > Import weights... action (None outside a window)."""
    return widget.window().findChild(QAction, "importWeightsAction")


def show_missing_weights(
    parent: QWidget, message: str, use_untrained: Callable[[], None] | None = None
) -> QMessageBox:
    """Pretrained weights are not on this machine: say so and offer the ways out:
    "Import weights..." (the window's action) and, when given, "Use untrained". The
    message already says what to do (``gui.messages`` words the error's remedy)."""
    actions: list[tuple[str, Callable[[], None]]] = []
    action = import_weights_action(parent)
    if action is not None:
        actions.append(("Import weights...", action.trigger))
    if use_untrained is not None:
        actions.append(("Use untrained", use_untrained))
    return show_missing_resource(parent, message, actions, "Weights missing")


def show_info(parent: QWidget | None, message: str, title: str = APP_TITLE) -> QMessageBox:
    """A non-blocking information box."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Information)
    box.setWindowTitle(title)
    box.setText(message)
    box.setObjectName("infoBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


#: what :func:`ask_unsaved_work` answers
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def unsaved_work_box(
    parent: QWidget | None, message: str, can_save: bool, title: str = APP_TITLE
) -> QMessageBox:
    """The image editors' question before work is thrown away: Save (when it can be
    saved), Discard, Cancel; Cancel is the default and what Esc answers."""
    box = QMessageBox(parent)
    box.setObjectName("unsavedWorkBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    buttons = QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
    if can_save:
        buttons |= QMessageBox.StandardButton.Save
    box.setStandardButtons(buttons)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    return box


def ask_unsaved_work(
    parent: QWidget | None, message: str, can_save: bool, title: str = APP_TITLE
) -> str:
    """Ask (blocking) and answer :data:`SAVE`, :data:`DISCARD` or :data:`CANCEL`."""
    box = unsaved_work_box(parent, message, can_save, title)
    try:
        box.exec()
        clicked = box.standardButton(box.clickedButton()) if box.clickedButton() else None
    finally:
        box.deleteLater()
    if clicked == QMessageBox.StandardButton.Save:
        return SAVE
    if clicked == QMessageBox.StandardButton.Discard:
        return DISCARD
    return CANCEL


def ask_yes_no(parent: QWidget | None, question: str, title: str = APP_TITLE) -> bool:
    """A blocking yes/no question (default: yes)."""
    answer = QMessageBox.question(
        parent,
        title,
        question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_continue(parent: QWidget | None, message: str, title: str = APP_TITLE) -> bool:
    """A warning before a job: Continue or Cancel (the default). Blocking."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=parent)
    box.setObjectName("continueBox")
    go = box.addButton("Continue", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is go


def ask_open_image(parent: QWidget | None, title: str = "Open image") -> str | None:
    """An image file chosen by the user (the folder is remembered), or None."""
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(), image_file_filter())
    if not path:
        return None
    remember_folder(path)
    return path


#: the save dialog's filters and the suffix each one gives a name typed without one
SAVE_FILTERS: dict[str, str] = {
    "PNG image (*.png)": ".png",
    "JPEG image (*.jpg *.jpeg)": ".jpg",
    "WebP image (*.webp)": ".webp",
}
_SAVE_SUFFIX_SET = frozenset((".png", ".jpg", ".jpeg", ".webp"))


def _filter_for(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    suffix = ".jpg" if suffix == ".jpeg" else suffix
    for name_filter, filter_suffix in SAVE_FILTERS.items():
        if filter_suffix == suffix:
            return name_filter
    return next(iter(SAVE_FILTERS))


def _exec_dialog(dialog: QFileDialog) -> bool:
    """Run the dialog modally (tests replace this to fill it in instead)."""
    return dialog.exec() == QDialog.DialogCode.Accepted


def ask_save_file(
    parent: QWidget | None, title: str, suggested_name: str, name_filter: str
) -> str | None:
    """A path to write a file of the suggested name's kind to, or None. A name typed
    without the suffix gets it before Qt's "replace?" check, so the caller may overwrite
    the path it returns."""
    dialog = QFileDialog(parent, title, os.path.join(last_folder(), suggested_name))
    dialog.setObjectName("saveFileDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setNameFilter(name_filter)
    dialog.setDefaultSuffix(os.path.splitext(suggested_name)[1].lstrip("."))
    try:
        if not _exec_dialog(dialog):
            return None
        files = dialog.selectedFiles()
    finally:
        dialog.deleteLater()
    return files[0] if files and files[0] else None


def ask_save_image(
    parent: QWidget | None, suggested_name: str = "result.png", title: str = "Save result"
) -> str | None:
    """A path to save an image to, or None. The chosen filter decides the suffix of a name
    typed without one (and switches the suffix of the suggested name), and the dialog
    confirms replacing the file under its final name, so the caller may overwrite it."""
    dialog = QFileDialog(parent, title, os.path.join(last_folder(), suggested_name))
    dialog.setObjectName("saveImageDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setNameFilters(list(SAVE_FILTERS))
    first_filter = _filter_for(suggested_name)
    dialog.selectNameFilter(first_filter)
    # Qt adds the default suffix before its own "replace?" check, so that check sees the
    # name that will really be written
    dialog.setDefaultSuffix(SAVE_FILTERS[first_filter].lstrip("."))

    def filter_chosen(name_filter: str) -> None:
        suffix = SAVE_FILTERS.get(name_filter, ".png")
        dialog.setDefaultSuffix(suffix.lstrip("."))
        typed = dialog.selectedFiles()
        if len(typed) == 1:
            stem, old_suffix = os.path.splitext(os.path.basename(typed[0]))
            if old_suffix.lower() in _SAVE_SUFFIX_SET and old_suffix.lower() != suffix:
                dialog.selectFile(stem + suffix)

    dialog.filterSelected.connect(filter_chosen)
    try:
        if not _exec_dialog(dialog):
            return None
        files = dialog.selectedFiles()
        chosen_filter = dialog.selectedNameFilter()
    finally:
        dialog.deleteLater()
    if not files or not files[0]:
        return None
    path = files[0]
    if not os.path.splitext(path)[1]:
        # a native dialog that ignored the default suffix: it checked the bare name only
        path += SAVE_FILTERS.get(chosen_filter, ".png")
        if os.path.exists(path) and not ask_yes_no(
            parent, f"{os.path.basename(path)} already exists. Replace it?", title
        ):
            return None
    remember_folder(path)
    return path
