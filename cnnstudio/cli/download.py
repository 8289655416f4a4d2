"""Weight downloads on stderr, shared by the CLI jobs' progress reporters."""

from __future__ import annotations

from typing import TextIO

from cnnstudio.core.events import DownloadProgress


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
