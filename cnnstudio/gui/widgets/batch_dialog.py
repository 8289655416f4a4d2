"""BatchDialog: which folder to dream or style, where the results go, and what that means
(how many pictures, how many done before) before the batch starts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from cnnstudio.core.batch import BatchPlan, plan_batch
from cnnstudio.core.errors import StudioError
from cnnstudio.gui.messages import capitalized
from cnnstudio.gui.settings import last_folder


def default_out_folder(folder: str, suffix: str) -> str:
    """``~/photos`` -> ``~/photos-dream``: beside the pictures, not among them."""
    if not folder:
        return ""
    path = Path(folder)
    return str(path.with_name(path.name + suffix))


class BatchDialog(QDialog):
    """Folder in, folder out, "replace results made before"; a line that says what the
    batch will do; Start is enabled when there is something to do."""

    def __init__(self, parent: QWidget | None, job: str, suffix: str, folder: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("batchDialog")
        self.setWindowTitle(f"{job}: batch over a folder")
        self.suffix = suffix
        self.in_edit = QLineEdit(folder)
        self.in_edit.setObjectName("batchInputFolder")
        self.in_edit.setToolTip("Every picture of this folder (not its subfolders)")
        self.out_edit = QLineEdit(default_out_folder(folder, suffix))
        self.out_edit.setObjectName("batchOutputFolder")
        self.out_edit.setToolTip(
            f"Each result goes here as <name>{suffix}.png, with its parameters"
        )
        self.overwrite_check = QCheckBox("Replace results made before")
        self.overwrite_check.setObjectName("batchOverwrite")
        self.overwrite_check.setToolTip(
            "Off: pictures whose result is in the folder already are left out, so a batch "
            "that was stopped goes on where it stopped"
        )
        self.summary = QLabel("")
        self.summary.setObjectName("batchSummary")
        self.summary.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Pictures in", self._with_browse(self.in_edit, "batchBrowseInput"))
        form.addRow("Results to", self._with_browse(self.out_edit, "batchBrowseOutput"))
        form.addRow(self.overwrite_check)
        form.addRow(self.summary)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start")
        self.start_button.setToolTip("Start the batch with the settings of the tab")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip("Do nothing")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.in_edit.textChanged.connect(self._input_changed)
        self.out_edit.textChanged.connect(self.update_summary)
        self.overwrite_check.toggled.connect(self.update_summary)
        self.resize(560, 0)
        self.update_summary()

    def _with_browse(self, edit: QLineEdit, name: str) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        button = QPushButton("Browse...")
        button.setObjectName(name)
        button.setToolTip("Choose the folder")
        button.clicked.connect(lambda: self._browse(edit))
        row.addWidget(button)
        return row

    def _browse(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a folder", edit.text() or last_folder()
        )
        if folder:
            edit.setText(folder)

    def _input_changed(self, text: str) -> None:
        if not self.out_edit.isModified():  # follow the input until the user types one
            self.out_edit.setText(default_out_folder(text, self.suffix))
        self.update_summary()

    def plan(self) -> BatchPlan:
        """The batch as the fields say (StudioError when they do not make one)."""
        return plan_batch(
            self.in_edit.text().strip(),
            self.out_edit.text().strip(),
            self.suffix,
            overwrite=self.overwrite_check.isChecked(),
        )

    def update_summary(self) -> None:
        """Say what Start would do; Start only when there is something to do."""
        if not self.in_edit.text().strip() or not self.out_edit.text().strip():
            self.summary.setText("Choose the folder of pictures and the folder for the results.")
            self.start_button.setEnabled(False)
            return
        try:
            plan = self.plan()
        except StudioError as error:
            self.summary.setText(capitalized(str(error)) + ".")
            self.start_button.setEnabled(False)
            return
        self.summary.setText(describe_plan(plan))
        self.start_button.setEnabled(bool(plan.items))


def describe_plan(plan: BatchPlan) -> str:
    """ "12 pictures to do; 3 done before are left as they are; 2 other files ignored." """
    parts = [f"{len(plan.items)} picture{'s' if len(plan.items) != 1 else ''} to do"]
    if plan.existing:
        parts.append(f"{len(plan.existing)} done before are left as they are")
    if plan.ignored:
        parts.append(
            f"{len(plan.ignored)} other file{'s' if len(plan.ignored) != 1 else ''} ignored"
        )
    if not plan.items and not plan.existing:
        parts = ["No pictures in this folder"]
    return "; ".join(parts) + "."
