"""What every tab offers the main window (menus, settings, shutdown, cross-tab images
and channels, paste)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from cnnstudio.core.errors import StudioError
from cnnstudio.gui.clipboard import read_clipboard
from cnnstudio.gui.messages import describe
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.image_view import image_paths


@dataclass(frozen=True)
class ChannelRef:
    """A layer of a model, and maybe one of its channels: what Classify asks the feature
    visualisation view to show, and what the view sends to Dream. ``model`` is a backbone
    name or a ``.keras`` path (a library model's file), ``weights`` a backbone's
    ("imagenet" | "random" | a file; "" for a model with its own), ``name`` the model
    as the window names it."""

    model: str
    layer: str
    channel: int | None = None
    weights: str = ""
    name: str = ""


class StudioTab(QWidget):
    """Base class of the tabs. Subclasses set ``title`` and ``settings_key``."""

    title: str = ""
    settings_key: str = ""
    #: the longest side a picture opened or pasted into this tab keeps (None: any size)
    picture_max_side: int | None = None

    #: a line for the main window's status bar
    status = Signal(str)
    #: hand an image to another tab: (target tab's settings_key, path or RGB array, role)
    send_image = Signal(str, object, str)
    #: a file was opened or saved here: File > Open Recent lists it
    recent_file = Signal(str)
    #: ask the window's feature visualisation view to show a layer's channels (ChannelRef)
    show_channels = Signal(object)

    def save_settings(self, settings: QSettings) -> None:
        """Store this tab's parameters (called when the window closes). The main window
        has already opened the group ``settings_key``: use plain keys ("steps")."""

    def restore_settings(self, settings: QSettings) -> None:
        """Restore parameters saved by :meth:`save_settings` (same group)."""

    def open_image(self, path: str) -> None:
        """File > Open image while this tab is current."""

    def receive_image(self, image: object, role: str) -> None:
        """An image sent by another tab (a path or an RGB array); role e.g. 'content'."""
        if isinstance(image, str):
            self.open_image(image)

    def receive_channel(self, ref: ChannelRef) -> bool:
        """A channel sent by the feature visualisation view ("Send to Dream"): a tab whose
        form can maximise one channel (``set_channel_objective``) takes it. Returns
        whether it did (else the status line says why not)."""
        take = getattr(getattr(self, "form", None), "set_channel_objective", None)
        if not callable(take) or ref.channel is None:
            self.status.emit(f"The {self.title} tab takes no channel")
            return False
        problem = take(ref.layer, ref.channel, ref.model, ref.weights)
        if problem:
            self.status.emit(problem)
            return False
        self.status.emit(f"One channel only: {ref.layer} #{ref.channel} of {ref.name or ref.model}")
        return True

    # -- paste: the window's File > Paste image (Ctrl+V) is the one owner of the key ----

    def paste(self) -> None:
        """Paste into this tab: the files or folders copied in a file manager, else the
        clipboard's picture (converted as opening the same file would)."""
        try:
            pasted = read_clipboard(self.picture_max_side)
        except StudioError as error:
            self.report_error(error)
            return
        if pasted.paths:
            self.paste_paths(pasted.paths)
        elif pasted.image is not None:
            self.paste_image(pasted.image)
        else:
            self.status.emit("The clipboard holds no picture")

    def paste_paths(self, paths: list[str]) -> None:
        """Copied files: the first picture among them opens."""
        pictures = image_paths(paths)
        if pictures:
            self.open_image(pictures[0])
        else:
            self.status.emit(f"{Path(paths[0]).name}: not a picture this tab can open")

    def paste_image(self, image: np.ndarray) -> None:
        """A pasted picture (uint8 RGB)."""
        self.receive_image(image, "pasted image")

    # -- jobs and results ---------------------------------------------------------------

    def save_result(self) -> None:
        """File > Save result while this tab is current."""

    def run_job(self) -> None:
        """F5 / Ctrl+R: start this tab's job, as its Run button does."""

    def stop_job(self) -> None:
        """Esc: stop this tab's job, as its Stop button does."""

    def has_result(self) -> bool:
        return False

    def is_busy(self) -> bool:
        return False

    def shutdown(self) -> None:
        """Stop any running job and wait for it (the window is closing)."""

    # -- work that closing the window would throw away -----------------------------------
    #
    # The window asks Save / Discard / Cancel before closing when a tab answers
    # unsaved_work(); Save calls save_work() on the tabs that can_save_work(). A tab that
    # holds work of its own (a picture not saved, a model not in the library) overrides
    # the three; the default covers a running job, which closing stops.

    def unsaved_work(self) -> str | None:
        """One sentence on what closing would throw away here, or None."""
        if self.is_busy():
            return f"{self.title}: a job is running; closing stops it."
        return None

    def can_save_work(self) -> bool:
        """Whether :meth:`save_work` can keep what :meth:`unsaved_work` names."""
        return False

    def save_work(self) -> bool:
        """Save the unsaved work (asking where, as Save does). False when the user
        cancelled or saving failed: the window then stays open."""
        return True

    # -- the window's other hooks --------------------------------------------------------

    def copy_picture(self) -> np.ndarray | None:
        """The picture Edit > Copy (Ctrl+C) puts on the clipboard (uint8 RGB), or None."""
        return None

    def device_changed(self, info: object) -> None:
        """The window has detected the compute device (a ``core.device.DeviceInfo``)."""

    # -- messages -----------------------------------------------------------------------

    def show_error(self, message: str, details: str = "") -> QMessageBox:
        """A non-blocking error box titled with the tab's name (replaced in tests)."""
        return dialogs.show_error(self, message, details, self.title)

    def report_error(self, error: StudioError) -> None:
        """A core error in the window's words, on the status line and in a box."""
        message = describe(error)
        self.status.emit(message)
        self.show_error(message)
