"""The Runs page's changes on disk, run on a worker: renaming or deleting a run folder
takes its lock, reads its status and removes every file of it, which on a slow or network
disk (or with a FIFO put in the folder) must not stall the window. Each function returns
what the page shows; a refusal is text, not an exception."""

from __future__ import annotations

from pathlib import Path

from cnnstudio.core.training import monitor
from cnnstudio.gui.messages import error_text


def rename_run(path: Path, new_name: str) -> tuple[Path | None, str]:
    """(the renamed folder, "") or (None, why it was not renamed)."""
    try:
        return monitor.rename_run(path, new_name), ""
    except Exception as error:  # noqa: BLE001 - shown to the user
        return None, error_text(error)


def delete_runs(runs: list[tuple[str, Path]]) -> list[str]:
    """Delete each (name, folder); "name: why" for each one that was not deleted."""
    failed = []
    for name, path in runs:
        try:
            monitor.delete_run(path)
        except Exception as error:  # noqa: BLE001 - shown to the user
            failed.append(f"{name}: {error_text(error)}")
    return failed
