"""Entry script for the PyInstaller bundle: the same entry point as `cnnstudio`."""

import sys

from cnnstudio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
