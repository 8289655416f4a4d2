"""The right side of "Train a fast style model": a held-out photo as the network styles
it now, the best network so far, the progress (one ETA, images/s) and the loss curves
(content, style, TV per step; the held-out loss every few steps)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from cnnstudio.core.events import DownloadProgress, Progress
from cnnstudio.core.faststyle import runs
from cnnstudio.core.faststyle.events import HeldOutLoss, ReadingPhotos
from cnnstudio.gui.messages import capitalized
from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress

HELD_OUT = "held-out"
TERMS = ("content", "style", "tv")
_HINT = (
    "Add a style picture and a folder of photos, then press Train: a photo the network "
    "never trains on is styled here every few steps"
)


class TrainView(QSplitter):
    """The live view of a training run; :meth:`show_event` takes the run's events."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.preview = ImageView(placeholder=_HINT)
        self.preview.setObjectName("fastTrainPreview")
        self.preview.setToolTip("A held-out photo as the network styles it now")
        self.best_label = QLabel("")
        self.best_label.setObjectName("fastBestLabel")
        self.notice_label = QLabel("")
        self.notice_label.setObjectName("fastTrainNotice")
        self.notice_label.setWordWrap(True)
        self.progress = JobProgress(step_word="step")
        self.progress.setObjectName("fastTrainProgress")
        self.progress.setToolTip("The run's progress, the time left and the images per second")
        self.loss_plot = LossPlot(x_label="step", y_label="loss (log)")
        self.loss_plot.setObjectName("fastLossPlot")
        self.loss_plot.set_log_y(True)
        self.loss_plot.setToolTip(
            "The loss terms of each step, and the loss on the held-out photos (never "
            "trained on): the network with the lowest is the one kept"
        )
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.preview, 1)
        column.addWidget(self.best_label)
        column.addWidget(self.notice_label)
        column.addWidget(self.progress)
        self.addWidget(top)
        self.addWidget(self.loss_plot)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.clear()

    def clear(self) -> None:
        """Nothing shown: a new run starts."""
        self.loss_plot.clear()
        for name in TERMS:
            self.loss_plot.add_series(name)
        self.loss_plot.add_series(HELD_OUT, symbol="o")
        self.preview.set_image(None)
        self.best_label.setText("")
        self.notice_label.setText("")

    def show_event(self, event: object) -> bool:
        """Show a run's event; False for the events that are not the view's."""
        if isinstance(event, Progress):
            self.progress.update_progress(event)
            if event.message:  # images/s
                self.progress.setFormat(f"{self.progress.format()} - {event.message}")
            for name, value in event.terms.items():
                if value > 0:  # log axis: a switched-off term has nothing to show
                    self.loss_plot.add_point(name, event.step, value)
        elif isinstance(event, HeldOutLoss):
            self.loss_plot.add_point(HELD_OUT, event.step, event.loss)
            if event.best:
                self.best_label.setText(
                    f"Best so far: step {event.step} (held-out loss {event.loss:.4g}); "
                    "Stop keeps it"
                )
        elif isinstance(event, ReadingPhotos):
            self.progress.setFormat(capitalized(event.text))
        elif isinstance(event, DownloadProgress):
            self.progress.show_download(event)
        else:
            return False
        return True

    def show_history(self, run_dir: str, up_to: int) -> None:
        """The curves of a resumed run up to where it goes on (its history.csv)."""
        history = runs.read_history(run_dir, up_to)
        steps = history.get("step", [])
        for name in TERMS:
            for step, value in zip(steps, history.get(name, []), strict=False):
                if value > 0:
                    self.loss_plot.add_point(name, step, value)
        for step, value in zip(steps, history.get("held_out_loss", []), strict=False):
            self.loss_plot.add_point(HELD_OUT, step, value)  # NaN rows are skipped
