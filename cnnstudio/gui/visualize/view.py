"""VisualizeWindow: "What does this channel look for?" -- the feature visualisation view.

A window of its own (View > Feature visualisation..., or Classify's explain panel for the
layer of its feature maps and a channel clicked there): the form on the left, the grid
in the middle, updated live from the job's previews, and on the right the finished
channels with their objective values and the chosen channel's image next to its dataset
examples. The job is ``core.visualize.job.visualize`` on the view's runner; its
``ChannelsDone`` events label the tiles as batches finish, so a channel can be chosen
(and sent to Dream) before the whole grid is done.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core import image_saving
from cnnstudio.core.errors import InputError, ResourceMissingError, StudioError
from cnnstudio.core.eta import format_duration
from cnnstudio.core.events import DownloadProgress, Progress
from cnnstudio.core.visualize import params as vparams
from cnnstudio.core.visualize.grid import ChannelsDone, ExamplesDone
from cnnstudio.gui.messages import describe, error_text
from cnnstudio.gui.tabs.base import ChannelRef
from cnnstudio.gui.visualize import hints
from cnnstudio.gui.visualize.form import VisualizeForm
from cnnstudio.gui.visualize.panel import ChannelPanel
from cnnstudio.gui.visualize.saving import grid_metadata, suggested_name
from cnnstudio.gui.visualize.work import visualize_job
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.elided_label import ElidedLabel
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.widgets.tile_view import TileView
from cnnstudio.gui.workers import JobRunner

TITLE = "Feature visualisation"


class VisualizeWindow(QWidget):
    """The feature visualisation view (a top-level window of the main window)."""

    title = TITLE
    #: "Send to Dream": a ChannelRef for the window to route to the Dream tab
    send_channel = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("visualizeWindow")
        self.setWindowTitle(f"{TITLE} - CNN Studio")
        self.runner = JobRunner(TITLE, self)
        self._run_params: vparams.VisualizeParams | None = None
        self._run_name = ""
        self._grid: np.ndarray | None = None
        self._saved_grid: np.ndarray | None = None
        self._result: Any = None
        self._skipped: tuple = ()
        self._want_channel: int | None = None  # a channel asked for: chosen once done
        self._started = 0.0
        self.form = VisualizeForm()
        self.layers_runner = self.form.layers.runner
        self.panel = ChannelPanel()
        self._build()
        self._connect()
        self._update_buttons()
        self.resize(1280, 800)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(self.form.minimumSizeHint().width() + 24)
        self.grid_view = TileView(placeholder="Choose a model and a layer, then Run (F5)")
        self.grid_view.setObjectName("visualizeGrid")
        self.grid_view.setToolTip(
            "One image per channel, made to excite it; it changes live while they are "
            "optimised. Click a channel to see it with its dataset examples"
        )
        self.run_button = QPushButton("Run", objectName="visualizeRun")
        self.run_button.setToolTip("Optimise an image for each channel (F5 or Ctrl+R)")
        self.stop_button = QPushButton("Stop", objectName="visualizeStop")
        self.stop_button.setToolTip("Stop after this step; the channels done are kept (Esc)")
        self.save_button = QPushButton("Save grid...", objectName="visualizeSave")
        self.save_button.setToolTip(
            "Save the grid as a picture with its parameters and each channel's objective "
            "and tile (Ctrl+S)"
        )
        self.progress = JobProgress(stage_name="Batch")
        self.progress.setObjectName("visualizeProgress")
        self.progress.setToolTip("How far the grid is, and the time left")
        self.status_line = ElidedLabel("")
        self.status_line.setObjectName("visualizeStatus")
        buttons = QHBoxLayout()
        for button in (self.run_button, self.stop_button, self.save_button):
            buttons.addWidget(button)
        buttons.addWidget(self.progress, 1)
        middle = QWidget()
        column = QVBoxLayout(middle)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.grid_view, 1)
        column.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(middle)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setCollapsible(1, False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status_line)
        self._actions()

    def _actions(self) -> None:
        """The view's keys (it is a window of its own: the main window's do not reach)."""
        for text, keys, slot in (
            ("Run", ["F5", "Ctrl+R"], lambda: self.run_job()),  # not clicked(bool)
            ("Stop", ["Esc"], self.stop_job),
            ("Save grid", [QKeySequence.StandardKey.Save], self.save_grid),
            ("Send to Dream", ["Ctrl+D"], self.send_to_dream),
            ("Close", [QKeySequence.StandardKey.Close], self.close),
        ):
            action = QAction(text, self)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.triggered.connect(slot)
            self.addAction(action)

    def _connect(self) -> None:
        self.run_button.clicked.connect(lambda: self.run_job())
        self.stop_button.clicked.connect(self.stop_job)
        self.save_button.clicked.connect(self.save_grid)
        self.panel.send_button.clicked.connect(self.send_to_dream)
        self.panel.chosen.connect(self.choose)
        self.grid_view.tile_clicked.connect(self.choose)
        self.form.layers.status.connect(self.show_status)
        self.runner.started.connect(self._update_buttons)
        self.runner.progress.connect(self._on_event)
        self.runner.preview.connect(self._on_preview)
        self.runner.notice.connect(self.show_status)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.stopped.connect(self._on_stopped)
        self.runner.done.connect(self._update_buttons)

    # ------------------------------------------------------------------ requests

    def open_request(self, ref: ChannelRef, run: bool = True) -> None:
        """Show ``ref``'s layer (and channel) of its model, and make the grid (unless a
        job runs or ``run`` is False)."""
        if self.runner.running:
            self.show_status("Stop the running grid first, then ask again")
            return
        if not self.form.set_request(ref):
            self.show_error(f"{ref.name or ref.model} is not a model this view can open.")
            return
        self.show_status(f"{ref.name or self.form.model_name()}: layer {ref.layer}")
        if run:
            self.run_job(want_channel=ref.channel)

    # ------------------------------------------------------------------ the job

    def run_job(self, want_channel: int | None = None) -> None:
        """Make the grid the form describes (``want_channel``: show that one first)."""
        if self.runner.running:
            return
        try:
            params = self.form.params()
            vparams.validate_params(params)
        except InputError as error:
            self.report_error(error)
            return
        if not self._may_replace_grid():
            return
        self._run_params = params
        self._want_channel = want_channel
        self._run_name = self.form.model_name()
        self._grid = self._result = None
        self._skipped = ()
        self.grid_view.set_image(None)
        self.grid_view.set_tiles([])
        self.grid_view.set_labels([])
        self.panel.clear()
        self.grid_view.set_placeholder_text("Loading the model...")
        self.progress.start("Loading the model...")
        self._started = time.monotonic()
        self.runner.run_generator(visualize_job, params)
        self._update_buttons()

    def stop_job(self) -> None:
        self.runner.stop()

    def _on_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self.progress.update_progress(event)
        elif isinstance(event, DownloadProgress):
            self.progress.show_download(event)
            self.show_status(event.text)
        elif isinstance(event, ChannelsDone):
            self._add_records(list(self.panel.records) + list(event.records))
        elif isinstance(event, ExamplesDone):
            self._skipped = event.skipped
            self._add_records(list(event.records))
            self.panel.set_examples_note(hints.skipped_note(event.skipped))
            if event.skipped:
                self.show_status(hints.skipped_note(event.skipped))

    def _on_preview(self, preview: object) -> None:
        self._grid = preview.image
        self.grid_view.set_image(self._grid)
        chosen = self.grid_view.chosen()
        if chosen is not None and chosen < len(self.panel.records):
            self.panel.image_view.set_image(self._crop(chosen))  # its examples arrived

    def _add_records(self, records: list[Any]) -> None:
        chosen = self.grid_view.chosen()
        self.panel.set_records(records)
        self.grid_view.set_tiles([record.box for record in records])
        self.grid_view.set_labels([str(record.channel) for record in records])
        if chosen is None:
            wanted = [i for i, r in enumerate(records) if r.channel == self._want_channel]
            chosen = wanted[0] if wanted else (0 if records else None)
        if chosen is not None:
            self.choose(chosen)

    def _on_finished(self, result: Any) -> None:
        self._result = result
        self._grid = result.grid
        self.grid_view.set_image(result.grid)
        self._add_records(list(result.records))
        if not result.params.examples_folder:
            self.panel.set_examples_note(hints.NO_EXAMPLES)
        self.progress.finish("Done")
        took = format_duration(time.monotonic() - self._started)
        untrained = " (untrained weights: the images mean little)" if result.untrained else ""
        skipped = f". {hints.skipped_note(result.skipped)}" if result.skipped else ""
        self.show_status(
            f"Done: {len(result.records)} channels of {result.layer or 'the classes'} of "
            f"{result.model_label} in {took}{untrained}{skipped}"
        )

    def _on_failed(self, message: str) -> None:
        self.progress.finish("Failed")
        self.grid_view.set_placeholder_text("")
        error = self.runner.error
        if isinstance(error, ResourceMissingError):
            self.show_status(message)
            dialogs.show_missing_weights(self, message, self._use_untrained)
            return
        text = hints.with_hint(message, error, self.form) if error is not None else message
        self.show_status(text)
        self.show_error(text, self.runner.error_details)

    def _use_untrained(self) -> None:
        self.form.weights.set_value("random")
        self.run_job()

    def _on_stopped(self) -> None:
        self.progress.finish("Stopped")
        done = len(self.panel.records)
        self.show_status(
            f"Stopped: {done} channel{'s' if done != 1 else ''} finished"
            + ("; Save grid keeps the grid as it is" if self._grid is not None else "")
        )

    # ------------------------------------------------------------------ channels

    def choose(self, index: int) -> None:
        """Show channel ``index`` of the grid (its records' order) with its examples."""
        if not 0 <= index < len(self.panel.records):
            return
        self.grid_view.set_chosen(index)
        layer = self._run_params.layer if self._run_params is not None else ""
        is_class = self._run_params is not None and self._run_params.objective == "class"
        self.panel.show_channel(index, self._crop(index), "Class" if is_class else layer)
        self._update_buttons()

    def _crop(self, index: int) -> np.ndarray | None:
        if self._grid is None:
            return None
        x, y, w, h = self.panel.records[index].box
        return self._grid[y : y + h, x : x + w]

    def chosen_ref(self) -> ChannelRef | None:
        """The chosen channel as Dream takes it (None: none, or a class)."""
        record, params = self.panel.chosen_record(), self._run_params
        if record is None or params is None or params.objective == "class":
            return None
        return ChannelRef(
            model=params.model,
            layer=params.layer,
            channel=int(record.channel),
            weights=params.weights,
            name=self._run_name,
        )

    def send_to_dream(self) -> None:
        ref = self.chosen_ref()
        if ref is None:
            self.show_status("Choose a channel first (a class cannot be dreamed on)")
            return
        self.send_channel.emit(ref)
        self.show_status(f"Sent {ref.layer} #{ref.channel} to Dream")

    # ------------------------------------------------------------------ saving

    def ask_save_path(self) -> str | None:
        """Where to save the grid (replaced in tests)."""
        name = suggested_name(self._run_name, self._run_params)
        return dialogs.ask_save_image(self, name, "Save grid")

    def save_grid(self) -> bool:
        """Save the grid shown (finished, or as far as it got) with its parameters."""
        if self._grid is None or self._run_params is None:
            self.show_status("Nothing to save yet: run first")
            return False
        path = self.ask_save_path()
        if not path:
            return False
        grid = self._grid
        try:
            saved = image_saving.save_image(path, grid, params=self.metadata(), overwrite=True)
        except (OSError, StudioError) as error:
            self.show_error(f"Could not save {path}: {error_text(error)}")
            return False
        self._saved_grid = grid
        self.show_status(f"Saved {saved}")
        return True

    def metadata(self) -> dict[str, Any]:
        """What a saved grid carries (as the CLI's): parameters, records, skipped files."""
        records = self.panel.records
        return grid_metadata(self._result, self._run_params, records, self._run_name, self._skipped)

    def _may_replace_grid(self) -> bool:
        """Before a new grid replaces one not saved: Save / Discard / Cancel."""
        if self._grid is None or self._grid is self._saved_grid:
            return True
        answer = self.ask_unsaved("The grid is not saved. Save it before making another?")
        if answer == dialogs.SAVE:
            return self.save_grid()
        return answer == dialogs.DISCARD

    def ask_unsaved(self, message: str) -> str:
        """Save / Discard / Cancel (replaced in tests)."""
        return dialogs.ask_unsaved_work(self, message, True, TITLE)

    # -- the main window's close question ------------------------------------------------

    def unsaved_work(self) -> str | None:
        if self.runner.running:
            return f"{TITLE}: a grid is being made; closing stops it."
        if self._grid is not None and self._grid is not self._saved_grid:
            return f"{TITLE}: the grid is not saved."
        return None

    def can_save_work(self) -> bool:
        return self._grid is not None

    def save_work(self) -> bool:
        self.show()
        self.raise_()
        return self.save_grid()

    # ------------------------------------------------------------------ the rest

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self._grid is not None or running)
        self.panel.send_button.setEnabled(self.chosen_ref() is not None)
        self.form.setEnabled(not running)

    def show_status(self, text: str) -> None:
        self.status_line.setText(hints.capitalized(text))

    def show_error(self, message: str, details: str = "") -> QMessageBox:
        """A non-blocking error box (replaced in tests)."""
        return dialogs.show_error(self, message, details, TITLE)

    def report_error(self, error: StudioError) -> None:
        text = hints.with_hint(describe(error), error, self.form)
        self.show_status(text)
        self.show_error(text)

    def is_busy(self) -> bool:
        return self.runner.running

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing hides the view; a job still running stops (what is done is kept)."""
        self.runner.stop()
        self.save_settings()
        event.accept()

    def save_settings(self, settings: QSettings | None = None) -> None:
        from cnnstudio.gui.settings import app_settings

        settings = settings or app_settings()
        settings.beginGroup("visualize")
        try:
            self.form.save_settings(settings)
            settings.setValue("geometry", self.saveGeometry())
        finally:
            settings.endGroup()

    def restore_settings(self, settings: QSettings | None = None) -> None:
        from cnnstudio.gui.settings import app_settings, notices_summary

        settings = settings or app_settings()
        settings.beginGroup("visualize")
        try:
            self.form.restore_settings(settings)
            geometry = settings.value("geometry")
            if geometry is not None and not isinstance(geometry, str):
                self.restoreGeometry(geometry)
        finally:
            settings.endGroup()
        summary = notices_summary()
        if summary:  # values out of range, of the wrong type, nested: defaults kept, and said
            self.show_status(summary[0])
            self.status_line.setToolTip(summary[1])

    def shutdown(self) -> None:
        """Stop the jobs and wait for them (the main window is closing)."""
        self.runner.shutdown()
        self.form.layers.shutdown()
        self.panel.shutdown()
