"""Before Qt starts: are the system libraries of Qt's X11 platform plugin here?

PySide6's wheels carry Qt itself but not the X11 (xcb) libraries its platform plugin links
against. When one is missing, Qt aborts with a message that blames ``libxcb-cursor0`` even
when that one is installed and others are missing (seen on a minimal Debian desktop:
``libxcb-icccm4`` and ``libxcb-keysyms1``). So we look first, with the same loader Qt will
use, and name the Debian/Ubuntu packages to install in one line. This module must not
import Qt: it runs before Qt is loaded (``make run`` runs it as ``python -m``).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

#: shared libraries that Qt 6's xcb platform plugin (libqxcb.so, libQt6XcbQpa.so.6) needs
#: from the system, with the Debian/Ubuntu package of each (``ldd libqxcb.so`` lists them)
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """True when Qt will start its X11 (xcb) platform plugin: on Linux, unless another
    platform is asked for (``QT_QPA_PLATFORM``) or the session is Wayland."""
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip().lower()
    if requested:
        return requested.split(":")[0].split(";")[0] == "xcb"
    return environ.get("XDG_SESSION_TYPE", "").lower() != "wayland"


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(loads: Callable[[str], bool] | None = None) -> list[str]:
    """The sonames of :data:`XCB_LIBRARIES` that the dynamic loader cannot find."""
    loads = loads or _loads
    return [soname for soname in XCB_LIBRARIES if not loads(soname)]


def startup_problem(
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    loads: Callable[[str], bool] | None = None,
) -> str | None:
    """One line naming the packages to install when Qt's xcb plugin could not start, or
    saying that there is no display; None when nothing is missing (or xcb is not used)."""
    if not uses_xcb(environ, platform):
        return None
    missing = missing_libraries(loads)
    if not missing:
        if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
            # Qt would abort blaming libxcb-cursor0 here too
            return (
                "cnnstudio: there is no display to open the window on (DISPLAY is not "
                "set): start it in a desktop session, with ssh -X, or under xvfb-run; "
                "the command line (cnnstudio dream|style|train|classify ...) needs none"
            )
        return None
    packages = " ".join(XCB_LIBRARIES[soname] for soname in missing)
    return (
        f"cnnstudio: the window needs system libraries that are missing "
        f"({', '.join(missing)}); install them with: sudo apt-get install {packages}"
    )


def main() -> int:
    """``python -m cnnstudio.gui.platform_check``: exit 1 with the line when libraries
    are missing (``make run`` stops there instead of letting Qt abort)."""
    problem = startup_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
