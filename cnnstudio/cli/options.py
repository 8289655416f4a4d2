"""What several jobs share on the command line: the common flags every job has
(:func:`add_common_flags`: ``-q/--quiet``, ``--overwrite``, ``--seed``, with one meaning and
one help text) and parsers for flag values (``--layers``, ``--content-layers``, ...)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping

from cnnstudio.core.errors import InputError

QUIET_HELP = "no progress output: only the results and errors"
OVERWRITE_HELP = "replace output files that exist (without it, an existing file is an error)"
SEED_HELP = "random seed: runs with the same seed give the same result (default: {default})"


def add_common_flags(
    parser: argparse.ArgumentParser, *, seed: bool = True, seed_default: int | None = None
) -> None:
    """Add the flags every job has, with the same meaning and help text everywhere:
    ``-q/--quiet``, ``--overwrite`` and (``seed=True``) ``--seed N``, whose default is
    ``seed_default`` (None: a new seed each run)."""
    group = parser.add_argument_group("common options")
    group.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    group.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    if seed:
        default = "a new seed each run" if seed_default is None else str(seed_default)
        group.add_argument(
            "--seed",
            type=int,
            default=seed_default,
            metavar="N",
            help=SEED_HELP.format(default=default),
        )


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
