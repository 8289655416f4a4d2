"""Text from files, made safe for a terminal.

Class names, recipes, layer names and file names come from files the user did not write
(a shared model's sidecar, a downloaded picture's name). Printed raw, a crafted one could
set the terminal's title, clear the screen or recolour the output (escape sequences), hide
or reorder text (Unicode direction overrides), or stop the job with a UnicodeEncodeError
(a file name that is not UTF-8, which Python holds as surrogates). :func:`printable`
writes every such character as a visible escape; JSON output needs no help (``json``
escapes them itself).
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL (ESC, CSI, BEL, CR, newline, ...), the invisible direction
# marks and overrides, and surrogates (bytes of non-UTF-8 file names, PEP 383)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # one byte of a file name that is not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` with control characters, direction overrides and surrogates escaped
    (``\\x1b``, ``\\u202e``, ``\\xff``): one line, exactly what it says, nothing more."""
    return _UNSAFE.sub(_escape, str(text))
