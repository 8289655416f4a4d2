"""The window's warm-up (core/warmup.py) runs a real training step and gradient step, and
leaves no trace in the user's networks: Keras numbers unnamed layers per process, so a
warm-up with unnamed layers would rename the user's first network ("conv2d_1")."""

from __future__ import annotations

import keras

from cnnstudio.core.warmup import warm_up


def _number(name: str) -> int:
    stem, _, suffix = name.rpartition("_")
    return int(suffix) if stem and suffix.isdigit() else 0


def test_warm_up_leaves_the_names_of_later_networks_alone():
    made = [keras.layers.Dense(1).name, keras.layers.Conv2D(1, 3).name, keras.Sequential().name]
    warm_up()
    later = [keras.layers.Dense(1).name, keras.layers.Conv2D(1, 3).name, keras.Sequential().name]
    assert [_number(name) for name in later] == [_number(name) + 1 for name in made]
