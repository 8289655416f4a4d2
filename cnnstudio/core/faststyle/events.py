"""What a fast style training run reports besides Progress, Preview and Notice
(:mod:`cnnstudio.core.events`), so that a window can show the photos used, the held-out
loss curve next to the training loss, and when a checkpoint was written.

The run calls ``on_event`` with, in order: :class:`ReadingPhotos` (every few files),
:class:`PhotosRead`,
DownloadProgress (the loss network's weights, when they are fetched), then per step a
``Progress`` (``terms``: content, style, tv; ``message``: images/s; ``fraction``), every
``preview_every`` steps a :class:`HeldOutLoss` and a ``Preview`` (the held-out photo
styled by the network as it is), every ``checkpoint_every`` steps (and at Stop) a
:class:`CheckpointSaved`; Notices for what the user should read. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReadingPhotos:
    """``done`` of the ``total`` photo files have been read (the run has not started)."""

    done: int
    total: int

    @property
    def text(self) -> str:
        return f"reading photos: {self.done}/{self.total}"


@dataclass(frozen=True)
class RunStarted:
    """The run folder, and where the run starts (0, or the step of a checkpoint)."""

    run_dir: str
    start_step: int
    total: int


@dataclass(frozen=True)
class PhotosRead:
    """The photos read: used for training, held out, and the files skipped."""

    training: int
    held_out: int
    found: int
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (file, reason)


@dataclass(frozen=True)
class HeldOutLoss:
    """The loss on the held-out photos (never trained on) after ``step`` steps; ``best``:
    the lowest so far, so this network is the one Stop keeps."""

    step: int
    total: int
    loss: float
    terms: dict[str, float]
    best: bool


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint was written: a run killed from now on resumes at ``step``."""

    step: int
    path: str
