"""The Dream tab: DeepDream on a photo or on noise, with a live preview.

:class:`~cnnstudio.gui.tabs.dream.form.DreamForm` holds the controls and maps them to a
:class:`cnnstudio.core.dream.DreamParams`; this tab keeps the picture to dream on, runs
``core.dream.job.dream`` (with a backbone or a library model) on a
:class:`JobRunner`, and keeps, saves and hands on the result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QPushButton, QVBoxLayout, QWidget

from cnnstudio.core.backbones import get_backbone
from cnnstudio.core.dream import params as dream_core
from cnnstudio.core.dream.params import DreamParams
from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.events import Preview, Progress
from cnnstudio.gui.messages import describe, error_text
from cnnstudio.gui.tabs.base import ChannelRef
from cnnstudio.gui.tabs.batch import BatchJob
from cnnstudio.gui.tabs.dream import motion as dream_motion
from cnnstudio.gui.tabs.dream.form import DreamForm
from cnnstudio.gui.tabs.dream.library_model import dream_job
from cnnstudio.gui.tabs.image_job import ImageJobTab
from cnnstudio.gui.tabs.motion import questions
from cnnstudio.gui.tabs.motion.controller import MotionController, MotionSpec
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.workers import JobRunner

_LOAD_HINT = "Open or drop an image or a video (Ctrl+O), or choose 'Noise' to dream from scratch"
_DROP_HINT = "Drop an image or a video here, or press Ctrl+O"
#: where the Send to button hands the dreamed picture: (menu text, tab key, role)
_SEND_TARGETS = (
    ("Classify it", "classify", "dream result"),
    ("Style: use as content", "style", "content"),
    ("Style: use as a style", "style", "style"),
)


class DreamTab(ImageJobTab):
    """DeepDream: the form on the left, the live picture, progress and loss on the right."""

    title = "Dream"
    settings_key = "dream"
    object_prefix = "dream"
    job_name = "Dream"
    made_verb = "dreamed"
    nothing_to_save = "Nothing to save yet: run a dream first"
    running_work = "a dream"
    result_work = "the dreamed picture"
    batch_suffix = "-dream"

    form: DreamForm

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dreamTab")
        self.runner = JobRunner("Dream", self)
        self._source: np.ndarray | None = None  # the picture to dream on (uint8 RGB)
        self._source_name = ""  # its file name, for the saved metadata
        self._source_path: str | None = None  # its file (None: pasted or sent)
        self._result: np.ndarray | None = None
        self._result_params: DreamParams | None = None
        self._result_source = ""
        self._run_params: DreamParams | None = None
        self._run_source = ""
        self._last_preview: Preview | None = None
        self._last_step = 0
        self._stopped_at: int | None = None  # step a stopped dream reached (its result)
        self._run_model: str | None = None  # library model of the running dream
        self._result_model: str | None = None
        self._build_send_button()
        self.motion = MotionController(self, "dream")
        under_preview = QVBoxLayout()
        under_preview.addWidget(self.motion.panel)
        self._build_job_layout(
            DreamForm(),
            button_tips=(
                "Start dreaming (F5)",
                "Stop after the current step (Esc)",
                "Save the picture with its parameters (Ctrl+S)",
            ),
            extra_buttons=(self.send_button,),
            placeholder=None,
            compare_tip="Shows the original while pressed",
            fit_tip="Fit the picture to the view (Ctrl+0; wheel zooms)",
            progress=JobProgress(stage_name="Octave", steps_per_stage=True),
            loss_plot=LossPlot(x_label="step", y_label="loss"),
            under_preview=under_preview,
        )
        self._connect()
        self._update_buttons()

    def _build_send_button(self) -> None:
        """ "Send to": a menu of the tabs that take the dreamed picture. A push button with
        a menu sizes itself for its arrow (a tool button's instant popup arrow is drawn
        over its text, which then reads clipped)."""
        self.send_button = QPushButton("Send to")
        self.send_button.setObjectName("dreamSendButton")
        self.send_button.setToolTip("Hand the dreamed picture to another tab")
        menu = QMenu(self.send_button)
        for text, key, role in _SEND_TARGETS:
            action = menu.addAction(text)
            action.triggered.connect(
                lambda _checked=False, key=key, role=role: self.send_result(key, role)
            )
        self.send_button.setMenu(menu)

    def _connect(self) -> None:
        self._connect_job()
        self.preview.accept_videos = True  # a video dropped: dream every frame of it
        self.preview.video_dropped.connect(self.motion.open_video)
        self.form.zoom_group.toggled.connect(self._zoom_toggled)
        self.form.open_button.clicked.connect(self._open_clicked)
        self.form.status.connect(self.status.emit)
        self.form.failed.connect(self._on_form_failed)
        self.form.library.runner.started.connect(self._update_buttons)
        self.form.library.runner.done.connect(self._update_buttons)
        self.form.layer_table.look_requested.connect(self.look_at_layer)

    def look_at_layer(self, layer: str) -> None:
        """The layer list's "What does LAYER look for?": the feature visualisation view
        on that layer of the network chosen here (a backbone with its weights, or a
        library model's file)."""
        form = self.form
        path = form.library_path()
        if path is not None:
            ref = ChannelRef(path, layer, None, "", form.library.name())
        else:
            backbone = form.backbone()
            ref = ChannelRef(
                backbone, layer, None, form.weights_picker.value(), get_backbone(backbone).label
            )
        self.show_channels.emit(ref)

    def _update_buttons(self) -> None:
        running = self.runner.running
        self.run_button.setEnabled(not running and not self.form.library.runner.running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self.has_result())  # during a run: the picture so far
        self.send_button.setEnabled(self._result is not None and not running)
        self.form.setEnabled(not running)

    def _on_form_failed(self, message: str, details: str) -> None:
        self.status.emit(message)
        self.show_error(message, details)

    def refresh_library(self) -> None:
        """Re-list the library's models (the window calls it when the library changed)."""
        self.form.refresh_library()

    # ------------------------------------------------------------------ images in

    def ask_open_path(self) -> str | None:
        """A picture or a video from a dialog (replaced in tests)."""
        return questions.ask_open_media(self, "Picture or video to dream on")

    def _open_clicked(self) -> None:
        path = self.ask_open_path()
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        """Load ``path`` as the picture to dream on; offer to restore embedded params."""
        if self.runner.running:
            self.status.emit("Stop the dream before opening another image")
            return
        if self.open_motion_file(path):
            return  # a video (or an animated GIF): dreamed frame by frame
        image = self._load_picture(path)
        if image is None or not self._may_replace_result(Path(path).name):
            return
        if not self.motion.may_discard(f"opening {Path(path).name}"):
            return
        self.set_source(image, Path(path).name)
        self._source_path = str(path)
        self.status.emit(f"Opened {Path(path).name} ({image.shape[1]}x{image.shape[0]})")
        self.recent_file.emit(str(path))
        self._offer_params_from(path)

    def _offer_params_from(self, path: str) -> None:
        from cnnstudio.core import images

        try:
            meta = images.read_params(path)
            params = dream_core.params_from_metadata(meta)
        except (StudioError, ValueError, OSError) as error:
            self.status.emit(
                f"{Path(path).name}: its saved parameters are not usable ({error_text(error)})"
            )
            return
        if params is None or not self.ask_restore_params(path):
            return
        model_name = meta.get("model") if isinstance(meta, dict) else None
        if model_name and not self.form.select_library_model(str(model_name)):
            self.status.emit(
                f"{Path(path).name} was dreamed with the library model {model_name}, which "
                "is not in the library; its other parameters were restored"
            )
        elif not model_name and self.form.library_path() is not None:
            self.form.select_backbone(params.backbone)
        self.form.set_params(params)
        self.status.emit(f"Restored the parameters of {Path(path).name}")

    def set_source(self, image: np.ndarray, name: str = "image") -> None:
        """Dream on ``image`` (uint8 RGB) from now on."""
        self.motion.leave_video()  # a picture to dream on, not the video any more
        self._source = np.ascontiguousarray(image)
        self._source_name = name
        self._source_path = None
        self._forget_result()  # its octave line, loss curves and progress go with it
        self.form.from_image.setChecked(True)
        self.form.source_label.setText(f"{name} ({image.shape[1]}x{image.shape[0]})")
        self.preview.set_reference(None)
        self.preview.set_image(self._source)
        self._update_buttons()

    def receive_image(self, image: object, role: str) -> None:
        if isinstance(image, np.ndarray):
            if self.runner.running:
                self.status.emit("Stop the dream before opening another image")
                return
            name = role or "image"
            if not self._may_replace_result(f"the {name}"):
                return
            self.set_source(image, name)
            self.status.emit(f"Dreaming on the {name} ({image.shape[1]}x{image.shape[0]})")
        else:
            super().receive_image(image, role)

    def source_image(self) -> np.ndarray | None:
        return self._source

    # ------------------------------------------------------------------ the job

    def run_job(self) -> None:
        if self.runner.running or self.form.library.runner.running:
            return
        if self.motion.active() or self.zoom_enabled():
            self.motion.start()  # asks what needs asking, then motion_started
            return
        params = self.form.params()
        try:
            dream_core.validate_params(params)
        except InputError as error:
            self.show_error(describe(error))
            return
        noise_size = self.form.noise_size()
        if noise_size is None and self._source is None:
            self.status.emit(_LOAD_HINT)
            self.show_error(_LOAD_HINT)
            return
        image = None if noise_size else self._source
        self._run_params = params
        self._run_source = "noise" if noise_size else self._source_name
        self._reset_for_run(image)
        if noise_size:
            self.preview.set_image(None)
            self.preview.set_placeholder_text("Dreaming from noise...")
        from cnnstudio.core.weights import weights_label

        model_path = self.form.library_path()
        self._run_model = Path(model_path).stem if model_path else None
        if model_path:
            label = f"library model {self._run_model}"
        else:
            label = f"{get_backbone(params.backbone).label}, {weights_label(params.weights)}"
        self._announce_run(label, "Dreaming")
        # model: the library model's file (its preprocessing comes from its sidecar), or
        # None for the backbone of the params
        self.runner.run_generator(dream_job, image, params, noise_size=noise_size, model=model_path)
        self._update_buttons()

    # ------------------------------------------------------------------ motion

    def zoom_enabled(self) -> bool:
        return self.form.zoom_group.isChecked()

    def _zoom_toggled(self, on: bool) -> None:
        if on:
            self.motion.show_panel(video=self.motion.active())
            self._suit_motion()
        elif not self.motion.active() and not self.motion.has_frames():
            self.motion.panel.hide()

    def _suit_motion(self) -> None:
        """A recipe for one picture (5 octaves of 50 steps) on every frame would take
        ages: a preset shown gives way to 'Motion frames'; settings of one's own stay."""
        shown = self.form.preset_combo.current_preset()
        if shown and shown != "motion":
            self.form.apply_preset("motion")
            self.status.emit(
                "Each frame is dreamed with the preset 'Motion frames' (1 octave, 10 steps); "
                "choose another preset to dream each frame longer"
            )

    def motion_spec(self, video) -> MotionSpec | None:
        return dream_motion.motion_spec(self, video)

    def motion_started(self, spec: MotionSpec) -> None:
        """The motion job is about to run: forget the last result, say what runs."""
        self._run_params = self.form.params()
        self._run_source = spec.label
        self._run_model = None
        reference = self.motion.video.first if self.motion.active() else self._source
        self._reset_for_run(reference)
        self._announce_run(spec.label, "Dreaming")

    def use_smaller_size(self, side: int) -> None:
        """The smaller size offered before a long job: the video's frames, or the
        zoom's picture."""
        if self.motion.active():
            self.motion.panel.size_spin.setValue(side)
        else:
            self.form.max_size_spin.setValue(side)

    def use_zoom_frames(self, frames: int) -> None:
        """The frame count offered before a long zoom: the zoom's Frames box."""
        self.form.zoom_group.frames_spin.setValue(frames)

    def video_opened(self, opened) -> None:
        """Dream every frame of this video from now on."""
        self._forget_result()
        self.form.from_image.setChecked(True)
        info = opened.info
        self.form.source_label.setText(f"{info.name} (video, {info.frames} frames)")
        self.preview.set_reference(None)
        self.preview.set_image(opened.first)
        self._suit_motion()
        self._update_buttons()

    def video_closed(self) -> None:
        if self._source is not None:
            self.form.source_label.setText(
                f"{self._source_name} ({self._source.shape[1]}x{self._source.shape[0]})"
            )
            self.preview.set_image(self._source)
        else:
            self.form.source_label.setText("No image yet")
            self.preview.set_image(None)

    def source_path(self) -> str | None:
        return self._source_path

    def source_name(self) -> str:
        return self._source_name

    def device_changed(self, info: object) -> None:
        self.motion.device_changed(info)

    def batch_job(self) -> BatchJob | None:
        """Each picture of a batch dreamed with the form's parameters (and network)."""
        params = self.form.params()
        try:
            dream_core.validate_params(params)
        except InputError as error:
            self.show_error(describe(error))
            return None
        model_path = self.form.library_path()
        model_name = Path(model_path).stem if model_path else None
        self._run_params = params

        def job(image: np.ndarray, _item: object):
            return dream_job(image, params, model=model_path)

        def metadata(item, result: np.ndarray) -> dict:
            return dream_core.dream_metadata(
                params,
                source=item.source.name,
                size=(result.shape[1], result.shape[0]),
                model_name=model_name,
            )

        return BatchJob(job, metadata, params.max_size, self.batch_suffix)

    def _on_step(self, event: Progress) -> None:
        self.loss_plot.add_point("loss", event.step, event.loss)
        if len(event.terms) > 1:
            for name, value in event.terms.items():
                self.loss_plot.add_point(name, event.step, value)

    def _keep_result(self, image: np.ndarray, stopped_at: int | None) -> None:
        self._result = image
        self._result_params = self._run_params
        self._result_source = self._run_source
        self._result_model = self._run_model
        self._stopped_at = stopped_at
        self.preview.set_image(image)
        self.preview.set_placeholder_text(_DROP_HINT)

    def _result_untrained(self) -> bool:
        from cnnstudio.core.weights import is_untrained

        return (
            self._result_params is not None
            and self._result_model is None
            and is_untrained(self._result_params.weights)
        )

    def _on_failed(self, message: str) -> None:
        self.preview.set_placeholder_text(_DROP_HINT)
        super()._on_failed(message)

    # ------------------------------------------------------------------ results out

    def send_result(self, tab_key: str, role: str) -> None:
        """Hand the dreamed picture to another tab (the window routes it)."""
        if self._result is not None:
            self.send_image.emit(tab_key, self._result.copy(), role)

    def ask_save_path(self) -> str | None:
        """Where to save (replaced in tests). QFileDialog asks before replacing a file."""
        return dialogs.ask_save_image(self, self.suggested_name(), "Save dream")

    def suggested_name(self) -> str:
        """``photo-dream.png``; during a run ``photo-dream-step120.png``."""
        if self.runner.running and self._last_preview is not None:
            stem = Path(self._run_source or "dream").stem
            return f"{stem}-dream-step{self._last_preview.step}.png"
        return f"{Path(self._result_source or 'dream').stem}-dream.png"

    def _picture_to_save(self) -> tuple[np.ndarray, dict] | None:
        """The result, or during a run the latest preview (labelled with its step)."""
        if self.runner.running:
            if self._last_preview is None or self._run_params is None:
                return None
            picture, params = self._last_preview.image, self._run_params
            source, model = self._run_source, self._run_model
        elif self._result is None or self._result_params is None:
            return None
        else:
            picture, params = self._result, self._result_params
            source, model = self._result_source, self._result_model
        height, width = picture.shape[:2]
        meta = dream_core.dream_metadata(
            params, source=source or None, size=(width, height), model_name=model
        )
        if self.runner.running:
            meta["preview_step"] = int(self._last_preview.step)
            meta["preview_of_steps"] = int(self._last_preview.total)
        elif self._stopped_at is not None:
            meta["stopped_at_step"] = int(self._stopped_at)
        return picture, meta

    # ------------------------------------------------------------------ settings, shutdown

    def save_settings(self, settings: QSettings) -> None:
        self.form.save_settings(settings)
        self.form.zoom_group.save_settings(settings)
        self.motion.panel.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.form.restore_settings(settings)
        self.form.zoom_group.restore_settings(settings)
        self.motion.panel.restore_settings(settings)

    def shutdown(self) -> None:
        super().shutdown()
        self.form.library.runner.shutdown()
