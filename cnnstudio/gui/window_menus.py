"""The main window's menus and actions: the one owner of every shortcut.

Every key the window answers is a QAction made here (added to the window as well as to
its menu, so the keys work while the menu bar is hidden); Help > Keyboard shortcuts lists
them from these actions, so the sheet cannot drift from the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

#: the main window (not imported: it imports this module)
MainWindow = Any

#: Ctrl+1..Ctrl+9 choose tabs and Ctrl+0 fits: 1:1 takes Ctrl+Alt+0
ZOOM_ACTUAL_KEYS = ("Ctrl+Alt+0",)


def make_action(
    window: MainWindow,
    text: str,
    slot: Callable[..., object],
    shortcuts: Sequence[str | QKeySequence | QKeySequence.StandardKey] = (),
    name: str = "",
    tip: str = "",
) -> QAction:
    """An action of the window: its keys work even while the menu bar is hidden."""
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    action.triggered.connect(slot)
    if name:
        action.setObjectName(name)
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    window.addAction(action)
    return action


def build_menus(window: MainWindow) -> None:
    """File, Edit, Job, View and Help, with their actions as attributes of ``window``."""
    _build_file_menu(window)
    _build_edit_menu(window)
    _build_job_menu(window)
    _build_view_menu(window)
    _build_help_menu(window)


def _menu(window: MainWindow, title: str, name: str) -> QMenu:
    menu = window.menuBar().addMenu(title)
    menu.setObjectName(name)
    menu.setToolTipsVisible(True)
    return menu


def _build_file_menu(window: MainWindow) -> None:
    menu = _menu(window, "&File", "fileMenu")
    window.open_action = make_action(
        window, "&Open image...", window.open_image, [QKeySequence.StandardKey.Open],
        "openAction", "Open a picture in the current tab",
    )  # fmt: skip
    window.recent_menu = QMenu("Open &recent", menu)
    window.recent_menu.setObjectName("recentMenu")
    window.recent_menu.setToolTipsVisible(True)
    window.recent_menu.aboutToShow.connect(window.fill_recent_menu)
    window.batch_action = make_action(
        window, "&Batch...", window.batch, ["Ctrl+B"], "batchAction",
        "Dream or style every picture of a folder with the current settings",
    )  # fmt: skip
    window.save_action = make_action(
        window, "&Save result...", window.save_result, [QKeySequence.StandardKey.Save],
        "saveAction", "Save the picture with its parameters (during a run: the picture so far)",
    )  # fmt: skip
    window.import_weights_action = make_action(
        window, "&Import weights...", window.import_weights, name="importWeightsAction",
        tip="Install a pretrained weights file downloaded elsewhere",
    )  # fmt: skip
    window.library_action = make_action(
        window, "Model &library...", window.open_library, name="libraryAction",
        tip="List, rename, export and import the models you trained",
    )  # fmt: skip
    window.quit_action = make_action(
        window, "&Quit", window.close, ["Ctrl+Q"], "quitAction",
        "Close CNN Studio (asks first when work is not saved)",
    )  # fmt: skip
    window.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    menu.addAction(window.open_action)
    menu.addMenu(window.recent_menu)
    menu.addAction(window.batch_action)
    menu.addAction(window.save_action)
    menu.addSeparator()
    menu.addAction(window.import_weights_action)
    menu.addAction(window.library_action)
    menu.addSeparator()
    menu.addAction(window.quit_action)


def _build_edit_menu(window: MainWindow) -> None:
    menu = _menu(window, "&Edit", "editMenu")
    # the window owns Ctrl+C and Ctrl+V outside text fields (which keep their own: Qt
    # gives a focused line edit or spin box the key first); a second shortcut on either
    # key would make Qt treat it as ambiguous and trigger neither
    window.copy_action = make_action(
        window, "&Copy picture", window.copy_picture, [QKeySequence.StandardKey.Copy],
        "copyAction", "Copy the picture shown (result, snapshot or preview) to the clipboard",
    )  # fmt: skip
    window.paste_action = make_action(
        window, "&Paste image", window.paste_image, [QKeySequence.StandardKey.Paste],
        "pasteAction", "Paste a copied picture or copied files into the current tab",
    )  # fmt: skip
    menu.addActions([window.copy_action, window.paste_action])


def _build_job_menu(window: MainWindow) -> None:
    menu = _menu(window, "&Job", "jobMenu")
    window.run_action = make_action(
        window, "&Run", window.run_current, ["F5", "Ctrl+R"], "runAction",
        "Start the current tab's job",
    )  # fmt: skip
    window.stop_action = make_action(
        window, "&Stop", window.stop_current, ["Esc"], "stopAction",
        "Stop the current tab's job (what is done is kept)",
    )  # fmt: skip
    menu.addActions([window.run_action, window.stop_action])


def _build_view_menu(window: MainWindow) -> None:
    menu = _menu(window, "&View", "viewMenu")
    menu.addAction(
        make_action(
            window, "Zoom &in", lambda: window.zoom("in"), ["Ctrl++", "Ctrl+="], "zoomIn",
            "Enlarge the picture (the wheel over it zooms too)",
        )
    )  # fmt: skip
    menu.addAction(
        make_action(
            window, "Zoom &out", lambda: window.zoom("out"), ["Ctrl+-"], "zoomOut",
            "Shrink the picture",
        )
    )  # fmt: skip
    menu.addAction(
        make_action(
            window, "&Fit to window", lambda: window.zoom("fit"), ["Ctrl+0"], "zoomFit",
            "Show the whole picture",
        )
    )  # fmt: skip
    menu.addAction(
        make_action(
            window, "&Actual size (1:1)", lambda: window.zoom("actual"), ZOOM_ACTUAL_KEYS,
            "zoomActual", "One picture pixel per screen pixel",
        )
    )  # fmt: skip
    menu.addSeparator()
    for index in range(window.tabs.count()):
        shortcut = [f"Ctrl+{index + 1}"] if index < 9 else []
        text = window.tabs.tabText(index)
        menu.addAction(
            make_action(
                window,
                text,
                lambda checked=False, i=index: window.tabs.setCurrentIndex(i),
                shortcut,
                f"showTab{index + 1}",
                f"Show the {text} tab",
            )
        )
    window.runs_action = make_action(
        window, "Training &runs", window.show_runs, ["Ctrl+Shift+R"], "runsAction",
        "Every training run: compare their curves, follow them live",
    )  # fmt: skip
    menu.addAction(window.runs_action)
    window.visualize_action = make_action(
        window, "&Feature visualisation...", window.visualize.show_view, ["Ctrl+Shift+F"],
        "visualizeAction", "What each channel of a layer looks for: an image made to excite it",
    )  # fmt: skip
    menu.addAction(window.visualize_action)
    menu.addSeparator()
    window.mixed_precision_action = QAction("Mixed precision on the GPU", window)
    window.mixed_precision_action.setObjectName("mixedPrecisionAction")
    window.mixed_precision_action.setCheckable(True)
    window.mixed_precision_action.toggled.connect(window.on_mixed_precision_toggled)
    menu.addAction(window.mixed_precision_action)
    menu.aboutToShow.connect(window.update_mixed_precision_action)


def _build_help_menu(window: MainWindow) -> None:
    menu = _menu(window, "&Help", "helpMenu")
    window.guide_action = make_action(
        window, "&User guide", window.show_user_guide, [QKeySequence.StandardKey.HelpContents],
        "guideAction", "What each tab does, working offline, where things are kept",
    )  # fmt: skip
    window.shortcuts_action = make_action(
        window, "&Keyboard shortcuts", window.show_shortcuts, ["Ctrl+/"], "shortcutsAction",
        "Every key the window answers",
    )  # fmt: skip
    window.about_action = make_action(
        window, "&About CNN Studio", window.show_about, name="aboutAction",
        tip="Versions and the compute device",
    )  # fmt: skip
    window.about_action.setMenuRole(QAction.MenuRole.AboutRole)
    menu.addActions([window.guide_action, window.shortcuts_action])
    menu.addSeparator()
    menu.addAction(window.about_action)
