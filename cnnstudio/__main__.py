"""``cnnstudio`` with no arguments opens the window; ``cnnstudio JOB ...`` runs a job.

``cnnstudio photo.jpg ...`` (files only, as a desktop entry's ``Exec=... %F`` passes them)
opens the window with those files.
"""

from __future__ import annotations

import os
import sys


def opens_files(argv: list[str]) -> bool:
    """True when ``argv`` is a list of files to open in the window, not a CLI job."""
    from cnnstudio.cli.main import JOBS

    return bool(argv) and argv[0] not in JOBS and all(os.path.isfile(arg) for arg in argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or opens_files(argv):
        from cnnstudio.gui.app import main as gui_main

        return gui_main(argv)
    from cnnstudio.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
