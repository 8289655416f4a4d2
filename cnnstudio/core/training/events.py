"""What a training run tells its front end, and what :func:`~.job.train` returns.

Training is a callback job (docs/ARCHITECTURE.md): ``on_event`` receives
:class:`RunStarted`, :class:`BatchEnd` (throttled at the source), :class:`EpochEnd`,
:class:`Testing`, :class:`TrainingDone` and :class:`~cnnstudio.core.events.Notice`. How
long a run has left is not in these events: front ends feed :attr:`BatchEnd.done` to
:class:`cnnstudio.core.eta.Eta`, the one ETA of the app. Imports no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnstudio.core.training.params import TrainConfig


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
    global_step: int  # batches done in this session (from 1)
    total_steps: int  # batches this session will run

    @property
    def done(self) -> float:
        """Share of this session's batches done, 0..1 (what :class:`~cnnstudio.core.eta.Eta`
        is fed: every batch of a run costs the same)."""
        return min(self.global_step / self.total_steps, 1.0) if self.total_steps > 0 else 0.0


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
    """What :func:`~.job.train` returns: the model, its library sidecar and the final event.

    A run in another process (the window's) sends the model as a file instead:
    ``model`` is None and ``model_path`` names it, or ``model_error`` says why it could
    not be kept (:func:`~.job.model_to_file`)."""

    model: Any
    meta: dict[str, Any]
    done: TrainingDone
    history: dict[str, list[float]] = field(default_factory=dict)
    config: TrainConfig | None = None
    model_path: str = ""
    model_error: str = ""


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
