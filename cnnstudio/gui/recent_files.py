"""File > Open Recent: the last pictures opened or saved, remembered between runs.

Ten at most, newest first, each path once. Files that no longer exist are pruned when
the menu opens, and the window says which (a silent shrink would look like a lost list).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMenu

from cnnstudio.gui.settings import app_settings, read_list

SETTINGS_KEY = "recent/files"
LIMIT = 10


class RecentFiles:
    """The list, kept in the settings file (so two windows share it)."""

    def __init__(self, key: str = SETTINGS_KEY, limit: int = LIMIT) -> None:
        self.key = key
        self.limit = limit

    def paths(self) -> list[str]:
        return read_list(app_settings(), self.key)[: self.limit]

    def _store(self, paths: list[str]) -> None:
        settings = app_settings()
        settings.setValue(self.key, paths[: self.limit])
        settings.sync()

    def add(self, path: str) -> None:
        """``path`` becomes the newest entry (moved up if it was there)."""
        full = os.path.abspath(os.path.expanduser(path))
        self._store([full] + [p for p in self.paths() if p != full])

    def prune(self) -> list[str]:
        """Drop the entries whose file is gone; return them."""
        paths = self.paths()
        gone = [p for p in paths if not os.path.isfile(p)]
        if gone:
            self._store([p for p in paths if p not in gone])
        return gone

    def clear(self) -> None:
        self._store([])

    def fill_menu(self, menu: QMenu, open_path: Callable[[str], None]) -> list[str]:
        """Rebuild ``menu`` (after pruning): one entry per file, then Clear; return the
        pruned paths for the caller to report."""
        gone = self.prune()
        menu.clear()
        paths = self.paths()
        for number, path in enumerate(paths, start=1):
            label = f"&{number % 10} {Path(path).name}" if number <= 10 else Path(path).name
            action = menu.addAction(label)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setData(path)
            action.triggered.connect(lambda _checked=False, p=path: open_path(p))
        if not paths:
            empty = menu.addAction("No recent files")
            empty.setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear the list")
        clear.setObjectName("clearRecentAction")
        clear.setEnabled(bool(paths))
        clear.triggered.connect(self.clear)
        return gone


def pruned_notice(gone: list[str]) -> str:
    """The status line after pruning: which files left the list."""
    names = ", ".join(Path(p).name for p in gone[:3]) + (", ..." if len(gone) > 3 else "")
    if len(gone) == 1:
        return f"{names} no longer exists and was removed from the recent files"
    return f"{len(gone)} recent files no longer exist and were removed from the list: {names}"
