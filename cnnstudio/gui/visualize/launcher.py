"""The main window's side of the feature visualisation view: one view, made when first
asked for (View > Feature visualisation..., or a tab's ``show_channels`` request: Classify's
"What does this channel look for?"), and the route of its "Send to Dream" to the Dream tab.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from cnnstudio.gui.tabs.base import ChannelRef
from cnnstudio.gui.visualize.view import VisualizeWindow

#: the tab that takes a channel sent from the view
DREAM_KEY = "dream"


class VisualizeLauncher(QObject):
    """Owns the main window's one :class:`VisualizeWindow` (created on demand)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.view: VisualizeWindow | None = None
        for tab in window.tab_widgets():
            tab.show_channels.connect(self.open_request)

    def ensure_view(self) -> VisualizeWindow:
        if self.view is None:
            self.view = VisualizeWindow(self.window)
            self.view.restore_settings()
            self.view.send_channel.connect(self.send_channel)
        return self.view

    def show_view(self) -> VisualizeWindow:
        """View > Feature visualisation...: the view, in front."""
        view = self.ensure_view()
        view.show()
        view.raise_()
        view.activateWindow()
        return view

    def open_request(self, ref: ChannelRef) -> VisualizeWindow:
        """A tab asks what a layer's channels (or one channel) look for."""
        view = self.ensure_view()
        view.open_request(ref)  # first: the layers read when it shows are that model's
        return self.show_view()

    def send_channel(self, ref: ChannelRef) -> bool:
        """The view's "Send to Dream": the Dream tab, in front, maximises the channel."""
        target = self.window.tab_by_key(DREAM_KEY)
        if target is None:
            self.window.show_status("No Dream tab to send the channel to")
            return False
        self.window.tabs.setCurrentWidget(target)
        taken = target.receive_channel(ref)
        self.window.raise_()
        self.window.activateWindow()
        return taken

    def views(self) -> list[VisualizeWindow]:
        """The view, if it was made (the close question asks it about unsaved grids)."""
        return [self.view] if self.view is not None else []

    def shutdown(self) -> None:
        """The window is closing: the view keeps its settings and stops its jobs."""
        if self.view is not None:
            self.view.save_settings()
            self.view.shutdown()
