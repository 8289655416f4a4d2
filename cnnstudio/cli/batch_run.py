"""``cnnstudio dream FOLDER -o OUTFOLDER`` and ``cnnstudio style FOLDER STYLE... -o
OUTFOLDER``: every picture of a folder with the same parameters (``core.batch``).

Each result is saved with its parameters as soon as it is made (``OUT/<name>-dream.png``,
``OUT/<name>-style.png``); pictures that cannot be read are listed and skipped; results
made before are left alone unless ``--overwrite``, so a batch stopped with Ctrl+C goes
on where it stopped when run again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

from cnnstudio.cli.reporting import JobReporter
from cnnstudio.core.batch import (
    BatchImage,
    BatchPlan,
    BatchResult,
    BatchSaved,
    BatchSkipped,
    run_batch,
)
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import Eta
from cnnstudio.core.events import Progress


class BatchReporter(JobReporter):
    """A line per picture saved or skipped; on a terminal, an updating line with the
    picture, its step and the ETA of the whole batch."""

    def __init__(self, stream: TextIO, quiet: bool, job: str) -> None:
        super().__init__(stream, quiet)
        self.job = job
        self.eta = Eta()
        self.current: BatchImage | None = None

    def job_event(self, event: object) -> None:
        if isinstance(event, BatchImage):
            self.current = event
        elif isinstance(event, Progress):
            self.eta.update(event.done)
            if self.tty and self.current is not None:
                self.stream.write(
                    f"\r\033[K{self.job}: {self.current.text}  step {event.step}/{event.total}"
                    f"  batch ETA {self.eta.text()}"
                )
                self.stream.flush()
        elif isinstance(event, BatchSaved):
            self._line(
                f"{self.job}: saved {event.output} ({event.index}/{event.total}, "
                f"{event.seconds:.1f}s)"
            )
        elif isinstance(event, BatchSkipped):
            self._line(f"{self.job}: skipped {event.source.name}: {event.reason}")


def run(
    job_name: str,
    plan: BatchPlan,
    job: Any,
    metadata: Any,
    *,
    max_side: int | None,
    quiet: bool,
) -> int:
    """Drive the batch; 0 when every picture was made or was there already, 2 (with the
    skipped pictures named) when none could be made."""
    reporter = BatchReporter(sys.stderr, quiet, job_name)
    if plan.existing and not quiet:
        reporter._line(
            f"{job_name}: {len(plan.existing)} result(s) in {plan.out_folder} already: left "
            "as they are (--overwrite redoes them)"
        )
    result: BatchResult = reporter.run(run_batch(plan, job, metadata, max_side=max_side))
    elapsed = time.monotonic() - reporter.start
    reporter.done(f"{job_name}: batch done in {elapsed:.1f}s: {result.summary()}")
    if result.skipped and not result.saved and not result.existing:
        names = ", ".join(Path(path).name for path, _ in result.skipped[:5])
        raise InputError(f"no picture of {plan.folder} could be made (skipped: {names})")
    if not plan.items and not plan.existing:
        raise InputError(f"{plan.folder} holds no pictures ({len(plan.ignored)} other files)")
    return 0
