"""A run's results, any time after it ended: the confusion matrix of its test (or
validation) set from the predictions kept in its folder, with the real counts, and a
click on a cell (true X, predicted Y) shows that cell's images with the Grad-CAM of the
predicted class (from ``checkpoints/best.keras``), loaded on a worker, a page at a time.
A split without stored predictions is predicted on request."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.events import Progress
from cnnstudio.core.training import predictions as preds
from cnnstudio.gui.messages import error_text
from cnnstudio.gui.widgets.thumbnails import thumbnail_icon
from cnnstudio.gui.workers import JobRunner

PAGE = 48  # images loaded per click or "More"
THUMB = 112


def fill_confusion(table: QTableWidget, matrix: np.ndarray, names: list[str]) -> None:
    """A confusion matrix as a heat map (the share of each row: blue hits, red
    confusions) with each class's accuracy in a last column."""
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
            base = (33, 150, 243) if row == column else (229, 57, 53)
            item.setBackground(QBrush(QColor(*base, int(round(200 * share)))))
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            item.setToolTip(
                f"True {names[row]}, predicted {names[column]}: {count} image(s); click to see them"
            )
            table.setItem(row, column, item)
        accuracy = matrix[row, row] / totals[row] if totals[row] else math.nan
        item = QTableWidgetItem("-" if math.isnan(accuracy) else f"{accuracy:.1%}")
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        table.setItem(row, len(names), item)
    table.resizeColumnsToContents()


def _cell_job(*args, **kwargs):
    from cnnstudio.core.training import explain_run  # TensorFlow: on the worker

    return (yield from explain_run.cell_job(*args, **kwargs))


def _predictions_job(*args, **kwargs):
    from cnnstudio.core.training import explain_run

    return (yield from explain_run.predictions_job(*args, **kwargs))


