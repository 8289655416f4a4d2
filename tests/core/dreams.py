"""What the dream tests share: a quick set of parameters, a photo, and a way to drive a job.

Imported by test modules next to it (pytest puts their folder on ``sys.path``)."""

from __future__ import annotations

import numpy as np

from cnnstudio.core.dream.params import DreamParams

# 2 octaves, 2 steps, tiles of 80 px on ~100-160 px images: several tiles per step
SMALL = DreamParams(weights="random", steps=2, octaves=2, tile_size=80, jitter=40, seed=7)


def run(gen):
    """All events of a dream and its result."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def make_photo() -> np.ndarray:
    """A smooth picture with some texture (120 x 160)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:120, 0:160]
    base = np.stack([x * 1.5, y * 2.0, (x + y) * 0.8], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
