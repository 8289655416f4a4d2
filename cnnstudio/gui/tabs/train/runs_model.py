"""The runs browser's table: every run folder as a row (:class:`RunsModel`), sorted and
filtered (:class:`RunsFilter`), kept current by :class:`RunsFollower`.

The follower polls :class:`cnnstudio.core.training.monitor.RunsWatcher` once a second on
the GUI thread: a poll is a directory listing and three ``stat`` calls per run, and only
the runs whose files changed are read again (a few small files each; 200 runs poll in a
few milliseconds: bench/bench_runs.py). No thread, no busy loop, and nothing at all
while the page is hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from cnnstudio.core.eta import format_duration
from cnnstudio.core.training.monitor import RunInfo, RunsChange, RunsWatcher
from cnnstudio.core.training.status import parse_time

#: the key role: what a column sorts by (numbers as numbers, missing values last)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: the RunInfo of a row, in any column
INFO_ROLE = Qt.ItemDataRole.UserRole + 2
POLL_MS = 1000

STATUS_COLOURS = {
    "running": "#1565c0",
    "finished": "#2e7d32",
    "stopped": "#ef6c00",
    "crashed": "#c62828",
    "unreadable": "#757575",
}
Index = QModelIndex | QPersistentModelIndex


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _setting(name: str) -> Callable[[RunInfo], Any]:
    return lambda info: info.params.get(name)


def _setting_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


#: (header, value of a RunInfo, text of that value, tooltip of the header)
COLUMNS: list[tuple[str, Callable[[RunInfo], Any], Callable[[Any], str], str]] = [
    ("Name", lambda i: i.name, str, "the run's folder name"),
    ("Status", lambda i: i.status, str, "running, finished, stopped, crashed or unreadable"),
    ("Recipe", lambda i: i.recipe, lambda v: v or "", ""),
    ("Dataset", lambda i: i.dataset, lambda v: v or "", ""),
    ("Started", lambda i: i.started, lambda v: (v or "").replace("T", " ")[:16], ""),
    (
        "Epochs",
        lambda i: (i.epochs_completed, i.epochs),
        lambda v: f"{v[0]}/{'?' if v[1] is None else v[1]}",
        "epochs done / epochs asked for",
    ),
    ("Best val acc", lambda i: i.best_val_accuracy, _percent, "best validation accuracy"),
    ("Test acc", lambda i: i.test_accuracy, _percent, "accuracy on the test set at the end"),
    (
        "Duration",
        lambda i: i.duration_seconds,
        lambda v: "" if v is None else format_duration(v),
        "training time (all sessions of the run)",
    ),
    ("Learning rate", _setting("learning_rate"), _setting_text, ""),
    ("Batch", _setting("batch_size"), _setting_text, "batch size"),
    ("Augment", _setting("augment"), _setting_text, "the CIFAR-10 augmentation"),
    ("Backbone", _setting("backbone"), _setting_text, "transfer learning: the pretrained base"),
    ("Fine-tune", _setting("fine_tune"), _setting_text, "transfer: layers of the base trained"),
]
NAME, STATUS, STARTED = 0, 1, 4
_MISSING = (2, 0.0, "")


def _sort_key(value: Any) -> tuple:
    """Numbers as numbers, text as text, missing values after both (ascending)."""
    if isinstance(value, tuple):
        return tuple(_sort_key(v) for v in value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    if isinstance(value, (bool, int, float)):
        return (0, float(value), "")
    return (1, 0.0, str(value).lower())


class RunsModel(QAbstractTableModel):
    """One row per run folder (by name); :meth:`apply` takes a
    :class:`~cnnstudio.core.training.monitor.RunsChange` with row-level signals, so the
    view keeps its selection and scroll position while runs come, change and go."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunInfo] = []
        self._rows: dict[str, int] = {}
        #: run name -> colour of its curves (a swatch in the Name column)
        self.colours: dict[str, str] = {}

    # -- Qt's model interface

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][3] or None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._runs):
            return None
        info = self._runs[index.row()]
        column = index.column()
        _, value_of, text_of, _ = COLUMNS[column]
        if role == INFO_ROLE:
            return info
        if role == Qt.ItemDataRole.DisplayRole:
            if not info.readable and column > STATUS:
                return ""  # the reason: in the tooltip of every cell of the row
            return text_of(value_of(info))
        if role == SORT_ROLE:
            if column == STARTED:  # by the moment, whatever the time zone it was written in
                return _sort_key(parse_time(info.started))
            return _sort_key(value_of(info))
        if role == Qt.ItemDataRole.ToolTipRole:
            if not info.readable:
                return f"{info.path}\nunreadable: {info.reason}"
            if column == STATUS and info.status == "crashed":
                return (
                    "the run ended without saying so (its heartbeat stopped); Resume continues it"
                )
            return str(info.path) if column == NAME else None
        if role == Qt.ItemDataRole.ForegroundRole and column == STATUS:
            return QBrush(QColor(STATUS_COLOURS.get(info.status, "#000000")))
        if role == Qt.ItemDataRole.ForegroundRole and not info.readable:
            return QBrush(QColor(STATUS_COLOURS["unreadable"]))
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            colour = self.colours.get(info.name)
            return QColor(colour) if colour else None
        return None

    # -- the runs

    def runs(self) -> list[RunInfo]:
        return list(self._runs)

    def info(self, row: int) -> RunInfo:
        return self._runs[row]

    def row_of(self, name: str) -> int:
        return self._rows.get(name, -1)

    def set_runs(self, infos: list[RunInfo]) -> None:
        self.beginResetModel()
        self._runs = sorted(infos, key=lambda info: info.name)
        self._reindex()
        self.endResetModel()

    def apply(self, change: RunsChange) -> None:
        """Rows removed, changed and added as the change says."""
        for name in change.removed:
            row = self._rows.get(name)
            if row is None:
                continue
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._runs[row]
            self._reindex()
            self.endRemoveRows()
        added = list(change.added)
        for info in change.changed:
            row = self._rows.get(info.name)
            if row is None:
                added.append(info)
                continue
            self._runs[row] = info
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        for info in added:
            if info.name in self._rows:
                continue
            row = self.rowCount()
            self.beginInsertRows(QModelIndex(), row, row)
            self._runs.append(info)
            self._rows[info.name] = row
            self.endInsertRows()

    def set_colours(self, colours: dict[str, str]) -> None:
        """The curves' colour of each shown run, as a swatch beside its name."""
        names = set(colours) | set(self.colours)
        self.colours = dict(colours)
        for name in names:
            row = self._rows.get(name)
            if row is not None:
                index = self.index(row, NAME)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def _reindex(self) -> None:
        self._rows = {info.name: row for row, info in enumerate(self._runs)}


