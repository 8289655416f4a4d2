"""The PySide6 front end. Imports ``cnnstudio.core``; the core never imports this."""

from cnnstudio.gui import _pyside_guard  # noqa: F401  (first: PySide6 6.12.0 emit bug)
