"""The tabs of the main window, in the order they appear."""

from __future__ import annotations


def tab_classes() -> list[type]:
    """Each tab class; imported here so the main window does not list modules itself."""
    from cnnstudio.gui.tabs.classify.tab import ClassifyTab
    from cnnstudio.gui.tabs.dream.tab import DreamTab
    from cnnstudio.gui.tabs.style.tab import StyleTab
    from cnnstudio.gui.tabs.train.tab import TrainTab

    return [TrainTab, ClassifyTab, StyleTab, DreamTab]
