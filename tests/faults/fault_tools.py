"""Files for the fault suite: small models, hostile archives, a pause point for kills.

Imported by the test modules next to it (pytest puts their folder on ``sys.path``)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

CLASSES = ["cat", "dog", "bird"]


def tiny_model(units: int = 3):
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(units, activation="softmax", name="dense"),
        ]
    )


def tiny_model_file(path: Path, units: int = 3) -> Path:
    tiny_model(units).save(path)
    return path


def rewrite_keras(source: Path, target: Path, change) -> Path:
    """A copy of the .keras file ``source`` whose members are ``change(members)``
    ({name: bytes} -> {name: bytes}; config.json as bytes)."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members = change(members)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def with_config(source: Path, target: Path, edit) -> Path:
    """A copy of ``source`` whose config.json (parsed) is edited by ``edit(config)``, or
    replaced by the text it returns."""

    def change(members):
        config = json.loads(members["config.json"])
        result = edit(config)
        members["config.json"] = (
            result if isinstance(result, str) else json.dumps(config)
        ).encode()
        return members

    return rewrite_keras(source, target, change)