class RunsFilter(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE`; the filter keeps the rows where every word of the
    filter text appears in some column (``lenet running`` finds LeNet runs that run)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._words: list[str] = []

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._words = text.lower().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        texts = " ".join(
            str(model.data(model.index(source_row, column, source_parent)) or "")
            for column in range(model.columnCount())
        ).lower()
        return all(word in texts for word in self._words)

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        a_missing, b_missing = a == _MISSING, b == _MISSING
        if a_missing != b_missing:  # missing values last, whichever the direction
            return a_missing == (self.sortOrder() == Qt.SortOrder.DescendingOrder)
        return a < b


class RunsFollower(QObject):
    """Polls the runs folder every :data:`POLL_MS` while started: the model follows,
    and ``changed`` carries the :class:`RunsChange` (its ``touched`` runs: the ones
    whose curves moved)."""

    changed = Signal(object)

    def __init__(self, model: RunsModel, root=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.watcher = RunsWatcher(root)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._polled = False

    @property
    def root(self):
        return self.watcher.root

    def set_root(self, root) -> None:
        self.watcher = RunsWatcher(root)
        self._polled = False
        self.model.set_runs([])
        if self.following:
            self.poll()

    @property
    def following(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        if not self._timer.isActive():
            self._timer.start()
            self.poll()

    def stop(self) -> None:
        self._timer.stop()

    def poll(self) -> RunsChange:
        """Look now (the timer does it every second)."""
        change = self.watcher.poll()
        if not self._polled:  # the first look lists everything: one reset, not N inserts
            self._polled = True
            self.model.set_runs(self.watcher.runs)
        elif change:
            self.model.apply(change)
        if change:
            self.changed.emit(change)
        return change
