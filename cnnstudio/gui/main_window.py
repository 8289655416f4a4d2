"""MainWindow: the tabs, the menus, the status bar and the settings kept between runs.

Opening the window must stay fast and must not import TensorFlow: the device line is
filled in by a worker after the window shows (``detect_device``), tabs import TensorFlow
only inside their jobs.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from cnnstudio.gui import about, messages
from cnnstudio.gui.settings import (
    app_settings,
    last_folder,
    read_bool,
    read_str,
    remember_folder,
    take_notices,
)
from cnnstudio.gui.tabs import tab_classes
from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.image_view import ImageView, dropped_image_paths
from cnnstudio.gui.widgets.library_dialog import LibraryDialog, show_library
from cnnstudio.gui.workers import JobRunner

#: set to "0" to keep the window from loading TensorFlow for the device line (tests)
DETECT_DEVICE_ENV = "CNNSTUDIO_DETECT_DEVICE"
DEFAULT_SIZE = (1280, 840)
#: tab methods that re-list the library's models (Classify, Dream) after the library changed
LIBRARY_REFRESH_METHODS = ("refresh_models", "refresh_library")


def _configure_devices(mixed_precision: bool):
    """Worker job: imports TensorFlow (slow, first time) and describes the device."""
    from cnnstudio.core.device import configure_devices

    return configure_devices(mixed_precision=mixed_precision)


def _import_weights(path: str):
    """Worker job: check a weights file against the architectures and install it."""
    from cnnstudio.core.weights_import import import_weights_detailed

    return import_weights_detailed(path)


class MainWindow(QMainWindow):
    """The CNN Studio window. ``MainWindow()`` needs only a QApplication."""

    def __init__(self, detect_device: bool | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        if detect_device is None:
            detect_device = os.environ.get(DETECT_DEVICE_ENV, "1") != "0"
        self._detect_device = detect_device
        self._device_started = False
        self._closed = False
        # a mixed precision change waits for the running jobs (they keep their networks)
        self._precision_timer = QTimer(self)
        self._precision_timer.setInterval(250)
        self._precision_timer.timeout.connect(self._apply_mixed_precision)
        self.device_text = "detecting..."
        self.setObjectName("mainWindow")
        self.setWindowTitle("CNN Studio")
        icon = about.icon_path()
        if icon is not None:
            self.setWindowIcon(QIcon(str(icon)))
        self.setAcceptDrops(True)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self._status_lines: dict[str, str] = {}
        for tab_class in tab_classes():
            tab: StudioTab = tab_class()
            self.tabs.addTab(tab, tab.title or tab_class.__name__)
            tab.status.connect(lambda text, tab=tab: self._on_tab_status(tab, text))
            tab.send_image.connect(self._route_image)
        self.tabs.currentChanged.connect(self._on_current_tab_changed)

        self._device_runner = JobRunner("device detection", self)
        self._device_runner.finished.connect(self._on_device_detected)
        self._device_runner.failed.connect(self._on_device_failed)
        self._import_runner = JobRunner("weights import", self)
        self._import_runner.finished.connect(self._on_weights_imported)
        self._import_runner.failed.connect(self._on_weights_import_failed)

        self._build_menus()
        self._build_status_bar()
        self.restore_settings()

    # -- construction -------------------------------------------------------------------

    def _action(self, text: str, slot, shortcuts=(), name: str = "") -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(slot)
        if name:
            action.setObjectName(name)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.setObjectName("fileMenu")
        self.open_action = self._action(
            "&Open image...", self.open_image, [QKeySequence.StandardKey.Open], "openAction"
        )
        self.save_action = self._action(
            "&Save result...", self.save_result, [QKeySequence.StandardKey.Save], "saveAction"
        )
        # the one owner of Ctrl+V: a second shortcut on the same key (a tab's own) would
        # make Qt treat the key as ambiguous and trigger neither
        self.paste_action = self._action(
            "&Paste image", self.paste_image, [QKeySequence.StandardKey.Paste], "pasteAction"
        )
        self.import_weights_action = self._action(
            "&Import weights...", self.import_weights, name="importWeightsAction"
        )
        self.library_action = self._action(
            "Model &library...", self.open_library, name="libraryAction"
        )
        self.quit_action = self._action("&Quit", self.close, ["Ctrl+Q"], "quitAction")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addActions([self.open_action, self.save_action, self.paste_action])
        file_menu.addSeparator()
        file_menu.addAction(self.import_weights_action)
        file_menu.addAction(self.library_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        job_menu = bar.addMenu("&Job")
        job_menu.setObjectName("jobMenu")
        self.run_action = self._action("&Run", self.run_current, ["F5", "Ctrl+R"], "runAction")
        self.stop_action = self._action("&Stop", self.stop_current, ["Esc"], "stopAction")
        job_menu.addActions([self.run_action, self.stop_action])

        view_menu = bar.addMenu("&View")
        view_menu.setObjectName("viewMenu")
        view_menu.addAction(
            self._action("Zoom &in", lambda: self._zoom("in"), ["Ctrl++", "Ctrl+="], "zoomIn")
        )
        view_menu.addAction(self._action("Zoom &out", lambda: self._zoom("out"), ["Ctrl+-"]))
        view_menu.addAction(
            self._action("&Fit to window", lambda: self._zoom("fit"), ["Ctrl+0"], "zoomFit")
        )
        # Ctrl+1..Ctrl+9 choose tabs and Ctrl+0 fits: 1:1 takes Ctrl+Alt+0
        view_menu.addAction(
            self._action(
                "&Actual size (1:1)", lambda: self._zoom("actual"), ["Ctrl+Alt+0"], "zoomActual"
            )
        )
        view_menu.addSeparator()
        for index in range(self.tabs.count()):
            shortcut = [f"Ctrl+{index + 1}"] if index < 9 else []
            view_menu.addAction(
                self._action(
                    self.tabs.tabText(index),
                    lambda checked=False, i=index: self.tabs.setCurrentIndex(i),
                    shortcut,
                )
            )
        view_menu.addSeparator()
        self.mixed_precision_action = QAction("Mixed precision on the GPU", self)
        self.mixed_precision_action.setCheckable(True)
        self.mixed_precision_action.setToolTip(
            "float16 compute with float32 losses on GPUs with compute capability 7.0+; "
            "ignored on the CPU"
        )
        self.mixed_precision_action.toggled.connect(self._on_mixed_precision_toggled)
        view_menu.addAction(self.mixed_precision_action)
        view_menu.aboutToShow.connect(self._update_mixed_precision_action)

        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("helpMenu")
        self.about_action = self._action("&About CNN Studio", self.show_about, name="aboutAction")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        self.status_label = QLabel("Ready")
        self.status_label.setObjectName("statusText")
        self.device_label = QLabel("Device: detecting...")
        self.device_label.setObjectName("deviceLabel")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)

    # -- tabs ---------------------------------------------------------------------------

    def tab_widgets(self) -> list[StudioTab]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def current_tab(self) -> StudioTab | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, StudioTab) else None

    def tab_by_key(self, key: str) -> StudioTab | None:
        for tab in self.tab_widgets():
            if tab.settings_key == key:
                return tab
        return None

    def _on_tab_status(self, tab: StudioTab, text: str) -> None:
        self._status_lines[tab.settings_key] = text
        if tab is self.current_tab():
            self.status_label.setText(text)

    def _on_current_tab_changed(self, _index: int) -> None:
        tab = self.current_tab()
        text = self._status_lines.get(tab.settings_key, "") if tab else ""
        self.status_label.setText(text or "Ready")

    def _route_image(self, key: str, image: object, role: str) -> None:
        target = self.tab_by_key(key)
        if target is None:
            self.status_label.setText(f"No tab named {key!r} to send the image to")
            return
        self.tabs.setCurrentWidget(target)
        target.receive_image(image, role)

    # -- menu actions -------------------------------------------------------------------

    def ask_open_image(self) -> str | None:
        """The image to open (replaced in tests)."""
        return dialogs.ask_open_image(self)

    def ask_weights_file(self) -> str | None:
        """The weights file to import (replaced in tests)."""
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import pretrained weights",
            last_folder(),
            "Keras weights (*.weights.h5 *.h5);;All files (*)",
        )
        if path:
            remember_folder(path)
        return path or None

    def open_image(self) -> None:
        tab = self.current_tab()
        if tab is None:
            return
        path = self.ask_open_image()
        if path:
            tab.open_image(path)

    def paste_image(self) -> None:
        """Ctrl+V outside text fields: the current tab pastes (copied files or a picture)."""
        tab = self.current_tab()
        if tab is not None:
            tab.paste()

    def save_result(self) -> None:
        tab = self.current_tab()
        if tab is None:
            return
        if not tab.has_result():
            self.status_label.setText("Nothing to save yet: run a job first")
            return
        tab.save_result()

    def run_current(self) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.run_job()

    def stop_current(self) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.stop_job()

    def _zoom(self, how: str) -> None:
        view = self._target_view()
        if view is None:
            return
        zoom = {"in": view.zoom_in, "out": view.zoom_out, "fit": view.fit}
        zoom["actual"] = view.zoom_actual
        zoom[how]()

    def _target_view(self) -> ImageView | None:
        """The image view with the keyboard focus, else the first visible one of the tab."""
        focus = QApplication.focusWidget()
        while focus is not None:
            if isinstance(focus, ImageView):
                return focus
            focus = focus.parentWidget()
        tab = self.current_tab()
        if tab is None:
            return None
        views = [v for v in tab.findChildren(ImageView) if v.isVisible()]
        views = views or tab.findChildren(ImageView)
        return views[0] if views else None

    def import_weights(self) -> None:
        if self._import_runner.running:
            self.status_label.setText("A weights import is already running")
            return
        path = self.ask_weights_file()
        if not path:
            return
        self.status_label.setText(f"Checking {Path(path).name} against the architectures...")
        self._import_runner.run_function(_import_weights, path)

    def _on_weights_imported(self, imported) -> None:
        text = messages.weights_import_text(imported)  # ImageNet or custom weights
        self.status_label.setText(text)
        dialogs.show_info(self, text, "Weights imported")

    def _on_weights_import_failed(self, message: str) -> None:
        self.status_label.setText(message)
        dialogs.show_error(self, message, self._import_runner.error_details, "Import failed")

    def open_library(self) -> LibraryDialog:
        """File > Model library...: list, rename, delete, export and import models."""
        dialog = show_library(self)
        if not dialog.property("windowConnected"):
            dialog.setProperty("windowConnected", True)
            dialog.library_changed.connect(self.refresh_library_models)
        return dialog

    def refresh_library_models(self) -> None:
        """Tabs that list library models re-list them (busy tabs do it when next shown)."""
        for tab in self.tab_widgets():
            if tab.is_busy():
                continue
            for name in LIBRARY_REFRESH_METHODS:
                refresh = getattr(tab, name, None)
                if callable(refresh):
                    refresh()

    def about_text(self) -> str:
        return about.about_text(self.device_text)

    def show_about(self) -> QMessageBox:
        return about.show_about(self, self.about_text())

    # -- device -------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._detect_device and not self._device_started:
            self._device_started = True
            QTimer.singleShot(0, self.detect_device)  # after the first paint

    def detect_device(self) -> None:
        """Describe the device on a worker (imports TensorFlow there, not here)."""
        if self._device_runner.running or self._closed:
            return
        self.device_label.setText("Device: detecting...")
        self._device_runner.run_function(
            _configure_devices, self.mixed_precision_action.isChecked()
        )

    def _on_device_detected(self, info) -> None:
        summary = info.summary() if hasattr(info, "summary") else str(info)
        self.device_text = summary
        self.device_label.setText(f"Device: {summary}")
        note = getattr(info, "note", "")
        self.device_label.setToolTip(note or summary)

    def _on_device_failed(self, message: str) -> None:
        self.device_text = f"unknown ({message})"
        self.device_label.setText("Device: unknown")
        self.device_label.setToolTip(message)

    def any_tab_busy(self) -> bool:
        return any(tab.is_busy() for tab in self.tab_widgets())

    def _update_mixed_precision_action(self) -> None:
        """Mixed precision is switched between jobs only: greyed out while a job runs."""
        self.mixed_precision_action.setEnabled(not self.any_tab_busy())

    def _on_mixed_precision_toggled(self, _checked: bool) -> None:
        if self._device_started:
            self._apply_mixed_precision()

    def _apply_mixed_precision(self) -> None:
        """Set the dtype policy now, or once no job runs: a job half-way through keeps the
        networks it built in the old precision (new ones are built for the new policy)."""
        if self._closed:
            self._precision_timer.stop()
            return
        if self.any_tab_busy() or self._device_runner.running:
            if not self._precision_timer.isActive():
                self._precision_timer.start()
                self.status_label.setText("Mixed precision changes when the running job ends")
            return
        self._precision_timer.stop()
        self.detect_device()

    # -- drops on the window: the current tab opens the image ---------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime is not None and mime.hasUrls() and dropped_image_paths(mime.urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_image_paths(event.mimeData().urls()) if event.mimeData() else []
        tab = self.current_tab()
        if paths and tab is not None:
            event.acceptProposedAction()
            tab.open_image(paths[0])

    # -- settings and shutdown ----------------------------------------------------------

    def save_settings(self, settings: QSettings | None = None) -> None:
        settings = settings or app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        current = self.current_tab()
        if current is not None:
            settings.setValue("window/current_tab", current.settings_key)
        settings.setValue("device/mixed_precision", self.mixed_precision_action.isChecked())
        for tab in self.tab_widgets():
            settings.beginGroup(tab.settings_key or type(tab).__name__)
            try:
                tab.save_settings(settings)
            finally:
                settings.endGroup()
        settings.sync()

    def restore_settings(self, settings: QSettings | None = None) -> None:
        settings = settings or app_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(*DEFAULT_SIZE)
        self.mixed_precision_action.setChecked(read_bool(settings, "device/mixed_precision", False))
        for tab in self.tab_widgets():
            settings.beginGroup(tab.settings_key or type(tab).__name__)
            try:
                tab.restore_settings(settings)
            finally:
                settings.endGroup()
        target = self.tab_by_key(read_str(settings, "window/current_tab", ""))
        if target is not None:
            self.tabs.setCurrentWidget(target)
        ignored = take_notices()
        if ignored:  # values out of range or of the wrong type: defaults kept, and said
            names = "; ".join(name for name, _ in ignored)
            self.status_label.setText(f"Some settings were not restored: {names}"[:400])
            self.status_label.setToolTip("\n".join(f"{n}: {why}" for n, why in ignored))

    def shutdown(self) -> None:
        """Stop every job and wait for it: no thread outlives the window."""
        for tab in self.tab_widgets():
            tab.shutdown()
        for dialog in self.findChildren(LibraryDialog):
            dialog.shutdown()
        for runner in (self._import_runner, self._device_runner):
            runner.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self._precision_timer.stop()
            self.save_settings()
            self.shutdown()
        event.accept()
