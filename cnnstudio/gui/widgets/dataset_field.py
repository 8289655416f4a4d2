"""DatasetField: a training dataset given by name or path; takes a dropped folder or .npz."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from cnnstudio.gui.widgets.drop_area import local_paths

DATASET_TIP = (
    "The data: mnist, cifar10, a .npz file in the Keras layout (x_train, y_train, x_test, "
    "y_test) or a folder with one subfolder of images per class. Drop a folder or .npz "
    "file here; the Dataset page shows its classes."
)


def is_dataset_path(path: str | Path) -> bool:
    """Whether ``path`` can be a dataset: a folder (one subfolder per class) or a .npz."""
    candidate = Path(path)
    return candidate.is_dir() or candidate.suffix.lower() == ".npz"


def dataset_path(mime: QMimeData | None) -> str | None:
    """The first folder or .npz file that a drag (or the clipboard) carries, or None."""
    if mime is None or not mime.hasUrls():
        return None
    return next((p for p in local_paths(mime.urls()) if is_dataset_path(p)), None)


class DatasetField(QLineEdit):
    """The dataset: a name or a path. A dropped folder or ``.npz`` file fills it in and
    is announced by :attr:`dropped`."""

    dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setToolTip(DATASET_TIP)
        self.setPlaceholderText("mnist | cifar10 | FILE.npz | FOLDER")

    def dragEnterEvent(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        if dataset_path(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        path = dataset_path(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.setText(str(Path(path)))
        self.dropped.emit(str(Path(path)))
