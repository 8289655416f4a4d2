"""Help > About: the versions and the device, and the application icon."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from cnnstudio import __version__


def icon_path() -> Path | None:
    """The application icon shipped in resources/icons, if present."""
    try:
        from importlib.resources import files

        candidate = files("cnnstudio.resources") / "icons" / "cnnstudio-256.png"
        path = Path(str(candidate))
    except (ModuleNotFoundError, TypeError):
        path = Path(__file__).resolve().parents[2] / "resources" / "icons" / "cnnstudio-256.png"
    return path if path.is_file() else None


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_text(device: str) -> str:
    """What the About box says: versions of everything that matters, and ``device``."""
    return (
        f"<b>CNN Studio {__version__}</b><br>"
        "Train, classify, explain, style and dream with convolutional networks.<br><br>"
        f"Python {platform.python_version()}<br>"
        f"TensorFlow {_package_version('tensorflow')}, Keras {_package_version('keras')}<br>"
        f"Qt {qVersion()}, PySide6 {pyside_version}<br>"
        f"Device: {device}"
    )


def show_about(parent: QWidget, text: str) -> QMessageBox:
    """A non-blocking About box with the window's icon."""
    box = QMessageBox(parent)
    box.setObjectName("aboutBox")
    box.setWindowTitle("About CNN Studio")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(text)
    if not parent.windowIcon().isNull():
        box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
