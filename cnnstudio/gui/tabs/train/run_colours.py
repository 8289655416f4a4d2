"""One colour per run in the runs browser, the same across redraws, live updates,
resumes and sessions."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

#: a qualitative palette (matplotlib's tab10, its grey made near-black so no run looks
#: disabled): runs get these by a hash of their name
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#222222",
)  # fmt: skip


class ColourBook:
    """One colour per run: the palette colour its name hashes to (the same in every
    session), unless a run already shown has it, then the next free one; a run keeps the
    colour it was given for as long as the window is open (across redraws, live
    updates and resumes)."""

    def __init__(self, palette: tuple[str, ...] = PALETTE) -> None:
        self.palette = palette
        self._given: dict[str, str] = {}

    def home(self, name: str) -> int:
        return zlib.crc32(name.encode("utf-8", "surrogateescape")) % len(self.palette)

    def assign(self, names: Iterable[str]) -> dict[str, str]:
        names = list(names)
        colours: dict[str, str] = {}
        for name in names:  # kept colours first, unless two shown runs share one
            given = self._given.get(name)
            if given is not None and given not in colours.values():
                colours[name] = given
        for name in names:
            if name in colours:
                continue
            start = self.home(name)
            used = set(colours.values())
            for step in range(len(self.palette)):
                candidate = self.palette[(start + step) % len(self.palette)]
                if candidate not in used:
                    break
            else:
                candidate = self.palette[start]  # more runs than colours
            colours[name] = self._given[name] = candidate
        return colours
