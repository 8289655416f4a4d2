"""JSON from outside (sidecars, a model's ``config.json``, parameters embedded in pictures),
parsed with bounds.

``json.loads`` takes any nesting up to the interpreter's recursion limit, and the code that
walks the result recurses again, so a file nested 600 levels deep ends in a RecursionError
far from the file. :func:`parse_json` measures the nesting of what it parsed (without
recursion) and refuses it with a message that names the file and the limit; whatever it
returns can be walked recursively without fear. The caller bounds the size of the text.
"""

from __future__ import annotations

import json
from typing import Any

from cnnstudio.core.errors import InputError


def nesting_depth(value: Any, limit: int) -> int:
    """How deep the lists and dicts of ``value`` nest, counted up to ``limit + 1`` (the
    walk stops there). Iterative: any depth is measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(
    data: bytes | str,
    *,
    label: str,
    max_depth: int,
    param: str | None = None,
    **details: Any,
) -> Any:
    """The value of the JSON text ``data``; InputError "``label``: <reason>" when it is not
    UTF-8, not JSON, or nested deeper than ``max_depth`` levels."""
    too_deep = f"{label}: is nested more than {max_depth} levels deep"
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{label}: is not UTF-8 text", param=param, **details) from None
    try:
        value = json.loads(data)
    except RecursionError:  # deeper than the interpreter's limit
        raise InputError(too_deep, param=param, **details) from None
    except ValueError as error:  # JSONDecodeError, and integers of over 4300 digits
        reason = (str(error).splitlines() or ["not valid JSON"])[0][:120]
        raise InputError(f"{label}: is not valid JSON ({reason})", param=param, **details) from None
    if nesting_depth(value, max_depth) > max_depth:
        raise InputError(too_deep, param=param, **details)
    return value
