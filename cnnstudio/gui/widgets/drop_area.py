"""PathDropArea: a dashed target for dropped files *and* folders (an ImageView takes only
image files), and the helper that reads local paths out of a drag or the clipboard."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QLabel, QWidget


def local_paths(urls: list[QUrl]) -> list[str]:
    """The local files and folders among ``urls`` (web addresses are left out)."""
    return [url.toLocalFile() for url in urls if url.isLocalFile()]


def mime_paths(mime: QMimeData | None) -> list[str]:
    """The local paths a drag or the clipboard carries (none for a picture or text)."""
    if mime is None or not mime.hasUrls():
        return []
    return local_paths(mime.urls())


class PathDropArea(QLabel):
    """Announces every local file or folder dropped on it (:attr:`paths_dropped`)."""

    paths_dropped = Signal(list)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setMinimumHeight(48)
        self.setWordWrap(True)
        self.setStyleSheet(
            "QLabel { border: 2px dashed palette(mid); border-radius: 6px; padding: 8px; }"
        )

    def dragEnterEvent(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        if mime_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = mime_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped.emit(paths)
