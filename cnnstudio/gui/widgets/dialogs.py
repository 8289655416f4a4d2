"""Small dialogs every tab needs: error boxes that never block a job, image file dialogs
that remember the last folder. Tabs call these through their own methods so tests can
replace one method instead of driving a modal dialog."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

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


def ask_open_image(parent: QWidget | None, title: str = "Open image") -> str | None:
    """An image file chosen by the user (the folder is remembered), or None."""
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(), image_file_filter())
    if not path:
        return None
    remember_folder(path)
    return path


def ask_save_image(
    parent: QWidget | None, suggested_name: str = "result.png", title: str = "Save result"
) -> str | None:
    """A path to save an image to, or None. QFileDialog has already asked whether to
    replace an existing file, so the caller may overwrite it."""
    start = os.path.join(last_folder(), suggested_name)
    path, _ = QFileDialog.getSaveFileName(
        parent, title, start, "PNG image (*.png);;JPEG image (*.jpg *.jpeg);;WebP image (*.webp)"
    )
    if not path:
        return None
    if not os.path.splitext(path)[1]:
        path += ".png"
    remember_folder(path)
    return path
