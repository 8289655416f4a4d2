"""Curves of several runs overlaid, as TensorBoard and W&B draw them: loss above,
accuracy below, training solid and validation dashed (with a dot per epoch, so one
validation point shows), one colour per run that stays the run's colour, TensorBoard's
smoothing slider, a read-out of every curve under the mouse, a log loss axis, the x axis
by epoch, step, time since start or wall time, and export to CSV and PNG."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QIODevice, QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import files
from cnnstudio.core.training.curves import ema_smooth, scalars_csv
from cnnstudio.core.training.status import parse_time
from cnnstudio.gui.messages import error_text
from cnnstudio.gui.tabs.train.run_colours import PALETTE, ColourBook
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.plots import plain_axes

X_MODES = {
    "epoch": "epoch",
    "step": "step (batches)",
    "relative": "time since start",
    "wall": "wall time",
}
METRICS = {"loss": ("loss", "val_loss"), "accuracy": ("accuracy", "val_accuracy")}


@dataclass
class RunSeries:
    """What the curves of one run are drawn from."""

    name: str
    history: dict[str, list[float]]
    steps_per_epoch: int | None = None
    started: str | None = None  # ISO time (status.json)
    curves: dict[str, pg.PlotDataItem] = field(default_factory=dict)


def _mkpen(colour: str, *, dashed: bool = False, alpha: int = 255, width: float = 2.0):
    qcolour = pg.mkColor(colour)
    qcolour.setAlpha(alpha)
    style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
    return pg.mkPen(qcolour, width=width, style=style)


class RunCurves(QWidget):
    """The overlaid curves of the runs given to :meth:`set_runs`."""

    status = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = ColourBook()
        self._runs: dict[str, RunSeries] = {}
        self._assigned: dict[str, str] = {}
        self._hover_x: float | None = None
        self._hover_key = "loss"
        self._hover_y: float | None = None
        self._build()

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.x_combo = QComboBox()
        self.x_combo.setObjectName("runsXAxis")
        for key, label in X_MODES.items():
            self.x_combo.addItem(label, key)
        self.x_combo.setToolTip("What the horizontal axis counts")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setObjectName("runsSmoothing")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(0)
        self.smoothing.setToolTip(
            "TensorBoard's smoothing: an exponential moving average (debiased); the raw "
            "values stay as faint lines"
        )
        self.smoothing_label = QLabel("0.00")
        self.log_box = QCheckBox("Log loss axis")
        self.log_box.setObjectName("runsLogLoss")
        self.log_box.setToolTip("Show the loss on a logarithmic axis (accuracy stays linear)")
        self.csv_button = QPushButton("Export CSV...")
        self.csv_button.setObjectName("runsExportCsv")
        self.csv_button.setToolTip("The shown runs' values per epoch, one row per run and epoch")
        self.png_button = QPushButton("Export PNG...")
        self.png_button.setObjectName("runsExportPng")
        self.png_button.setToolTip("Save the plot as it is shown as a PNG picture")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("x axis"))
        controls.addWidget(self.x_combo)
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing, 1)
        controls.addWidget(self.smoothing_label)
        controls.addWidget(self.log_box)
        controls.addWidget(self.csv_button)
        controls.addWidget(self.png_button)

        self.view = pg.GraphicsLayoutWidget()
        self.view.setObjectName("runsCurvesView")
        self.view.setBackground("w")
        self.loss_plot = self.view.addPlot(row=0, col=0)
        self.accuracy_plot = self.view.addPlot(row=1, col=0)
        self.accuracy_plot.setXLink(self.loss_plot)
        self.legend = self.loss_plot.addLegend(
            offset=(-10, 10), labelTextColor="k"
        )  # top right: loss falls
        self._lines: dict[str, pg.InfiniteLine] = {}
        self._labels: dict[str, pg.TextItem] = {}
        for key, plot in self._plots().items():
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLabel("left", key)
            plot.hideButtons()  # the "A" (auto range) corner button: a right click has it
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", width=1))
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            label = pg.TextItem(
                anchor=(0, 0),
                color="k",
                fill=pg.mkBrush(255, 255, 255, 235),
                border="#999",
                ensureInBounds=True,  # a long read-out stays inside the plot
            )
            label.setVisible(False)
            line.setZValue(90)
            label.setZValue(100)  # above the curves
            plot.addItem(label, ignoreBounds=True)
            self._lines[key], self._labels[key] = line, label
        self._set_x_axis("epoch")
        self.note = QLabel("Select runs in the table to compare their curves.")
        self.note.setObjectName("runsCurvesNote")
        self.note.setWordWrap(True)

        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(controls)
        column.addWidget(self.view, 1)
        column.addWidget(self.note)

        self.x_combo.currentIndexChanged.connect(self._on_x_mode)
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_box.toggled.connect(lambda on: self.loss_plot.setLogMode(x=False, y=on))
        self.csv_button.clicked.connect(self.export_csv)
        self.png_button.clicked.connect(self.export_png)
        # direct: a read-out is a few searches in short arrays, cheaper than any delay
        self.view.scene().sigMouseMoved.connect(self._moved)

    def _plots(self) -> dict[str, pg.PlotItem]:
        return {"loss": self.loss_plot, "accuracy": self.accuracy_plot}

    # ------------------------------------------------------------------ the runs

    @property
    def x_mode(self) -> str:
        return self.x_combo.currentData()

    @property
    def weight(self) -> float:
        return self.smoothing.value() / 100.0

    def run_names(self) -> list[str]:
        return list(self._runs)

    def run_colours(self) -> dict[str, str]:
        return dict(self._assigned)

    def set_runs(self, runs: list[RunSeries]) -> None:
        """Show these runs (in this order), each in its own colour."""
        for series in self._runs.values():
            self._remove_curves(series)
        self._runs = {series.name: series for series in runs}
        self._assigned = self.colours.assign(self._runs)
        for series in self._runs.values():
            self._draw(series)
        self._update_note()
        if self.x_mode == "relative":
            self._label_x()
        self._hide_hover()

    def update_run(self, series: RunSeries) -> None:
        """New values of a shown run (live follow): its curves only are redrawn."""
        old = self._runs.get(series.name)
        if old is None:
            return
        series.curves = old.curves
        self._runs[series.name] = series
        self._draw(series)
        self._update_note()
        if self.x_mode == "relative":
            self._label_x()
        if self._hover_x is not None:  # the read-out shows the new values too
            self._show_hover(self._hover_x)

    def _remove_curves(self, series: RunSeries) -> None:
        for key, curve in series.curves.items():
            plot = self.loss_plot if key.startswith("loss") else self.accuracy_plot
            plot.removeItem(curve)
            if key == "loss:train":
                self.legend.removeItem(curve)
        series.curves = {}

    def x_values(self, series: RunSeries) -> np.ndarray | None:
        """The run's x values in the current mode (None: the run cannot be drawn so)."""
        epochs = np.asarray(series.history.get("epoch", []), np.float64)
        mode = self.x_mode
        if mode == "epoch":
            return epochs
        if mode == "step":
            return None if not series.steps_per_epoch else epochs * series.steps_per_epoch
        wall = np.asarray(series.history.get("wall_time", []), np.float64)
        if len(wall) != len(epochs) or not np.isfinite(wall).any():
            return None
        if mode == "wall":
            return wall
        start = parse_time(series.started)
        start = start if start is not None else float(np.nanmin(wall))
        return (wall - start) / self._time_unit()[1]

    def _time_unit(self) -> tuple[str, float]:
        longest = 0.0
        for series in self._runs.values():
            wall = np.asarray(series.history.get("wall_time", []), np.float64)
            start = parse_time(series.started)
            if len(wall) and np.isfinite(wall).any():
                first = start if start is not None else float(np.nanmin(wall))
                longest = max(longest, float(np.nanmax(wall)) - first)
        return ("hours", 3600.0) if longest > 3 * 3600 else ("minutes", 60.0)

    def curve_values(self, series: RunSeries, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, smoothed y) of one metric of a run, the points it has (NaN left out)."""
        x = self.x_values(series)
        values = np.asarray(series.history.get(metric, []), np.float64)
        if x is None or len(values) != len(x):
            return np.empty(0), np.empty(0)
        keep = np.isfinite(values) & np.isfinite(x)
        return x[keep], ema_smooth(values[keep], self.weight)

    def _draw(self, series: RunSeries) -> None:
        colour = self._assigned.get(series.name, PALETTE[0])
        smoothing = self.weight > 0
        for key, (train, val) in METRICS.items():
            plot = self._plots()[key]
            for kind, metric in (("train", train), ("val", val)):
                x, y = self.curve_values(series, metric)
                raw_key, curve_key = f"{key}:{kind}:raw", f"{key}:{kind}"
                if curve_key not in series.curves:
                    dashed = kind == "val"
                    name = series.name if curve_key == "loss:train" else None
                    raw = plot.plot(pen=_mkpen(colour, dashed=dashed, alpha=60, width=1))
                    curve = plot.plot(
                        pen=_mkpen(colour, dashed=dashed),
                        symbol="o" if dashed else None,
                        symbolSize=5,
                        symbolPen=pg.mkPen(colour),
                        symbolBrush=pg.mkBrush(colour if dashed else "w"),
                        name=name,
                    )
                    series.curves[raw_key], series.curves[curve_key] = raw, curve
                raw_y = np.asarray(series.history.get(metric, []), np.float64)
                keep = np.isfinite(raw_y)
                x_raw = self.x_values(series)
                if smoothing and x_raw is not None and len(x_raw) == len(raw_y):
                    series.curves[raw_key].setData(x_raw[keep], raw_y[keep])
                else:
                    series.curves[raw_key].setData([], [])
                series.curves[curve_key].setData(x, y)

    def redraw(self) -> None:
        for series in self._runs.values():
            self._draw(series)
        self._update_note()

    def _update_note(self) -> None:
        if not self._runs:
            self.note.setText("Select runs in the table to compare their curves.")
            return
        mode = self.x_mode
        missing = [s.name for s in self._runs.values() if self.x_values(s) is None]
        empty = [s.name for s in self._runs.values() if not s.history.get("epoch")]
        parts = [
            f"{len(self._runs)} run(s): training solid, validation dashed (a dot per epoch); "
            "hover to read the values"
        ]
        if missing:
            why = "steps per epoch" if mode == "step" else "times"
            parts.append(
                f"not drawn against {X_MODES[mode]} (their history has no {why}: runs from "
                f"before): {', '.join(missing)}"
            )
        if empty:
            parts.append(f"no finished epoch yet: {', '.join(empty)}")
        self.note.setText("; ".join(parts))

    # ------------------------------------------------------------------ controls

    def _set_x_axis(self, mode: str) -> None:
        for plot in self._plots().values():
            axis = (
                pg.DateAxisItem(orientation="bottom") if mode == "wall" else pg.AxisItem("bottom")
            )
            plot.setAxisItems({"bottom": axis})
        self._label_x()
        self.loss_plot.setLabel("bottom", "")
        for plot in self._plots().values():
            plain_axes(plot)

    def _label_x(self) -> None:
        label = X_MODES[self.x_mode]
        if self.x_mode == "relative":  # minutes, or hours once a run is long
            label = f"{label} ({self._time_unit()[0]})"
        self.accuracy_plot.setLabel("bottom", label)

    def _on_x_mode(self) -> None:
        self._set_x_axis(self.x_mode)
        self.redraw()
        for plot in self._plots().values():
            plot.enableAutoRange()
            plot.vb.updateAutoRange()  # now: the old axis's range means nothing here
        self._hide_hover()

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 100:.2f}")
        self.redraw()
        if self._hover_x is not None:
            self._show_hover(self._hover_x)

    # ------------------------------------------------------------------ hover read-out

    def _moved(self, position: QPointF) -> None:
        for key, plot in self._plots().items():
            if plot.sceneBoundingRect().contains(position):
                point = plot.vb.mapSceneToView(position)
                self._show_hover(point.x(), key, point.y())
                return
        self._hide_hover()

    def readout(self, x: float) -> dict[str, list[tuple[str, str, float, float]]]:
        """For each plot, every shown curve's point nearest to ``x``: (run, metric,
        point's x, smoothed value), for the curves that have points."""
        out: dict[str, list[tuple[str, str, float, float]]] = {}
        for key, metrics in METRICS.items():
            rows = []
            for series in self._runs.values():
                for metric in metrics:
                    xs, ys = self.curve_values(series, metric)
                    if len(xs):
                        i = int(np.argmin(np.abs(xs - x)))
                        rows.append((series.name, metric, float(xs[i]), float(ys[i])))
            out[key] = rows
        return out

    def _show_hover(self, x: float, key: str | None = None, y: float | None = None) -> None:
        """The line at ``x`` on both plots, the values in a box on the plot ``key``
        under the mouse (the last one hovered when None) beside the pointer."""
        key = key or self._hover_key
        y = self._hover_y if y is None else y
        self._hover_x, self._hover_key, self._hover_y = x, key, y
        for line in self._lines.values():
            line.setPos(x)
            line.setVisible(True)
        for name, label in self._labels.items():
            if name != key:
                label.setVisible(False)
        rows = self.readout(x)[key]
        label, plot = self._labels[key], self._plots()[key]
        if not rows:
            label.setVisible(False)
            return
        text = [f"<b>{html.escape(self._x_text(x))}</b>"]
        for name, metric, _, value in rows:
            colour = self._assigned.get(name, "#000")
            text.append(
                f'<span style="color:{colour}">&#9632;</span> {html.escape(name)} '
                f"{metric}: {self._value_text(metric, value)}"
            )
        label.setHtml('<div style="color:#000">' + "<br>".join(text) + "</div>")
        (left, right), (bottom, top) = plot.vb.viewRange()
        y = top if y is None else y
        label.setAnchor(
            (1.0 if x > (left + right) / 2 else 0.0, 0.0 if y > (bottom + top) / 2 else 1.0)
        )
        label.setPos(QPointF(x, y))
        label.setVisible(True)

    def _hide_hover(self) -> None:
        self._hover_x = None
        for item in (*self._lines.values(), *self._labels.values()):
            item.setVisible(False)

    def _x_text(self, x: float) -> str:
        mode = self.x_mode
        if mode == "wall":
            import datetime as _dt

            try:
                return _dt.datetime.fromtimestamp(x).strftime("%Y-%m-%d %H:%M:%S")
            except (OverflowError, OSError, ValueError):
                return f"{x:.0f}"
        if mode == "relative":
            return f"{x:.2f} {self._time_unit()[0]}"
        return f"{X_MODES[mode]} {x:.0f}"

    @staticmethod
    def _value_text(metric: str, value: float) -> str:
        if not math.isfinite(value):
            return "-"
        return f"{value:.2%}" if "accuracy" in metric else f"{value:.4g}"

    # ------------------------------------------------------------------ export

    def ask_save_path(self, title: str, suggested: str, name_filter: str) -> str | None:
        """A file to write (tests replace this); the dialog adds the suffix to a name typed
        without one before it asks whether to replace that file."""
        return dialogs.ask_save_file(self, title, suggested, name_filter)

    def _with_suffix(self, path: str, suffix: str) -> str | None:
        """``path`` ending in ``suffix``; a file that only the added suffix names is
        replaced only if the user says so (the dialog asked about the name without it)."""
        if path.lower().endswith(suffix):
            return path
        path += suffix
        if Path(path).exists() and not dialogs.ask_yes_no(
            self, f"{Path(path).name} already exists. Replace it?"
        ):
            return None
        return path

    def histories(self) -> dict[str, dict[str, list[float]]]:
        return {name: series.history for name, series in self._runs.items()}

    def export_csv(self) -> str | None:
        if not self._runs:
            self.status.emit("Select runs first: their values are what is exported")
            return None
        path = self.ask_save_path("Export the runs' values", "runs.csv", "CSV files (*.csv)")
        if not path:
            return None
        path = self._with_suffix(path, ".csv")
        if not path:
            return None
        return self._write(path, scalars_csv(self.histories()), "values")

    def export_png(self) -> str | None:
        path = self.ask_save_path("Export the curves", "runs.png", "PNG images (*.png)")
        if not path:
            return None
        path = self._with_suffix(path, ".png")
        if not path:
            return None
        hover = self._hover_x
        self._hide_hover()
        pixmap = self.view.grab()
        if hover is not None:
            self._show_hover(hover)
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        pixmap.save(buffer, "PNG")
        return self._write(path, bytes(buffer.data()), "curves")

    def _write(self, path: str, data: bytes, what: str) -> str | None:
        try:
            files.write_bytes(path, data, overwrite=True)
        except Exception as error:  # noqa: BLE001 - a full disk, a read-only folder
            self.status.emit(f"Could not write the {what}: {error_text(error)}")
            return None
        self.status.emit(f"Wrote the {what} of {len(self._runs)} run(s) to {path}")
        return path
