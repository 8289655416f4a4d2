"""Start the application: QApplication set-up, error hook, main window."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from types import TracebackType

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cnnstudio import __version__
from cnnstudio.gui.garbage import collect_garbage_in_gui_thread

log = logging.getLogger("cnnstudio")


#: how long a worker thread may keep the interpreter lock once the GUI thread waits for
#: it (Python's default is 5 ms)
GIL_SWITCH_SECONDS = 0.001


def favour_the_gui_thread() -> None:
    """The GUI thread gives the interpreter lock (GIL) up at its calls into Qt and must
    take it back after each; while a worker runs Python (TensorFlow tracing a network:
    AutoGraph, graph building), every take-back waited up to the switch interval, and one
    paint makes dozens of them. A 1 ms interval took Dream's cold-start gap from 59-133 ms
    (mean 94) to 31-54 ms (mean 44) in five alternating bench runs each. A worker alone
    is not slowed: the interval only counts while another thread waits for the lock."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once) with the names QSettings and desktops use."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName("cnnstudio")
    app.setApplicationName("CNN Studio")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("cnnstudio")
    from cnnstudio.gui.about import icon_path

    icon = icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    collect_garbage_in_gui_thread()  # the GUI thread alone collects (gui/garbage.py)
    favour_the_gui_thread()
    from cnnstudio.gui import wheel_guard

    wheel_guard.install(app)
    return app


def install_error_hook() -> None:
    """A bug in a slot shows a readable box (with the traceback under details) instead of
    only printing to a terminal the user may not have."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        details = "".join(traceback.format_exception(kind, error, tb))
        log.error("Unexpected error: %s", details)
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        from cnnstudio.core.errors import StudioError
        from cnnstudio.gui.messages import describe
        from cnnstudio.gui.widgets.dialogs import show_error

        if isinstance(error, StudioError):
            show_error(QApplication.activeWindow(), describe(error))
        else:
            message = f"Unexpected error: {kind.__name__}: {error}"
            show_error(QApplication.activeWindow(), message, details)

    sys.excepthook = hook


def main(argv: list[str] | None = None) -> int:
    """Open the window; image paths given as arguments open in the first tab."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ chatter
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # warnings from jobs go to the log like everything else
    argv = sys.argv[1:] if argv is None else argv
    from cnnstudio.gui import platform_check

    problem = platform_check.startup_problem()
    if problem:  # before Qt starts: Qt's own message would blame the wrong library
        print(problem, file=sys.stderr)
        return 2
    app = create_app(sys.argv[:1])
    install_error_hook()
    from cnnstudio.core.errors import StudioError
    from cnnstudio.gui.main_window import MainWindow

    try:
        from cnnstudio.core import paths

        paths.config_dir()  # the folders the window needs, checked before it is built
        paths.data_dir()
        window = MainWindow()
    except StudioError as error:  # e.g. CNNSTUDIO_HOME is a file: say so, no traceback
        from PySide6.QtWidgets import QMessageBox

        from cnnstudio.gui.messages import describe

        print(f"cnnstudio: {error}", file=sys.stderr)
        QMessageBox.critical(None, "CNN Studio", describe(error))
        return 2
    window.show()
    for path in argv:
        if os.path.isfile(path):
            tab = window.current_tab()
            if tab is not None:
                tab.open_image(path)
            break
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
