"""Entry script of the PyInstaller bundle: the ``cnnstudio`` entry point, plus file opening.

The bundle has a single executable, so it must serve both the command line
(``cnnstudio dream ...``) and the desktop entry, whose ``Exec=... %F`` passes the image
files the user opened with CNN Studio. ``cnnstudio`` alone would read such a path as an
unknown job; here, arguments that are all existing files open the window with them.
"""

from __future__ import annotations

import os
import sys


def opens_files(argv: list[str]) -> bool:
    """True when ``argv`` is a list of files to open in the window, not a CLI job."""
    from cnnstudio.cli.main import JOBS

    return bool(argv) and argv[0] not in JOBS and all(os.path.isfile(arg) for arg in argv)


def main(argv: list[str] | None = None) -> int:
    """Open the window (no arguments, or image files), else run the CLI job."""
    argv = sys.argv[1:] if argv is None else argv
    if opens_files(argv):
        from cnnstudio.gui.app import main as gui_main

        return gui_main(argv)
    from cnnstudio.__main__ import main as studio_main

    return studio_main(argv)


if __name__ == "__main__":
    sys.exit(main())
