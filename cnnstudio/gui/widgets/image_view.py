"""ImageView: show an RGB numpy image with zoom, pan, drops and a before/after compare.

Before/after comes two ways, as in image editors: hold a button to see the "before"
picture in place of the result (:meth:`ImageView.set_comparing`), or split the view
(:meth:`ImageView.set_split`): the "before" picture left of a vertical divider that the
mouse drags over the picture. The zoom percentage shows in a corner of the view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

PLACEHOLDER_TEXT = "Drop an image here or press Ctrl+O"
_ZOOM_STEP = 1.25
_MIN_ZOOM, _MAX_ZOOM = 0.02, 64.0
_DIVIDER_GRAB_PX = 8  # how near the divider a press grabs it


def image_suffixes() -> tuple[str, ...]:
    """Suffixes the image door reads (lower case, with the dot)."""
    try:
        from cnnstudio.core.images import IMAGE_SUFFIXES

        return tuple(s.lower() for s in IMAGE_SUFFIXES)
    except ImportError:  # the image module not there yet: the usual Pillow formats
        return (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 (H, W, 3) copy-if-needed of a gray, RGB or RGBA array."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W, 3) image, got shape {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = array[:, :, :3]
    if array.dtype != np.uint8:
        array = np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def array_to_qimage(image: np.ndarray) -> QImage:
    """A QImage that owns a copy of the pixels of an RGB array."""
    array = as_rgb_uint8(image)
    height, width = array.shape[:2]
    qimage = QImage(array.data, width, height, array.strides[0], QImage.Format.Format_RGB888)
    return qimage.copy()  # detach from the numpy buffer


def image_paths(paths: list[str]) -> list[str]:
    """The paths among ``paths`` whose suffix is an image format the image door reads."""
    suffixes = image_suffixes()
    return [path for path in paths if Path(path).suffix.lower() in suffixes]


def dropped_image_paths(urls: list[QUrl]) -> list[str]:
    """Local files among ``urls`` whose suffix is an image format."""
    return image_paths([url.toLocalFile() for url in urls if url.isLocalFile()])


def dropped_video_paths(urls: list[QUrl]) -> list[str]:
    """Local files among ``urls`` whose suffix is a video format (an animated GIF is
    dropped as a picture: its owner decides)."""
    from cnnstudio.core.video.params import VIDEO_SUFFIXES

    local = [url.toLocalFile() for url in urls if url.isLocalFile()]
    suffixes = set(VIDEO_SUFFIXES) - {".gif"}
    return [path for path in local if Path(path).suffix.lower() in suffixes]


def dropped_folder(urls: list[QUrl]) -> str | None:
    """The first local folder among ``urls``, or None."""
    for url in urls:
        if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
            return url.toLocalFile()
    return None


def target_view(focus: QWidget | None, container: QWidget | None) -> ImageView | None:
    """The view that zoom keys act on: the one holding (or containing) the keyboard
    ``focus``, else the first visible view in ``container`` (a tab)."""
    while focus is not None:
        if isinstance(focus, ImageView):
            return focus
        focus = focus.parentWidget()
    if container is None:
        return None
    views = [v for v in container.findChildren(ImageView) if v.isVisible()]
    views = views or container.findChildren(ImageView)
    return views[0] if views else None


class ImageView(QGraphicsView):
    """A zoomable, pannable view of one RGB image.

    Wheel zooms around the cursor, dragging pans, a double click fits the image to the
    view; Ctrl+0 fits, Ctrl+Alt+0 shows it 1:1 (the window's View menu has the same keys). Image files dropped on it are announced by :attr:`image_dropped` (the owner
    loads them through ``core.images``). :meth:`set_reference` plus
    :meth:`set_comparing` show a "before" picture in place of the current one.
    """

    image_dropped = Signal(str)
    #: every image file of a drop, in order (emitted right after ``image_dropped``, which
    #: carries only the first, for owners that take one picture)
    images_dropped = Signal(list)
    #: a folder dropped (only when ``accept_folders`` is set: a batch over it)
    folder_dropped = Signal(str)
    #: a video file dropped (only when ``accept_videos`` is set: a motion job on it)
    video_dropped = Signal(str)
    zoom_changed = Signal(float)
    #: the split divider moved (its place, 0..1 of the picture's width)
    split_moved = Signal(float)
    #: owners that take a folder (Dream and Style batches) set this
    accept_folders = False
    accept_videos = False
    #: the zoom percentage in a corner (off for small picture slots)
    show_zoom = True

    def __init__(self, parent: QWidget | None = None, placeholder: str = PLACEHOLDER_TEXT):
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self._image: np.ndarray | None = None
        self._pixmap = QPixmap()
        self._reference: np.ndarray | None = None
        self._reference_pixmap = QPixmap()
        self._comparing = False
        self._split = False
        self._split_at = 0.5  # the divider, as a share of the picture's width
        self._dragging_divider = False
        self._drop_highlight = False
        self._fit_mode = True  # follow the window size until the user zooms
        self._placeholder = placeholder
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumSize(160, 120)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- content ------------------------------------------------------------------------

    def set_image(self, image: np.ndarray | None) -> None:
        """Show ``image`` (uint8 RGB (H, W, 3); gray or float are converted), or clear."""
        old_size = None if self._image is None else self._image.shape[:2]
        if image is None:
            self._image = None
            self._pixmap = QPixmap()
        else:
            self._image = as_rgb_uint8(image)
            self._pixmap = QPixmap.fromImage(array_to_qimage(self._image))
        self._show_current()
        new_size = None if self._image is None else self._image.shape[:2]
        if new_size != old_size or self._fit_mode:
            self.fit()
        self.viewport().update()

    def image(self) -> np.ndarray | None:
        """The image shown (not the compare reference), or None."""
        return self._image

    def set_placeholder_text(self, text: str) -> None:
        self._placeholder = text
        self.viewport().update()

    def placeholder_text(self) -> str:
        return self._placeholder

    # -- before/after compare -----------------------------------------------------------

    def set_reference(self, image: np.ndarray | None) -> None:
        """The "before" picture that :meth:`set_comparing` shows."""
        self._reference = None if image is None else as_rgb_uint8(image)
        self._reference_pixmap = (
            QPixmap() if image is None else QPixmap.fromImage(array_to_qimage(self._reference))
        )
        self._show_current()

    def reference(self) -> np.ndarray | None:
        return self._reference

    def set_comparing(self, comparing: bool) -> None:
        """Show the reference instead of the image while ``comparing`` is true."""
        self._comparing = bool(comparing)
        self._show_current()

    def is_comparing(self) -> bool:
        return self._comparing

    def set_split(self, split: bool) -> None:
        """Show the reference left of a divider and the image right of it."""
        self._split = bool(split)
        self.viewport().update()

    def is_split(self) -> bool:
        return self._split

    def split_position(self) -> float:
        """The divider's place: 0 (left edge) .. 1 (right edge) of the picture."""
        return self._split_at

    def set_split_position(self, share: float) -> None:
        share = min(max(float(share), 0.0), 1.0)
        if share != self._split_at:
            self._split_at = share
            self.split_moved.emit(share)
            self.viewport().update()

    def _showing_split(self) -> bool:
        return (
            self._split
            and not self._comparing
            and not self._pixmap.isNull()
            and not self._reference_pixmap.isNull()
        )

    def _divider_x(self) -> float:
        """The divider in scene coordinates (the picture's pixels)."""
        return self._split_at * self._pixmap.width()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        if not self._showing_split():
            return
        height = self._pixmap.height()
        reference = self._reference_pixmap
        if reference.size() != self._pixmap.size():
            reference = reference.scaled(
                self._pixmap.size(),
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        divider = self._divider_x()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawPixmap(QRectF(0, 0, divider, height), reference, QRectF(0, 0, divider, height))
        for colour, px in ((QColor(0, 0, 0, 160), 3.0), (QColor(255, 255, 255), 1.0)):
            pen = QPen(colour, px)
            pen.setCosmetic(True)  # the same on screen at any zoom
            painter.setPen(pen)
            painter.drawLine(QPointF(divider, 0), QPointF(divider, height))
        painter.restore()

    def shown_pixmap(self) -> QPixmap:
        """What is on screen now (the image, or the reference while comparing)."""
        return self._item.pixmap()

    def _show_current(self) -> None:
        pixmap = self._pixmap
        if self._comparing and not self._reference_pixmap.isNull():
            pixmap = self._reference_pixmap
            if not self._pixmap.isNull() and pixmap.size() != self._pixmap.size():
                # same footprint as the current image, so the view does not jump
                pixmap = pixmap.scaled(
                    self._pixmap.size(),
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
        self._item.setPixmap(pixmap)
        self._scene.setSceneRect(QRectF(pixmap.rect()))

    # -- zoom and pan -------------------------------------------------------------------

    def zoom_factor(self) -> float:
        return self.transform().m11()

    def zoom_percent(self) -> int:
        """The zoom as the view shows it: 100 is one picture pixel per screen pixel."""
        return round(self.zoom_factor() * 100)

    def zoom_by(self, factor: float) -> None:
        current = self.zoom_factor()
        target = min(max(current * factor, _MIN_ZOOM), _MAX_ZOOM)
        if current > 0 and target != current:
            self._fit_mode = False
            self.scale(target / current, target / current)
            self.zoom_changed.emit(self.zoom_factor())

    def zoom_in(self) -> None:
        self.zoom_by(_ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / _ZOOM_STEP)

    def zoom_actual(self) -> None:
        """100 %: one image pixel per screen pixel."""
        self._fit_mode = False
        self.resetTransform()
        self.zoom_changed.emit(1.0)

    def fit(self) -> None:
        """Fit the whole image in the view (and keep fitting as the view resizes)."""
        self._fit_mode = True
        if self._item.pixmap().isNull():
            self.resetTransform()
            return
        self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom_factor())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta == 0 or self._image is None:
            super().wheelEvent(event)
            return
        self.zoom_by(_ZOOM_STEP ** (delta / 120.0))
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()
        event.accept()

    def _near_divider(self, position: QPointF) -> bool:
        if not self._showing_split():
            return False
        x = self.mapFromScene(QPointF(self._divider_x(), 0)).x()
        return abs(position.x() - x) <= _DIVIDER_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(event.position()):
            self._dragging_divider = True  # the divider, not a pan
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging_divider:
            x = self.mapToScene(event.position().toPoint()).x()
            self.set_split_position(x / max(self._pixmap.width(), 1))
            event.accept()
            return
        if self._showing_split() and event.buttons() == Qt.MouseButton.NoButton:
            near = self._near_divider(event.position())
            self.viewport().setCursor(
                Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.OpenHandCursor
            )
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging_divider:
            self._dragging_divider = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            key = event.key()
            if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
                self.zoom_in()
                return
            if key == Qt.Key.Key_Minus:
                self.zoom_out()
                return
            if key == Qt.Key.Key_0 and event.modifiers() & Qt.KeyboardModifier.AltModifier:
                self.zoom_actual()
                return
            if key == Qt.Key.Key_0:
                self.fit()
                return
        super().keyPressEvent(event)

    # -- drops --------------------------------------------------------------------------

    def _accepts(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return False
        if self.accept_folders and dropped_folder(mime.urls()):
            return True
        if self.accept_videos and dropped_video_paths(mime.urls()):
            return True
        return bool(dropped_image_paths(mime.urls()))

    def _set_drop_highlight(self, on: bool) -> None:
        """Show that a drop here would be taken (while a file is dragged over)."""
        if on != self._drop_highlight:
            self._drop_highlight = on
            self.setProperty("dropHighlight", on)
            self.viewport().update()

    def drop_highlighted(self) -> bool:
        return self._drop_highlight

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accepted = self._accepts(event)
        self._set_drop_highlight(accepted)
        if accepted:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_drop_highlight(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_drop_highlight(False)
        urls = event.mimeData().urls() if event.mimeData() else []
        folder = dropped_folder(urls) if self.accept_folders else None
        videos = dropped_video_paths(urls) if self.accept_videos else []
        if videos:
            event.acceptProposedAction()
            self.video_dropped.emit(videos[0])
            return
        paths = dropped_image_paths(urls)
        if folder is not None and not paths:
            event.acceptProposedAction()
            self.folder_dropped.emit(folder)
            return
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.image_dropped.emit(paths[0])
        self.images_dropped.emit(list(paths))

    # -- placeholder --------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self.viewport())
        rect = self.viewport().rect()
        if self._image is None and self._placeholder:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder
            )
        if self._image is not None and self.show_zoom:
            self._paint_zoom_percent(painter, rect)
        if self._drop_highlight:
            highlight = self.palette().highlight().color()
            fill = QColor(highlight)
            fill.setAlpha(40)
            painter.fillRect(rect, fill)
            painter.setPen(QPen(highlight, 3))
            painter.drawRect(rect.adjusted(1, 1, -2, -2))
        painter.end()

    def _paint_zoom_percent(self, painter: QPainter, rect) -> None:
        """ "37%" in the bottom-left corner, on a translucent plate."""
        text = f"{self.zoom_percent()}%"
        metrics = painter.fontMetrics()
        box = QRectF(
            rect.left() + 6,
            rect.bottom() - metrics.height() - 8,
            metrics.horizontalAdvance(text) + 10,
            metrics.height() + 4,
        )
        painter.fillRect(box, QColor(0, 0, 0, 120))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
