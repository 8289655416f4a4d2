"""The Keras callbacks of a run: events out, Stop in, and the files that let it resume.

:class:`EventCallback` forwards batch and epoch logs as events (throttled at the source)
and stops the Keras way, through ``model.stop_training``, when ``should_stop()`` turns
true. The others are the backup (:mod:`.checkpoints`), Keras' best-model checkpoint, CSV log
and TensorBoard, taught one thing: an epoch cut short by Stop is not a finished epoch
(:class:`RunState`).

Imports Keras at its top: imported lazily, by the trainer.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.library import _one_line
from cnnstudio.core.training import checkpoints
from cnnstudio.core.training.checkpoints import BackupPoint
from cnnstudio.core.training.events import BatchEnd, EpochEnd
from cnnstudio.core.training.params import TrainConfig
from cnnstudio.core.training.runs import best_so_far, history_header
from cnnstudio.core.training.trainer import random_state, set_random_state


class RunState:
    """Shared by the callbacks of one run: was the current epoch cut short?"""

    def __init__(self) -> None:
        self.stopped = False
        self.stopped_mid_epoch = False
        #: Stop came during an epoch's validation: the epoch's training is complete and
        #: kept, its validation figures (from part of the set) are not
        self.validation_cut = False
        #: called once the backup (if any) has been restored into the model
        self.on_restored: Callable[[], None] | None = None


class EventCallback(keras.callbacks.Callback):
    """Forwards batch and epoch logs as events (throttled) and stops on request."""

    def __init__(
        self,
        state: RunState,
        on_event: Callable[[object], None],
        should_stop: Callable[[], bool],
        steps: int,
        batch_size: int,
        train_images: int,
        epochs: int,
        initial_epoch: int,
        throttle_seconds: float,
    ) -> None:
        super().__init__()
        self.state, self.on_event, self.should_stop = state, on_event, should_stop
        self.steps, self.batch_size, self.train_images = steps, batch_size, train_images
        self.epochs, self.initial_epoch = epochs, initial_epoch
        self.throttle = throttle_seconds
        self.total_steps = max((epochs - initial_epoch) * steps, 1)
        self.epoch_start = self.last_batch_time = time.perf_counter()
        self.last_emit = 0.0
        self.batches_done = 0
        self.epoch = initial_epoch
        self.epoch_batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_batches = 0
        self.epoch_start = time.perf_counter()

    def on_test_begin(self, logs=None):
        # a cut epoch is not kept (backup, checkpoint, CSV skip it): validating it on
        # the whole validation set would only delay the stop, so one batch will do
        if self.state.stopped_mid_epoch:
            self.model.stop_evaluating = True

    def on_test_batch_end(self, batch, logs=None):
        # Stop pressed while a full epoch validates: do not make the user wait for
        # the rest of the validation set (CIFAR-10's takes seconds on a CPU)
        if not self.state.stopped and self.should_stop():
            self.model.stop_evaluating = True
            self.model.stop_training = True
            self.state.stopped = True
            self.state.validation_cut = True

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.last_batch_time = now
        self.batches_done += 1
        self.epoch_batches = batch + 1
        if self.should_stop():
            self.model.stop_training = True
            self.state.stopped = True
            self.state.stopped_mid_epoch = batch + 1 < self.steps
        # throttle at the source: the GUI costs the run almost nothing
        if now - self.last_emit < self.throttle and batch + 1 < self.steps:
            return
        self.last_emit = now
        logs = logs or {}
        seen = min((batch + 1) * self.batch_size, self.train_images)
        self.on_event(
            BatchEnd(
                epoch=self.epoch + 1,
                epochs=self.epochs,
                batch=batch + 1,
                steps=self.steps,
                loss=float(logs.get("loss", math.nan)),
                accuracy=float(logs.get("accuracy", math.nan)),
                images_per_second=seen / max(now - self.epoch_start, 1e-9),
                global_step=self.batches_done,
                total_steps=self.total_steps,
            )
        )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_seconds = max(self.last_batch_time - self.epoch_start, 1e-9)
        seen = min(self.epoch_batches * self.batch_size, self.train_images)
        val_loss = logs.get("val_loss")
        val_accuracy = logs.get("val_accuracy")
        if self.state.stopped_mid_epoch or self.state.validation_cut:
            val_loss = val_accuracy = None  # from part of the validation set only
        self.on_event(
            EpochEnd(
                epoch=epoch + 1,
                epochs=self.epochs,
                loss=float(logs.get("loss", math.nan)),
                accuracy=float(logs.get("accuracy", math.nan)),
                val_loss=None if val_loss is None else float(val_loss),
                val_accuracy=None if val_accuracy is None else float(val_accuracy),
                images_per_second=seen / train_seconds,
                seconds=time.perf_counter() - self.epoch_start,
                partial=self.state.stopped_mid_epoch,
            )
        )


class Backup(keras.callbacks.Callback):
    """Backs the run up after every finished epoch (:func:`.checkpoints.write_backup`:
    the weights with the optimizer state, and the random state, the previous epoch's
    backup kept as the fallback) and restores ``restore`` when training begins. An epoch
    cut short by Stop is not backed up, so a resumed run repeats it instead of skipping
    its unseen batches."""

    def __init__(self, state: RunState, run_dir: Path, restore: BackupPoint | None) -> None:
        super().__init__()
        self.state, self.run_dir, self.restore = state, run_dir, restore

    def on_train_begin(self, logs=None):
        if self.restore is not None:
            optimizer = self.model.optimizer
            if optimizer is not None and not optimizer.built:
                optimizer.build(self.model.trainable_variables)  # its state is restored too
            try:
                self.model.load_weights(self.restore.weights)
            except (ValueError, KeyError, TypeError, OSError) as error:
                # the backup does not fit this model: one line, and the folder untouched
                raise InputError(
                    f"the backup in {self.restore.weights.parent} does not fit this model "
                    f"({_one_line(str(error))}); it was made with other settings",
                    param="run_dir",
                    remedy=Remedy.OTHER_RUN_FOLDER,
                ) from None
            if self.restore.random_state:
                set_random_state(self.model, self.restore.random_state)
        if self.state.on_restored is not None:
            self.state.on_restored()

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch:
            return
        checkpoints.write_backup(
            self.run_dir,
            epoch + 1,
            lambda path: self.model.save_weights(path, overwrite=True),
            random_state(self.model),
        )


class Checkpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that skips an epoch cut short by Stop (same reason as Backup)
    and one whose validation was cut short (its val_accuracy is not comparable), and
    saves atomically: into a temporary file that replaces the best model when whole."""

    def __init__(self, state: RunState, filepath: str | Path, **kwargs) -> None:
        self.final_path = Path(filepath)
        temp = self.final_path.with_name(f".incoming-{self.final_path.name}")
        super().__init__(filepath=str(temp), **kwargs)
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch or self.state.validation_cut:
            return
        temp = Path(self.filepath)
        temp.unlink(missing_ok=True)  # what a killed save left
        super().on_epoch_end(epoch, logs)
        if temp.exists():
            os.replace(temp, self.final_path)


