"""The product: jobs, models and images, with no Qt.

Everything here runs headless (CLI, tests, scripts). The GUI in ``cnnstudio.gui`` is one
front end on top of it; ``tests/test_architecture.py`` fails CI if anything here imports Qt.
"""
