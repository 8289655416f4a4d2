"""The library's style models as a list with their style thumbnails
(:class:`StyleModelList`), and the job that styles a picture with one
(:func:`style_with_model`: a quick preview first, then the picture at the size asked).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from cnnstudio.core.errors import StudioError
from cnnstudio.core.events import Progress
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon

#: the preview's longest side: one forward pass of a 512 px picture is a fraction of a
#: second on a CPU (bench/bench_faststyle.py)
PREVIEW_SIDE = 512
_THUMB = 64
PATH_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class StyledPicture:
    """A picture styled by a model: ``full`` is the result at the size asked (the
    preview is not), ``seconds`` the forward pass, ``load_seconds`` loading the model."""

    image: np.ndarray
    full: bool
    seconds: float
    load_seconds: float
    model: str
    meta: dict[str, Any] = field(default_factory=dict)


class _Stopped(Exception):
    """The job was asked to stop between two tiles."""


def target_size(shape: tuple[int, ...], side: int) -> tuple[int, int]:
    """(width, height) of a picture of ``shape`` with its longest side ``side`` (0: as
    it is)."""
    height, width = shape[:2]
    if side <= 0 or side == max(height, width):
        return width, height
    scale = side / max(height, width)
    return max(8, round(width * scale)), max(8, round(height * scale))


def style_with_model(
    model_path: str,
    picture: np.ndarray,
    preserve_colors: bool,
    side: int,
    *,
    on_event,
    should_stop,
) -> StyledPicture | None:
    """Style ``picture`` with the style model at ``model_path`` (loaded once and kept):
    a :data:`PREVIEW_SIDE` preview first (a ``StyledPicture`` event), then
    at ``side`` px (0: the picture's own size; in tiles when large, a Progress per tile).
    None when stopped."""
    from cnnstudio.core import images
    from cnnstudio.core.faststyle import apply

    start = time.monotonic()
    model = apply.load_style_model(model_path)
    model.warm_up(quick=True)  # tracing (and choosing the preview's pass) is loading
    loaded = time.monotonic()
    width, height = target_size(picture.shape, side)
    source = images.resize_to(picture, width, height)
    small = images.resize_max_side(source, PREVIEW_SIDE)
    begin = time.monotonic()
    full = max(source.shape[:2]) <= PREVIEW_SIDE  # the preview is the result itself
    styled = apply.stylize(model, small, preserve_colors=preserve_colors, quick=not full)
    quick = StyledPicture(
        styled, full, time.monotonic() - begin, loaded - start, model.name, model.meta
    )
    on_event(quick)
    if quick.full:
        return quick
    if should_stop():
        return None

    def on_tile(done: int, total: int) -> None:
        on_event(Progress(step=done, total=total, loss=0.0))
        if should_stop() and done < total:
            raise _Stopped

    begin = time.monotonic()
    try:
        result = apply.stylize(model, source, preserve_colors=preserve_colors, on_tile=on_tile)
    except _Stopped:
        return None
    return StyledPicture(result, True, time.monotonic() - begin, 0.0, model.name, model.meta)


def describe_model(entry) -> tuple[str, str]:
    """(a line under the name, a tool tip) for a style model's library entry."""
    meta = entry.meta or {}
    styles = ", ".join(str(s) for s in meta.get("styles") or []) or "?"
    line = f"{styles}: {meta.get('steps', '?')} steps at {meta.get('training_size', '?')} px"
    tip = [
        f"{entry.name}: style model (Johnson et al. 2016)",
        f"Styles: {styles}",
        f"Trained {meta.get('steps', '?')} steps on {meta.get('photos', '?')} photos of "
        f"{meta.get('dataset', '?')} at {meta.get('training_size', '?')} px; kept: step "
        f"{meta.get('best_step', '?')}",
        f"Loss network: VGG19, {meta.get('loss_network_weights', '?')}",
    ]
    if meta.get("preserve_colors"):
        tip.append("Trained on luminance: styled pictures keep their own colours")
    return line, "\n".join(tip)


class StyleModelList(QListWidget):
    """The library's style models, each with its style's thumbnail; the item's
    :data:`PATH_ROLE` holds the model file."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fastModelList")
        self.setIconSize(QSize(_THUMB, _THUMB))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMinimumHeight(3 * (_THUMB + 8))
        self.setToolTip("The style models of the model library: choose one to style the picture")
        self.names: dict[str, str] = {}  # model file -> library name

    def refresh(self) -> list[str]:
        """List the library's style models again, keeping the choice (signals blocked);
        returns the errors met ("" list when none)."""
        from cnnstudio.core.faststyle import models

        chosen = self.current_path()
        problems: list[str] = []
        try:
            entries = models.style_entries()
        except (OSError, StudioError) as error:
            entries, problems = [], [str(error)]
        self.blockSignals(True)
        try:
            self.clear()
            self.names = {}
            for entry in entries:
                if getattr(entry, "damaged", ""):
                    continue  # listed with its reason in the library dialog
                line, tip = describe_model(entry)
                thumbnail = models.thumbnail(entry.meta)
                item = QListWidgetItem(model_icon(thumbnail), f"{entry.name}\n{line}")
                item.setData(PATH_ROLE, str(entry.path))
                item.setToolTip(tip)
                item.setSizeHint(QSize(0, _THUMB + 8))
                self.addItem(item)
                self.names[str(entry.path)] = entry.name
            if chosen:
                self.select_path(chosen)
        finally:
            self.blockSignals(False)
        return problems

    def current_path(self) -> str:
        item = self.currentItem()
        return str(item.data(PATH_ROLE)) if item is not None else ""

    def select_path(self, path: str) -> bool:
        for row in range(self.count()):
            if self.item(row).data(PATH_ROLE) == path:
                self.setCurrentRow(row)
                return True
        self.setCurrentRow(-1)
        return False

    def select_name(self, name: str) -> bool:
        """Choose the model called ``name``; False when the library has none."""
        for path, listed in self.names.items():
            if listed == name:
                return self.select_path(path)
        return False

    def model_name(self, path: str | None = None) -> str:
        path = self.current_path() if path is None else path
        return self.names.get(path, Path(path).stem if path else "")


def model_icon(thumbnail: np.ndarray | None, side: int = _THUMB) -> QIcon:
    """A style model's icon: its style's thumbnail, or a grey square when it has none."""
    if thumbnail is not None:
        return thumbnail_icon(thumbnail, side)
    blank = QPixmap(side, side)
    blank.fill(QColor(200, 200, 200))
    return QIcon(blank)
