"""What a fast style model learns from: the style pictures (:class:`StyleList`) and the
folder of photos (:class:`PhotoFolder`: dropped or chosen, counted on a worker, the
unreadable files of the last run listed).

The pictures are inputs, not parameters (as in the Style tab's Gatys mode): the panel
loads files and hands the arrays here; a run folder keeps the style pictures as trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.errors import StudioError
from cnnstudio.core.faststyle.params import MIN_PHOTOS
from cnnstudio.gui.messages import describe
from cnnstudio.gui.widgets.drop_area import PathDropArea, mime_paths
from cnnstudio.gui.widgets.image_view import image_paths
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon
from cnnstudio.gui.workers import JobRunner

_THUMB = 56
#: style pictures are read at most this large (a run resizes them to its size)
STYLE_READ_SIDE = 2048
_FOLDER_HINT = "Drop a folder of photos here (flat, or one subfolder per class)"


@dataclass
class TrainingStyle:
    """A style picture (uint8 RGB), its name and the file it came from ("" if none)."""

    name: str
    image: np.ndarray
    path: str = ""


class StyleList(QListWidget):
    """The style pictures, as thumbnails; image files dropped on it are announced
    (:attr:`files_dropped`). Several styles are averaged (each counts the same)."""

    files_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.styles: list[TrainingStyle] = []
        self.setObjectName("fastStyleList")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(_THUMB, _THUMB))
        self.setGridSize(QSize(_THUMB + 28, _THUMB + 24))
        self.setMovement(QListWidget.Movement.Static)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.viewport().setAcceptDrops(True)
        self.setFixedHeight(_THUMB + 34)
        self.setToolTip(
            "The style the network learns: drop one or more pictures here (several are averaged)"
        )

    def add(self, style: TrainingStyle) -> None:
        self.styles.append(style)
        item = QListWidgetItem(thumbnail_icon(style.image, _THUMB), style.name)
        item.setToolTip(f"{style.name} ({style.image.shape[1]}x{style.image.shape[0]})")
        self.addItem(item)
        self.setCurrentItem(item)

    def remove_selected(self) -> None:
        row = self.currentRow()
        if 0 <= row < len(self.styles):
            del self.styles[row]
            self.takeItem(row)

    def clear_styles(self) -> None:
        self.styles = []
        self.clear()

    # a file manager's drop: image files only
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if image_paths(mime_paths(event.mimeData())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = image_paths(mime_paths(event.mimeData()))
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files_dropped.emit(paths)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if not self.styles:  # an empty list says what it is for
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, "Drop style pictures"
            )
            painter.end()


def _count_photos(folder: str) -> tuple[int, str]:
    """(image files found, a message when the folder cannot be used): a listing only."""
    from cnnstudio.core.faststyle.photos import find_photos

    try:
        return len(find_photos(folder)), ""
    except StudioError as error:
        return 0, describe(error)


class PhotoFolder(QGroupBox):
    """The folder of photos: a drop area, Choose folder..., how many pictures it holds
    (counted on a worker: a big folder does not hold up the window) and, after a run has
    read it, the files that could not be read."""

    #: the folder was dropped or chosen (the panel asks for it: ``folder_requested``)
    changed = Signal(str)
    folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Photos to learn from", parent)
        self.folder = ""
        self.found: int | None = None
        self._pending: str | None = None  # a folder to count once the worker is free
        self.runner = JobRunner("Photo folder", self, imports_tensorflow=False)
        self.drop_area = PathDropArea(_FOLDER_HINT)
        self.drop_area.setObjectName("fastPhotoDrop")
        self.drop_area.setToolTip(
            f"Any folder of photos (at least {MIN_PHOTOS} readable pictures; subfolders "
            "are searched). Unreadable files are listed and skipped"
        )
        self.choose_button = QPushButton("Choose folder...")
        self.choose_button.setObjectName("fastPhotoChooseButton")
        self.choose_button.setToolTip("Choose the folder of photos to learn from")
        self.summary = QLabel("")
        self.summary.setObjectName("fastPhotoSummary")
        self.summary.setWordWrap(True)
        self.skipped_list = QListWidget()
        self.skipped_list.setObjectName("fastSkippedList")
        self.skipped_list.setToolTip("Files of the folder that could not be read: skipped")
        self.skipped_list.setMaximumHeight(80)
        self.skipped_list.hide()
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.choose_button)
        column = QVBoxLayout(self)
        column.addWidget(self.drop_area)
        column.addLayout(row)
        column.addWidget(self.skipped_list)
        self.drop_area.paths_dropped.connect(lambda paths: self.set_folder(paths[0]))
        self.choose_button.clicked.connect(self.folder_requested)
        self.runner.finished.connect(self._counted)
        self.runner.done.connect(self._count_next)

    def set_folder(self, folder: str, announce: bool = True) -> None:
        """Use ``folder``; its pictures are counted on the worker."""
        folder = str(folder)
        self.folder = folder
        self.found = None
        self.drop_area.setText(folder or _FOLDER_HINT)
        self.drop_area.setToolTip(folder or _FOLDER_HINT)
        self.set_skipped([])
        self.summary.setText("Counting the pictures..." if folder else "")
        if folder:
            self._pending = folder
            self._count_next()
        if announce:
            self.changed.emit(folder)

    def _count_next(self) -> None:
        if self._pending is not None and not self.runner.running:
            folder, self._pending = self._pending, None
            self.runner.run_function(_count_photos, folder)

    def _counted(self, result: object) -> None:
        if self._pending is not None:  # another folder came meanwhile: its count follows
            return
        found, problem = result
        self.found = found
        if problem:
            self.summary.setText(problem)
        elif found < MIN_PHOTOS:
            self.summary.setText(
                f"Only {found} picture(s) here: training needs at least {MIN_PHOTOS}"
            )
        else:
            self.summary.setText(f"{found} pictures found")

    def set_read(self, training: int, held_out: int, skipped) -> None:
        """What a run read: photos for training, held out, and the files skipped."""
        self.summary.setText(
            f"{training} photos for training, {held_out} held out to show and check the "
            "network" + (f"; {len(skipped)} unreadable file(s) skipped" if skipped else "")
        )
        self.set_skipped(skipped)

    def set_skipped(self, skipped) -> None:
        """List (file, reason) pairs; the list hides when there are none."""
        self.skipped_list.clear()
        for path, reason in skipped:
            _, sep, rest = str(reason).partition(": ")
            self.skipped_list.addItem(f"{Path(path).name}: {rest if sep else reason}")
        self.skipped_list.setVisible(bool(skipped))

    def shutdown(self) -> None:
        self._pending = None
        self.runner.shutdown()
