"""The box a Style run that will not fit in memory shows: the size that fits, as a button."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from cnnstudio.core.style.memory import MemoryTooLargeError
from cnnstudio.gui.widgets import dialogs


def show_memory_error(
    parent: QWidget, error: MemoryTooLargeError, use_size: Callable[[int], None]
) -> QMessageBox:
    """Say how much the run needs and what is free; "Use N px" calls ``use_size(N)``."""
    size = error.suggested_size
    box = dialogs.show_error(
        parent,
        f"The result at {error.size} px needs about {error.needed / 2**30:.1f} GB of "
        f"memory but {error.available / 2**30:.1f} GB is free. A size of {size} px "
        "fits: press the button to use it, or close other programs.",
        title="Not enough memory",
    )
    use = box.addButton(f"Use {size} px", QMessageBox.ButtonRole.ActionRole)
    use.setObjectName("styleUseSuggestedSize")
    use.clicked.connect(lambda: use_size(size))
    return box
