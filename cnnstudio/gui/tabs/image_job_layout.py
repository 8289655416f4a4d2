"""The layout of a picture-making tab (Dream, Style): the form column (the pictures and
the form, scrolled, over the run-time line and Run / Stop / Save) and the view column
(compare, split and fit over the preview, the notice line, the progress bar, the loss plot).
The functions set the widgets as attributes of the tab, as :class:`ImageJobTab` documents."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress

#: the tab (not imported: it imports this module)
ImageJobTab = Any


def form_column(
    tab: ImageJobTab,
    form: QWidget,
    inputs: QWidget | None,
    button_tips: tuple[str, str, str],
    extra_buttons: tuple[QWidget, ...],
    run_note: QWidget | None = None,
) -> QWidget:
    """The inputs and the form in a scroll area, the Run, Stop and Save buttons under."""
    prefix = tab.object_prefix
    scrolled = form
    if inputs is not None:
        scrolled = QWidget()
        column = QVBoxLayout(scrolled)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(inputs)
        column.addWidget(form, 1)
    scroll = QScrollArea()
    scroll.setWidget(scrolled)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(scrolled.sizeHint().width() + 24)

    tab.run_button = QPushButton("Run")
    tab.stop_button = QPushButton("Stop")
    tab.save_button = QPushButton("Save...")
    buttons = QHBoxLayout()
    for button, name, tip in zip(
        (tab.run_button, tab.stop_button, tab.save_button),
        ("RunButton", "StopButton", "SaveButton"),
        button_tips,
        strict=True,
    ):
        button.setObjectName(prefix + name)
        button.setToolTip(tip)
        buttons.addWidget(button)
    for widget in extra_buttons:
        buttons.addWidget(widget)
    left = QWidget()
    left_layout = QVBoxLayout(left)
    left_layout.setContentsMargins(0, 0, 0, 0)
    left_layout.addWidget(scroll, 1)
    if run_note is not None:
        left_layout.addWidget(run_note)
    left_layout.addLayout(buttons)
    return left


def view_column(
    tab: ImageJobTab,
    placeholder: str | None,
    compare_tip: str,
    fit_tip: str,
    progress: JobProgress,
    loss_plot: LossPlot,
    under_preview: QLayout | None,
) -> QWidget:
    """The preview with Hold to compare, Fit and the notice line over the progress
    bar; the loss plot under them in a splitter."""
    prefix = tab.object_prefix
    tab.preview = ImageView() if placeholder is None else ImageView(placeholder=placeholder)
    tab.preview.setObjectName(f"{prefix}Preview")
    tab.preview.setToolTip(
        "Wheel: zoom; drag: pan; double-click: fit. Drop a picture to open it, or a "
        "folder for a batch"
    )
    tab.compare_button = QPushButton("Hold to compare")
    tab.compare_button.setObjectName(f"{prefix}CompareButton")
    tab.compare_button.setToolTip(compare_tip)
    tab.split_button = QPushButton("Split")
    tab.split_button.setObjectName(f"{prefix}SplitButton")
    tab.split_button.setCheckable(True)
    tab.split_button.setToolTip(
        "Before on the left, after on the right: drag the divider over the picture"
    )
    tab.fit_button = QPushButton("Fit")
    tab.fit_button.setObjectName(f"{prefix}FitButton")
    tab.fit_button.setToolTip(fit_tip)
    tab.notice_label = QLabel("")
    tab.notice_label.setObjectName(f"{prefix}Notice")
    tab.notice_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    view_bar = QHBoxLayout()
    view_bar.addWidget(tab.compare_button)
    view_bar.addWidget(tab.split_button)
    view_bar.addWidget(tab.fit_button)
    view_bar.addWidget(tab.notice_label, 1)
    tab.progress = progress
    tab.progress.setObjectName(f"{prefix}Progress")
    tab.loss_plot = loss_plot
    tab.loss_plot.setObjectName(f"{prefix}LossPlot")
    top = QWidget()
    top_layout = QVBoxLayout(top)
    top_layout.setContentsMargins(0, 0, 0, 0)
    top_layout.addLayout(view_bar)
    top_layout.addWidget(tab.preview, 1)
    if under_preview is not None:
        top_layout.addLayout(under_preview)
    top_layout.addWidget(tab.progress)
    right = QSplitter(Qt.Orientation.Vertical)
    right.addWidget(top)
    right.addWidget(tab.loss_plot)
    right.setStretchFactor(0, 4)
    right.setStretchFactor(1, 1)
    right.setSizes([600, 170])
    return right
