"""After training: the test set's accuracy and loss, the confusion matrix, per-class
accuracy, a few sample predictions and the mistakes (:class:`.events.TrainingDone`).

The test reports :class:`.events.Testing` progress and can be cut short; after a Stop it
covers at most ``params.STOPPED_TEST_LIMIT`` examples, so stopping stays quick.
Imports Keras at its top: imported lazily, by :func:`.job.train`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice
from cnnstudio.core.training import params
from cnnstudio.core.training.datasets import Dataset
from cnnstudio.core.training.events import SamplePrediction, Testing, TrainingDone
from cnnstudio.core.training.pipeline import make_pipeline
from cnnstudio.core.training.predictions import Predictions, save_predictions


class TestingCallback(keras.callbacks.Callback):
    """A predict callback that reports :class:`Testing` progress (throttled) and, when
    ``should_stop()`` turns true, ends the prediction early (``model.stop_predicting``)."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(
        self,
        on_event: Callable[[object], None],
        should_stop: Callable[[], bool] | None,
        batches: int,
        batch_size: int,
        total_images: int,
        throttle_seconds: float,
    ) -> None:
        super().__init__()
        self.on_event, self.should_stop = on_event, should_stop
        self.batches, self.batch_size, self.total_images = batches, batch_size, total_images
        self.throttle = throttle_seconds
        self.last_emit = 0.0

    def on_predict_batch_end(self, batch, logs=None):
        if self.should_stop is not None and self.should_stop():
            self.model.stop_predicting = True
        now = time.perf_counter()
        if now - self.last_emit < self.throttle and batch + 1 < self.batches:
            return
        self.last_emit = now
        images = min((batch + 1) * self.batch_size, self.total_images)
        self.on_event(Testing(batch + 1, self.batches, images, self.total_images))


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def evaluate(
    model: Any,
    dataset: Dataset,
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
            TestingCallback(
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

    if Path(run_dir).is_dir():
        # every prediction, so any confusion-matrix cell can be opened later
        ended = (epochs_completed, stopped, test_total or len(dataset.y_test))
        keep_predictions(run_dir, dataset, actual, predicted, probabilities, ended, on_event)
    wrong = np.flatnonzero(predicted != actual)[: params.MISCLASSIFIED_COUNT]
    return TrainingDone(
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        confusion=confusion,
        per_class_accuracy=per_class,
        class_names=tuple(names),
        samples=tuple(sample(i) for i in range(min(params.SAMPLE_COUNT, len(actual)))),
        misclassified=tuple(sample(int(i)) for i in wrong),
        epochs_completed=epochs_completed,
        stopped=stopped,
        run_dir=str(run_dir),
        test_is_validation=dataset.test_is_val,
        test_examples=len(actual),
        test_total=test_total or len(dataset.y_test),
    )


def keep_predictions(
    run_dir: Path,
    dataset: Dataset,
    actual: np.ndarray,
    predicted: np.ndarray,
    probabilities: np.ndarray,
    ended: tuple[int, bool, int],
    on_event: Callable[[object], None] | None,
) -> None:
    """Write the test's predictions into the run folder; ``ended``: (epochs completed,
    stopped, images in the whole test set). A full disk: a notice, not an error: the run
    itself is done."""
    count = len(actual)
    epochs_completed, stopped, total = ended
    how = "stopped" if stopped else "finished"
    predictions = Predictions(
        split="validation" if dataset.test_is_val else "test",
        class_names=tuple(dataset.class_names),
        index=np.arange(count, dtype=np.int64),
        true=actual,
        predicted=predicted.astype(np.int64),
        confidence=probabilities[np.arange(count), predicted].astype(np.float32),
        total=total,
        model=f"the model the run ended with ({how} after {epochs_completed} epochs)",
        paths=tuple(dataset.test_paths[:count]),
    )
    try:
        save_predictions(run_dir, predictions)
    except InputError as error:
        if on_event is not None:
            on_event(Notice(f"the test's predictions were not kept: {error}"))


def evaluate_run(
    model: Any,
    dataset: Dataset,
    pipelines: dict[str, Any],
    config: params.TrainConfig,
    *,
    stopped: bool,
    epochs_completed: int,
    run_dir: Path,
    on_event: Callable[[object], None],
    should_stop: Callable[[], bool],
) -> TrainingDone:
    """Test the model a run ended with (``pipelines`` from :func:`.trainer.prepare`); a
    stopped run on the first ``STOPPED_TEST_LIMIT`` test examples only."""
    limit = params.STOPPED_TEST_LIMIT
    test_pipeline, test_set = pipelines["test"], dataset
    if stopped and len(dataset.x_test) > limit:
        # the user wants out: test on a capped subset instead of the whole test set
        test_set = dataclasses.replace(
            dataset, x_test=dataset.x_test[:limit], y_test=dataset.y_test[:limit]
        )
        test_pipeline = make_pipeline(
            test_set.x_test,
            test_set.y_test,
            batch_size=params.get_recipe(config.recipe).eval_batch_size,
            image_size=(config.image_size, config.image_size),
            preprocess=pipelines["preprocess"],
        )
        on_event(
            Notice(f"stopped: testing on the first {limit} of {len(dataset.x_test)} test images")
        )
    return evaluate(
        model,
        test_set,
        test_pipeline,
        stopped,
        epochs_completed,
        run_dir,
        on_event=on_event,
        # after a stop, should_stop() stays true: the capped test must not end at once
        should_stop=None if stopped else should_stop,
        throttle_seconds=config.throttle_seconds,
        test_total=len(dataset.x_test),
    )
