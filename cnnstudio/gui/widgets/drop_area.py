"""PathDropArea: a dashed target for dropped files *and* folders (an ImageView takes only
image files), and the helper that reads local paths out of a drag or the clipboard."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QLabel, QWidget


def local_paths(urls: list[QUrl]) -> list[str]:
    """The local files and folders among ``urls`` (web addresses are left out)."""
    return [url.toLocalFile() for url in urls if url.isLocalFile()]


def mime_paths(mime: QMimeData | None) -> list[str]:
    """The local paths a drag or the clipboard carries (none for a picture or text)."""
    if mime is None or not mime.hasUrls():
        return []
    return local_paths(mime.urls())


_STYLE = "QLabel { border: 2px dashed palette(mid); border-radius: 6px; padding: 8px; }"
#: while a drop would be taken: the highlight colour, solid, and a tint
_HIGHLIGHT_STYLE = (
    "QLabel { border: 2px solid palette(highlight); border-radius: 6px; padding: 8px; "
    "background: rgba(48, 140, 198, 40); }"
)


class PathDropArea(QLabel):
    """Announces every local file or folder dropped on it (:attr:`paths_dropped`), and
    lights up while something it would take is dragged over it."""

    paths_dropped = Signal(list)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setMinimumHeight(48)
        self.setWordWrap(True)
        self._highlighted = False
        self.setStyleSheet(_STYLE)

    def _set_highlight(self, on: bool) -> None:
        if on != self._highlighted:
            self._highlighted = on
            self.setProperty("dropHighlight", on)
            self.setStyleSheet(_HIGHLIGHT_STYLE if on else _STYLE)

    def drop_highlighted(self) -> bool:
        return self._highlighted

    def dragEnterEvent(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        accepted = bool(mime_paths(event.mimeData()))
        self._set_highlight(accepted)
        if accepted:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_highlight(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_highlight(False)
        paths = mime_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped.emit(paths)
