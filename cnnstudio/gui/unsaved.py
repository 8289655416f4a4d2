"""The question before work is thrown away when the window closes (Ctrl+Q, the close
button): Save / Discard / Cancel, as image editors ask it.

Each tab (and the feature visualisation view, a window of its own) says what closing
would lose (``StudioTab.unsaved_work``: a running job, a picture not saved, a model not in
the library) and whether it can save it (``can_save_work`` / ``save_work``); this module
asks once for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QMainWindow

from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.widgets import dialogs


def close_question(work: Sequence[str], can_save: bool) -> str:
    """The question: what would be lost, one line per tab."""
    lines = "\n".join(f"- {text}" for text in work)
    message = f"Close CNN Studio? This would be lost:\n\n{lines}"
    if can_save:
        message += "\n\nSave keeps the pictures (of a running job: the picture so far)."
    return message


def confirm_close(window: QMainWindow, tabs: Sequence[StudioTab]) -> bool:
    """True when the window may close: nothing would be lost, or the user said Discard,
    or Save and every save went through (each tab asks where). Cancel, or a save
    cancelled half-way, keeps the window, the jobs and the pictures."""
    work = [(tab, text) for tab in tabs if (text := tab.unsaved_work())]
    if not work:
        return True
    savable = [tab for tab, _ in work if tab.can_save_work()]
    question = close_question([text for _, text in work], bool(savable))
    answer = dialogs.ask_unsaved_work(window, question, bool(savable), "Close CNN Studio")
    status = getattr(window, "show_status", None)
    if answer == dialogs.CANCEL:
        if status:
            status("Not closed: everything is as it was")
        return False
    if answer == dialogs.SAVE:
        tab_widget = getattr(window, "tabs", None)
        for tab in savable:
            if tab_widget is not None and tab_widget.indexOf(tab) >= 0:
                tab_widget.setCurrentWidget(tab)  # the save dialog belongs to it
            if not tab.save_work():
                if status:
                    status("Not closed: the picture was not saved")
                return False
    return True
