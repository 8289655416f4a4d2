"""MainWindow: the tabs, the menus, the status bar and the settings kept between runs.

Opening the window must stay fast and must not import TensorFlow: the device line is
filled in by a worker after the window shows (``detect_device``), tabs import TensorFlow
only inside their jobs.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from cnnstudio.gui import about, messages
from cnnstudio.gui import help as help_pages
from cnnstudio.gui.messages import capitalized
from cnnstudio.gui.recent_files import RecentFiles, pruned_notice
from cnnstudio.gui.settings import (
    app_settings,
    last_folder,
    notices_summary,
    read_bool,
    read_str,
    remember_folder,
)
from cnnstudio.gui.tabs import tab_classes
from cnnstudio.gui.tabs.base import StudioTab
from cnnstudio.gui.tabs.motion.questions import ask_open_for
from cnnstudio.gui.unsaved import confirm_close
from cnnstudio.gui.visualize.launcher import VisualizeLauncher
from cnnstudio.gui.wheel_guard import install as install_wheel_guard
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.elided_label import ElidedLabel
from cnnstudio.gui.widgets.image_view import (
    ImageView,
    array_to_qimage,
    dropped_image_paths,
    target_view,
)
from cnnstudio.gui.widgets.library_dialog import LibraryDialog, show_library
from cnnstudio.gui.window_device import DeviceMixin
from cnnstudio.gui.window_menus import build_menus
from cnnstudio.gui.workers import JobRunner

#: set to "0" to keep the window from loading TensorFlow for the device line (tests)
DETECT_DEVICE_ENV = "CNNSTUDIO_DETECT_DEVICE"
DEFAULT_SIZE = (1280, 840)
#: tab methods that re-list the library's models (Classify, Dream) after the library changed
LIBRARY_REFRESH_METHODS = ("refresh_models", "refresh_library")
#: added to a tab's title while its job runs
BUSY_MARK = "\u2022"


def _import_weights(path: str):
    """Worker job: check a weights file against the architectures and install it."""
    from cnnstudio.core.weights_import import import_weights_detailed

    return import_weights_detailed(path)


class MainWindow(DeviceMixin, QMainWindow):
    """The CNN Studio window. ``MainWindow()`` needs only a QApplication."""

    def __init__(self, detect_device: bool | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        install_wheel_guard()  # the wheel scrolls panels; it changes focused controls only
        if detect_device is None:
            detect_device = os.environ.get(DETECT_DEVICE_ENV, "1") != "0"
        self._closed = False
        self._init_device(detect_device)
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
        self.recent_files = RecentFiles()
        for tab_class in tab_classes():
            tab: StudioTab = tab_class()
            self.tabs.addTab(tab, tab.title or tab_class.__name__)
            tab.status.connect(lambda text, tab=tab: self._on_tab_status(tab, text))
            tab.send_image.connect(self._route_image)
            tab.recent_file.connect(self.recent_files.add)
            self._watch_jobs(tab)
        self.tabs.currentChanged.connect(self._on_current_tab_changed)

        self._import_runner = JobRunner("weights import", self)
        self._import_runner.finished.connect(self._on_weights_imported)
        self._import_runner.failed.connect(self._on_weights_import_failed)

        self.visualize = VisualizeLauncher(self)  # View > Feature visualisation...
        build_menus(self)
        self._build_status_bar()
        self.restore_settings()
        self.update_mixed_precision_action()

    # -- construction -------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        # elided to the bar's width: a long message must not widen the window or its panels
        self.status_label = ElidedLabel("Ready")
        self.status_label.setObjectName("statusText")
        self.device_label = QLabel("Device: detecting...")
        self.device_label.setObjectName("deviceLabel")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)

    def show_status(self, text: str) -> None:
        """A line in the status bar, as a sentence starts."""
        self.status_label.setText(capitalized(text))

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
            self.show_status(text)

    def _on_current_tab_changed(self, _index: int) -> None:
        tab = self.current_tab()
        text = self._status_lines.get(tab.settings_key, "") if tab else ""
        self.show_status(text or "Ready")

    def _watch_jobs(self, tab: StudioTab) -> None:
        """Mark the tab's title while its job runs ("Dream •"): the runners of the tab
        say when a job starts and ends, and the tab says whether it is busy."""
        for runner in tab.findChildren(JobRunner):
            runner.started.connect(lambda tab=tab: self._update_tab_title(tab))
            runner.done.connect(lambda tab=tab: self._update_tab_title(tab))

    def _update_tab_title(self, tab: StudioTab) -> None:
        index = self.tabs.indexOf(tab)
        if index < 0:
            return
        busy = tab.is_busy()
        title = tab.title or type(tab).__name__
        self.tabs.setTabText(index, f"{title} {BUSY_MARK}" if busy else title)
        self.tabs.setTabToolTip(index, f"{title}: a job is running" if busy else "")

    def show_runs(self) -> None:
        """View > Training runs (Ctrl+Shift+R): the Train tab's Runs page."""
        tab = self.tab_by_key("train")
        if tab is not None:
            self.tabs.setCurrentWidget(tab)
            tab.show_runs()

    def _route_image(self, key: str, image: object, role: str) -> None:
        target = self.tab_by_key(key)
        if target is None:
            self.show_status(f"No tab named {key!r} to send the image to")
            return
        self.tabs.setCurrentWidget(target)
        target.receive_image(image, role)

    # -- menu actions -------------------------------------------------------------------

    def ask_open_image(self) -> str | None:
        """The image (in Dream and Style: or a video) to open (replaced in tests)."""
        return ask_open_for(self, self.current_tab())

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

    def fill_recent_menu(self) -> None:
        """File > Open recent as it opens: files that are gone leave it, with a notice."""
        gone = self.recent_files.fill_menu(self.recent_menu, self.open_recent)
        if gone:
            self.show_status(pruned_notice(gone))

    def open_recent(self, path: str) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.open_image(path)

    def batch(self) -> None:
        """File > Batch...: the current tab's job over a folder (Dream and Style)."""
        tab = self.current_tab()
        start = getattr(tab, "ask_batch", None)
        if not callable(start):
            self.show_status("Batch works in the Dream and Style tabs: switch to one first")
            return
        start()

    def copy_picture(self) -> None:
        """Ctrl+C outside text fields: the current tab's picture to the clipboard."""
        tab = self.current_tab()
        picture = tab.copy_picture() if tab is not None else None
        if picture is None:
            self.show_status("Nothing to copy yet: open or make a picture first")
            return
        QApplication.clipboard().setImage(array_to_qimage(picture))
        self.show_status(
            f"Copied the picture ({picture.shape[1]}x{picture.shape[0]}) to the clipboard"
        )

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
            self.show_status("Nothing to save yet: run a job first")
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

    def zoom(self, how: str) -> None:
        """View > Zoom in/out, Fit, 1:1 on the picture with the focus, else the tab's."""
        view = self._target_view()
        if view is None:
            return
        zoom = {"in": view.zoom_in, "out": view.zoom_out, "fit": view.fit}
        zoom["actual"] = view.zoom_actual
        zoom[how]()

    def _target_view(self) -> ImageView | None:
        """The image view with the keyboard focus, else the first visible one of the tab."""
        return target_view(QApplication.focusWidget(), self.current_tab())

    def import_weights(self) -> None:
        if self._import_runner.running:
            self.show_status("A weights import is already running")
            return
        path = self.ask_weights_file()
        if not path:
            return
        self.show_status(f"Checking {Path(path).name} against the architectures...")
        self._import_runner.run_function(_import_weights, path)

    def _on_weights_imported(self, imported) -> None:
        text = messages.weights_import_text(imported)  # ImageNet or custom weights
        self.status_label.setText(text)
        dialogs.show_info(self, text, "Weights imported")

    def _on_weights_import_failed(self, message: str) -> None:
        # the weights in use stay as they were: say so, or the line reads as if half done
        self.show_status(f"{message} The weights in use are unchanged.")
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

    def show_user_guide(self) -> QDialog:
        return help_pages.show_user_guide(self)

    def show_shortcuts(self) -> QDialog:
        return help_pages.show_shortcuts(self)

    # -- device -------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._detect_device and not self._device_started:
            self._device_started = True
            QTimer.singleShot(0, self.detect_device)  # after the first paint

    def any_tab_busy(self) -> bool:
        return any(tab.is_busy() for tab in self.tab_widgets())

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
        if self._mixed_precision_capable is not None:  # unknown: keep what is stored
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
        summary = notices_summary()
        if summary:  # values out of range or of the wrong type: defaults kept, and said
            self.status_label.setText(summary[0])
            self.status_label.setToolTip(summary[1])

    def shutdown(self) -> None:
        """Stop every job and wait for it: no thread outlives the window."""
        for tab in self.tab_widgets():
            tab.shutdown()
        for dialog in self.findChildren(LibraryDialog):
            dialog.shutdown()
        for runner in (self._import_runner, self._device_runner):
            runner.shutdown()
        self.visualize.shutdown()

    def confirm_close(self) -> bool:
        """Ask before closing when a tab holds work that closing would lose."""
        return confirm_close(self, [*self.tab_widgets(), *self.visualize.views()])

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            if not self.confirm_close():
                event.ignore()
                return
            self._closed = True
            self._precision_timer.stop()
            self.save_settings()
            self.shutdown()
        event.accept()
