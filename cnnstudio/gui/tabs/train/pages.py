"""The Train tab's right side: the dataset before training, the live curves, the model
summary with the files a run skipped, the results (accuracy, samples, confusion matrix) and
the misclassified pictures."""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.training import events
from cnnstudio.core.training.runs import HISTORY_COLUMNS
from cnnstudio.gui.tabs.train.dataset_page import DatasetPage
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon

_THUMB = 72  # sample thumbnails, pixels
_NO_SKIPPED = "Unreadable files skipped: none"
_NO_RESULTS = "Results appear when a run ends."


def _thumb_list(name: str) -> QListWidget:
    widget = QListWidget()
    widget.setObjectName(name)
    widget.setViewMode(QListWidget.ViewMode.IconMode)
    widget.setIconSize(QSize(_THUMB, _THUMB))
    widget.setResizeMode(QListWidget.ResizeMode.Adjust)
    widget.setWrapping(True)
    widget.setMinimumHeight(_THUMB + 40)
    return widget


class TrainPages(QTabWidget):
    """Dataset, Curves, Model, Results and Misclassified pages of a training run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainPages")
        self.dataset_page = DatasetPage()
        self.addTab(self.dataset_page, "Dataset")
        self.curves_page = self._build_curves_page()
        self.addTab(self.curves_page, "Curves")
        self.addTab(self._build_model_page(), "Model")
        self.addTab(self._build_results_page(), "Results")
        self.misclassified = _thumb_list("trainMisclassified")
        self.misclassified.setToolTip("Test pictures the model got wrong (actual -> predicted)")
        self.addTab(self.misclassified, "Misclassified")

    def _build_curves_page(self) -> QWidget:
        self.loss_plot = LossPlot(x_label="epoch", y_label="loss")
        self.loss_plot.setObjectName("trainLossPlot")
        self.loss_plot.setToolTip("The loss per batch and per epoch (lower is better)")
        self.accuracy_plot = LossPlot(x_label="epoch", y_label="accuracy")
        self.accuracy_plot.setObjectName("trainAccuracyPlot")
        self.accuracy_plot.setToolTip("The accuracy per batch and per epoch")
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(self.loss_plot)
        column.addWidget(self.accuracy_plot)
        return page

    def _build_model_page(self) -> QWidget:
        """The model summary over the list of files the run could not read."""
        self.summary_text = QPlainTextEdit()
        self.summary_text.setObjectName("trainSummary")
        self.summary_text.setToolTip("The data and the model's layers of the run")
        self.summary_text.setReadOnly(True)
        self.summary_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = self.summary_text.font()
        font.setFamily("monospace")
        self.summary_text.setFont(font)
        self.skipped_label = QLabel(_NO_SKIPPED)
        self.skipped_label.setObjectName("trainSkippedLabel")
        self.skipped_list = QListWidget()
        self.skipped_list.setObjectName("trainSkipped")
        self.skipped_list.setToolTip("Image files of the dataset folder that could not be read")
        skipped = QWidget()
        skipped_column = QVBoxLayout(skipped)
        skipped_column.setContentsMargins(0, 0, 0, 0)
        skipped_column.addWidget(self.skipped_label)
        skipped_column.addWidget(self.skipped_list)
        page = QSplitter(Qt.Orientation.Vertical)
        page.setObjectName("trainModelPage")
        page.addWidget(self.summary_text)
        page.addWidget(skipped)
        page.setStretchFactor(0, 3)
        page.setStretchFactor(1, 1)
        return page

    def _build_results_page(self) -> QWidget:
        self.result_label = QLabel(_NO_RESULTS)
        self.result_label.setObjectName("trainResultLabel")
        self.samples = _thumb_list("trainSamples")
        self.samples.setToolTip("Test pictures with their actual and predicted classes")
        self.confusion = QTableWidget()
        self.confusion.setObjectName("trainConfusion")
        self.confusion.setToolTip(
            "Rows: the actual class; columns: the predicted one; the last column: the "
            "share of each class the model got right"
        )
        self.confusion.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(self.result_label)
        column.addWidget(QLabel("Sample predictions (actual -> predicted)"))
        column.addWidget(self.samples)
        column.addWidget(QLabel("Confusion matrix (rows: actual, columns: predicted)"))
        column.addWidget(self.confusion, 1)
        return page

    # ------------------------------------------------------------------ during a run

    def start_run(self) -> None:
        """Empty curves, skipped files and results for a new (or resumed) run: nothing
        of the last run stays to be taken for this one's; the curves come to the front."""
        self.loss_plot.clear()
        self.accuracy_plot.clear()
        self.skipped_list.clear()
        self.skipped_label.setText(_NO_SKIPPED)
        self.summary_text.clear()
        self.result_label.setText(_NO_RESULTS)
        self.samples.clear()
        self.misclassified.clear()
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        self.setTabText(self.indexOf(self.misclassified), "Misclassified")
        self.setCurrentWidget(self.curves_page)

    def add_skipped(self, text: str) -> None:
        """A file of the dataset folder that could not be read ("path: reason")."""
        self.skipped_list.addItem(text)
        self.skipped_label.setText(f"Unreadable files skipped: {self.skipped_list.count()}")

    def plot_batch(self, event: events.BatchEnd) -> None:
        x = event.epoch - 1 + event.batch / max(event.steps, 1)
        self.loss_plot.add_point("loss (batch)", x, event.loss)
        self.accuracy_plot.add_point("accuracy (batch)", x, event.accuracy)

    def plot_epoch(self, event: events.EpochEnd) -> None:
        self.loss_plot.add_point("loss", event.epoch, event.loss)
        self.accuracy_plot.add_point("accuracy", event.epoch, event.accuracy)
        if event.val_loss is not None:
            self.loss_plot.add_point("val_loss", event.epoch, event.val_loss)
        if event.val_accuracy is not None:
            self.accuracy_plot.add_point("val_accuracy", event.epoch, event.val_accuracy)

    def plot_history(self, history: dict[str, list[float]]) -> None:
        """The epochs a resumed run has finished already (its history.csv)."""
        for column in HISTORY_COLUMNS:
            plot = self.loss_plot if "loss" in column else self.accuracy_plot
            for epoch, value in zip(history.get("epoch", []), history.get(column, []), strict=True):
                if not math.isnan(value):
                    plot.add_point(column, epoch, value)

    # ------------------------------------------------------------------ at the end

    def show_results(self, done: events.TrainingDone) -> None:
        """Test accuracy, confusion matrix with per-class accuracy, samples, mistakes."""
        split = "validation" if done.test_is_validation else "test"
        stopped = " (stopped early)" if done.stopped else ""
        self.result_label.setText(
            f"{split.capitalize()} accuracy {done.test_accuracy:.2%}, loss {done.test_loss:.4f} "
            f"after {done.epochs_completed} epoch(s){stopped}"
        )
        self._fill_thumbs(self.samples, done.samples)
        self._fill_thumbs(self.misclassified, done.misclassified)
        self._fill_confusion(done)
        self.setTabText(
            self.indexOf(self.misclassified), f"Misclassified ({len(done.misclassified)})"
        )

    @staticmethod
    def _fill_thumbs(widget: QListWidget, samples) -> None:
        widget.clear()
        for sample in samples:
            text = f"{sample.actual} -> {sample.predicted}\n{sample.confidence:.0%}"
            item = QListWidgetItem(thumbnail_icon(sample.image, _THUMB, smooth=False), text)
            if sample.actual != sample.predicted:
                item.setForeground(QBrush(QColor("#c62828")))
            widget.addItem(item)

    def _fill_confusion(self, done: events.TrainingDone) -> None:
        names = list(done.class_names)
        matrix = done.confusion
        table = self.confusion
        table.clear()
        table.setRowCount(len(names))
        table.setColumnCount(len(names) + 1)
        table.setHorizontalHeaderLabels([*names, "accuracy"])
        table.setVerticalHeaderLabels(names)
        totals = matrix.sum(axis=1)
        for row in range(len(names)):
            for column in range(len(names)):
                count = int(matrix[row, column])
                item = QTableWidgetItem(str(count))
                share = count / totals[row] if totals[row] else 0.0
                # heat map: the share of the row's images, blue for hits, red for confusions
                base = (33, 150, 243) if row == column else (229, 57, 53)
                item.setBackground(QBrush(QColor(*base, int(round(200 * share)))))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                table.setItem(row, column, item)
            accuracy = done.per_class_accuracy[row]
            item = QTableWidgetItem("-" if math.isnan(accuracy) else f"{accuracy:.1%}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            table.setItem(row, len(names), item)
        table.resizeColumnsToContents()
