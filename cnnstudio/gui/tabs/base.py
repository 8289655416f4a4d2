"""What every tab offers the main window (menus, settings, shutdown, cross-tab images)."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QWidget


class StudioTab(QWidget):
    """Base class of the tabs. Subclasses set ``title`` and ``settings_key``."""

    title: str = ""
    settings_key: str = ""

    #: a line for the main window's status bar
    status = Signal(str)
    #: hand an image to another tab: (target tab's settings_key, path or RGB array, role)
    send_image = Signal(str, object, str)

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
