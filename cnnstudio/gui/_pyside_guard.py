"""Guard against the reference-count bugs of PySide6 6.12.0 that abort the app.

PySide6 6.12.0 returns ``None`` from every void method (``label.setText``, ``repaint``,
``processEvents``, ...) and ``True`` from ``SignalInstance.emit()`` without taking a new
reference, so each such call made from Python drops one reference to ``None`` or ``True``.
On Python 3.12+ these objects are immortal and nothing happens; on 3.11 a GUI makes enough
calls within minutes to free them, and the process dies with "Fatal Python error:
none_dealloc" / "bool_dealloc" (during a dream, or at exit). 6.11.3 does not have the bug.

We measure the leak once at import and, only if it is there, give ``None``, ``True`` and
``False`` a reference budget no session can spend, which is what 3.12's immortal objects
do. Remove this once PySide6 6.12.0 is excluded by the requirements.
"""

from __future__ import annotations

import sys

_BUDGET = 1 << 40  # ~10^12 leaked references
_PROBES = 16


def leaking_constants() -> list[object]:
    """Those of None / True whose references PySide6 drops (empty on a sound PySide6)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    leaks = []
    before = sys.getrefcount(None)
    for _ in range(_PROBES):
        probe.setObjectName("probe")  # a void method
    if before - sys.getrefcount(None) >= _PROBES:
        leaks.append(None)
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.ping.emit()
    if before - sys.getrefcount(True) >= _PROBES:
        leaks.append(True)
    return leaks


def apply() -> bool:
    """Apply the guard when needed; True if it was applied."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # immortal None/True/False: the leak is harmless
    leaks = leaking_constants()
    if not leaks:
        return False
    import ctypes

    # True and False come together: a bug that leaks one is likely to leak the other
    constants = {id(c): c for c in leaks + ([False] if True in leaks else [])}
    for constant in constants.values():
        # ob_refcnt is the first field of every CPython object
        ctypes.c_ssize_t.from_address(id(constant)).value += _BUDGET
    return True


APPLIED = apply()
