"""The TensorFlow side of a run: the distribution strategy, the weights a transfer run
needs, the data (:func:`load_data`), the compiled model of a config and its pipelines
(:func:`build`), and the model's random state that a resumed run restores.

Imports TensorFlow and Keras at its top: imported lazily, by :func:`.job.train`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cnnstudio.core import backbones
from cnnstudio.core.events import Notice
from cnnstudio.core.training import pipeline, recipes
from cnnstudio.core.training.datasets import Dataset, load_dataset
from cnnstudio.core.training.params import TrainConfig, get_recipe
from cnnstudio.core.weights import ensure_weights_events


def strategy_kind(gpu_names: Sequence[str]) -> str:
    """ "mirrored" with more than one GPU (tf.distribute.MirroredStrategy), else "default"."""
    return "mirrored" if len(gpu_names) > 1 else "default"


def make_strategy(gpu_names: Sequence[str] | None = None) -> Any:
    """The distribution strategy for the visible GPUs (or the given device names)."""
    if gpu_names is None:
        gpu_names = [d.name for d in tf.config.list_logical_devices("GPU")]
    if strategy_kind(gpu_names) == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(gpu_names))
    return tf.distribute.get_strategy()


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


def learning_rate(config: TrainConfig, steps_per_epoch: int) -> Any:
    """The config's learning rate, decayed per epoch or along a cosine when it says so."""
    if config.schedule == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=steps_per_epoch, decay_rate=0.9
        )
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(steps_per_epoch * config.epochs, 1)
        )
    return config.learning_rate


def load_data(config: TrainConfig, on_event: Callable[[object], None] | None = None) -> Dataset:
    """Seed every generator and load the dataset of a (resolved) config (no TensorFlow
    op runs here: a multi-worker strategy must be created after this, before the model)."""
    keras.utils.set_random_seed(config.seed)
    spec = get_recipe(config.recipe)

    def folder_progress(done: int, total: int) -> None:
        if on_event is not None:
            on_event(Notice(f"reading images: {done}/{total}"))

    return load_dataset(
        config.data,
        image_size=(config.image_size, config.image_size),
        channels=spec.channels,
        val_split=config.val_split,
        seed=config.seed,
        limit=config.limit or None,
        on_progress=folder_progress,
    )


def build(
    config: TrainConfig, dataset: Dataset, *, first_epoch: int = 0, strategy: Any = None
) -> tuple[Any, dict[str, Any]]:
    """The compiled model of a (resolved) config, built in ``strategy``'s scope (the
    default: the visible GPUs'), and its pipelines: ``train`` (the stream of epochs
    ``first_epoch`` .. ``config.epochs - 1``, read with ``steps_per_epoch``), ``val``,
    ``test``, ``steps_per_epoch`` and the ``preprocess`` function."""
    spec = get_recipe(config.recipe)
    size = (config.image_size, config.image_size)
    preprocess = None
    if config.recipe == "transfer":
        backbone = config.backbone

        def preprocess(images):  # the backbone's own preprocessing, on float 0..255 RGB
            return backbones.preprocess(backbone, images)

    steps = pipeline.steps_per_epoch(len(dataset.x_train), config.batch_size)
    pipelines = {
        "train": pipeline.training_stream(
            dataset.x_train,
            dataset.y_train,
            batch_size=config.batch_size,
            epochs=config.epochs,
            first_epoch=first_epoch,
            image_size=size,
            augment=config.augment_options(),
            seed=config.seed,
            preprocess=preprocess,
        ),
        "val": pipeline.make_pipeline(
            dataset.x_val,
            dataset.y_val,
            batch_size=spec.eval_batch_size,
            image_size=size,
            preprocess=preprocess,
        ),
        "test": pipeline.make_pipeline(
            dataset.x_test,
            dataset.y_test,
            batch_size=spec.eval_batch_size,
            image_size=size,
            preprocess=preprocess,
        ),
        "steps_per_epoch": steps,
        "preprocess": preprocess,
    }
    with (strategy or make_strategy()).scope():
        model = recipes.build_model(
            config.recipe,
            num_classes=dataset.num_classes,
            input_size=size,
            channels=spec.channels,
            backbone=config.backbone,
            weights=config.weights,
            fine_tune=config.fine_tune,
            seed=config.seed,  # an untrained backbone is the run's seed's, as before
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate(config, steps)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model, pipelines


def prepare(
    config: TrainConfig,
    on_event: Callable[[object], None] | None = None,
    *,
    first_epoch: int = 0,
) -> tuple[Dataset, Any, dict[str, Any]]:
    """:func:`load_data` then :func:`build`: (dataset, model, pipelines)."""
    dataset = load_data(config, on_event)
    model, pipelines = build(config, dataset, first_epoch=first_epoch)
    return dataset, model, pipelines


def random_state(model: Any) -> list[list[int]]:
    """The states of the model's random generators (Dropout's seed generators), which
    ``save_weights`` leaves out: without them a resumed run drops other units."""
    return [[int(v) for v in np.asarray(var).ravel()] for var in _seed_states(model)]


def set_random_state(model: Any, state: list[list[int]]) -> bool:
    """Restore :func:`random_state`; False (nothing changed) when it does not fit."""
    variables = _seed_states(model)
    if len(variables) != len(state) or any(
        len(values) != int(np.prod(var.shape)) for var, values in zip(variables, state, strict=True)
    ):
        return False
    for var, values in zip(variables, state, strict=True):
        var.assign(np.asarray(values, dtype=var.dtype).reshape(var.shape))
    return True


def _seed_states(model: Any) -> list[Any]:
    return [v for v in model.variables if v.name == "seed_generator_state"]
