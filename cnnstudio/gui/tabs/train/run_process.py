"""The Train tab's side of training in a process of its own (a mixin of TrainTab).

The tab's runs train in a child process (:mod:`cnnstudio.core.child_process`): building
a training graph holds the interpreter lock for long stretches, which in the window's
process froze the window as every run started. Two things follow, kept here:

- a *spare* process is started once the tab has been in view, and again after each run,
  so that Start does not wait seconds for a new process to import TensorFlow;
- the trained model does not come back in memory: the run's process leaves it as a
  file in the app's folder for unsaved models (:func:`~cnnstudio.core.training.job.
  model_to_file`), which Save to library copies and a new run or the window's closing
  removes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cnnstudio.core import child_process
from cnnstudio.core.errors import InputError
from cnnstudio.core.training import events, job
from cnnstudio.gui.messages import error_text

log = logging.getLogger(__name__)


class RunProcess:
    """Uses the tab's ``runner``, ``_result``, ``_closing``, ``_force_stopped``,
    ``ask_model_name``,
    ``show_error``, ``status`` and ``_update_buttons``."""

    def result(self) -> events.TrainResult | None:
        """The last run's model and sidecar (also after Stop)."""
        return self._result

    def save_to_library(self) -> None:
        """Save the last trained model into the model library under a name the user gives."""
        if self._result is None or self.runner.running:
            return
        meta = self._result.meta
        suggested = f"{meta.get('recipe', 'model')}-{Path(str(meta.get('dataset', 'data'))).stem}"
        name = self.ask_model_name(suggested)
        if not name:
            return
        from cnnstudio.core import library

        try:
            if self._result.model is not None:
                entry = library.save_to_library(self._result.model, name, meta)
            else:  # trained in its own process: the model it left for us
                entry = library.copy_to_library(self._unsaved_model_path(), name, meta)
        except Exception as error:  # noqa: BLE001 - a full disk, a read-only folder...
            self.show_error(f"Could not save the model to the library: {error_text(error)}")
            return
        self._saved_entry_name = entry.name
        self.status.emit(f"Saved '{entry.name}' to the model library ({entry.path})")
        self._update_buttons()

    def has_result(self) -> bool:
        return self._result is not None and not self.runner.running

    def save_result(self) -> None:
        """File > Save result: Save to library."""
        self.save_to_library()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.prepare_process()

    def prepare_process(self) -> None:
        """Start the process the next run will train in, while the user chooses what to
        train (it imports TensorFlow meanwhile): once the tab has been in view, when idle
        and wanted (``CNNSTUDIO_SPARE_PROCESS=0`` turns it off). Not after a training
        process was killed but by Force stop (memory may be short), nor once the window
        closes. A spare is
        only a head start: when one cannot be started, Start starts a process itself."""
        if (
            self._closing
            or not child_process.spares_wanted()
            or not self.isVisible()
            or self.runner.running
            or (
                isinstance(self.runner.error, child_process.ProcessEndedError)
                and not self._force_stopped
            )
        ):
            return
        try:
            child_process.prepare_spare()
        except Exception:  # noqa: BLE001 - no file descriptors, no memory: Start will say
            log.warning("could not start a process ahead for training", exc_info=True)

    def _unsaved_model_path(self) -> str:
        """The trained model the run's process left for Save, or an InputError saying
        why there is none (it could not be written, or it was removed since)."""
        result = self._result
        best = "checkpoints/best.keras in the run folder holds its best epoch"
        if result.model_error:
            raise InputError(
                f"the model could not be kept when the run ended ({result.model_error}); {best}"
            )
        if not Path(result.model_path).is_file():
            raise InputError(f"the trained model {result.model_path} was removed since; {best}")
        return result.model_path

    def _forget_result(self) -> None:
        """The last run's result goes (a new run, or the window closes): with it, the
        model file its process left for Save."""
        if self._result is not None and self._result.model is None:
            job.discard_model_file(self._result.model_path)
        self._result = None
