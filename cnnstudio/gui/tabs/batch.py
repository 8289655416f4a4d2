"""TabBatch: a Dream or Style tab's job over a folder, run on the tab's own runner.

Started from File > Batch... or by dropping a folder on the tab's picture; the dialog
says what will happen (how many pictures, how many done before). While it runs the bar
reads "Image 2 of 5 - Octave 1/3 - step 4/10 - ETA" (the ETA of the whole batch), the
preview follows the picture being made and each result shows once it is saved. Stop
ends it: what is saved stays. At the end a box lists the pictures skipped and why.

The tab says what its job is (``batch_job()``: the picture job, the metadata of a result,
the size pictures are read at, the results' suffix); this class does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog

from cnnstudio.core.batch import (
    BatchImage,
    BatchPlan,
    BatchResult,
    BatchSaved,
    BatchSkipped,
    run_batch,
)
from cnnstudio.gui.widgets.batch_dialog import BatchDialog

#: the Dream or Style tab (an ``ImageJobTab``, which imports this module)
ImageJobTab = Any


@dataclass(frozen=True)
class BatchJob:
    """What a tab's batch does to each picture."""

    job: Callable[..., Any]  # (picture, item) -> generator returning the result
    metadata: Callable[..., dict]  # (item, result) -> parameters embedded in the result
    max_side: int | None  # pictures are read no larger than this
    suffix: str  # results are <name><suffix>.png


class TabBatch(QObject):
    """The batch state of one tab (``active`` while one runs)."""

    def __init__(self, tab: ImageJobTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.active = False
        self.plan: BatchPlan | None = None
        self.current: BatchImage | None = None
        self.saved: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []

    # -- starting -----------------------------------------------------------------------

    def ask_plan(self, folder: str = "") -> BatchPlan | None:
        """The batch dialog (replaced in tests): the plan, or None when cancelled."""
        dialog = BatchDialog(self.tab, self.tab.job_name, self.tab.batch_suffix, folder)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.plan()
        finally:
            dialog.deleteLater()

    def start(self, folder: str = "") -> bool:
        """Ask, then run the batch with the tab's settings; False if it did not start."""
        tab = self.tab
        if tab.runner.running:
            tab.status.emit(f"Stop {tab.running_work} before starting a batch")
            return False
        job = tab.batch_job()  # the tab checks its settings and says what is missing
        if job is None:
            return False
        plan = self.ask_plan(folder)
        if plan is None:
            return False
        if not plan.items:
            tab.status.emit(f"Nothing to do in {plan.folder}: every result is there already")
            return False
        self.active = True
        self.plan = plan
        self.saved, self.skipped, self.current = [], [], None
        tab.batch_started()
        tab.progress.start(f"Batch of {len(plan.items)} pictures: preparing...")
        tab.status.emit(
            f"{tab.job_name}: batch of {len(plan.items)} pictures into {plan.out_folder}"
        )
        tab.runner.run_generator(run_batch, plan, job.job, job.metadata, max_side=job.max_side)
        tab._update_buttons()
        return True

    # -- events -------------------------------------------------------------------------

    def handle(self, event: object) -> bool:
        """A batch event from the runner (True when it was one)."""
        tab = self.tab
        if isinstance(event, BatchImage):
            self.current = event
            tab.progress.prefix = f"Image {event.index} of {event.total}"
            tab.progress.setFormat(f"{tab.progress.prefix}: {event.source.name}...")
            tab.loss_plot.clear()  # each picture's curves start again
            tab.notice_label.setText(f"Image {event.index} of {event.total}: {event.source.name}")
            return True
        if isinstance(event, BatchSaved):
            self.saved.append(event.output)
            if event.image is not None:
                tab.preview.set_image(event.image)
            tab.status.emit(
                f"{tab.job_name}: saved {event.output.name} ({event.index} of {event.total})"
            )
            return True
        if isinstance(event, BatchSkipped):
            self.skipped.append((event.source, event.reason))
            tab.status.emit(f"{tab.job_name}: skipped {event.source.name}: {event.reason}")
            return True
        return False

    def ended(self, how: str, result: object = None) -> None:
        """The batch ended: "finished", "stopped" or "failed" (then the tab reports the
        error as for any run)."""
        tab = self.tab
        self.active = False
        tab.progress.prefix = ""
        plan = self.plan
        if isinstance(result, BatchResult):
            self.saved, self.skipped = list(result.saved), list(result.skipped)
        out = plan.out_folder if plan is not None else ""
        done = f"{len(self.saved)} of {len(plan.items) if plan else 0} saved in {out}"
        if how == "finished":
            tab.progress.finish("Done")
            tab.status.emit(f"{tab.job_name}: batch done: {done}")
        elif how == "stopped":
            tab.progress.finish("Stopped")
            tab.status.emit(
                f"{tab.job_name}: batch stopped: {done}; running it again does the rest"
            )
        if self.skipped and how != "failed":
            names = "\n".join(f"{path.name}: {reason}" for path, reason in self.skipped[:20])
            more = f"\n... and {len(self.skipped) - 20} more" if len(self.skipped) > 20 else ""
            tab.show_batch_report(
                f"{len(self.skipped)} picture(s) were skipped ({done}):\n\n{names}{more}"
            )