class RunResultsDialog(QDialog):
    """The results of the run in ``run_dir`` (``split``/``cell``: open them at once)."""

    def __init__(
        self,
        run_dir: str | Path,
        split: str | None = None,
        cell: tuple[int, int] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("runResultsDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.run_dir = Path(run_dir)
        self.setWindowTitle(f"Results of {self.run_dir.name}")
        self.resize(1000, 640)
        self.runner = JobRunner("Run results", self)
        self.predictions: preds.Predictions | None = None
        self.cell: tuple[int, int] | None = None
        self._loaded = 0
        self._cell_count = 0
        self._pending: tuple | None = None
        self._build()
        available = preds.available_splits(self.run_dir)
        chosen = split if split in preds.SPLITS else (available[0] if available else "test")
        self.split_combo.setCurrentIndex(self.split_combo.findData(chosen))
        self._load_split()
        if cell is not None and self.predictions is not None:
            self.open_cell(*cell)

    def _build(self) -> None:
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("resultsSplit")
        self.split_combo.addItem("Test set", "test")
        self.split_combo.addItem("Validation set", "validation")
        self.gradcam_box = QCheckBox("Grad-CAM")
        self.gradcam_box.setObjectName("resultsGradcam")
        self.gradcam_box.setChecked(True)
        self.gradcam_box.setToolTip(
            "Lay over each image where checkpoints/best.keras looked for the predicted class"
        )
        self.compute_button = QPushButton("Predict this set")
        self.compute_button.setObjectName("resultsCompute")
        self.compute_button.setToolTip(
            "Run checkpoints/best.keras on the set and keep its predictions in the run folder"
        )
        top = QHBoxLayout()
        top.addWidget(self.split_combo)
        top.addWidget(self.gradcam_box)
        top.addWidget(self.compute_button)
        top.addStretch(1)
        self.summary = QLabel("")
        self.summary.setObjectName("resultsSummary")
        self.summary.setWordWrap(True)
        self.confusion = QTableWidget()
        self.confusion.setObjectName("resultsConfusion")
        self.confusion.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.cell_label = QLabel("Click a cell of the matrix (rows: true, columns: predicted).")
        self.cell_label.setObjectName("resultsCellLabel")
        self.cell_label.setWordWrap(True)
        self.images = QListWidget()
        self.images.setObjectName("resultsImages")
        self.images.setViewMode(QListWidget.ViewMode.IconMode)
        self.images.setIconSize(QSize(THUMB, THUMB))
        self.images.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.images.setWrapping(True)
        self.images.setSpacing(4)
        self.more_button = QPushButton("More")
        self.more_button.setObjectName("resultsMore")
        self.more_button.setEnabled(False)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.cell_label)
        column.addWidget(self.images, 1)
        column.addWidget(self.more_button)
        splitter = QSplitter()
        splitter.addWidget(self.confusion)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

        self.split_combo.currentIndexChanged.connect(self._load_split)
        self.compute_button.clicked.connect(self.compute_predictions)
        self.confusion.cellClicked.connect(self.open_cell)
        self.more_button.clicked.connect(self.load_more)
        self.gradcam_box.toggled.connect(self._reload_cell)
        self.runner.progress.connect(self._on_event)
        self.runner.notice.connect(self._on_notice)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self._on_done)

    @property
    def split(self) -> str:
        return self.split_combo.currentData()

    # ------------------------------------------------------------------ the matrix

    def _load_split(self) -> None:
        self.predictions = None
        self.cell = None
        self.images.clear()
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.more_button.setEnabled(False)
        try:
            self.predictions = preds.load_predictions(self.run_dir, self.split)
        except Exception as error:  # noqa: BLE001 - a damaged file: say so, offer to redo
            self.summary.setText(f"{error_text(error)}")
            self.compute_button.setVisible(True)
            return
        self.compute_button.setVisible(self.predictions is None)
        if self.predictions is None:
            self.summary.setText(
                f"No stored predictions of the {self.split} set: the run is from before runs "
                "kept them, or the set was never predicted. Predict this set runs "
                "checkpoints/best.keras on it."
            )
            return
        p = self.predictions
        matrix = p.confusion()
        fill_confusion(self.confusion, matrix, list(p.class_names))
        part = f" of {p.total} (the run was stopped: a part was tested)" if p.total > len(p) else ""
        self.summary.setText(
            f"{self.split.capitalize()} set: {len(p)} images{part}, {p.misclassified} "
            f"misclassified, accuracy {p.accuracy:.2%}. Predictions by {p.model}; heat maps "
            "by checkpoints/best.keras."
        )

    # ------------------------------------------------------------------ a cell

    def open_cell(self, true: int, predicted: int) -> None:
        """Show the images of the cell (true class row, predicted class column)."""
        p = self.predictions
        if p is None or not (
            0 <= true < len(p.class_names) and 0 <= predicted < len(p.class_names)
        ):
            return
        self.cell = (true, predicted)
        self.images.clear()
        self._loaded = 0
        self._cell_count = len(p.cell(true, predicted))
        names = p.class_names
        order = "most confident first" if true != predicted else "least confident first"
        self.cell_label.setText(
            f"True {names[true]}, predicted {names[predicted]}: {self._cell_count} image(s)"
            + (f", {order}" if self._cell_count > 1 else "")
        )
        self.confusion.setCurrentCell(true, predicted)
        self._start_page()

    def _reload_cell(self) -> None:
        if self.cell is not None:
            self.open_cell(*self.cell)

    def load_more(self) -> None:
        if self.cell is not None and self._loaded < self._cell_count:
            self._start_page()

    def _start_page(self) -> None:
        true, predicted = self.cell  # type: ignore[misc]
        job = (
            _cell_job,
            (self.run_dir, self.split, true, predicted),
            {"start": self._loaded, "count": PAGE, "gradcam": self.gradcam_box.isChecked()},
        )
        self.more_button.setEnabled(False)
        if self.runner.running:  # the previous click's pictures: stop them, this one next
            self._pending = job
            self.runner.stop()
            return
        fn, args, kwargs = job
        self.runner.run_generator(fn, *args, **kwargs)

    def compute_predictions(self) -> None:
        job = (_predictions_job, (self.run_dir, self.split), {})
        self.compute_button.setEnabled(False)
        if self.runner.running:
            self._pending = job
            self.runner.stop()
            return
        self.runner.run_generator(_predictions_job, self.run_dir, self.split)

    # ------------------------------------------------------------------ the worker

    def _on_event(self, event: object) -> None:
        if self._pending is not None:
            return  # the stopped job's last pictures: another cell is on its way
        if isinstance(event, preds.CellPicture):
            self._add_picture(event)
        elif isinstance(event, Progress) and event.message:
            self.cell_label.setToolTip(event.message)

    def _add_picture(self, picture: preds.CellPicture) -> None:
        shown = picture.overlay if picture.overlay is not None else picture.image
        text = f"#{picture.index}  {picture.confidence:.0%}"
        if shown is None:
            item = QListWidgetItem(f"#{picture.index}: missing")
            item.setForeground(QBrush(QColor("#c62828")))
        else:
            item = QListWidgetItem(thumbnail_icon(shown, THUMB), text)
        tip = [f"true {picture.true}, predicted {picture.predicted} ({picture.confidence:.1%})"]
        tip += [line for line in (picture.path, picture.note) if line]
        item.setToolTip("\n".join(tip))
        item.setData(Qt.ItemDataRole.UserRole, picture.index)
        self.images.addItem(item)
        self._loaded = max(self._loaded, picture.position + 1)

    def _on_notice(self, text: str) -> None:
        self.cell_label.setText(f"{self.cell_label.text()}\n{text}")

    def _on_finished(self, result: object) -> None:
        if isinstance(result, preds.Predictions):
            self._load_split()

    def _on_failed(self, message: str) -> None:
        self.cell_label.setText(message)

    def _on_done(self) -> None:
        self.compute_button.setEnabled(True)
        if self._pending is not None:
            fn, args, kwargs = self._pending
            self._pending = None
            self.runner.run_generator(fn, *args, **kwargs)
            return
        self.more_button.setEnabled(self.cell is not None and self._loaded < self._cell_count)

    def shown_indices(self) -> list[int]:
        """The split positions of the images on show (tests)."""
        return [
            self.images.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.images.count())
        ]

    def shutdown(self) -> None:
        self._pending = None
        self.runner.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
