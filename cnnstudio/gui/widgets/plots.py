"""LossPlot: live curves (loss, accuracy, ...) that stay cheap however fast points arrive."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

#: colours given to series in the order they appear (colour-blind friendly)
SERIES_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_REDRAW_MS = 100  # at most ~10 redraws a second


def plain_axes(item: pg.PlotItem, names: tuple[str, ...] = ("left", "bottom")) -> None:
    """Tick values in the data's own units: no SI prefix ("(x0.001)" and ticks 100-900
    for an accuracy of 0.1-0.9). pyqtgraph 0.14 freezes the prefix it computed when the
    feature is turned off, so the scale is reset to 1 as well."""
    for name in names:
        axis = item.getAxis(name)
        axis.enableAutoSIPrefix(False)
        axis.autoSIPrefixScale = 1.0
        axis.labelUnitPrefix = ""
        axis.setLabel(axis.labelText, units=axis.labelUnits or None)


class _Series:
    """A growable pair of float buffers (amortised O(1) append)."""

    def __init__(self, curve: pg.PlotDataItem) -> None:
        self.curve = curve
        self.x = np.empty(256, dtype=np.float64)
        self.y = np.empty(256, dtype=np.float64)
        self.size = 0

    def append(self, x: float, y: float) -> None:
        if self.size == len(self.x):
            self.x = np.resize(self.x, 2 * len(self.x))
            self.y = np.resize(self.y, 2 * len(self.y))
        self.x[self.size] = x
        self.y[self.size] = y
        self.size += 1


class LossPlot(pg.PlotWidget):
    """Named series with a legend. :meth:`add_point` only appends to numpy buffers; a
    timer redraws the curves that changed, so a job reporting every few milliseconds
    does not spend the GUI thread on drawing.

    The legend sits above the plot area, in the row a title would take, entries side by
    side (wrapping to more rows when they do not fit): inside the plot it covered the
    curves, whichever corner it took."""

    def __init__(
        self,
        parent: QWidget | None = None,
        x_label: str = "step",
        y_label: str = "loss",
        title: str | None = None,
    ) -> None:
        super().__init__(parent=parent, background="w")
        self._series: dict[str, _Series] = {}
        self._dirty: set[str] = set()
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.3)
        item.setLabel("bottom", x_label)
        item.setLabel("left", y_label)
        plain_axes(item)
        if title:
            item.setTitle(title)
        self._title = title
        self._legend = item.addLegend(offset=None, colCount=1)
        self._legend.setParentItem(item)  # the plot item, not its view box: outside the data
        self._legend.layout.setContentsMargins(2, 0, 2, 0)
        self._legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-8, 2))
        self._legend_rows = 0  # the height given to the legend's row above the plot
        self.setMinimumHeight(140)
        self._timer = QTimer(self)
        self._timer.setInterval(_REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        # PlotWidget.__init__ binds PlotItem.clear onto the instance; ours must win
        self.clear = self.clear_series

    def add_point(self, series: str, x: float, y: float) -> None:
        """Append (x, y) to ``series`` (created on first use). Non-finite y is skipped."""
        if not np.isfinite(y):
            return
        entry = self._series.get(series) or self.add_series(series)
        entry.append(float(x), float(y))
        self._dirty.add(series)
        if not self._timer.isActive():
            self._timer.start()

    def add_series(self, series: str, *, symbol: str | None = None, line: bool = True) -> _Series:
        """Create ``series`` (before its first point) with a ``symbol`` at every point
        ("o", "x", ...: a curve of one point shows) and with or without its line."""
        entry = self._series.get(series)
        if entry is None:
            colour = SERIES_COLOURS[len(self._series) % len(SERIES_COLOURS)]
            # pyqtgraph draws circles when any symbol option is given: only with a symbol
            style = (
                {"symbol": symbol, "symbolSize": 7, "symbolBrush": colour, "symbolPen": colour}
                if symbol
                else {}
            )
            pen = pg.mkPen(colour, width=2) if line else None
            curve = self.getPlotItem().plot(name=series, pen=pen, **style)
            entry = self._series[series] = _Series(curve)
            self._arrange_legend()
        return entry

    def redraw(self) -> None:
        """Push the buffered points of changed series to their curves."""
        for name in self._dirty:
            entry = self._series.get(name)
            if entry is not None:
                entry.curve.setData(entry.x[: entry.size], entry.y[: entry.size])
        self._dirty.clear()
        self._timer.stop()

    def clear_points(self, keep: tuple[str, ...]) -> None:
        """Empty the series named in ``keep``, with their curves, styles and legend
        entries left in place, and remove the others: for a new run with the same series
        (removing and re-creating them cost the GUI thread about 40 ms at every Start)."""
        for name in [n for n in self._series if n not in keep]:
            entry = self._series.pop(name)
            self._legend.removeItem(name)
            self.getPlotItem().removeItem(entry.curve)
            self._dirty.discard(name)
        for name in keep:
            entry = self._series.get(name)
            if entry is not None and entry.size:
                entry.size = 0
                self._dirty.add(name)  # the next redraw empties its curve
        if self._dirty and not self._timer.isActive():
            self._timer.start()
        self._arrange_legend()

    def clear_series(self) -> None:
        """Remove every series and its legend entry (also reachable as ``clear()``)."""
        self._timer.stop()
        self.clear_points(keep=())

    def _arrange_legend(self) -> None:
        """As many entries per row as fit over the plot; the title row grows to the
        legend's height (back to none without series)."""
        item = self.getPlotItem()
        count = len(self._series)
        height = 30 if self._title else 0
        if count:
            available = max(item.width(), 200) - 16
            for per_row in range(count, 0, -1):  # the fewest rows that fit the width
                self._legend.setColumnCount(per_row)
                self._legend.updateSize()
                if self._legend.width() <= available:
                    break
            height = max(height, int(self._legend.height()) + 4)
        if height != self._legend_rows:
            self._legend_rows = height
            item.layout.setRowFixedHeight(0, height)
            item.titleLabel.setMaximumHeight(height)
        self._legend.setVisible(count > 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_series", None):  # (pyqtgraph resizes before our __init__ ends)
            self._arrange_legend()

    def legend_rect(self):
        """The legend's box in scene coordinates (tests: it must not cover the data)."""
        return self._legend.sceneBoundingRect()

    def plot_area_rect(self):
        """The data area's box in scene coordinates."""
        return self.getPlotItem().vb.sceneBoundingRect()

    def series_names(self) -> list[str]:
        return list(self._series)

    def data(self, series: str) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the points of ``series`` (empty arrays if it does not exist)."""
        entry = self._series.get(series)
        if entry is None:
            return np.empty(0), np.empty(0)
        return entry.x[: entry.size].copy(), entry.y[: entry.size].copy()

    def drawn_points(self, series: str) -> int:
        """How many points of ``series`` the curve on screen holds (lags add_point)."""
        entry = self._series.get(series)
        if entry is None:
            return 0
        x, _ = entry.curve.getData()
        return 0 if x is None else len(x)

    def set_log_y(self, log: bool) -> None:
        self.getPlotItem().setLogMode(y=log)
