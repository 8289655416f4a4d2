"""How a dataset comes into the Train tab: dropped, pasted or opened (a folder of class
folders or a ``.npz`` file), and shown on the Dataset page before a run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

from cnnstudio.gui.widgets.dataset_field import dataset_path, is_dataset_path


class DatasetInput:
    """The Train tab's dataset input (a mixin of :class:`TrainTab`: it uses the tab's
    ``form``, ``pages``, ``runner``, ``status`` and ``_survey_timer``)."""

    def survey_dataset(self, force: bool = False) -> None:
        """Show the dataset of the field on the Dataset page (counted on a worker)."""
        self._survey_timer.stop()
        self.pages.dataset_page.request(self.form.config().data, force=force)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.survey_dataset()  # the settings' dataset, when the tab is first seen

    def open_image(self, path: str) -> None:
        """File > Open on this tab: a folder or ``.npz`` becomes the dataset."""
        self.set_dataset(path)

    def paste_paths(self, paths: list[str]) -> None:
        """A folder or ``.npz`` file copied in a file manager becomes the dataset."""
        self.set_dataset(next((p for p in paths if is_dataset_path(p)), paths[0]))

    def paste_image(self, image: object) -> None:
        self.status.emit(
            "Train takes a folder with one subfolder per class or a .npz file: copy one "
            "in a file manager, then paste it"
        )

    def set_dataset(self, path: str) -> bool:
        """Use a dropped, pasted or opened folder / ``.npz`` file as the dataset."""
        candidate = Path(path)
        if self.runner.running:
            self.status.emit("Training is running: stop it before changing the dataset")
            return False
        if not is_dataset_path(candidate):
            self.status.emit(
                f"{candidate.name}: Train takes a folder with one subfolder per class or "
                "a .npz file, not a single image"
            )
            return False
        self.form.dataset_edit.setText(str(candidate))
        self.status.emit(f"Dataset: {candidate}")
        return True

    def dragEnterEvent(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        if not self.runner.running and dataset_path(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        path = dataset_path(event.mimeData())
        if path is None or not self.set_dataset(path):
            event.ignore()
            return
        event.acceptProposedAction()
