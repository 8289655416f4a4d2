"""Training: ``model.fit`` with callbacks that stream events, stop, checkpoint and resume.

:func:`train` is a callback job (docs/ARCHITECTURE.md): it calls ``on_event`` with small
frozen events (:class:`RunStarted`, :class:`BatchEnd` -- throttled at the source --,
:class:`EpochEnd`, :class:`TrainingDone`, :class:`~cnnstudio.core.events.Notice`) and
stops the Keras way, through ``model.stop_training``, when ``should_stop()`` is true.

Every run has a folder (``paths.runs_dir()/<recipe>-<data>-<time>`` unless given):
``config.json`` (the settings, so a run can be resumed from its folder alone),
``backup/`` (Keras ``BackupAndRestore``: a run killed mid-way continues from its last
finished epoch when started again with the same folder), ``checkpoints/best.keras``
(``ModelCheckpoint``: the model of the best validation accuracy so far), ``history.csv``
(one line per epoch) and ``logs/`` (TensorBoard, when the package is installed).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import paths
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice
from cnnstudio.core.training import datasets as data_mod
from cnnstudio.core.training import recipes

SCHEDULES = ("constant", "exponential", "cosine")
#: how many sample predictions and misclassified examples TrainingDone carries
SAMPLE_COUNT = 6  # the cookbook plots six
MISCLASSIFIED_COUNT = 24
#: after a Stop the model is tested on at most this many examples, so stopping is quick
STOPPED_TEST_LIMIT = 1000


@dataclass
class TrainConfig:
    """Everything a run needs; stored as ``config.json`` in the run folder."""

    recipe: str = "lenet5"
    data: str = ""  # mnist | cifar10 | FILE.npz | FOLDER; "" = the recipe's dataset
    epochs: int = 0  # 0 = the recipe's default
    batch_size: int = 0  # 0 = the recipe's default
    learning_rate: float = 0.0  # 0 = the recipe's default
    schedule: str = "constant"  # constant | exponential (x0.9 per epoch) | cosine
    early_stopping: int = 0  # patience in epochs on val_loss; 0 = off
    image_size: int = 0  # square input size; 0 = the recipe's default
    val_split: float = 0.1
    augment: bool | None = None  # None = the recipe's default
    augment_crop: bool = True
    augment_flip: bool = True
    augment_brightness: float = 0.1
    augment_contrast: bool = True
    backbone: str = "inception_v3"
    weights: str = "imagenet"
    fine_tune: int = 0
    run_dir: str = ""  # "" = a new folder under paths.runs_dir()
    seed: int = 0
    limit: int = 0  # use at most this many training images; 0 = all
    throttle_seconds: float = 0.1  # BatchEnd events at most this often

    def resolved(self) -> TrainConfig:
        """A copy with the recipe's defaults filled in and values checked."""
        spec = recipes.get_recipe(self.recipe)
        config = dataclasses.replace(
            self,
            data=self.data or spec.default_dataset,
            epochs=self.epochs or spec.epochs,
            batch_size=self.batch_size or spec.batch_size,
            learning_rate=self.learning_rate or spec.learning_rate,
            image_size=self.image_size or spec.image_size,
            augment=spec.augment if self.augment is None else self.augment,
        )
        if config.epochs < 1:
            raise InputError(f"epochs must be at least 1, not {config.epochs}")
        if config.batch_size < 1:
            raise InputError(f"batch size must be at least 1, not {config.batch_size}")
        if not config.learning_rate > 0:
            raise InputError(f"learning rate must be positive, not {config.learning_rate}")
        if config.schedule not in SCHEDULES:
            raise InputError(
                f"unknown schedule '{config.schedule}': choose from {', '.join(SCHEDULES)}"
            )
        if config.fine_tune < 0:
            raise InputError(f"fine-tune layer count must be >= 0, not {config.fine_tune}")
        return config

    def augment_options(self) -> data_mod.Augment | None:
        if not self.augment:
            return None
        return data_mod.Augment(
            crop=self.augment_crop,
            flip=self.augment_flip,
            brightness=self.augment_brightness,
            contrast=(0.5, 0.8) if self.augment_contrast else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class RunStarted:
    """The data is loaded and the model built; training is about to start."""

    run_dir: str
    summary: str  # the model summary text (layers, shapes, parameters)
    dataset_summary: str
    class_names: tuple[str, ...]
    train_images: int
    steps_per_epoch: int
    epochs: int
    initial_epoch: int  # epochs already done (> 0 when resuming)
    trainable_params: int


@dataclass(frozen=True)
class BatchEnd:
    """A training batch finished (throttled: at most every ``throttle_seconds``)."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based within the epoch
    steps: int  # batches per epoch
    loss: float
    accuracy: float
    images_per_second: float
    eta_seconds: float  # for the whole run
    global_step: int  # batches done in this session (from 1)
    total_steps: int  # batches this session will run


@dataclass(frozen=True)
class EpochEnd:
    """An epoch finished (``partial``: it was cut short by a stop)."""

    epoch: int  # 1-based
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    images_per_second: float
    seconds: float
    eta_seconds: float
    partial: bool = False


@dataclass(frozen=True, eq=False)
class SamplePrediction:
    image: np.ndarray  # uint8 RGB (H, W, 3)
    actual: str
    predicted: str
    confidence: float


@dataclass(frozen=True, eq=False)
class TrainingDone:
    """The run ended (finished, stopped or early-stopped) and was evaluated on the test set."""

    test_loss: float
    test_accuracy: float
    confusion: np.ndarray  # (classes, classes): rows actual, columns predicted
    per_class_accuracy: tuple[float, ...]
    class_names: tuple[str, ...]
    samples: tuple[SamplePrediction, ...]
    misclassified: tuple[SamplePrediction, ...]
    epochs_completed: int
    stopped: bool
    run_dir: str
    test_is_validation: bool = False
    test_examples: int = 0  # how many test examples were evaluated
    test_total: int = 0  # how many the test set has (more when the test was cut short)


@dataclass(frozen=True)
class Testing:
    """Progress of the test-set evaluation after training (throttled like BatchEnd)."""

    batch: int  # 1-based
    batches: int
    images: int  # examples predicted so far
    total_images: int


@dataclass
class TrainResult:
    """What :func:`train` returns: the model, its library sidecar and the final event."""

    model: Any
    meta: dict[str, Any]
    done: TrainingDone
    history: dict[str, list[float]] = field(default_factory=dict)
    config: TrainConfig | None = None


def format_epoch(event: EpochEnd) -> str:
    """One line per epoch (the CLI prints it)."""
    text = (
        f"epoch {event.epoch}/{event.epochs}: loss {event.loss:.4f} accuracy {event.accuracy:.4f}"
    )
    if event.val_loss is not None:
        text += f" val_loss {event.val_loss:.4f} val_accuracy {(event.val_accuracy or 0):.4f}"
    text += f" {event.images_per_second:.0f} images/s {event.seconds:.1f}s"
    if event.partial:
        text += " (stopped mid-epoch)"
    return text


# ----------------------------------------------------------------------------- devices


def strategy_kind(gpu_names: Sequence[str]) -> str:
    """ "mirrored" with more than one GPU (tf.distribute.MirroredStrategy), else "default"."""
    return "mirrored" if len(gpu_names) > 1 else "default"


def make_strategy(gpu_names: Sequence[str] | None = None) -> Any:
    """The distribution strategy for the visible GPUs (or the given device names)."""
    import tensorflow as tf

    if gpu_names is None:
        gpu_names = [d.name for d in tf.config.list_logical_devices("GPU")]
    if strategy_kind(gpu_names) == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(gpu_names))
    return tf.distribute.get_strategy()


# ----------------------------------------------------------------------------- run folder


def new_run_dir(recipe: str, data: str) -> Path:
    stem = Path(data).stem if data not in data_mod.BUILTIN_DATASETS else data
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{recipe}-{stem}")
    path = paths.runs_dir() / f"{safe}-{stamp}"
    counter = 2
    while path.exists():
        path = paths.runs_dir() / f"{safe}-{stamp}-{counter}"
        counter += 1
    return path


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The settings a run folder was started with (to resume it)."""
    path = Path(run_dir) / "config.json"
    try:
        config = TrainConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise InputError(
            f"{run_dir} is not a training run folder (no readable config.json): {error}"
        ) from None
    config.run_dir = str(run_dir)
    return config


def _same_data(a: str, b: str) -> bool:
    """Two dataset settings name the same data (a file or folder in any spelling)."""
    if a == b:
        return True
    if a in data_mod.BUILTIN_DATASETS or b in data_mod.BUILTIN_DATASETS:
        return False
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _describe_run(values: dict[str, Any]) -> str:
    data = str(values.get("data", "?"))
    data = data if data in data_mod.BUILTIN_DATASETS else Path(data).name
    text = f"{values.get('recipe', '?')} on {data} at {values.get('image_size', '?')} px"
    if values.get("recipe") == "transfer":
        text += f" with {values.get('backbone', '?')}"
    if values.get("num_classes"):
        text += f", {values['num_classes']} classes"
    return text


def check_run_folder(
    run_dir: str | Path, config: TrainConfig, num_classes: int | None = None
) -> dict[str, Any] | None:
    """Refuse to reuse a run folder made with other settings (its backup would not fit
    the new model, and a failed load used to leave a rewritten config.json behind).

    Compares recipe, data, image size, backbone (transfer) and, when ``num_classes`` is
    given and the folder recorded it, the class count. ``config`` must be resolved.
    Returns the folder's stored settings (None for a new folder)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        raise InputError(
            f"{path} is unreadable ({error}); use another run folder or delete that file"
        ) from None
    mismatch = (
        stored.get("recipe") != config.recipe
        or not _same_data(str(stored.get("data", "")), config.data)
        or int(stored.get("image_size") or 0) != config.image_size
        or (config.recipe == "transfer" and stored.get("backbone") != config.backbone)
        or (
            num_classes is not None
            and stored.get("num_classes") is not None
            and int(stored["num_classes"]) != num_classes
        )
    )
    if mismatch:
        wanted = {**config.to_dict(), "num_classes": num_classes}
        raise InputError(
            f"run folder {run_dir} was made for {_describe_run(stored)}, not "
            f"{_describe_run(wanted)}; use another run folder (--run-dir) or the same settings"
        )
    return stored


def completed_epochs(run_dir: str | Path) -> int:
    """Epochs a run folder's backup has finished (0 when none)."""
    meta = Path(run_dir) / "backup" / "training_metadata.json"
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


# ----------------------------------------------------------------------------- callbacks


class _RunState:
    """Shared by the callbacks of one run: was the current epoch cut short?"""

    def __init__(self) -> None:
        self.stopped = False
        self.stopped_mid_epoch = False
        #: Stop came during an epoch's validation: the epoch's training is complete and
        #: kept, its validation figures (from part of the set) are not
        self.validation_cut = False
        #: called once the backup (if any) has been restored into the model
        self.on_restored: Callable[[], None] | None = None


def _callback_classes() -> tuple[type, type, type, type, type]:
    """Keras callback classes, defined lazily: core modules do not import Keras at import.
    Returns (events, backup, checkpoint, CSV log, TensorBoard)."""
    import keras

    from cnnstudio.core.library import _one_line

    class EventCallback(keras.callbacks.Callback):
        """Forwards batch and epoch logs as events (throttled) and stops on request."""

        def __init__(
            self,
            state: _RunState,
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
            self.session_start = time.perf_counter()
            self.epoch_start = self.session_start
            self.last_batch_time = self.session_start
            self.last_emit = 0.0
            self.batches_done = 0
            self.epoch = initial_epoch
            self.epoch_batches = 0

        def _eta(self) -> float:
            elapsed = time.perf_counter() - self.session_start
            if self.batches_done == 0:
                return math.nan
            return elapsed / self.batches_done * (self.total_steps - self.batches_done)

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
                    eta_seconds=self._eta(),
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
                    eta_seconds=self._eta() if not self.state.stopped else 0.0,
                    partial=self.state.stopped_mid_epoch,
                )
            )

    class Backup(keras.callbacks.BackupAndRestore):
        """BackupAndRestore that does not record an epoch cut short by Stop as done, so a
        resumed run repeats that epoch instead of skipping its unseen batches."""

        def __init__(self, state: _RunState, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.state = state

        def on_train_begin(self, logs=None):
            try:
                super().on_train_begin(logs)
            except (ValueError, KeyError, TypeError, OSError) as error:
                # the backup does not fit this model: one line, and the folder untouched
                raise InputError(
                    f"the backup in {self.backup_dir} does not fit this model "
                    f"({_one_line(str(error))}); use another run folder (--run-dir) or "
                    "the settings it was made with"
                ) from None
            if self.state.on_restored is not None:
                self.state.on_restored()

        def on_epoch_end(self, epoch, logs=None):
            if not self.state.stopped_mid_epoch:
                super().on_epoch_end(epoch, logs)

    class Checkpoint(keras.callbacks.ModelCheckpoint):
        """ModelCheckpoint that skips an epoch cut short by Stop (same reason as Backup)
        and one whose validation was cut short (its val_accuracy is not comparable)."""

        def __init__(self, state: _RunState, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.state = state

        def on_epoch_end(self, epoch, logs=None):
            if not (self.state.stopped_mid_epoch or self.state.validation_cut):
                super().on_epoch_end(epoch, logs)

    class CSVLog(keras.callbacks.CSVLogger):
        """CSVLogger that skips an epoch cut short by Stop: the resumed run repeats that
        epoch, which would give it two rows, and its val_accuracy would set the bar that
        the best-model checkpoint must beat on resume (read back from history.csv)."""

        def __init__(self, state: _RunState, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.state = state

        def on_epoch_end(self, epoch, logs=None):
            if self.state.stopped_mid_epoch:
                return
            if self.state.validation_cut:  # keep the epoch, write "NA" for validation
                logs = {k: v for k, v in (logs or {}).items() if not k.startswith("val_")}
            super().on_epoch_end(epoch, logs)

    class Board(keras.callbacks.TensorBoard):
        """TensorBoard that skips an epoch cut short by Stop (same reason as CSVLog)."""

        def __init__(self, state: _RunState, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.state = state

        def on_epoch_end(self, epoch, logs=None):
            if self.state.stopped_mid_epoch:
                return
            if self.state.validation_cut:
                logs = {k: v for k, v in (logs or {}).items() if not k.startswith("val_")}
            super().on_epoch_end(epoch, logs)

    return EventCallback, Backup, Checkpoint, CSVLog, Board


def tensorboard_available() -> bool:
    """TensorBoard logs need the ``tensorboard`` package (``tf.summary`` writes through it)."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _best_so_far(run_dir: Path, column: str) -> float | None:
    """The highest value of ``column`` in the run's history.csv (None if there is none)."""
    import csv

    values = []
    try:
        with (run_dir / "history.csv").open(newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    value = float(row.get(column) or "nan")
                except ValueError:  # "NA": an epoch whose validation was cut short
                    continue
                if not math.isnan(value):
                    values.append(value)
    except OSError:
        return None
    return max(values) if values else None


def run_callbacks(
    run_dir: Path,
    state: _RunState,
    event_callback: Any,
    *,
    early_stopping: int = 0,
    tensorboard: bool = True,
) -> list[Any]:
    """The callbacks of a run, in the order that matters: the backup is written before
    the epoch event goes out, so whoever sees "epoch N" can rely on its checkpoint."""
    import keras

    _, backup_cls, checkpoint_cls, csv_cls, board_cls = _callback_classes()
    checkpoints = run_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    # The backup holds the latest weights; a full .keras of every epoch would only add
    # save time per epoch, so ModelCheckpoint keeps the best model (beating, on resume,
    # the best of the epochs before).
    callbacks = [
        backup_cls(state, backup_dir=str(run_dir / "backup"), delete_checkpoint=False),
        checkpoint_cls(
            state,
            filepath=str(checkpoints / "best.keras"),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=_best_so_far(run_dir, "val_accuracy"),
        ),
    ]
    # a CSV log always (readable anywhere); TensorBoard logs when the package is installed
    callbacks.append(csv_cls(state, str(run_dir / "history.csv"), append=True))
    if tensorboard and tensorboard_available():
        callbacks.append(
            board_cls(state, log_dir=str(run_dir / "logs"), write_graph=False, profile_batch=0)
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
) -> tuple[list[Any], _RunState]:
    """Every callback :func:`train` passes to ``model.fit`` (events, stop, backup,
    checkpoint, logs) for a resolved config; also used by bench/bench_train.py."""
    state = _RunState()
    event_cls = _callback_classes()[0]
    events = event_cls(
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
    return run_callbacks(run_dir, state, events, early_stopping=config.early_stopping), state


# ----------------------------------------------------------------------------- train


def _learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    import keras

    if config.schedule == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=steps_per_epoch, decay_rate=0.9
        )
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(steps_per_epoch * config.epochs, 1)
        )
    return config.learning_rate


def prepare(
    config: TrainConfig, on_event: Callable[[object], None] | None = None
) -> tuple[data_mod.Dataset, Any, dict[str, Any]]:
    """Load the data and build + compile the model of a (resolved) config.
    Returns (dataset, model, pipelines: train, val, test and the preprocess function)."""
    import keras

    from cnnstudio.core import backbones

    spec = recipes.get_recipe(config.recipe)
    size = (config.image_size, config.image_size)

    def folder_progress(done: int, total: int) -> None:
        if on_event is not None:
            on_event(Notice(f"reading images: {done}/{total}"))

    dataset = data_mod.load_dataset(
        config.data,
        image_size=size,
        channels=spec.channels,
        val_split=config.val_split,
        seed=config.seed,
        limit=config.limit or None,
        on_progress=folder_progress,
    )
    preprocess = None
    if config.recipe == "transfer":
        backbone = config.backbone

        def preprocess(images):  # the backbone's own preprocessing, on float 0..255 RGB
            return backbones.preprocess(backbone, images)

    batch = config.batch_size
    pipelines = {
        "train": data_mod.make_pipeline(
            dataset.x_train,
            dataset.y_train,
            batch_size=batch,
            image_size=size,
            training=True,
            augment=config.augment_options(),
            seed=config.seed,
            preprocess=preprocess,
        ),
        "val": data_mod.make_pipeline(
            dataset.x_val,
            dataset.y_val,
            batch_size=spec.eval_batch_size,
            image_size=size,
            preprocess=preprocess,
        ),
        "test": data_mod.make_pipeline(
            dataset.x_test,
            dataset.y_test,
            batch_size=spec.eval_batch_size,
            image_size=size,
            preprocess=preprocess,
        ),
        "preprocess": preprocess,
    }
    steps = math.ceil(len(dataset.x_train) / batch)
    strategy = make_strategy()
    with strategy.scope():
        model = recipes.build_model(
            config.recipe,
            num_classes=dataset.num_classes,
            input_size=size,
            channels=spec.channels,
            backbone=config.backbone,
            weights=config.weights,
            fine_tune=config.fine_tune,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(_learning_rate(config, steps)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return dataset, model, pipelines


def fetch_weights(
    config: TrainConfig,
    on_event: Callable[[object], None],
    should_stop: Callable[[], bool],
) -> bool:
    """Make sure a transfer run's ImageNet backbone weights are here before anything slow
    happens: a download is reported through ``on_event`` as
    :class:`~cnnstudio.core.events.DownloadProgress` events, and ``should_stop()`` is
    polled after each one. False when stopped (the download is abandoned, no partial file
    is left); other recipes and weight sources return True at once.
    ResourceMissingError when the weights cannot be had."""
    if config.recipe != "transfer":
        return True
    from cnnstudio.core import backbones
    from cnnstudio.core.weights import ensure_weights_events

    network = backbones.get_backbone(config.backbone)
    events = ensure_weights_events(network, config.weights, include_top=False)
    try:
        for event in events:
            on_event(event)
            if should_stop():
                return False
    finally:
        events.close()  # on a stop: the helper thread sees it at its next chunk
    return True


def train(
    config: TrainConfig,
    *,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult | None:
    """Train, checkpointing into the run folder; resume if that folder has a backup.

    ``on_event`` receives DownloadProgress (a transfer run whose ImageNet weights are
    being downloaded first), RunStarted, BatchEnd (throttled), EpochEnd, Notice and
    finally TrainingDone; ``should_stop()`` is polled after every batch (and download
    chunk). Returns None only when stopped during the weights download, before any
    model existed."""
    import keras

    from cnnstudio.core.weights import weights_label

    try:
        from cnnstudio.core.device import configure_devices

        configure_devices()
    except ImportError:  # pragma: no cover - device module is optional
        pass
    on_event = on_event or (lambda event: None)
    should_stop = should_stop or (lambda: False)
    config = config.resolved()
    run_dir = Path(config.run_dir) if config.run_dir else new_run_dir(config.recipe, config.data)
    config.run_dir = str(run_dir)
    # a reused folder must have been made with these settings; checked before anything
    # is loaded or written, and config.json is only (re)written once the backup has been
    # restored into the new model, so a refused run leaves the folder as it was
    stored = check_run_folder(run_dir, config)
    if not fetch_weights(config, on_event, should_stop):
        # stopped while the weights were downloading: there is no model to test or keep
        on_event(Notice("stopped during the weights download: nothing was trained"))
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)

    dataset, model, pipes = prepare(config, on_event)
    check_run_folder(run_dir, config, dataset.num_classes)

    def write_config() -> None:
        settings = {**config.to_dict(), "num_classes": dataset.num_classes}
        (run_dir / "config.json").write_text(json.dumps(settings, indent=2))

    if stored is None:  # a new folder: nothing to damage, and a kill -9 can resume it
        write_config()
    for path, reason in dataset.skipped:
        on_event(Notice(f"skipped unreadable file {path}: {reason}"))
    steps = math.ceil(len(dataset.x_train) / config.batch_size)
    initial_epoch = min(completed_epochs(run_dir), config.epochs)
    summary = recipes.model_summary(model)
    on_event(
        RunStarted(
            run_dir=str(run_dir),
            summary=summary,
            dataset_summary=dataset.summary(),
            class_names=tuple(dataset.class_names),
            train_images=len(dataset.x_train),
            steps_per_epoch=steps,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            trainable_params=recipes.trainable_params(model),
        )
    )
    if not tensorboard_available():
        on_event(
            Notice(
                "TensorBoard logs are off: install the tensorboard package to get them; "
                f"the epoch history is in {run_dir / 'history.csv'}"
            )
        )
    if initial_epoch:
        on_event(Notice(f"resuming {run_dir.name} after epoch {initial_epoch}"))

    callbacks, state = training_callbacks(
        config, run_dir, on_event, should_stop, len(dataset.x_train), initial_epoch
    )
    state.on_restored = write_config
    history: dict[str, list[float]] = {}
    if not should_stop():
        fitted = model.fit(
            pipes["train"],
            validation_data=pipes["val"],
            epochs=config.epochs,
            callbacks=callbacks,
            shuffle=False,  # the pipeline shuffles
            verbose=0,
        )
        history = {k: [float(v) for v in vals] for k, vals in fitted.history.items()}
    else:
        state.stopped = True
    epochs_completed = completed_epochs(run_dir)

    test_pipeline, test_set = pipes["test"], dataset
    if state.stopped and len(dataset.x_test) > STOPPED_TEST_LIMIT:
        # the user wants out: test on a capped subset instead of the whole test set
        test_set = dataclasses.replace(
            dataset,
            x_test=dataset.x_test[:STOPPED_TEST_LIMIT],
            y_test=dataset.y_test[:STOPPED_TEST_LIMIT],
        )
        test_pipeline = data_mod.make_pipeline(
            test_set.x_test,
            test_set.y_test,
            batch_size=recipes.get_recipe(config.recipe).eval_batch_size,
            image_size=(config.image_size, config.image_size),
            preprocess=pipes["preprocess"],
        )
        on_event(
            Notice(
                f"stopped: testing on the first {STOPPED_TEST_LIMIT} of "
                f"{len(dataset.x_test)} test images"
            )
        )
    done = evaluate(
        model,
        test_set,
        test_pipeline,
        state.stopped,
        epochs_completed,
        run_dir,
        on_event=on_event,
        # after a stop, should_stop() stays true: the capped test must not end at once
        should_stop=None if state.stopped else should_stop,
        throttle_seconds=config.throttle_seconds,
        test_total=len(dataset.x_test),
    )
    (run_dir / "status.json").write_text(
        json.dumps(
            {
                "epochs_completed": epochs_completed,
                "epochs": config.epochs,
                "stopped": state.stopped,
                "test_accuracy": done.test_accuracy,
            }
        )
    )
    on_event(done)
    meta = {
        "recipe": config.recipe,
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "input_size": [config.image_size, config.image_size],
        "channels": recipes.get_recipe(config.recipe).channels,
        "preprocessing": recipes.preprocessing_for(config.recipe, config.backbone),
        "metrics": {
            "test_accuracy": done.test_accuracy,
            "test_loss": done.test_loss,
            "epochs": epochs_completed,
            **({k: v[-1] for k, v in history.items() if v}),
        },
        "run_dir": str(run_dir),
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    if config.recipe == "transfer":
        meta["backbone"] = config.backbone
        meta["weights"] = weights_label(config.weights)
        meta["fine_tune"] = config.fine_tune
    return TrainResult(model=model, meta=meta, done=done, history=history, config=config)


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def _testing_callback(
    on_event: Callable[[object], None],
    should_stop: Callable[[], bool] | None,
    batches: int,
    batch_size: int,
    total_images: int,
    throttle_seconds: float,
) -> Any:
    """A predict callback that reports :class:`Testing` progress and, when
    ``should_stop()`` turns true, ends the prediction early (``model.stop_predicting``)."""
    import keras

    class TestingCallback(keras.callbacks.Callback):
        last_emit = 0.0

        def on_predict_batch_end(self, batch, logs=None):
            if should_stop is not None and should_stop():
                self.model.stop_predicting = True
            now = time.perf_counter()
            if now - self.last_emit < throttle_seconds and batch + 1 < batches:
                return
            self.last_emit = now
            images = min((batch + 1) * batch_size, total_images)
            on_event(Testing(batch + 1, batches, images, total_images))

    return TestingCallback()


def evaluate(
    model: Any,
    dataset: data_mod.Dataset,
    test_pipeline: Any,
    stopped: bool,
    epochs_completed: int,
    run_dir: Path,
    *,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    throttle_seconds: float = 0.1,
    test_total: int = 0,
) -> TrainingDone:
    """Test accuracy, loss, confusion matrix, per-class accuracy, samples, mistakes.

    Reports :class:`Testing` events through ``on_event``; when ``should_stop()`` turns
    true the prediction ends early and the figures cover the examples predicted so far."""
    callbacks = []
    if on_event is not None:
        batches = int(test_pipeline.cardinality()) if hasattr(test_pipeline, "cardinality") else 0
        batch_size = math.ceil(len(dataset.y_test) / batches) if batches > 0 else 1
        callbacks.append(
            _testing_callback(
                on_event,
                should_stop,
                max(batches, 1),
                batch_size,
                len(dataset.y_test),
                throttle_seconds,
            )
        )
    probabilities = np.asarray(
        model.predict(test_pipeline, verbose=0, callbacks=callbacks), np.float64
    )
    # a cancelled prediction covers the first examples only
    actual = dataset.y_test.astype(np.int64)[: len(probabilities)]
    predicted = probabilities.argmax(axis=1)
    classes = dataset.num_classes
    picked = probabilities[np.arange(len(actual)), actual]
    test_loss = float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0)))) if len(actual) else math.nan
    test_accuracy = float(np.mean(predicted == actual)) if len(actual) else math.nan
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (actual, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = tuple(
        float(confusion[i, i] / totals[i]) if totals[i] else math.nan for i in range(classes)
    )
    names = dataset.class_names

    def sample(index: int) -> SamplePrediction:
        return SamplePrediction(
            image=_rgb(dataset.x_test[index]),
            actual=names[actual[index]],
            predicted=names[predicted[index]],
            confidence=float(probabilities[index, predicted[index]]),
        )

    wrong = np.flatnonzero(predicted != actual)[:MISCLASSIFIED_COUNT]
    return TrainingDone(
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        confusion=confusion,
        per_class_accuracy=per_class,
        class_names=tuple(names),
        samples=tuple(sample(i) for i in range(min(SAMPLE_COUNT, len(actual)))),
        misclassified=tuple(sample(int(i)) for i in wrong),
        epochs_completed=epochs_completed,
        stopped=stopped,
        run_dir=str(run_dir),
        test_is_validation=dataset.test_is_val,
        test_examples=len(actual),
        test_total=test_total or len(dataset.y_test),
    )


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
