"""Entry script of the PyInstaller bundle: the same entry point as ``cnnstudio``.

The bundle has a single executable, so it serves both the command line
(``cnnstudio dream ...``) and the desktop entry, whose ``Exec=... %F`` passes image files
to open in the window (see ``cnnstudio.__main__.opens_files``).
"""

from __future__ import annotations

import multiprocessing
import sys

from cnnstudio.__main__ import main

if __name__ == "__main__":
    # the Train tab trains in a spawned process (cnnstudio.core.child_process): in a
    # frozen bundle, this is where such a child turns into it instead of opening a window
    multiprocessing.freeze_support()
    sys.exit(main())
