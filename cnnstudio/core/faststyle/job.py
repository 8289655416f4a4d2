"""Training a fast style network: a callback job (docs/ARCHITECTURE.md), like training.

``train(params, on_event=, should_stop=)`` reads the photos, fetches the loss network's
weights, trains, and returns a :class:`FastStyleResult` holding the network with the
lowest held-out loss so far, also when ``should_stop()`` ended the run early (Stop keeps
the best model). Every run has a folder (:mod:`.runs`); started again with the same
folder (``params.run_dir``) it resumes from its last checkpoint, and :func:`resume`
needs nothing but that folder. The events are listed in :mod:`.events`.

No TensorFlow until a run starts (:mod:`.training` is imported then).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import backbones, files, images
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.faststyle import models, runs
from cnnstudio.core.faststyle.events import (
    CheckpointSaved,
    HeldOutLoss,
    PhotosRead,
    ReadingPhotos,
    RunStarted,
)
from cnnstudio.core.faststyle.params import LOSS_NETWORK, FastStyleParams
from cnnstudio.core.faststyle.photos import Photos, describe_skipped, load_photos
from cnnstudio.core.weights import ensure_weights_events, is_untrained

#: the style pictures are read at most this large (they are resized to the training size)
_STYLE_READ_SIDE = 2048
#: history lines are written to the run folder in bunches of at most this many
_HISTORY_BUNCH = 50


@dataclass
class FastStyleResult:
    """The trained network (the best by held-out loss) and how the run went."""

    model: Any  # keras.Model
    meta: dict[str, Any]  # the library sidecar (kind "style", thumbnail, ...)
    run_dir: Path
    steps_done: int
    best_step: int
    best_loss: float | None
    stopped: bool
    skipped: list[tuple[str, str]] = field(default_factory=list)


def held_out_count(photos: int) -> int:
    """Photos kept out of training to check the network on: 1 in 8, 1 to 4."""
    return max(1, min(4, photos // 8))


def batch_indices(seed: int, step: int, photos: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The photos of step ``step`` (1-based) and which of them are mirrored: fixed by the
    seed and the step alone, so a resumed run sees what the killed one would have seen."""
    rng = np.random.default_rng([seed, step])
    chosen = rng.choice(photos, size=batch, replace=photos < batch)
    return chosen, rng.random(batch) < 0.5


def read_styles(params: FastStyleParams) -> list[np.ndarray]:
    """The style pictures of ``params`` (ImageLoadError naming an unreadable one)."""
    return [images.load_image(path, max_side=_STYLE_READ_SIDE) for path in params.styles]


def train(
    params: FastStyleParams,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    loss_model: Any = None,
    styles: list[np.ndarray] | None = None,
) -> FastStyleResult | None:
    """Train (or resume, when ``params.run_dir`` holds a checkpoint of the same settings)
    a style network. Returns None only when stopped before the first step.

    ``loss_model``: a VGG19 without top to use instead of building one; ``styles``: the
    style pictures already read (a resumed run reads them from its folder)."""
    on_event = on_event or (lambda event: None)
    should_stop = should_stop or (lambda: False)
    params = replace(params)
    params.validate()
    if styles is None:
        styles = read_styles(params)
    run_dir = Path(params.run_dir).expanduser() if params.run_dir else runs.new_run_dir(params)
    params.run_dir = str(run_dir)
    # history.csv is opened for appending: a FIFO there would block for ever
    files.check_run_files(run_dir, (runs.CONFIG, runs.HISTORY, runs.STATUS))
    runs.check_run_folder(run_dir, params, [runs.digest(s) for s in styles])

    photos = _read_photos(params, on_event, should_stop)
    if photos is None:
        return None
    if not _fetch_weights(params, on_event, should_stop):
        return None

    from cnnstudio.core.faststyle import training  # TensorFlow: loaded here

    if loss_model is None:
        loss_model = backbones.build_backbone(LOSS_NETWORK, params.weights, include_top=False)
    if is_untrained(params.weights):
        on_event(Notice("the loss network (VGG19) has random weights: expect noise, not style"))
    trainer = training.Trainer(params, loss_model, styles)
    checkpoints = run_dir / runs.CHECKPOINTS
    try:
        record = trainer.restore_checkpoint(checkpoints) or {}
    except (OSError, ValueError, KeyError) as error:
        raise InputError(
            f"the checkpoint in {checkpoints} cannot be read ({error}); use another run folder",
            param="run_dir",
        ) from None
    runs.write_config(run_dir, params, styles, {"photos": len(photos)})
    loop = _Loop(params, trainer, photos, styles, run_dir, on_event, should_stop, record)
    return loop.run()


