"""Progress of the long CLI jobs on stderr: weight downloads and the jobs' own lines."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any, TextIO, TypeVar

from cnnstudio.cli.text import printable_lines
from cnnstudio.core.events import DownloadProgress

_Result = TypeVar("_Result")


class DownloadLines:
    """Prints ``downloading FILE: 12/84 MB``: an updating line on a terminal, otherwise a
    line every tenth of the file (and at its end), so a log stays short."""

    def __init__(self, stream: TextIO, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self._shown: dict[str, int] = {}  # file -> last tenth printed

    def show(self, event: DownloadProgress) -> None:
        done = event.total > 0 and event.received >= event.total
        if self.tty:
            self.stream.write("\r\033[K" + event.text + ("\n" if done else ""))
            self.stream.flush()
            return
        tenth = 10 if done else event.received * 10 // max(event.total, 1)
        if tenth <= self._shown.get(event.file_name, -1):
            return
        self._shown[event.file_name] = tenth
        self.stream.write(event.text + "\n")
        self.stream.flush()


class JobReporter:
    """Base of a job's progress reporter: quiet mode, downloads, whole lines that clear a
    terminal's updating line first. Subclasses say how the job's own events look."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.start = time.monotonic()
        self.downloads = DownloadLines(stream, self.tty)

    def event(self, event: object) -> None:
        """Show one event of the job (nothing when quiet)."""
        if self.quiet:
            return
        if isinstance(event, DownloadProgress):
            self.downloads.show(event)
            return
        self.job_event(event)

    def job_event(self, event: object) -> None:
        """Show an event that is not a download; the base shows none."""

    def run(self, generator: Generator[Any, Any, _Result]) -> _Result:
        """Drive a core job generator, showing its events; return what it returns."""
        while True:
            try:
                event = next(generator)
            except StopIteration as stop:
                return stop.value
            self.event(event)

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        # layer and file names come from files; a summary keeps its lines
        self.stream.write(printable_lines(text) + "\n")
        self.stream.flush()

    def done(self, text: str) -> None:
        """The job's last line."""
        if not self.quiet:
            self._line(text)
