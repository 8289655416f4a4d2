"""The Style tab's "Use a fast style model" mode: the library's style models listed with
their style thumbnails; choosing one styles the content picture at once (a 512 px preview
in one forward pass, then the picture at the size asked, in tiles when large); Save
writes that picture with its parameters.

The work runs on the panel's own :class:`JobRunner` (:func:`.fast_models.style_with_model`);
the model stays loaded between pictures (``core.faststyle.apply``), so after the first
choice a preview is one forward pass. A new choice while one is being made stops it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.errors import StudioError
from cnnstudio.core.events import Progress
from cnnstudio.gui.messages import error_text
from cnnstudio.gui.settings import read_bool, read_int, read_str
from cnnstudio.gui.tabs.style.fast_models import StyledPicture, StyleModelList, style_with_model
from cnnstudio.gui.tabs.style.video_painter import EveryFrameNote
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.buttons import named_button
from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.widgets.spin_boxes import spin_box
from cnnstudio.gui.workers import JobRunner

FAST_MODE = "fast style model"  # the "mode" of a saved picture's parameters
_NO_MODELS = (
    "No style models yet: train one in 'Train a fast style model', or import one with "
    "File > Model library..."
)
_HINT = "Open a content picture and choose a style model: it is styled at once"


class FastUsePanel(QWidget):
    """Content, style models and options on the left; the styled picture on the right."""

    status = Signal(str)
    error = Signal(str, str)
    #: a picture dropped on the content slot (the tab opens it for every mode)
    open_requested = Signal(str)
    open_dialog_requested = Signal()
    library_requested = Signal()
    #: a picture was saved (File > Open recent lists it)
    saved_file = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fastUsePanel")
        self.runner = JobRunner("Fast style", self)
        self.content: np.ndarray | None = None
        self.content_name = ""
        self._content_version = 0  # which content a picture was made of
        self.shown: StyledPicture | None = None  # the latest picture (preview or full)
        self.result: StyledPicture | None = None  # the full-size picture of ``result_key``
        self.result_key: tuple | None = None
        self.active = False  # the mode is on show: only then pictures are styled
        self._job_key: tuple | None = None
        self._again = False  # another picture is asked for once the running job stops
        self._save_path = ""  # Save pressed while the full-size picture was being made
        self._save_key: tuple | None = None  # ... of this picture
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._render)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_controls())
        splitter.addWidget(self._build_view())
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._connect()
        self.refresh_models()

    def _build_controls(self) -> QWidget:
        content = QGroupBox("Content")
        column = QVBoxLayout(content)
        self.content_slot = ImageView(placeholder="Drop the picture to style")
        self.content_slot.setObjectName("fastContentSlot")
        self.content_slot.setMinimumSize(140, 110)
        self.content_slot.show_zoom = False
        self.content_slot.setToolTip("The picture to style (the same as in 'Optimise a picture')")
        self.open_button = named_button(
            "Open content...", "fastOpenContentButton", "Choose the picture to style (Ctrl+O)"
        )
        self.content_slot.accept_videos = True  # its first frame here, every frame: Run
        self.video_note = EveryFrameNote()  # shown while the content is a video's frame
        column.addWidget(self.content_slot, 1)
        column.addWidget(self.video_note)
        column.addWidget(self.open_button)
        models = QGroupBox("Style models")
        column = QVBoxLayout(models)
        self.model_list = StyleModelList()
        self.empty_label = QLabel(_NO_MODELS)
        self.empty_label.setObjectName("fastNoModels")
        self.empty_label.setWordWrap(True)
        self.library_button = named_button(
            "Model library...", "fastLibraryButton", "Rename, delete, export or import models"
        )
        column.addWidget(self.model_list, 1)
        column.addWidget(self.empty_label)
        column.addWidget(self.library_button)
        options = QGroupBox("Result")
        form = QFormLayout(options)
        self.colors_check = QCheckBox("Keep the picture's colours")
        self.colors_check.setObjectName("fastUseColors")
        self.colors_check.setToolTip(
            "The styled luminance on the picture's own colours (always so for a model "
            "trained on luminance)"
        )
        self.size_spin = spin_box(
            0, 16384, 0, "fastUseSize",
            "longest side of the result in px; the model styles any size (large pictures "
            "in tiles)",
        )  # fmt: skip
        self.size_spin.setSpecialValueText("the picture's own")
        self.size_spin.setSingleStep(128)
        form.addRow(self.colors_check)
        form.addRow("Size (px)", self.size_spin)
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(content, 1)
        column.addWidget(models, 2)
        column.addWidget(options)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(controls.sizeHint().width() + 24)
        self.save_button = named_button(
            "Save...", "fastUseSaveButton", "Save the styled picture at full size (Ctrl+S)"
        )
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(scroll, 1)
        column.addWidget(self.save_button)
        return left

    def _build_view(self) -> QWidget:
        self.compare_button = named_button(
            "Hold to compare", "fastCompareButton", "Shows the content picture while pressed"
        )
        self.split_button = named_button(
            "Split", "fastSplitButton", "Before on the left, after on the right"
        )
        self.split_button.setCheckable(True)
        self.fit_button = named_button("Fit", "fastFitButton", "Fit the picture to the view")
        self.info_label = QLabel("")
        self.info_label.setObjectName("fastUseInfo")
        bar = QHBoxLayout()
        for button in (self.compare_button, self.split_button, self.fit_button):
            bar.addWidget(button)
        bar.addWidget(self.info_label, 1)
        self.preview = ImageView(placeholder=_HINT)
        self.preview.setObjectName("fastUsePreview")
        self.preview.accept_videos = True
        self.preview.setToolTip(
            "The picture styled by the chosen model. Wheel: zoom; drag: pan; double-click: "
            "fit. Drop a picture to style it (a video: its first frame here, every frame with Run)"
        )
        self.progress = JobProgress(step_word="tile")
        self.progress.setObjectName("fastUseProgress")
        view = QWidget()
        column = QVBoxLayout(view)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(bar)
        column.addWidget(self.preview, 1)
        column.addWidget(self.progress)
        return view

    def _connect(self) -> None:
        for view in (self.content_slot, self.preview):
            view.image_dropped.connect(self.open_requested)
            view.video_dropped.connect(self.open_requested)  # the tab opens a video too
        self.open_button.clicked.connect(self.open_dialog_requested)
        self.library_button.clicked.connect(self.library_requested)
        self.model_list.currentItemChanged.connect(lambda *_: self.request())
        self.colors_check.toggled.connect(lambda *_: self.request())
        self.size_spin.valueChanged.connect(lambda *_: self.request(400))
        self.save_button.clicked.connect(self.save)
        self.compare_button.pressed.connect(lambda: self.preview.set_comparing(True))
        self.compare_button.released.connect(lambda: self.preview.set_comparing(False))
        self.split_button.toggled.connect(self.preview.set_split)
        self.fit_button.clicked.connect(self.preview.fit)
        self.runner.progress.connect(self._on_event)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.done.connect(self._on_done)

    # ------------------------------------------------------------------ inputs

    def refresh_models(self) -> None:
        """List the library's style models again (a model saved or deleted)."""
        chosen = self.model_list.current_path()
        for problem in self.model_list.refresh():
            self.status.emit(f"The model library could not be listed: {problem}")
        self.empty_label.setVisible(self.model_list.count() == 0)
        if chosen and self.model_list.current_path() != chosen:
            self.request()  # the chosen model left the library

    def set_content(self, image: np.ndarray | None, name: str = "") -> None:
        """The picture to style (the tab's content picture)."""
        self.content = image
        self.content_name = name
        self._content_version += 1
        self.content_slot.set_image(image)
        self.preview.set_reference(image)
        self.request()

    def set_active(self, active: bool) -> None:
        """The mode is shown (pictures are styled) or hidden (nothing runs for it)."""
        self.active = active
        if active and self._key() != self._job_key and self._key() != self.result_key:
            self.request()

    def request(self, delay_ms: int = 0) -> None:
        """Style the content with the chosen model (soon: several changes make one job)."""
        if self.active:
            self._timer.start(delay_ms)

    def _key(self) -> tuple | None:
        path = self.model_list.current_path()
        if not path or self.content is None:
            return None
        side = int(self.size_spin.value())
        return (path, self._content_version, self.colors_check.isChecked(), side)

    # ------------------------------------------------------------------ the job

    def _render(self) -> None:
        key = self._key()
        if self._save_path and key != self._save_key:
            self.status.emit(f"{Path(self._save_path).name} not saved: the picture changed")
            self._save_path = ""
        if key is None:
            self.runner.stop()
            self._show(None)
            self.info_label.setText("")
            return
        if self.runner.running:  # the picture being made is not wanted any more
            self._again = True
            self.runner.stop()
            return
        if key == self.result_key and self.result is not None:
            self._show(self.result)
            return
        path, _, preserve, side = key
        self._job_key = key
        name = self.model_list.model_name(path)
        self.progress.start(f"Styling with {name}...")
        self.runner.run_callbacks(style_with_model, path, self.content, preserve, side)

    def _on_event(self, event: object) -> None:
        if self._job_key != self._key():
            return  # a picture nobody wants any more (a new one is on its way)
        if isinstance(event, StyledPicture):
            self._show(event)
            height, width = event.image.shape[:2]
            loading = (
                f" (loading the model: {event.load_seconds:.1f} s)"
                if event.load_seconds > 0.05
                else ""
            )
            self.info_label.setText(f"{width}x{height} in {event.seconds:.2f} s{loading}")
            if not event.full:
                self.progress.start("Styling at full size...")
        elif isinstance(event, Progress) and event.total > 1:
            self.progress.update_progress(event)

    def _on_finished(self, result: object) -> None:
        if not isinstance(result, StyledPicture) or self._job_key != self._key():
            return
        self.result, self.result_key = result, self._job_key
        self._show(result)
        height, width = result.image.shape[:2]
        self.progress.finish(f"{width}x{height}: styled by {result.model}")
        self.status.emit(f"Styled with '{result.model}': {width}x{height}")
        if self._save_path and self._save_key == self.result_key:
            path, self._save_path = self._save_path, ""
            self._write(path)

    def _on_failed(self, message: str) -> None:
        self.progress.finish("Failed")
        self._save_path = ""
        self.status.emit(message)
        self.error.emit(message, self.runner.error_details)

    def _on_done(self) -> None:
        self._job_key = None if not self.runner.running else self._job_key
        if self._again:
            self._again = False
            self._render()
        elif not self.runner.error and self.progress.format().endswith("..."):
            self.progress.reset_progress()

    def _show(self, styled: StyledPicture | None) -> None:
        self.shown = styled
        self.preview.set_image(None if styled is None else styled.image)
        self.save_button.setEnabled(styled is not None)

    # ------------------------------------------------------------------ saving

    def metadata(self, styled: StyledPicture) -> dict:
        """The parameters saved in the picture (as ``cnnstudio style --model`` saves)."""
        preserve = self.colors_check.isChecked() or bool(styled.meta.get("preserve_colors"))
        return {
            "job": "style",
            "mode": FAST_MODE,
            "model": styled.model,
            "model_styles": styled.meta.get("styles"),
            "content": self.content_name,
            "preserve_colors": preserve,
            "size": int(self.size_spin.value()),
            "output_size": [int(styled.image.shape[1]), int(styled.image.shape[0])],
        }

    def suggested_name(self) -> str:
        stem = Path(self.content_name or "picture").stem
        return f"{stem}-{self.model_list.model_name() or 'style'}.png"

    def ask_save_path(self) -> str | None:
        """Where to save (replaced in tests)."""
        return dialogs.ask_save_image(self, self.suggested_name(), "Save styled picture")

    def save(self) -> bool:
        """Save the styled picture at full size with its parameters; while it is being
        made, it is saved as soon as it is there."""
        key = self._key()
        if key is None:
            self.status.emit("Nothing to save yet: open a picture and choose a style model")
            return False
        path = self.ask_save_path()
        if not path:
            return False
        if key == self.result_key and self.result is not None:
            return self._write(path)
        self._save_path, self._save_key = path, key
        self.status.emit(f"{Path(path).name} is saved once the full-size picture is made")
        if not self.runner.running:
            self.request()
        return True

    def _write(self, path: str) -> bool:
        from cnnstudio.core import image_saving

        styled = self.result
        try:
            saved = image_saving.save_image(
                path, styled.image, params=self.metadata(styled), overwrite=True
            )
        except (StudioError, OSError) as error:
            message = f"{Path(path).name}: not saved ({error_text(error)})"
            self.status.emit(message)
            self.error.emit(message, "")
            return False
        self.saved_file.emit(str(saved))
        self.status.emit(f"Saved {saved}")
        return True

    def picture(self) -> np.ndarray | None:
        """What Copy takes: the picture shown."""
        return None if self.shown is None else self.shown.image

    # ------------------------------------------------------------------ settings

    def save_settings(self, settings) -> None:
        settings.setValue("fast_use_model", self.model_list.model_name())
        settings.setValue("fast_use_colors", self.colors_check.isChecked())
        settings.setValue("fast_use_size", int(self.size_spin.value()))

    def restore_settings(self, settings) -> None:
        self.colors_check.setChecked(read_bool(settings, "fast_use_colors", False))
        self.size_spin.setValue(read_int(settings, "fast_use_size", 0))
        name = read_str(settings, "fast_use_model", "")
        if name:
            self.model_list.select_name(name)

    def shutdown(self) -> None:
        self._timer.stop()
        self._again = False
        self.runner.shutdown()
