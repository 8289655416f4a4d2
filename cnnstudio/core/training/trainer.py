"""The TensorFlow side of a run: the distribution strategy, the weights a transfer run
needs, and :func:`prepare` (data, pipelines, the compiled model of a config).

Imports TensorFlow and Keras at its top: imported lazily, by :func:`.job.train`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
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


def prepare(
    config: TrainConfig, on_event: Callable[[object], None] | None = None
) -> tuple[Dataset, Any, dict[str, Any]]:
    """Seed, load the data and build + compile the model of a (resolved) config.
    Returns (dataset, model, pipelines: train, val, test and the preprocess function)."""
    keras.utils.set_random_seed(config.seed)
    spec = get_recipe(config.recipe)
    size = (config.image_size, config.image_size)

    def folder_progress(done: int, total: int) -> None:
        if on_event is not None:
            on_event(Notice(f"reading images: {done}/{total}"))

    dataset = load_dataset(
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
        "train": pipeline.make_pipeline(
            dataset.x_train,
            dataset.y_train,
            batch_size=batch,
            image_size=size,
            training=True,
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
        "preprocess": preprocess,
    }
    steps = math.ceil(len(dataset.x_train) / batch)
    with make_strategy().scope():
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
            optimizer=keras.optimizers.Adam(learning_rate(config, steps)),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return dataset, model, pipelines
