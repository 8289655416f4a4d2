"""Text from files, made safe for a terminal.

Names, class names and recipes read from run folders, sidecars or settings are untrusted:
a crafted one can carry terminal escapes that set the window title, clear the screen or
recolour the output, or bidirectional marks that reorder what is shown. :func:`printable`
shows every such character as a visible escape instead (``\\x1b``, ``\\u202e``); file
names that are not UTF-8 (surrogate escapes) come out visible, not as an encoding error.
"""

from __future__ import annotations

from typing import Any


def printable(value: Any) -> str:
    """``str(value)`` with every non-printable character escaped (space stays)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def printable_lines(value: Any) -> str:
    """:func:`printable` line by line: the line breaks of a multi-line notice (a model
    summary, a dataset summary) stay line breaks, everything else is escaped."""
    return "\n".join(printable(line) for line in str(value).split("\n"))


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def table(rows: list[list[Any]]) -> str:
    """Rows of cells (the first row the header) as aligned columns, each cell printable."""
    cells = [[printable(cell) for cell in row] for row in rows]
    if not cells:
        return ""
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in cells
    )
