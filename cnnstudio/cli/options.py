"""Parsers for flag values that several jobs share (``--layers``, ``--content-layers``, ...)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from cnnstudio.core.errors import InputError


def parse_layer_weights(
    flag: str,
    text: str,
    presets: Mapping[str, Mapping[str, float]] | None = None,
    example: str = "mixed3,mixed5",
) -> dict[str, float]:
    """``a,b`` (weight 1 each) / ``a=0,b=3`` / a preset name -> {layer: weight}.

    Nested layer paths such as ``base/block_9_add`` are names like any other. Weights must
    be finite numbers (the job's params decide their range); ``flag`` names the flag."""
    text = text.strip()
    if presets and text in presets:
        return dict(presets[text])
    layers: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, weight = part.partition("=")
        name = name.strip()
        if not name:
            raise InputError(f"{flag} {text!r}: a layer name is missing before '='")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise InputError(
                f"{flag}: weight {weight.strip()!r} of {name} is not a number"
            ) from None
        if not math.isfinite(value):
            raise InputError(f"{flag}: weight {weight.strip()!r} of {name} is not finite")
        layers[name] = value
    if not layers:
        raise InputError(f"{flag} {text!r}: name at least one layer, e.g. {example}")
    return layers
