"""``cnnstudio`` with no arguments opens the window; ``cnnstudio JOB ...`` runs a job."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        from cnnstudio.gui.app import main as gui_main

        return gui_main()
    from cnnstudio.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
