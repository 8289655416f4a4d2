"""What Classify gives back, without TensorFlow: results, events, class names, the models
to choose from, and the sizes a batch works at. The Classify tab uses all of it at start-up.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from cnnstudio.core import backbones, checks, library
from cnnstudio.core.faststyle.params import is_style_model

#: thumbnails carried by results (longest side, pixels)
THUMBNAIL_SIDE = 96
#: images are decoded at most this large before being resized to the model input
WORKING_SIDE = 1024
#: how many images go through the model at once in a batch job
BATCH_SIZE = 8
#: labels per image at most (the Classify tab offers up to 20)
MAX_TOP_K = 1000
#: heat-map methods: Grad-CAM (Selvaraju et al. 2017) and HiResCAM (Draelos & Carin 2020)
CAM_METHODS = ("gradcam", "hirescam")

# --------------------------------------------------------------------- class names


@functools.lru_cache(maxsize=1)
def _imagenet_table() -> tuple[tuple[str, str, str], ...]:
    text = (
        resources.files("cnnstudio.resources")
        .joinpath("imagenet_classes.json")
        .read_text(encoding="utf-8")
    )
    return tuple(tuple(row) for row in json.loads(text)["classes"])


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet labels in Keras class-index order (0 = tench, 999 = toilet tissue)."""
    return [row[1] for row in _imagenet_table()]


def imagenet_synsets() -> list[str]:
    """The WordNet synset ids of the 1000 ImageNet classes, in Keras class-index order."""
    return [row[0] for row in _imagenet_table()]


# ----------------------------------------------------------------------- results


@dataclass(frozen=True)
class Prediction:
    """One label of a top-k list."""

    label: str
    probability: float
    index: int


@dataclass(frozen=True, eq=False)
class ClassifyResult:
    """What one file gave: its top-k predictions, or the error that stopped it."""

    file: str
    predictions: tuple[Prediction, ...] = ()
    error: str | None = None
    thumbnail: np.ndarray | None = None  # uint8 RGB, longest side THUMBNAIL_SIDE
    index: int = 0  # position in the batch (0-based)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def top(self) -> Prediction | None:
        return self.predictions[0] if self.predictions else None

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON object: file and predictions, or file and error."""
        if self.error is not None:
            return {"file": self.file, "error": self.error}
        return {
            "file": self.file,
            "predictions": [
                {"label": p.label, "probability": round(p.probability, 6)} for p in self.predictions
            ],
        }


@dataclass(frozen=True, eq=False)
class ClassifierReady:
    """Event: the model is loaded (the GUI keeps it for Grad-CAM and feature maps); a
    :class:`cnnstudio.core.classify.classifier.Classifier`."""

    classifier: Any


# ------------------------------------------------------------------------ choices


def model_choices() -> list[tuple[str, str]]:
    """(spec, label) of every model that can classify: the ImageNet backbones, then the
    library's models (spec = the ``.keras`` path)."""
    choices = [
        (name, f"{backbones.get_backbone(name).label} (ImageNet)")
        for name in backbones.BACKBONE_NAMES
    ]
    choices += [
        (str(entry.path), entry.describe())
        for entry in library.list_models()
        if not is_style_model(entry.meta)  # style networks paint; they have no classes
    ]
    return choices


def check_top_k(top_k: object) -> int:
    """``top_k`` if it is a whole number from 1 to MAX_TOP_K; InputError otherwise."""
    return checks.whole(top_k, "top-k", 1, MAX_TOP_K, param="top")
