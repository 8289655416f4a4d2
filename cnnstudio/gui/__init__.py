"""The PySide6 front end. Imports ``cnnstudio.core``; the core never imports this."""
