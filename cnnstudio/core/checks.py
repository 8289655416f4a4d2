"""Checks of single values, for the params modules: type and range in one message.

Values reach the params from flags, from the settings file and from the parameters
embedded in a picture, so any of them can be of the wrong type or absurdly large. An
integer of 2^31 or more overflows Qt's spin boxes and TensorFlow's int32 arguments, a float
of 1e308 turns into infinity at the first multiplication: every whole number therefore has
an upper bound (at most :data:`INT32_MAX`), every number must be finite. Each check raises
an InputError that names the value, its bounds and its parameter.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from cnnstudio.core.errors import InputError

INT32_MAX = 2**31 - 1


def is_whole(value: Any) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """An int or float (numpy's too) that is finite; not a bool, not text."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def whole(value: Any, label: str, low: int, high: int, *, param: str | None = None) -> int:
    """``value`` as an int if it is a whole number from ``low`` to ``high``."""
    if not is_whole(value) or not low <= value <= high:
        raise InputError(
            f"{label} {_shown(value)} must be a whole number from {low} to {high}", param=param
        )
    return int(value)


def at_most(value: Any, label: str, high: int, *, param: str | None = None) -> int:
    """``value`` as an int if it is a whole number of at most ``high`` (its lower bound is
    the caller's, with a message of its own)."""
    if not is_whole(value) or value > high:
        raise InputError(
            f"{label} {_shown(value)} must be a whole number of at most {high}", param=param
        )
    return int(value)


def number(
    value: Any,
    label: str,
    low: float,
    high: float,
    *,
    param: str | None = None,
    above_low: bool = False,
) -> float:
    """``value`` as a float if it is a finite number from ``low`` (excluded when
    ``above_low``) to ``high``."""
    if (
        not is_finite_number(value)
        or not low <= float(value) <= high
        or (above_low and float(value) == low)
    ):
        lowest = f"above {low:g}" if above_low else f"from {low:g}"
        raise InputError(
            f"{label} {_shown(value)} must be a number {lowest} to {high:g}", param=param
        )
    return float(value)


def choice(value: Any, label: str, choices: Sequence[str], *, param: str | None = None) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(
            f"unknown {label} {_shown(value)}: choose one of {', '.join(choices)}", param=param
        )
    return value


def flag(value: Any, label: str, *, param: str | None = None) -> bool:
    """``value`` if it is true or false."""
    if not isinstance(value, bool):
        raise InputError(f"{label} {_shown(value)} must be true or false", param=param)
    return value


def text(value: Any, label: str, max_length: int = 4096, *, param: str | None = None) -> str:
    """``value`` if it is text of at most ``max_length`` characters."""
    if not isinstance(value, str) or len(value) > max_length:
        raise InputError(
            f"{label} {_shown(value)} must be text of at most {max_length} characters",
            param=param,
        )
    return value
