"""The questions motion asks in the window: a video to open, where to save one, a long
job before it starts (with a smaller size or the first frames as a button), frames made before (continue or
start again). Blocking boxes; the controller calls them through methods tests replace."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from cnnstudio.core.video.params import VIDEO_SUFFIXES, Workload
from cnnstudio.gui.settings import last_folder, remember_folder
from cnnstudio.gui.widgets.dialogs import APP_TITLE, image_file_filter

#: what :func:`ask_workload` and :func:`ask_resume` answer
SMALLER, FEWER, FULL = "smaller", "fewer", "full"
CONTINUE, RESTART, CANCEL = "continue", "restart", "cancel"
_ACCEPT = QMessageBox.ButtonRole.AcceptRole
VIDEO_FILTERS = {"MP4 video (*.mp4)": ".mp4", "Animated GIF (*.gif)": ".gif"}


def media_filter() -> str:
    """Pictures and videos, then each kind alone."""
    videos = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
    pictures = image_file_filter().split(";;")[0]
    images = pictures[pictures.index("(") + 1 : pictures.rindex(")")]
    return f"Pictures and videos ({images} {videos});;Videos ({videos});;{image_file_filter()}"


def ask_open_media(parent: QWidget | None, title: str) -> str | None:
    """A picture or a video chosen by the user (the folder is remembered), or None."""
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(), media_filter())
    if not path:
        return None
    remember_folder(path)
    return path


def ask_open_for(parent: QWidget | None, tab: object) -> str | None:
    """File > Open: a picture or a video for a tab that makes videos, else a picture."""
    if getattr(tab, "motion", None) is not None:
        return ask_open_media(parent, "Open a picture or a video")
    from cnnstudio.gui.widgets.dialogs import ask_open_image

    return ask_open_image(parent)


def ask_save_video(parent: QWidget | None, suggested_name: str, title: str) -> str | None:
    """Where to save a video (.mp4 or .gif; the dialog confirms replacing a file)."""
    path, chosen = QFileDialog.getSaveFileName(
        parent, title, os.path.join(last_folder(), suggested_name), ";;".join(VIDEO_FILTERS)
    )
    if not path:
        return None
    if os.path.splitext(path)[1].lower() not in VIDEO_FILTERS.values():
        path += VIDEO_FILTERS.get(chosen, ".mp4")
    remember_folder(path)
    return path


def ask_workload(parent: QWidget | None, text: str, workload: Workload) -> str:
    """A job longer than the budget, said before it starts, with what brings it under:
    :data:`SMALLER` (the smaller size) or :data:`FEWER` (the first frames that fit),
    :data:`FULL` (go ahead) or :data:`CANCEL`."""
    box = QMessageBox(QMessageBox.Icon.Question, APP_TITLE, text, parent=parent)
    box.setObjectName("motionWorkloadBox")
    remedy, answer = None, CANCEL
    if workload.suggested_size is not None:
        remedy = box.addButton(f"Use {max(workload.suggested_size)} px", _ACCEPT)
        answer = SMALLER
    elif workload.suggested_frames is not None:
        remedy = box.addButton(f"Make the first {workload.suggested_frames} frames", _ACCEPT)
        answer = FEWER
    full = box.addButton("Go ahead as it is", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(remedy or full)
    box.exec()
    clicked = box.clickedButton()
    if remedy is not None and clicked is remedy:
        return answer
    return FULL if clicked is full else CANCEL


def ask_resume(parent: QWidget | None, text: str) -> str:
    """Frames made before: :data:`CONTINUE` (the default), :data:`RESTART` or
    :data:`CANCEL`."""
    box = QMessageBox(QMessageBox.Icon.Question, APP_TITLE, text, parent=parent)
    box.setObjectName("motionResumeBox")
    go_on = box.addButton("Continue", QMessageBox.ButtonRole.AcceptRole)
    again = box.addButton("Start again", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(go_on)
    box.exec()
    clicked = box.clickedButton()
    return CONTINUE if clicked is go_on else RESTART if clicked is again else CANCEL
