"""The Train tab's Runs page: every run folder in a table (started here, from the command
line, by another process or machine), its curves overlaid with others', followed live,
and what can be done with a run: rename, delete, open its folder, resume, its results.

The table is :mod:`.runs_model`; the curves :mod:`.run_curves`; the results
:mod:`.run_results`. Everything on disk goes through :mod:`cnnstudio.core.training.monitor`.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.training import monitor
from cnnstudio.core.training.monitor import RunInfo, RunsChange
from cnnstudio.core.training.runs import HISTORY_FILE
from cnnstudio.gui.tabs.train import run_files
from cnnstudio.gui.tabs.train.run_curves import RunCurves, RunSeries
from cnnstudio.gui.tabs.train.runs_model import (
    INFO_ROLE,
    STARTED,
    RunsFilter,
    RunsFollower,
    RunsModel,
)
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.workers import JobRunner

#: more runs than this selected: the first ones are drawn
MAX_OVERLAID = 20


def _history_mark(run_dir: Path) -> tuple[int, int] | None:
    """The time and size of a run's history.csv (None: none)."""
    try:
        info = os.stat(Path(run_dir) / HISTORY_FILE)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class RunsPage(QWidget):
    """The runs browser. ``resume_requested(path)`` asks the Train tab to resume a run."""

    resume_requested = Signal(str)
    status = Signal(str)

    def __init__(self, root: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainRunsPage")
        self.model = RunsModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.follower = RunsFollower(self.model, root, self)
        self.curves = RunCurves()
        self._sized = False
        self._history_marks: dict[str, tuple[int, int] | None] = {}
        # renames and deletions: on a worker, one at a time (see run_files.py)
        self.files = JobRunner("Runs", self, imports_tensorflow=False)
        self._then = None
        self._build()
        self._connect()
        self._update_actions()

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("runsFilter")
        self.filter_edit.setPlaceholderText("Filter: words of a name, recipe, dataset, status...")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only the runs whose row holds every word typed here")
        self.count_label = QLabel("")
        self.count_label.setObjectName("runsCount")
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setToolTip(
            "Every run folder under the runs folder: select runs to overlay their curves; "
            "right-click for more"
        )
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(STARTED, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)

        def action(text: str, slot, name: str, tip: str, keys=()) -> QAction:
            act = QAction(text, self)
            act.setObjectName(name)
            act.setToolTip(tip)
            act.triggered.connect(slot)
            if keys:
                act.setShortcuts([QKeySequence(k) for k in keys])
                act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
                self.table.addAction(act)  # keys while the table has the focus
            return act

        self.results_action = action(
            "Results...", self.open_results, "runsResults",
            "The run's confusion matrix: click a cell for its images with Grad-CAM",
            ["Return"],
        )  # fmt: skip
        self.resume_action = action(
            "Resume", self.resume_selected, "runsResume",
            "Continue the run in the Train tab, up to its Epochs box",
        )  # fmt: skip
        self.rename_action = action(
            "Rename...", self.rename_selected, "runsRename", "Rename the run's folder", ["F2"]
        )
        self.open_folder_action = action(
            "Open folder", self.open_folder, "runsOpenFolder", "Show the run's files"
        )
        self.delete_action = action(
            "Delete...", self.delete_selected, "runsDelete",
            "Delete the run folders and all their files (asks first)",
            [QKeySequence.StandardKey.Delete],
        )  # fmt: skip
        self._actions = [
            self.results_action,
            self.resume_action,
            self.rename_action,
            self.open_folder_action,
            self.delete_action,
        ]
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.count_label)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for act in self._actions:
            button = QPushButton(act.text())
            button.setObjectName(f"{act.objectName()}Button")
            button.setToolTip(act.toolTip())
            button.clicked.connect(act.trigger)
            buttons.addWidget(button)
            self.buttons[act.objectName()] = button
        buttons.addStretch(1)
        upper = QWidget()
        column = QVBoxLayout(upper)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(top)
        column.addWidget(self.table, 1)
        column.addLayout(buttons)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(self.curves)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.splitter)

    def _connect(self) -> None:
        self.filter_edit.textChanged.connect(self._on_filter)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(lambda _index: self.open_results())
        self.follower.changed.connect(self._on_runs_changed)
        self.model.modelReset.connect(self._update_count)
        self.model.rowsInserted.connect(self._update_count)
        self.model.rowsRemoved.connect(self._update_count)
        self.curves.status.connect(self.status)
        self.files.finished.connect(self._on_disk_done)
        self.files.failed.connect(self.show_error)
        self.files.done.connect(self._update_actions)

    # ------------------------------------------------------------------ live follow

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.follower.start()  # polls at once, then every second while shown

    def hideEvent(self, event) -> None:
        self.follower.stop()  # nothing to do while nobody looks
        super().hideEvent(event)

    def refresh(self) -> RunsChange:
        """Look at the runs folder now."""
        return self.follower.poll()

    def _on_runs_changed(self, change: RunsChange) -> None:
        shown = set(self.curves.run_names())
        if shown & set(change.removed):  # deleted or renamed elsewhere: off the plot
            self._on_selection()
            shown = set(self.curves.run_names())
        for name in {*change.touched, *(i.name for i in change.changed)} & shown:
            row = self.model.row_of(name)
            if row < 0:
                continue
            info = self.model.info(row)
            if _history_mark(info.path) != self._history_marks.get(name):
                # a new epoch (not the status.json heartbeat): read and redraw this run
                self.curves.update_run(self._series(info))
        self._update_actions()

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for column in range(header.count()):  # a long value does not make a wall
            header.resizeSection(column, min(header.sectionSize(column), 240))
        # the names whatever rows are on show yet: the column a user reads first
        longest = max(self.fontMetrics().horizontalAdvance(i.name) for i in self.model.runs())
        header.resizeSection(0, min(max(header.sectionSize(0), longest + 48), 320))

    def _update_count(self, *args) -> None:
        runs = self.model.runs()
        if runs and not self._sized:  # the first listing sets the widths; then the user's
            self._sized = True
            QTimer.singleShot(0, self._fit_columns)  # once the rows are laid out
        running = sum(1 for info in runs if info.status == "running")
        text = f"{len(runs)} runs" + (f", {running} running" if running else "")
        self.count_label.setText(text)
        self.count_label.setToolTip(f"The runs folder: {self.follower.root}")

    # ------------------------------------------------------------------ selection, curves

    def _on_filter(self, text: str) -> None:
        self.proxy.set_text(text)

    def selected_runs(self) -> list[RunInfo]:
        rows = self.table.selectionModel().selectedRows()
        infos = [self.proxy.data(index, INFO_ROLE) for index in rows]
        return sorted((i for i in infos if i is not None), key=lambda i: i.name)

    def select_runs(self, names: list[str]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for name in names:
            row = self.model.row_of(name)
            if row >= 0:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    selection.select(index, flags)

    def _series(self, info: RunInfo) -> RunSeries:
        self._history_marks[info.name] = _history_mark(info.path)
        return RunSeries(
            name=info.name,
            history=monitor.run_history(info.path),
            steps_per_epoch=info.steps_per_epoch,
            started=info.started,
        )

    def _on_selection(self, *args) -> None:
        readable = [info for info in self.selected_runs() if info.readable]
        if len(readable) > MAX_OVERLAID:
            self.status.emit(f"{len(readable)} runs selected: the first {MAX_OVERLAID} are drawn")
        self.curves.set_runs([self._series(info) for info in readable[:MAX_OVERLAID]])
        self.model.set_colours(self.curves.run_colours())
        self._update_actions()

    def _update_actions(self) -> None:
        runs = self.selected_runs()
        one = runs[0] if len(runs) == 1 else None
        idle = one is not None and one.readable and one.status != "running"
        free = not self.files.running  # a rename or a deletion is under way
        enabled = {
            self.results_action: one is not None and one.readable,
            self.resume_action: idle,
            self.rename_action: free and one is not None and one.status != "running",
            self.open_folder_action: one is not None,
            self.delete_action: free and bool(runs) and all(i.status != "running" for i in runs),
        }
        for act, on in enabled.items():
            act.setEnabled(on)
            self.buttons[act.objectName()].setEnabled(on)

    def _context_menu(self, position: QPoint) -> None:
        if not self.table.indexAt(position).isValid():
            return
        menu = QMenu(self)
        menu.addActions(self._actions[:4])
        menu.addSeparator()
        menu.addAction(self.delete_action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # ------------------------------------------------------------------ dialogs (tests replace)

    def ask_name(self, current: str) -> str | None:
        name, ok = QInputDialog.getText(self, "Rename run", "New name of the run:", text=current)
        return name.strip() if ok and name.strip() else None

    def ask_confirm(self, question: str) -> bool:
        """A question whose default answer is No."""
        answer = QMessageBox.question(
            self,
            "Delete runs",
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def open_url(self, url: QUrl) -> bool:
        return QDesktopServices.openUrl(url)

    def show_error(self, message: str) -> None:
        self.status.emit(message)
        dialogs.show_error(self, message)

    # ------------------------------------------------------------------ actions

    def _one(self) -> RunInfo | None:
        runs = self.selected_runs()
        return runs[0] if len(runs) == 1 else None

    def rename_selected(self) -> None:
        info = self._one()
        if info is None or self.files.running:
            return
        name = self.ask_name(info.name)
        if not name or name == info.name:
            return

        def renamed(result: tuple[Path | None, str]) -> None:
            target, why = result
            if target is None:
                self.show_error(f"Could not rename {info.name}: {why}")
                return
            self.refresh()
            self.select_runs([target.name])
            self.status.emit(f"Renamed {info.name} to {target.name}")

        self._on_disk(renamed, run_files.rename_run, info.path, name)

    def delete_selected(self) -> None:
        runs = self.selected_runs()
        if not runs or self.files.running:
            return
        running = [info.name for info in runs if info.status == "running"]
        if running:
            self.show_error(
                f"{', '.join(running)} is training: stop it before deleting it "
                "(a run on another machine stops there)"
            )
            return
        names = ", ".join(info.name for info in runs[:5]) + (", ..." if len(runs) > 5 else "")
        question = (
            f"Delete {len(runs)} run(s) ({names}) with all their files: checkpoints, "
            "history, logs? This cannot be undone."
        )
        if not self.ask_confirm(question):
            return

        def deleted(failed: list[str]) -> None:
            self.refresh()
            if failed:
                self.show_error("Not deleted: " + "; ".join(failed))
            else:
                self.status.emit(f"Deleted {names}")

        folders = [(info.name, info.path) for info in runs]
        self._on_disk(deleted, run_files.delete_runs, folders)

    def _on_disk(self, then, fn, *args) -> None:
        """Run ``fn(*args)`` (a change on disk) on the worker, then ``then(result)``."""
        self._then = then
        self.files.run_function(fn, *args)
        self._update_actions()

    def _on_disk_done(self, result) -> None:
        then, self._then = self._then, None
        if then is not None:
            then(result)

    def open_folder(self) -> None:
        info = self._one()
        if info is not None and not self.open_url(QUrl.fromLocalFile(str(info.path))):
            self.status.emit(f"Could not open {info.path} in a file manager")

    def resume_selected(self) -> None:
        info = self._one()
        if info is None or not info.readable:
            return
        if info.status == "running":
            self.show_error(f"{info.name} is training already")
            return
        self.resume_requested.emit(str(info.path))

    def open_results(self) -> None:
        info = self._one()
        if info is None or not info.readable:
            return
        from cnnstudio.gui.tabs.train.run_results import RunResultsDialog

        dialog = RunResultsDialog(info.path, parent=self)
        dialog.show()

    def shutdown(self) -> None:
        self.follower.stop()
        self.files.shutdown()
        from cnnstudio.gui.tabs.train.run_results import RunResultsDialog

        for dialog in self.findChildren(RunResultsDialog):
            dialog.shutdown()