class CSVLog(keras.callbacks.CSVLogger):
    """CSVLogger that skips an epoch cut short by Stop: the resumed run repeats that
    epoch, which would give it two rows, and its val_accuracy would set the bar that
    the best-model checkpoint must beat on resume (read back from history.csv).

    Each row also records ``wall_time`` (seconds since 1970 at the epoch's end), for
    curves against time; a resumed run keeps the columns its file started with."""

    def __init__(self, state: RunState, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        header = history_header(Path(self.filename))
        self.file_keys = [k for k in header if k != "epoch"] if header else None

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch:
            return
        logs = {**(logs or {}), "wall_time": time.time()}
        if self.state.validation_cut:  # keep the epoch, write "NA" for validation
            logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        if self.keys is None and self.file_keys:
            self.keys = list(self.file_keys)  # rows under the header the file has
        super().on_epoch_end(epoch, logs)


class Board(keras.callbacks.TensorBoard):
    """TensorBoard that skips an epoch cut short by Stop (same reason as CSVLog)."""

    def __init__(self, state: RunState, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        if self.state.stopped_mid_epoch:
            return
        if self.state.validation_cut:
            logs = {k: v for k, v in (logs or {}).items() if not k.startswith("val_")}
        super().on_epoch_end(epoch, logs)


def tensorboard_available() -> bool:
    """TensorBoard logs need the ``tensorboard`` package (``tf.summary`` writes through it)."""
    return importlib.util.find_spec("tensorboard") is not None


def run_callbacks(
    run_dir: Path,
    state: RunState,
    event_callback: Any,
    *,
    restore: BackupPoint | None = None,
    early_stopping: int = 0,
    tensorboard: bool = True,
) -> list[Any]:
    """The callbacks of a run, in the order that matters: the backup is written before
    the epoch event goes out, so whoever sees "epoch N" can rely on its checkpoint."""
    checkpoints = run_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    # The backup holds the latest weights; a full .keras of every epoch would only add
    # save time per epoch, so ModelCheckpoint keeps the best model (beating, on resume,
    # the best of the epochs before).
    callbacks = [
        Backup(state, run_dir, restore),
        Checkpoint(
            state,
            filepath=str(checkpoints / "best.keras"),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=best_so_far(run_dir, "val_accuracy"),
        ),
    ]
    # a CSV log always (readable anywhere); TensorBoard logs when the package is installed
    callbacks.append(CSVLog(state, str(run_dir / "history.csv"), append=True))
    if tensorboard and tensorboard_available():
        callbacks.append(
            Board(state, log_dir=str(run_dir / "logs"), write_graph=False, profile_batch=0)
        )
    if early_stopping > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=early_stopping, restore_best_weights=True
            )
        )
    callbacks.append(event_callback)
    return callbacks


def training_callbacks(
    config: TrainConfig,
    run_dir: Path,
    on_event: Callable[[object], None],
    should_stop: Callable[[], bool],
    train_images: int,
    initial_epoch: int = 0,
    restore: BackupPoint | None = None,
) -> tuple[list[Any], RunState]:
    """Every callback :func:`~.job.train` passes to ``model.fit`` (events, stop, backup,
    checkpoint, logs) for a resolved config, restoring ``restore`` (the backup the run
    resumes from) when training begins; also used by bench/bench_train.py."""
    state = RunState()
    events = EventCallback(
        state,
        on_event,
        should_stop,
        math.ceil(train_images / config.batch_size),
        config.batch_size,
        train_images,
        config.epochs,
        initial_epoch,
        config.throttle_seconds,
    )
    callbacks = run_callbacks(
        run_dir, state, events, restore=restore, early_stopping=config.early_stopping
    )
    return callbacks, state
