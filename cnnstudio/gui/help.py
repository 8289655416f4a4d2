"""Help > User guide and Help > Keyboard shortcuts.

The guide is a page shipped with the package (``resources/help/guide.html``) shown in a
QTextBrowser. The shortcuts sheet is made from the window's own QActions and QShortcuts
each time it opens, so it lists exactly the keys the window answers.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

#: what the mouse does over a picture (not keys, so not in any action)
MOUSE_ROWS = (
    ("Picture", "Zoom around the pointer", "Wheel"),
    ("Picture", "Pan", "Drag"),
    ("Picture", "Fit to the view", "Double-click"),
    ("Picture", "Move the before/after divider", "Drag the divider (Split on)"),
    ("Panels", "Scroll; a value changes only in the control you clicked", "Wheel"),
)


def guide_path() -> Path:
    """The user guide page in the package's resources."""
    try:
        from importlib.resources import files

        return Path(str(files("cnnstudio.resources") / "help" / "guide.html"))
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parents[2] / "resources" / "help" / "guide.html"


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _keys(sequences: list[QKeySequence]) -> str:
    native = QKeySequence.SequenceFormat.NativeText
    return " or ".join(s.toString(native) for s in sequences if not s.isEmpty())


def _menu_actions(menu: QMenu, title: str) -> list[tuple[str, QAction]]:
    found = []
    for action in menu.actions():
        if action.menu() is not None:
            found += _menu_actions(action.menu(), title)
        elif not action.isSeparator():
            found.append((title, action))
    return found


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, what it does, keys) for every action and shortcut of ``window`` that has
    a key, in menu order; actions outside the menus and QShortcuts come last."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for title, action in _menu_actions(menu, _plain(menu.title())):
            seen.add(id(action))
            if action.shortcuts():
                rows.append((title, _plain(action.text()), _keys(action.shortcuts())))
    for action in window.findChildren(QAction):
        if id(action) not in seen and action.shortcuts() and action.text():
            rows.append(("Window", _plain(action.text()), _keys(action.shortcuts())))
    for shortcut in window.findChildren(QShortcut):
        if not shortcut.key().isEmpty():
            what = shortcut.whatsThis() or shortcut.objectName() or "Shortcut"
            rows.append(("Window", what, _keys([shortcut.key()])))
    return rows


def shortcuts_html(window: QMainWindow) -> str:
    """The sheet as an HTML table: keys, then the mouse."""
    lines = [
        "<h2>Keyboard shortcuts</h2>",
        "<table cellspacing='0' cellpadding='4'>",
        "<tr><th align='left'>Menu</th><th align='left'>Action</th><th align='left'>Keys</th></tr>",
    ]
    for menu, what, keys in shortcut_rows(window):
        lines.append(
            f"<tr><td>{html.escape(menu)}</td><td>{html.escape(what)}</td>"
            f"<td><b>{html.escape(keys)}</b></td></tr>"
        )
    lines.append("<tr><td colspan='3'><h3>Mouse</h3></td></tr>")
    for where, what, how in MOUSE_ROWS:
        lines.append(
            f"<tr><td>{html.escape(where)}</td><td>{html.escape(what)}</td>"
            f"<td><b>{html.escape(how)}</b></td></tr>"
        )
    lines.append("</table>")
    return "\n".join(lines)


def _browser_dialog(parent: QWidget, title: str, name: str, page: str, base: Path | None):
    dialog = QDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    browser = QTextBrowser(dialog)
    browser.setObjectName(f"{name}Text")
    browser.setOpenExternalLinks(True)
    if base is not None:
        browser.setSearchPaths([str(base)])
    browser.setHtml(page)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.resize(720, 640)
    dialog.browser = browser  # type: ignore[attr-defined]
    return dialog


def show_user_guide(parent: QWidget) -> QDialog:
    """The user guide, non-blocking."""
    path = guide_path()
    try:
        page = path.read_text(encoding="utf-8")
    except OSError as error:
        page = f"<p>The user guide {html.escape(str(path))} could not be read: {error}.</p>"
    dialog = _browser_dialog(parent, "CNN Studio user guide", "userGuide", page, path.parent)
    dialog.open()
    return dialog


def show_shortcuts(window: QMainWindow) -> QDialog:
    """The keyboard-shortcuts sheet, made from the window's actions now, non-blocking."""
    dialog = _browser_dialog(
        window, "Keyboard shortcuts", "shortcutsSheet", shortcuts_html(window), None
    )
    dialog.resize(620, 700)
    dialog.open()
    return dialog