def resume(
    run_dir: str | Path,
    steps: int | None = None,
    on_event: Callable[[object], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    loss_model: Any = None,
) -> FastStyleResult | None:
    """Go on with the run of ``run_dir`` from its last checkpoint (to ``steps`` in all, or
    the steps it was started with); the style pictures come from the folder."""
    params, _ = runs.load_config(run_dir)
    if steps is not None:
        params.steps = int(steps)
    styles = runs.read_styles(Path(run_dir), len(params.styles))
    return train(params, on_event, should_stop, loss_model=loss_model, styles=styles)


def _read_photos(params, on_event, should_stop) -> Photos | None:
    def progress(done: int, total: int) -> None:
        on_event(ReadingPhotos(done, total))

    photos = load_photos(
        params.data, params.size, seed=params.seed, on_progress=progress, should_stop=should_stop
    )
    if photos is None:
        return None
    held_out = held_out_count(len(photos))
    on_event(PhotosRead(len(photos) - held_out, held_out, photos.found, tuple(photos.skipped)))
    if photos.skipped:
        on_event(Notice(describe_skipped(photos.skipped)))
    if photos.found > len(photos) + len(photos.skipped):
        on_event(Notice(f"{photos.found} pictures found: a random {len(photos)} are used"))
    return photos


def _fetch_weights(params, on_event, should_stop) -> bool:
    """The loss network's ImageNet weights on this machine (downloaded as events);
    False when stopped meanwhile."""
    download = ensure_weights_events(backbones.get_backbone(LOSS_NETWORK), params.weights)
    try:
        for event in download:
            on_event(event)
            if should_stop():
                return False
    finally:
        download.close()
    return True


class _Loop:
    """The training loop of one session (a new run, or a resumed one)."""

    def __init__(self, params, trainer, photos, styles, run_dir, on_event, should_stop, record):
        self.params = params
        self.trainer = trainer
        self.styles = styles
        self.run_dir = run_dir
        self.on_event = on_event
        self.should_stop = should_stop
        order = np.random.default_rng(params.seed).permutation(len(photos))
        held = held_out_count(len(photos))
        self.held_out = photos.pictures[np.sort(order[:held])]
        self.training = photos.pictures[np.sort(order[held:])]
        self.photo_count = len(photos)
        self.skipped = list(photos.skipped)
        self.start = int(record.get("step", 0))
        self.best_step = int(record.get("best_step", 0))
        self.best_loss = record.get("best_loss")
        self.best_weights = None  # in memory once this session finds a better network
        self.history: list[dict[str, float]] = []
        self.last_checked = self.start

    def run(self) -> FastStyleResult | None:
        params, total = self.params, self.params.steps
        self.on_event(RunStarted(str(self.run_dir), self.start, total))
        if self.start:
            self.on_event(Notice(f"resuming from the checkpoint at step {self.start}"))
        step, stopped = self.start, False
        last_time: float | None = None
        last_step, images_per_second = step, 0.0
        while step < total:
            if self.should_stop():
                stopped = True
                break
            chosen, mirrored = batch_indices(
                params.seed, step + 1, len(self.training), params.batch_size
            )
            batch = self.training[chosen]
            batch[mirrored] = batch[mirrored, :, ::-1]
            terms = self.trainer.step(batch)
            step += 1
            now = time.monotonic()
            if last_time is None:  # the first step of a session traces: not counted
                last_time, last_step = now, step
            elif now - last_time >= 1.0 or step == total:
                images_per_second = (step - last_step) * params.batch_size / (now - last_time)
                last_time, last_step = now, step
            named = _named(terms)
            if not all(math.isfinite(v) for v in named.values()):
                raise InputError(
                    f"the loss became {terms[0]} at step {step}: lower the learning rate "
                    f"({params.learning_rate:g}) and start again from the checkpoint",
                    param="learning_rate",
                )
            self.history.append({"step": step, "loss": float(terms[0]), **named})
            self.on_event(
                Progress(
                    step=step,
                    total=total,
                    loss=float(terms[0]),
                    terms=named,
                    message=f"{images_per_second:.1f} images/s" if images_per_second else "",
                    fraction=step / total,
                )
            )
            if step % params.preview_every == 0 or step == total:
                self._check(step)
            if step % params.checkpoint_every == 0 or step == total:
                self._checkpoint(step)
            elif len(self.history) >= _HISTORY_BUNCH:
                self._flush_history()
        if step > self.start:  # stopped between checks: check and keep this step too
            if self.last_checked != step:
                self._check(step)
            if step % params.checkpoint_every and step != total:
                self._checkpoint(step)
        self._flush_history()
        runs.write_status(
            self.run_dir,
            state="stopped" if stopped else "finished",
            step=step,
            best_step=self.best_step,
            best_loss=self.best_loss,
        )
        return self._result(step, stopped) if step else None

    def _check(self, step: int) -> None:
        """Held-out loss and preview; keep the network if it is the best so far."""
        self.last_checked = step
        terms, styled = self.trainer.evaluate(self.held_out)
        loss = float(terms[0])
        best = self.best_loss is None or loss < float(self.best_loss)
        if best:
            self.best_step, self.best_loss = step, loss
            self.best_weights = self.trainer.weights()
            self.trainer.save_best(self.run_dir / runs.BEST_WEIGHTS, self.best_weights)
        if self.history and self.history[-1]["step"] == step:
            self.history[-1]["held_out_loss"] = loss
        self.on_event(HeldOutLoss(step, self.params.steps, loss, _named(terms), best))
        preview = styled[0]
        if self.params.preserve_colors:
            from cnnstudio.core.style.colors import transfer_luminance

            preview = transfer_luminance(preview, self.held_out[0])
        self.on_event(Preview(preview, step, self.params.steps))

    def _checkpoint(self, step: int) -> None:
        extra = {"best_step": self.best_step, "best_loss": self.best_loss}
        path = self.trainer.save_checkpoint(self.run_dir / runs.CHECKPOINTS, step, extra)
        self._flush_history()
        self.on_event(CheckpointSaved(step, str(path)))

    def _flush_history(self) -> None:
        runs.append_history(self.run_dir, self.history)
        self.history = []

    def _result(self, step: int, stopped: bool) -> FastStyleResult:
        if self.best_weights is not None:
            network = self.trainer.network_with(self.best_weights)
        else:  # resumed and never better than the checkpoint's best: that file
            network = self.trainer.network_with(self.trainer.weights())
            best_file = self.run_dir / runs.BEST_WEIGHTS
            if best_file.exists():
                network.load_weights(best_file)
        meta = models.style_model_meta(
            self.params,
            self.styles,
            steps=step,
            best_step=self.best_step,
            held_out_loss=None if self.best_loss is None else float(self.best_loss),
            photos=self.photo_count,
        )
        return FastStyleResult(
            model=network,
            meta=meta,
            run_dir=self.run_dir,
            steps_done=step,
            best_step=self.best_step,
            best_loss=None if self.best_loss is None else float(self.best_loss),
            stopped=stopped,
            skipped=self.skipped,
        )


def _named(terms) -> dict[str, float]:
    return {"content": float(terms[1]), "style": float(terms[2]), "tv": float(terms[3])}
