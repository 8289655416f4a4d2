"""The training job that the Train tab and ``cnnstudio train`` drive.

:func:`train` is a callback job (docs/ARCHITECTURE.md): it calls ``on_event`` with the
small frozen events of :mod:`.events` and :class:`~cnnstudio.core.events.Notice`, and
stops the Keras way, through ``model.stop_training``, when ``should_stop()`` is true.
It checkpoints into the run folder (:mod:`.runs`) every epoch, so :func:`resume` -- or
:func:`train` with the same folder -- continues a stopped or killed run.

This module imports no TensorFlow: the GUI imports it at start-up and runs :func:`train`
on a worker, which imports the TensorFlow side (:mod:`.trainer`, :mod:`.callbacks`,
:mod:`.evaluation`) when the job starts.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import multiprocessing
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnstudio.core import files
from cnnstudio.core.device import configure_devices
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice
from cnnstudio.core.training.checkpoints import choose_backup
from cnnstudio.core.training.cluster import Cluster, worker_lost
from cnnstudio.core.training.datasets import Dataset
from cnnstudio.core.training.events import EpochEnd, RunStarted, TrainingDone, TrainResult
from cnnstudio.core.training.lock import RunLock, pid_alive
from cnnstudio.core.training.params import TrainConfig, get_recipe
from cnnstudio.core.training.runs import (
    CONFIG_FILE,
    HISTORY_FILE,
    best_so_far,
    check_run_folder,
    completed_epochs,
    load_run_config,
    new_run_dir,
    trim_history,
)
from cnnstudio.core.training.status import STATUS_FILE, StatusWriter, read_status
from cnnstudio.core.weights import weights_label


def train(
    config: TrainConfig,
    *,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    cluster: Cluster | None = None,
) -> TrainResult | None:
    """Train, checkpointing into the run folder; resume if that folder has a backup.

    ``on_event`` receives DownloadProgress (a transfer run whose ImageNet weights are
    being downloaded first), RunStarted, BatchEnd (throttled), EpochEnd, Notice, Testing
    and finally TrainingDone; ``should_stop()`` is polled after every batch (and download
    chunk). Returns None only when stopped during the weights download, before any
    model existed.

    The run folder is locked for the run (a second trainer is refused:
    :class:`~.lock.RunFolderBusyError`) and its ``status.json`` kept current.
    With a ``cluster`` of several workers this process is one of them: the chief trains
    in the run folder, the others in a scratch folder they delete; ``should_stop`` is not
    polled then (a worker cannot stop alone: the others would wait for it)."""
    configure_devices()
    on_event = on_event or (lambda event: None)
    several = cluster if cluster is not None and cluster.size > 1 else None
    if several is not None:
        should_stop = None
    should_stop = should_stop or (lambda: False)
    config = config.resolved()
    chief = several is None or several.is_chief
    if chief:
        run_dir = (
            Path(config.run_dir) if config.run_dir else new_run_dir(config.recipe, config.data)
        )
    else:  # the TF multi-worker tutorial's pattern: every worker writes, only the chief keeps
        run_dir = scratch_folder(several.index)
    config.run_dir = str(run_dir)
    lock = RunLock(run_dir)
    try:
        return _train(config, run_dir, lock, several, on_event, should_stop)
    except Exception as error:
        # a worker lost before training began (while agreeing where to start, say)
        if several is not None and _is_collective_failure(error):
            raise worker_lost(several, error, None) from None
        raise
    finally:
        lock.release()
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)


def scratch_folder(index: int) -> Path:
    """A new scratch folder for a worker that is not the chief, after removing those
    that workers killed on this machine left behind (their pid is in the name)."""
    prefix = "cnnstudio-worker"
    for old in Path(tempfile.gettempdir()).glob(f"{prefix}*-*-*"):
        parts = old.name.split("-")
        if len(parts) >= 4 and parts[2].isdigit() and not pid_alive(int(parts[2])):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{index}-{os.getpid()}-"))


def _take(lock: RunLock, on_event: Callable[[object], None]) -> None:
    if lock.held:
        return
    lock.acquire()
    # Keras' CSVLogger opens history.csv for appending: a FIFO there blocked for ever
    files.check_run_files(lock.run_dir, (CONFIG_FILE, HISTORY_FILE, STATUS_FILE))
    if lock.took_over is not None:
        on_event(
            Notice(
                f"took over the lock of {lock.run_dir.name} left by "
                f"{lock.took_over.describe()}, which is no longer running"
            )
        )


def _train(
    config: TrainConfig,
    run_dir: Path,
    lock: RunLock,
    cluster: Cluster | None,
    on_event: Callable[[object], None],
    should_stop: Callable[[], bool],
) -> TrainResult | None:
    # the TensorFlow side, imported when a run starts (on the GUI's worker thread)
    from cnnstudio.core.training import callbacks, evaluation, recipes, trainer

    chief = cluster is None or cluster.is_chief
    # a reused folder must have been made with these settings and be free; checked
    # before anything is loaded or written, and config.json is only (re)written once the
    # backup has been restored into the new model, so a refused run leaves the folder
    # as it was
    if chief and run_dir.exists():
        _take(lock, on_event)
    stored = check_run_folder(run_dir, config) if chief else None
    if not trainer.fetch_weights(config, on_event, should_stop):
        # stopped while the weights were downloading: there is no model to test or keep
        on_event(Notice("stopped during the weights download: nothing was trained"))
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    if chief:
        _take(lock, on_event)
    dataset = trainer.load_data(config, on_event)
    restore, backup_notes = None, []
    if chief:
        check_run_folder(run_dir, config, dataset.num_classes)
        restore, backup_notes = choose_backup(run_dir)
    initial_epoch = min(restore.epoch, config.epochs) if restore else 0
    strategy = None
    if cluster is not None:
        from cnnstudio.core.training import multiworker

        strategy = multiworker.start(cluster, on_event)
        initial_epoch = multiworker.agree_on_epoch(strategy, initial_epoch)
    model, pipelines = trainer.build(config, dataset, first_epoch=initial_epoch, strategy=strategy)
    if cluster is not None:
        multiworker.mend_keras(model)

    def write_config() -> None:
        settings = {**config.to_dict(), "num_classes": dataset.num_classes}
        files.write_bytes(
            run_dir / CONFIG_FILE, json.dumps(settings, indent=2).encode(), overwrite=True
        )

    session = _Session(run_dir, config, dataset, cluster, initial_epoch, on_event)
    if stored is None:  # a new folder: nothing to damage, and a kill -9 can resume it
        write_config()
        if chief:
            session.begin()  # listed as running at once
    for path, reason in dataset.skipped:
        on_event(Notice(f"skipped unreadable file {path}: {reason}"))
    on_event(
        RunStarted(
            run_dir=str(run_dir),
            summary=recipes.model_summary(model),
            dataset_summary=dataset.summary(),
            class_names=tuple(dataset.class_names),
            train_images=len(dataset.x_train),
            steps_per_epoch=pipelines["steps_per_epoch"],
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            trainable_params=recipes.trainable_params(model),
        )
    )
    if not callbacks.tensorboard_available():
        on_event(
            Notice(
                "TensorBoard logs are off: install the tensorboard package to get them; "
                f"the epoch history is in {run_dir / 'history.csv'}"
            )
        )
    for note in backup_notes:
        on_event(Notice(note))
    if initial_epoch:
        name = run_dir.name if chief else "the chief's run"
        on_event(Notice(f"resuming {name} after epoch {initial_epoch}"))

    fit_callbacks, state = callbacks.training_callbacks(
        config,
        run_dir,
        session.on_event,
        should_stop,
        len(dataset.x_train),
        initial_epoch,
        restore,
    )
    if cluster is not None and initial_epoch:  # right after the chief's restore
        fit_callbacks.insert(1, multiworker.SyncFromChief())

    def begin() -> None:  # the backup is restored: the folder is this run's now
        if chief:
            write_config()
            session.begin()

    state.on_restored = begin
    history: dict[str, list[float]] = {}
    try:
        if not should_stop():
            fitted = model.fit(
                pipelines["train"],
                validation_data=pipelines["val"],
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=pipelines["steps_per_epoch"],
                callbacks=fit_callbacks,
                shuffle=False,  # the stream is shuffled, epoch by epoch
                verbose=0,
            )
            history = {k: [float(v) for v in vals] for k, vals in fitted.history.items()}
        else:
            state.stopped = True
            begin()
        epochs_completed = completed_epochs(run_dir)
        done = evaluation.evaluate_run(
            model,
            dataset,
            pipelines,
            config,
            stopped=state.stopped,
            epochs_completed=epochs_completed,
            run_dir=run_dir,
            on_event=on_event,
            should_stop=should_stop,
        )
    except BaseException as error:
        translated = session.failed(error)
        if translated is None:
            raise
        raise translated from None
    session.finish("stopped" if state.stopped else "finished", done)
    on_event(done)
    preprocessing = recipes.preprocessing_for(config.recipe, config.backbone)
    meta = library_meta(config, dataset, done, history, preprocessing)
    return TrainResult(model=model, meta=meta, done=done, history=history, config=config)


#: where the window's runs leave their models for Save to library (model_to_file)
UNSAVED_FOLDER = "unsaved-models"


def model_to_file(result: TrainResult | None) -> TrainResult | None:
    """The result as another process can take it: the model as the session ended saved
    (with its library sidecar, as one pair) into the app's own folder for unsaved models,
    named for the window (the process that started this one, on this host) and the run,
    not kept in memory. The window trains in a process of its own
    (:mod:`cnnstudio.core.child_process`) and copies this file to the library on Save; it
    is not in the run folder, so renaming or deleting the run does not take it away. A
    save that fails (a full disk) is said in ``model_error``; the run itself is not
    failed by it."""
    if result is None or result.model is None:
        return result
    from cnnstudio.core import library, paths

    try:
        folder = paths.data_dir() / UNSAVED_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        _sweep_unsaved(folder)
        path = folder / f"{_window_tag()}~{Path(result.done.run_dir).name}.keras"
        library.save_model_files(result.model, path, result.meta, overwrite=True, param=None)
    except Exception as error:  # noqa: BLE001 - said when the user presses Save
        return dataclasses.replace(result, model=None, model_error=str(error))
    return dataclasses.replace(result, model=None, model_path=str(path))


def _window_tag() -> str:
    """``<pid>@<host>`` of the window: the process that started this one (its id at the
    start, not whoever adopts this process if the window dies)."""
    parent = multiprocessing.parent_process()
    pid = parent.pid if parent is not None else os.getpid()
    return f"{pid}@{socket.gethostname()}"


def _sweep_unsaved(folder: Path) -> None:
    """Unsaved models of windows that are gone: of this host (a data folder on a shared
    home serves several machines), whose process is no longer running."""
    here = socket.gethostname()
    for old in folder.glob("*~*.keras"):
        window, _, host = old.name.partition("~")[0].partition("@")
        if host == here and window.isdigit() and not pid_alive(int(window)):
            try:
                discard_model_file(str(old))
            except OSError:
                pass  # best effort: it is tried again at the next run's end


def discard_model_file(path: str) -> None:
    """Remove an unsaved model and its sidecar (a new run's result replaces it, or the
    window closes)."""
    if path:
        from cnnstudio.core.model_pair import sidecar_path

        for file in (Path(path), sidecar_path(path)):
            file.unlink(missing_ok=True)


class _Session:
    """The run folder's side of one training session: ``status.json`` (with its
    heartbeat) and history.csv kept in step with the backup; errors in words."""

    def __init__(
        self,
        run_dir: Path,
        config: TrainConfig,
        dataset: Dataset,
        cluster: Cluster | None,
        initial_epoch: int,
        on_event: Callable[[object], None],
    ) -> None:
        self.run_dir, self.config, self.dataset = run_dir, config, dataset
        self.cluster, self.initial_epoch = cluster, initial_epoch
        self.forward = on_event
        self.status: StatusWriter | None = None
        self.epochs_completed = initial_epoch

    def begin(self) -> None:
        if self.status is not None:
            return
        if self.initial_epoch:  # rows of epochs the run does again go
            trim_history(self.run_dir, self.initial_epoch)
        previous = None
        if (self.run_dir / STATUS_FILE).exists():
            try:
                previous = read_status(self.run_dir)
            except InputError:
                previous = None
        fields = {
            "recipe": self.config.recipe,
            "dataset": self.dataset.name,
            "epochs": self.config.epochs,
            "epochs_completed": self.initial_epoch,
            "best_val_accuracy": best_so_far(self.run_dir, "val_accuracy"),
            "workers": self.cluster.size if self.cluster else 1,
            "params": self.config.hyperparameters(),
            # for curves against training steps (the runs browser)
            "train_images": len(self.dataset.x_train),
            "steps_per_epoch": math.ceil(len(self.dataset.x_train) / self.config.batch_size),
        }
        self.status = StatusWriter(self.run_dir, fields, previous)
        self.status.start()

    def on_event(self, event: object) -> None:
        if isinstance(event, EpochEnd) and not event.partial:
            self.epochs_completed = event.epoch
            if self.status is not None:
                best = best_so_far(self.run_dir, "val_accuracy")
                self.status.update(epochs_completed=event.epoch, best_val_accuracy=best)
        self.forward(event)

    def finish(self, state: str, done: TrainingDone) -> None:
        if self.status is None:
            return
        self.status.finish(
            state,
            epochs_completed=done.epochs_completed,
            test_accuracy=_number(done.test_accuracy),
            test_loss=_number(done.test_loss),
            test_is_validation=done.test_is_validation,
        )

    def failed(self, error: BaseException) -> Exception | None:
        """Record how the session ended and return the error in words (None: as it is)."""
        translated: Exception | None = None
        if self.cluster is not None and _is_collective_failure(error):
            translated = worker_lost(self.cluster, error, self.epochs_completed)
        elif files.disk_full(error) is not None:
            translated = files.write_error(self.run_dir, files.disk_full(error), "run_dir")
        if self.status is not None:
            if isinstance(error, KeyboardInterrupt):
                self.status.finish("stopped", note="interrupted")
            else:
                text = str(translated or error).strip().splitlines()
                self.status.finish(
                    "crashed", error=(text[0] if text else type(error).__name__)[:300]
                )
        return translated


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _is_collective_failure(error: BaseException) -> bool:
    from cnnstudio.core.training.multiworker import FAILURES

    return isinstance(error, FAILURES)


def library_meta(
    config: TrainConfig,
    dataset: Dataset,
    done: TrainingDone,
    history: dict[str, list[float]],
    preprocessing: str,
) -> dict[str, Any]:
    """The library sidecar of a trained model (what Classify and Dream read back);
    ``preprocessing``: "none" or the backbone whose preprocessing its inputs need."""
    meta: dict[str, Any] = {
        "recipe": config.recipe,
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "input_size": [config.image_size, config.image_size],
        "channels": get_recipe(config.recipe).channels,
        "preprocessing": preprocessing,
        "metrics": {
            "test_accuracy": done.test_accuracy,
            "test_loss": done.test_loss,
            "epochs": done.epochs_completed,
            **({k: v[-1] for k, v in history.items() if v}),
        },
        "run_dir": done.run_dir,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    if config.recipe == "transfer":
        meta["backbone"] = config.backbone
        meta["weights"] = weights_label(config.weights)
        meta["fine_tune"] = config.fine_tune
    return meta


def resume(
    run_dir: str | Path,
    *,
    epochs: int = 0,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult | None:
    """Continue a run from its folder (its config.json and last finished epoch);
    ``epochs`` > 0 changes the total number of epochs."""
    config = load_run_config(run_dir)
    if epochs:
        config.epochs = epochs
    return train(config, on_event=on_event, should_stop=should_stop)
