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

import datetime as _dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnstudio.core import files
from cnnstudio.core.device import configure_devices
from cnnstudio.core.events import Notice
from cnnstudio.core.training.datasets import Dataset
from cnnstudio.core.training.events import RunStarted, TrainingDone, TrainResult
from cnnstudio.core.training.params import TrainConfig, get_recipe
from cnnstudio.core.training.runs import (
    check_run_folder,
    completed_epochs,
    load_run_config,
    new_run_dir,
)
from cnnstudio.core.weights import weights_label


def train(
    config: TrainConfig,
    *,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult | None:
    """Train, checkpointing into the run folder; resume if that folder has a backup.

    ``on_event`` receives DownloadProgress (a transfer run whose ImageNet weights are
    being downloaded first), RunStarted, BatchEnd (throttled), EpochEnd, Notice, Testing
    and finally TrainingDone; ``should_stop()`` is polled after every batch (and download
    chunk). Returns None only when stopped during the weights download, before any
    model existed."""
    # the TensorFlow side, imported when a run starts (on the GUI's worker thread)
    from cnnstudio.core.training import callbacks, evaluation, recipes, trainer

    configure_devices()
    on_event = on_event or (lambda event: None)
    should_stop = should_stop or (lambda: False)
    config = config.resolved()
    run_dir = Path(config.run_dir) if config.run_dir else new_run_dir(config.recipe, config.data)
    config.run_dir = str(run_dir)
    # a reused folder must have been made with these settings; checked before anything
    # is loaded or written, and config.json is only (re)written once the backup has been
    # restored into the new model, so a refused run leaves the folder as it was
    stored = check_run_folder(run_dir, config)
    if not trainer.fetch_weights(config, on_event, should_stop):
        # stopped while the weights were downloading: there is no model to test or keep
        on_event(Notice("stopped during the weights download: nothing was trained"))
        return None
    run_dir.mkdir(parents=True, exist_ok=True)

    dataset, model, pipelines = trainer.prepare(config, on_event)
    check_run_folder(run_dir, config, dataset.num_classes)

    def write_config() -> None:
        settings = {**config.to_dict(), "num_classes": dataset.num_classes}
        files.write_bytes(
            run_dir / "config.json", json.dumps(settings, indent=2).encode(), overwrite=True
        )

    if stored is None:  # a new folder: nothing to damage, and a kill -9 can resume it
        write_config()
    for path, reason in dataset.skipped:
        on_event(Notice(f"skipped unreadable file {path}: {reason}"))
    initial_epoch = min(completed_epochs(run_dir), config.epochs)
    on_event(
        RunStarted(
            run_dir=str(run_dir),
            summary=recipes.model_summary(model),
            dataset_summary=dataset.summary(),
            class_names=tuple(dataset.class_names),
            train_images=len(dataset.x_train),
            steps_per_epoch=math.ceil(len(dataset.x_train) / config.batch_size),
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
    if initial_epoch:
        on_event(Notice(f"resuming {run_dir.name} after epoch {initial_epoch}"))

    fit_callbacks, state = callbacks.training_callbacks(
        config, run_dir, on_event, should_stop, len(dataset.x_train), initial_epoch
    )
    state.on_restored = write_config
    history: dict[str, list[float]] = {}
    if not should_stop():
        fitted = model.fit(
            pipelines["train"],
            validation_data=pipelines["val"],
            epochs=config.epochs,
            callbacks=fit_callbacks,
            shuffle=False,  # the pipeline shuffles
            verbose=0,
        )
        history = {k: [float(v) for v in vals] for k, vals in fitted.history.items()}
    else:
        state.stopped = True
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
    preprocessing = recipes.preprocessing_for(config.recipe, config.backbone)
    meta = library_meta(config, dataset, done, history, preprocessing)
    return TrainResult(model=model, meta=meta, done=done, history=history, config=config)


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
