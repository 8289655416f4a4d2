"""The feature visualisation view's words for what went wrong: the core's message, then
what to do in this window (the control to change), and the list of skipped files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnstudio.gui.messages import capitalized

NO_EXAMPLES = (
    "Dataset examples: choose a folder of pictures under Dataset examples and Run, and "
    "each channel shows the ones that excite it most"
)
#: skipped example files named in the note before "and N more"
LISTED_FILES = 8

_HINTS = {
    "model": "Choose another model in the Model list.",
    "weights": "Choose other weights in the Weights list.",
    "layer": "Pick a layer in the layer list, or type one of those it names.",
    "objective": "Choose the Channel or Neuron objective for this model.",
    "size": "Change Size under Recipe.",
    "examples_folder": "Choose another folder under Dataset examples, or empty the field.",
}

__all__ = ["capitalized", "skipped_note", "with_hint"]


def with_hint(message: str, error: Any, form: Any = None) -> str:
    """``message`` (the error as the window words it) and the control that fixes it."""
    param = getattr(error, "param", None)
    details = getattr(error, "details", {}) or {}
    if param == "channels":
        count = details.get("count")
        if count is None and form is not None:
            count = form.layers.channels.get(form.layer())
        hint = (
            f"In Channels, give numbers from 0 to {int(count) - 1} (e.g. 0-15), or leave it "
            "empty for the first ones."
            if count
            else "In Channels, give numbers such as 0-15 or 3,7,10-12."
        )
    else:
        hint = _HINTS.get(param or "", "")
    return f"{message} {hint}" if hint and hint not in message else message


def skipped_note(skipped: Sequence[tuple[str, str]]) -> str:
    """The files of the examples folder that are not readable pictures, named."""
    if not skipped:
        return ""
    listed = "; ".join(f"{Path(path).name} ({reason})" for path, reason in skipped[:LISTED_FILES])
    more = len(skipped) - LISTED_FILES
    if more > 0:
        listed += f"; and {more} more"
    count = len(skipped)
    files = "file" if count == 1 else "files"
    return f"Skipped {count} {files} of the examples folder that are not pictures: {listed}"
