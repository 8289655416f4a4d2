"""The Train tab's right side: the dataset before training, the live curves, the model
summary with the files a run skipped, the results (accuracy, samples, confusion matrix
whose cells open their images), the misclassified pictures, and the Runs page (every run,
:mod:`.runs_page`).

The batch curves are the mean of the batches since the previous point (Keras logs the
epoch's running mean, which would drop at every epoch's start); epoch values have a dot
each (one validation point shows), and an epoch cut short by Stop is a cross of its own."""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.training import events
from cnnstudio.core.training.curves import BatchValues
from cnnstudio.core.training.runs import HISTORY_COLUMNS
from cnnstudio.gui.tabs.train.dataset_page import DatasetPage
from cnnstudio.gui.tabs.train.run_results import fill_confusion
from cnnstudio.gui.tabs.train.runs_page import RunsPage
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon

_THUMB = 72  # sample thumbnails, pixels
#: the series of each plot, in the order that gives them their colours
_SERIES = {
    "loss": ("loss (batch)", "loss", "val_loss", "loss (partial epoch)"),
    "accuracy": ("accuracy (batch)", "accuracy", "val_accuracy", "accuracy (partial epoch)"),
}
_BATCH_TIP = (
    "{1} (batch): the mean {0} of the batches since the previous point (every batch when "
    "batches are slow); {0}: the epoch's mean; val_{0}: the validation set after each "
    "epoch; a cross: an epoch cut short by Stop (its mean so far)"
)
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
        self.runs_page = RunsPage()
        self.addTab(self.runs_page, "Runs")
        self.setTabToolTip(
            self.indexOf(self.runs_page), "Every training run, compared and followed live"
        )
        self._batch_values = {"loss": BatchValues(0.0), "accuracy": BatchValues(0.0, 1.0)}
        self._last_batch_x = 0.0
        self._done: events.TrainingDone | None = None
        self._style_series()

    def _build_curves_page(self) -> QWidget:
        self.loss_plot = LossPlot(x_label="epoch", y_label="loss")
        self.loss_plot.setObjectName("trainLossPlot")
        self.accuracy_plot = LossPlot(x_label="epoch", y_label="accuracy (0 to 1)")
        self.accuracy_plot.setObjectName("trainAccuracyPlot")
        self.loss_plot.setToolTip(_BATCH_TIP.format("loss", "Loss"))
        self.accuracy_plot.setToolTip(_BATCH_TIP.format("accuracy", "Accuracy"))
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
        self.confusion.cellClicked.connect(self.open_cell)
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(self.result_label)
        column.addWidget(QLabel("Sample predictions (actual -> predicted)"))
        column.addWidget(self.samples)
        column.addWidget(
            QLabel(
                "Confusion matrix (rows: actual, columns: predicted; click a cell for its images)"
            )
        )
        column.addWidget(self.confusion, 1)
        return page

    # ------------------------------------------------------------------ during a run

    def start_run(self) -> None:
        """Empty curves, skipped files and results for a new (or resumed) run: nothing
        of the last run stays to be taken for this one's; the curves come to the front."""
        for key, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot)):
            plot.clear_points(keep=_SERIES[key][:3])  # batch, epoch and validation
        self._style_series()
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

    def _style_series(self) -> None:
        """Epoch values with a dot each, the partial epoch a cross without a line."""
        for key, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot)):
            batch, epoch, val, partial = _SERIES[key]
            plot.add_series(batch)
            plot.add_series(epoch, symbol="o")
            plot.add_series(val, symbol="o")
            self._batch_values[key].reset()

    def plot_batch(self, event: events.BatchEnd) -> None:
        x = event.epoch - 1 + event.batch / max(event.steps, 1)
        self._last_batch_x = x
        for key, plot, mean in (
            ("loss", self.loss_plot, event.loss),
            ("accuracy", self.accuracy_plot, event.accuracy),
        ):
            value = self._batch_values[key].value(event.epoch, event.batch, mean)
            plot.add_point(_SERIES[key][0], x, value)

    def plot_epoch(self, event: events.EpochEnd) -> None:
        if event.partial:  # cut short by Stop: where it stopped, not as a whole epoch
            x = self._last_batch_x if self._last_batch_x > event.epoch - 1 else event.epoch
            for key, plot, value in (
                ("loss", self.loss_plot, event.loss),
                ("accuracy", self.accuracy_plot, event.accuracy),
            ):
                plot.add_series(_SERIES[key][3], symbol="x", line=False)
                plot.add_point(_SERIES[key][3], x, value)
            return
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
        self._done = done
        wrong = int(done.confusion.sum() - done.confusion.trace())  # all, not the shown ones
        shown = len(done.misclassified)
        if shown < wrong:
            self.result_label.setText(
                f"{self.result_label.text()}; {wrong} misclassified (the first {shown} on the "
                "Misclassified page; click a cell of the matrix for all of them)"
            )
        self._fill_thumbs(self.samples, done.samples)
        self._fill_thumbs(self.misclassified, done.misclassified)
        fill_confusion(self.confusion, done.confusion, list(done.class_names))
        self.setTabText(self.indexOf(self.misclassified), f"Misclassified ({wrong})")

    def open_cell(self, true: int, predicted: int) -> None:
        """The images of a cell of the last run's confusion matrix, with Grad-CAM."""
        done = self._done
        if done is None or predicted >= len(done.class_names):
            return
        from cnnstudio.gui.tabs.train.run_results import RunResultsDialog

        split = "validation" if done.test_is_validation else "test"
        RunResultsDialog(done.run_dir, split, (true, predicted), parent=self).show()

    def shutdown(self) -> None:
        self.runs_page.shutdown()
        for dialog in self.findChildren(QDialog):
            if hasattr(dialog, "shutdown"):
                dialog.shutdown()

    @staticmethod
    def _fill_thumbs(widget: QListWidget, samples) -> None:
        widget.clear()
        for sample in samples:
            text = f"{sample.actual} -> {sample.predicted}\n{sample.confidence:.0%}"
            item = QListWidgetItem(thumbnail_icon(sample.image, _THUMB, smooth=False), text)
            if sample.actual != sample.predicted:
                item.setForeground(QBrush(QColor("#c62828")))
            widget.addItem(item)
