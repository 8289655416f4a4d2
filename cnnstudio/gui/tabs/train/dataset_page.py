"""The Train tab's Dataset page: a look at the data before training on it.

A row per class with its images as a bar (the balance at a glance) and a strip of sample
pictures, the balance in words, and the files that could not be read. The survey
(:func:`cnnstudio.core.training.survey.survey`) runs on the page's own worker: a folder of
100,000 pictures is counted by listing and only a sample is opened, so nothing waits on
it; a newer request stops the one running (latest wins).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.training import survey as dataset_survey
from cnnstudio.gui.messages import sentence
from cnnstudio.gui.widgets.delegates import SHARE_ROLE, ShareDelegate
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon
from cnnstudio.gui.workers import JobRunner

COL_CLASS, COL_IMAGES, COL_SAMPLES = range(3)
_PLACEHOLDER = "Choose a dataset to see its classes, their balance and sample pictures."


class DatasetPage(QWidget):
    """Classes with their counts and samples, the balance, the unreadable files."""

    #: a line for the status bar
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainDatasetPage")
        self.runner = JobRunner("Dataset summary", self, imports_tensorflow=False)
        self._spec = ""  # the dataset shown (or being surveyed)
        self._pending: str | None = None  # asked for while another survey runs
        self._survey: dataset_survey.DatasetSurvey | None = None
        self.summary_label = QLabel(_PLACEHOLDER, objectName="trainDatasetSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.classes = QTableWidget(0, 3, objectName="trainDatasetClasses")
        self.classes.setHorizontalHeaderLabels(["Class", "Images", "Samples"])
        self.classes.setToolTip("Each class with its images (the bar: beside the largest class)")
        self.classes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.classes.verticalHeader().setVisible(False)
        side = dataset_survey.THUMB_SIDE
        strip = dataset_survey.SAMPLES_PER_CLASS * (side + 2)
        self.classes.setIconSize(QSize(strip, side + 2))
        self.classes.verticalHeader().setDefaultSectionSize(side + 8)
        self.classes.setItemDelegateForColumn(COL_IMAGES, ShareDelegate(self.classes))
        header = self.classes.horizontalHeader()
        header.setSectionResizeMode(COL_CLASS, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(COL_IMAGES, 140)
        header.setStretchLastSection(True)
        self.unreadable_label = QLabel("", objectName="trainDatasetUnreadableLabel")
        self.unreadable_label.setWordWrap(True)
        self.unreadable = QListWidget(objectName="trainDatasetUnreadable")
        self.unreadable.setToolTip("Files of the dataset that are not readable pictures")
        self.unreadable.setMaximumHeight(120)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.classes, 1)
        layout.addWidget(self.unreadable_label)
        layout.addWidget(self.unreadable)
        self.runner.finished.connect(self._on_surveyed)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self._on_done)
        self._show(None)

    def survey_result(self) -> dataset_survey.DatasetSurvey | None:
        """The survey shown, or None."""
        return self._survey

    def request(self, spec: str, force: bool = False) -> None:
        """Survey ``spec`` (mnist, cifar10, a .npz file, a folder); the one shown or on its
        way already is not surveyed again unless ``force``."""
        spec = spec.strip()
        if not spec:
            self._spec = ""
            self._show(None)
            self.summary_label.setText(_PLACEHOLDER)
            return
        if spec == self._spec and not force and (self.runner.running or self._survey):
            return
        self._spec = spec
        if self.runner.running:
            self._pending = spec
            self.runner.stop()
            return
        self._start(spec)

    def _start(self, spec: str) -> None:
        self._show(None)
        self.summary_label.setText(f"Looking at {spec}...")
        self.runner.run_generator(dataset_survey.survey, spec)

    def _on_surveyed(self, result: object) -> None:
        if isinstance(result, dataset_survey.DatasetSurvey):
            self._show(result)
            self.status.emit(
                f"Dataset {result.name}: {result.total} images, {len(result.class_names)} classes"
            )

    def _on_failed(self, message: str) -> None:
        self._show(None)
        self.summary_label.setText(message)

    def _on_done(self) -> None:
        if self._pending is not None:
            spec, self._pending = self._pending, None
            self._start(spec)

    def _show(self, found: dataset_survey.DatasetSurvey | None) -> None:
        self._survey = found
        self.classes.setRowCount(0)
        self.unreadable.clear()
        if found is None:
            self.unreadable_label.setText("")
            self.unreadable.hide()
            return
        what = "image files" if found.is_folder else "training images"
        balance = dataset_survey.balance_text(found.balance)
        self.summary_label.setText(
            f"{found.name}: {found.total} {what} in {len(found.class_names)} classes. "
            + sentence(f"balance: {balance}")
        )
        largest = max(found.counts, default=0) or 1
        self.classes.setRowCount(len(found.class_names))
        for row, (name, count) in enumerate(zip(found.class_names, found.counts, strict=True)):
            name_item = QTableWidgetItem(name)
            name_item.setToolTip(name)
            self.classes.setItem(row, COL_CLASS, name_item)
            share = count / found.total if found.total else 0.0
            count_item = QTableWidgetItem(f"{count}  ({share:.1%})")
            count_item.setData(SHARE_ROLE, count / largest)
            if found.test_counts is not None:
                count_item.setToolTip(f"{count} training, {found.test_counts[row]} test images")
            self.classes.setItem(row, COL_IMAGES, count_item)
            samples = QTableWidgetItem()
            if found.samples and found.samples[row]:
                samples.setIcon(thumbnail_icon(found.sample_strip(row)))
            samples.setToolTip(f"Sample pictures of {name}")
            self.classes.setItem(row, COL_SAMPLES, samples)
        self.unreadable_label.setText(sentence(found.unreadable_text()))
        for path, reason in found.unreadable:
            self.unreadable.addItem(f"{path}: {reason}")
        self.unreadable.setVisible(bool(found.unreadable))

    def shutdown(self) -> None:
        self._pending = None
        self.runner.shutdown()
