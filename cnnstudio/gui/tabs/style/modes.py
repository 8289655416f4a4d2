"""The Style tab's three modes: "Optimise a picture" (Gatys et al.: the tab's own job),
"Train a fast style model" (:class:`.fast_train.FastTrainPanel`) and "Use a fast style
model" (:class:`.fast_use.FastUsePanel`), switched by a row of buttons at the top.

:class:`StyleModes` is a mixin of :class:`~.tab.StyleTab` (before ImageJobTab in its
bases): it builds the switch and the pages, and routes what the window asks of the tab
(F5, Esc, Ctrl+S, paste, copy, the close question...) to the mode on show. The content
picture is shared by "Optimise" and "Use". A video is painted on the "Optimise" page
(its motion panel: the frame strip, Stop, Save video), by the optimisation or by a style
model ("Paint with", :mod:`.video_painter`); in "Use", Run or "Style every frame" goes
there with the model chosen in "Use" (:meth:`StyleModes.style_every_frame`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from cnnstudio.core.errors import StudioError
from cnnstudio.core.faststyle.params import use_params_from_metadata
from cnnstudio.gui.messages import error_text
from cnnstudio.gui.settings import read_str
from cnnstudio.gui.tabs.style.fast_train import FastTrainPanel
from cnnstudio.gui.tabs.style.fast_use import FAST_MODE, FastUsePanel
from cnnstudio.gui.widgets.image_view import image_paths
from cnnstudio.gui.widgets.library_dialog import show_library

OPTIMISE, TRAIN, USE = "optimise", "train", "use"
MODES = {
    OPTIMISE: (
        "Optimise a picture",
        "styleModeOptimise",
        "Paint the content picture with the style pictures (Gatys et al.): minutes per "
        "picture, any style picture at once",
    ),
    TRAIN: (
        "Train a fast style model",
        "styleModeTrain",
        "Train a network once on a folder of photos for a style (Johnson et al.): then it "
        "styles any picture in a blink",
    ),
    USE: (
        "Use a fast style model",
        "styleModeUse",
        "Style the content picture with a trained style model of the library: one pass",
    ),
}
_BATCH_ONLY = "A batch paints with style pictures: switch to 'Optimise a picture' first"


class StyleModes:
    """The mode switch and the fast style pages of the Style tab (a mixin)."""

    mode = OPTIMISE

    def _build_modes(self) -> None:
        """Put the tab's page (built by ImageJobTab) and the two fast style panels in a
        stack under the mode switch."""
        self.train_panel = FastTrainPanel()
        self.use_panel = FastUsePanel()
        self.mode_stack = QStackedWidget()
        self.mode_stack.setObjectName("styleModeStack")
        layout = self.layout()
        layout.removeWidget(self.splitter)
        for page in (self.splitter, self.train_panel, self.use_panel):
            self.mode_stack.addWidget(page)
        self.mode_buttons: dict[str, QPushButton] = {}
        self._mode_group = QButtonGroup(self)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for key, (text, name, tip) in MODES.items():
            button = QPushButton(text)
            button.setObjectName(name)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setChecked(key == OPTIMISE)
            button.clicked.connect(lambda _checked=False, key=key: self.set_mode(key))
            self._mode_group.addButton(button)
            self.mode_buttons[key] = button
            bar.addWidget(button)
        bar.addStretch(1)
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(bar)
        column.addWidget(self.mode_stack, 1)
        layout.addWidget(page)
        self.painter = self.motion.host.build_painter()  # "Paint with" for a video
        self._connect_modes()

    def _connect_modes(self) -> None:
        train, use = self.train_panel, self.use_panel
        for panel in (train, use):
            panel.status.connect(self.status)
            panel.error.connect(self.show_error)
        train.model_saved.connect(self._style_model_saved)
        use.open_requested.connect(self.open_image)
        use.open_dialog_requested.connect(self._open_content_clicked)
        use.library_requested.connect(self.open_library)
        use.saved_file.connect(self.recent_file)
        use.video_note.requested.connect(self.style_every_frame)

    def set_mode(self, key: str) -> None:
        """Show the mode ``key`` (OPTIMISE, TRAIN or USE)."""
        if key not in MODES:
            return
        self.mode = key
        self.mode_buttons[key].setChecked(True)
        self.mode_stack.setCurrentIndex(list(MODES).index(key))
        if key == USE:
            self.use_panel.refresh_models()
        self.use_panel.set_active(key == USE)
        self.status.emit(MODES[key][0])

    # ------------------------------------------------------------------ the content

    def content_changed(self, image, name: str) -> None:
        """The content picture changed (StyleTab.set_content): "Use" styles it (and says
        when it is a video's first frame)."""
        self.use_panel.set_content(image, name)
        self.use_panel.video_note.set_video(name if self.motion.active() else "")
        self.motion.host.update_estimate()  # the video's time, or the picture's again

    def style_every_frame(self) -> bool:
        """Paint every frame of the open video with the style model chosen in "Use", on
        the "Optimise" page (the frame strip, Stop, Save video); False when it did not
        start (the status line and a message say why)."""
        use = self.use_panel
        name = use.model_list.model_name() if use.model_list.current_path() else ""
        problem = self._every_frame_problem(name)
        if problem:
            self.status.emit(problem)
            self.show_error(problem)
            return False
        self.painter.colors_check.setChecked(use.colors_check.isChecked())
        use.runner.stop()  # the first frame's picture: the video's frames come next
        self.set_mode(OPTIMISE)
        return self.motion.start()

    def _every_frame_problem(self, name: str) -> str:
        """Why every frame cannot be styled with the model ``name`` now ("": it can)."""
        if self.runner.running:
            return f"Stop {self.running_work} before styling every frame of the video"
        if not self.motion.active():
            return "Open a video first (Ctrl+O, or drop one on the content)"
        if not name:
            return "Choose a style model to style every frame of the video with"
        self.painter.refresh()  # "Use" and "Paint with" list the same library
        if not self.painter.choose(name):
            return f"The style model '{name}' is not in the model library any more"
        return ""

    def open_in_mode(self, path: str) -> bool:
        """File > Open image in "Train": the picture becomes a style picture (True);
        in the other modes the content (False: the tab opens it)."""
        if self.mode != TRAIN:
            return False
        self.train_panel.add_style_files([path])
        return True

    def offer_fast_model(self, meta: dict, path: str) -> bool:
        """A picture styled by a style model was opened: offer to use that model again
        (True: the parameters were of that kind, handled here)."""
        if meta.get("mode") != FAST_MODE:
            return False
        use = self.use_panel
        try:  # all checked before any control changes: a restore is all or nothing
            name, size, preserve = use_params_from_metadata(meta, use.size_spin.maximum())
        except StudioError as error:
            self.status.emit(
                f"{Path(path).name}: its saved parameters are not usable ({error_text(error)})"
            )
            return True
        use.refresh_models()
        if name not in use.model_list.names.values():
            self.status.emit(
                f"{Path(path).name} was styled by the style model '{name}', which is not "
                "in the model library"
            )
        elif self.ask_restore_params(path):
            use.colors_check.setChecked(preserve)
            use.size_spin.setValue(size)
            use.model_list.select_name(name)
            self.set_mode(USE)
            self.status.emit(f"Style model '{name}' chosen, as {Path(path).name} was made")
        return True

    # ------------------------------------------------------------------ the window's hooks

    def run_in_mode(self) -> bool:
        """F5: train in "Train", style again in "Use" (every frame of a video: on the
        "Optimise" page) (True); False in "Optimise"."""
        if self.mode == TRAIN:
            self.train_panel.start()
        elif self.mode == USE and self.motion.active():
            self.style_every_frame()
        elif self.mode == USE:
            self.use_panel.request()
        return self.mode != OPTIMISE

    def stop_job(self) -> None:
        if self.mode == TRAIN:
            self.train_panel.stop()
        elif self.mode == USE:
            self.use_panel.runner.stop()
        else:
            super().stop_job()

    def save_result(self) -> None:
        if self.mode == TRAIN:
            self.train_panel.save_to_library()
        elif self.mode == USE:
            self.use_panel.save()
        else:
            super().save_result()

    def has_result(self) -> bool:
        if self.mode == TRAIN:
            return self.train_panel.result is not None
        if self.mode == USE:
            return self.use_panel.shown is not None
        return super().has_result()

    def is_busy(self) -> bool:
        return super().is_busy() or self.train_panel.runner.running or self.use_panel.runner.running

    def copy_picture(self):
        if self.mode == TRAIN:
            return self.train_panel.preview.image()
        if self.mode == USE:
            return self.use_panel.picture()
        return super().copy_picture()

    def paste_paths(self, paths: list[str]) -> None:
        """In "Train": a folder is the photo folder, pictures are style pictures."""
        if self.mode != TRAIN:
            super().paste_paths(paths)
            return
        folders = [p for p in paths if Path(p).is_dir()]
        if folders:
            self.train_panel.set_photo_folder(folders[0])
        elif image_paths(paths):
            self.train_panel.add_style_files(image_paths(paths))
        else:
            self.status.emit(f"{Path(paths[0]).name}: not a picture or a folder of photos")

    def paste_image(self, image) -> None:
        if self.mode == TRAIN:
            self.train_panel.add_style(image, "pasted picture")
            self.status.emit("Style picture: the pasted picture")
        else:
            super().paste_image(image)

    def ask_batch(self, folder: str = "") -> bool:
        if self.mode != OPTIMISE:
            self.status.emit(_BATCH_ONLY)
            return False
        return super().ask_batch(folder)

    def open_library(self) -> None:
        """The window's File > Model library... (so every tab hears of changes)."""
        action = self.window().findChild(QAction, "libraryAction")
        if action is not None:
            action.trigger()
        else:
            show_library(self).library_changed.connect(self.refresh_library)

    def refresh_library(self) -> None:
        """The library changed (the window calls this): list the style models again."""
        self.use_panel.refresh_models()
        self.painter.refresh()

    def _style_model_saved(self, name: str) -> None:
        self.use_panel.refresh_models()
        self.painter.refresh()
        if not self.use_panel.model_list.current_path():
            self.use_panel.model_list.select_name(name)

    # ------------------------------------------------------------------ unsaved work

    def _train_work(self) -> str:
        panel = self.train_panel
        if panel.runner.running:
            return "a fast style model is training; closing stops it (Resume goes on later)"
        if panel.unsaved():
            return "the trained style model is not in the library"
        return ""

    def unsaved_work(self) -> str | None:
        picture = super().unsaved_work()
        train = self._train_work()
        if not train:
            return picture
        if picture:
            return f"{picture.rstrip('.')}; {train}."
        return f"{self.title}: {train}."

    def can_save_work(self) -> bool:
        return super().can_save_work() or self.train_panel.unsaved()

    def save_work(self) -> bool:
        """Save the picture (if it is not saved), then the trained model (asking its name)."""
        if super().unsaved_work() and super().can_save_work():
            self.set_mode(OPTIMISE)
            if not super().save_work():
                return False
        if self.train_panel.unsaved():
            self.set_mode(TRAIN)
            return self.train_panel.save_to_library()
        return True

    # ------------------------------------------------------------------ settings, shutdown

    def save_mode_settings(self, settings) -> None:
        settings.setValue("mode", self.mode)
        self.train_panel.save_settings(settings)
        self.use_panel.save_settings(settings)
        self.painter.save_settings(settings)

    def restore_mode_settings(self, settings) -> None:
        self.train_panel.restore_settings(settings)
        self.use_panel.restore_settings(settings)
        self.painter.restore_settings(settings)
        self.set_mode(read_str(settings, "mode", OPTIMISE))

    def shutdown(self) -> None:
        self.train_panel.shutdown()
        self.use_panel.shutdown()
        super().shutdown()
