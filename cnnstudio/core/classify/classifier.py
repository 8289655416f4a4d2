"""A model that classifies: a backbone with the ImageNet labels, or a model of the library
(or any ``.keras`` file) with the labels, input size, channels and preprocessing of its
sidecar. Models from files are loaded safely (``library.load_model_file``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from cnnstudio.core import backbones, images, layers, library
from cnnstudio.core.classify import explain
from cnnstudio.core.classify.params import Prediction, imagenet_class_names
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import DownloadProgress
from cnnstudio.core.faststyle.models import check_not_style_model
from cnnstudio.core.weights import ensure_weights_events, is_untrained, weights_label


@dataclass
class Classifier:
    """A model plus what it needs around it to classify an RGB image."""

    model: Any
    class_names: list[str]
    input_size: tuple[int, int]  # (height, width)
    channels: int = 3
    preprocessing: str = "none"  # "none" or a backbone name (backbones.preprocess)
    name: str = ""
    weights: str = ""  # for backbones: "imagenet" | "random" | path
    default_layer: str | None = None  # Grad-CAM layer; None: found automatically
    _predict_fn: Any = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """A line for the UI: the model's name and, for backbones, its weights."""
        if self.weights:
            return f"{self.name}, {weights_label(self.weights)}"
        return self.name

    @property
    def untrained(self) -> bool:
        if not self.weights:
            return False
        return is_untrained(self.weights)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """uint8 RGB (H, W, 3) -> float32 model input (h, w, channels)."""
        height, width = self.input_size
        resized = images.resize_to(image, width, height).astype(np.float32)
        if self.channels == 1:
            # ITU-R 601 luma: what Pillow's convert("L") gives, the usual grey of datasets
            resized = resized @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
        elif self.channels != 3:
            raise InputError(f"model '{self.name}' takes {self.channels} channels; 1 or 3 work")
        if self.preprocessing and self.preprocessing != "none":
            resized = np.asarray(backbones.preprocess(self.preprocessing, resized), np.float32)
        return resized

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Prepared inputs (n, h, w, c) -> class probabilities (n, classes)."""
        if self._predict_fn is None:
            height, width = self.input_size
            # Compiled once for any batch size: a folder does not retrace per batch.
            signature = [tf.TensorSpec([None, height, width, self.channels], tf.float32)]
            model = self.model
            self._predict_fn = tf.function(
                lambda x: model(x, training=False), input_signature=signature
            )
        outputs = self._predict_fn(np.asarray(batch, np.float32))
        if isinstance(outputs, (list, tuple)):
            outputs = outputs[0]
        return to_probabilities(np.asarray(outputs))

    def top_k(self, probabilities: np.ndarray, k: int = 5) -> tuple[Prediction, ...]:
        """The k most probable labels of one probability vector, best first."""
        k = max(1, min(int(k), probabilities.shape[-1]))
        order = np.argsort(-probabilities, kind="stable")[:k]
        return tuple(
            Prediction(self.name_of(int(i)), float(probabilities[i]), int(i)) for i in order
        )

    def classify(self, image: np.ndarray, top_k: int = 5) -> tuple[Prediction, ...]:
        """Top-k predictions for one uint8 RGB image."""
        return self.top_k(self.predict(self.prepare(image)[None])[0], top_k)

    def gradcam(
        self,
        image: np.ndarray,
        class_index: int | None = None,
        layer: str | None = None,
        method: str = "gradcam",
    ) -> explain.GradCam:
        """Grad-CAM of one uint8 RGB image (the top class unless ``class_index``)."""
        return explain.gradcam(
            self.model, self.prepare(image), class_index, layer or self.default_layer, method
        )

    def feature_maps(self, image: np.ndarray, layer: str) -> np.ndarray:
        """Activations (h, w, channels) of ``layer`` for one uint8 RGB image."""
        return explain.feature_maps(self.model, self.prepare(image), layer)

    def conv_layers(self) -> list[str]:
        """Layer paths whose output is a feature map, in network order."""
        return layers.conv_layer_paths(self.model)

    def last_conv_layer(self) -> str:
        return self.default_layer or layers.find_last_conv_layer(self.model)

    def name_of(self, index: int) -> str:
        """The label of class ``index`` ("class N" when the model has no name for it)."""
        if 0 <= index < len(self.class_names):
            return self.class_names[index]
        return f"class {index}"


def to_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Model outputs (n, classes) as probabilities: softmax outputs pass through, logits
    get a softmax, a single sigmoid unit becomes the two classes (1 - p, p)."""
    outputs = np.asarray(outputs, np.float64)
    if outputs.ndim == 1:
        outputs = outputs[None]
    outputs = outputs.reshape(outputs.shape[0], -1)
    if outputs.shape[1] == 1:
        p = outputs[:, 0]
        if p.min() < 0.0 or p.max() > 1.0:  # a logit, not a sigmoid output
            p = 1.0 / (1.0 + np.exp(-p))
        return np.stack([1.0 - p, p], axis=1).astype(np.float32)
    sums = outputs.sum(axis=1)
    if outputs.min() >= 0.0 and np.allclose(sums, 1.0, atol=1e-3):
        return outputs.astype(np.float32)
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def load_classifier(
    spec: Any,
    weights: str = "imagenet",
    on_download: Callable[..., None] | None = None,
    seed: int | None = None,
) -> Classifier:
    """A classifier for ``spec``: a backbone name (``inception_v3``, ``vgg19``,
    ``mobilenet_v2``; ``weights`` picks imagenet/random/a weights file; ``seed``, which
    untrained network "random" is), a library entry, a ``.keras`` path, or the name of a
    library model. Unsafe files raise UnsafeModelError; unknown names an InputError
    listing the choices."""
    if not isinstance(spec, library.ModelEntry) and str(spec).strip().lower() in (
        backbones.BACKBONE_NAMES
    ):
        name = str(spec).strip().lower()
        info = backbones.get_backbone(name)
        model = backbones.build_backbone(
            name, weights=weights, include_top=True, on_download=on_download, seed=seed
        )
        height, width = _input_size_of(model, (info.default_size, info.default_size))
        return Classifier(
            model=model,
            class_names=imagenet_class_names(),
            input_size=(height, width),
            channels=3,
            preprocessing=name,
            name=info.label,
            weights=weights,
            default_layer=getattr(info, "last_conv_layer", None) or None,
        )
    entry = library.resolve_model(spec)  # a library entry, a .keras path or a name
    if entry is not None:
        return _classifier_from_file(Path(entry.path), dict(entry.meta), entry.name)
    library_names = [e.name for e in library.list_models()]
    choices = ", ".join(list(backbones.BACKBONE_NAMES) + library_names)
    raise InputError(
        f"unknown model '{str(spec).strip()}': give a backbone name, a .keras file or a "
        f"library model ({choices})"
    )


def weights_download_events(
    spec: Any, weights: str = "imagenet"
) -> Generator[DownloadProgress, None, None]:
    """For a backbone ``spec`` whose ImageNet weights (the file with the classifier top)
    are not on this machine yet: download them, yielding a
    :class:`~cnnstudio.core.events.DownloadProgress` per chunk, so that
    :func:`load_classifier` then finds them. Closing the generator abandons the download.
    Nothing for other models, other weight sources or weights already here;
    ResourceMissingError when they cannot be had."""
    if not isinstance(spec, (str, os.PathLike)):
        return  # a library entry: no pretrained weights to fetch
    name = os.fspath(spec).strip().lower()
    if name in backbones.BACKBONE_NAMES:
        yield from ensure_weights_events(backbones.get_backbone(name), weights, include_top=True)


def _classifier_from_file(path: Path, meta: dict[str, Any], name: str) -> Classifier:
    check_not_style_model(name, meta)  # from its sidecar, before loading it
    model = library.load_model_file(path)
    if len(getattr(model, "inputs", []) or []) > 1:
        raise InputError(f"{path.name} has several inputs; Classify needs a one-image model")
    input_shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else ()
    if len(input_shape) != 4:
        raise InputError(f"{path.name} does not take images (input shape {input_shape})")
    size = meta.get("input_size")
    fallback = (int(size[0]), int(size[1])) if size else None
    height, width = _input_size_of(model, fallback)
    channels = int(meta.get("channels") or input_shape[3] or 3)
    if input_shape[3] is not None and int(input_shape[3]) != channels:
        channels = int(input_shape[3])  # the model's own input wins over a stale sidecar
    if input_shape[1] is None or input_shape[2] is None:
        _check_size_fits(model, path, (height, width, channels))
    preprocessing = str(meta.get("preprocessing") or "none")
    if preprocessing != "none" and preprocessing not in backbones.BACKBONE_NAMES:
        raise InputError(
            f"{path.name}: unknown preprocessing '{preprocessing}' in its sidecar "
            f"(expected 'none' or one of {', '.join(backbones.BACKBONE_NAMES)})"
        )
    output_shape = tuple(model.outputs[0].shape)
    if len(output_shape) != 2:
        # a feature extractor or segmenter: its "classes" would be pixels or channels
        raise InputError(
            f"{path.name} is not a classifier: its output has shape {output_shape}, not "
            "(batch, classes); choose a model that ends in a Dense/softmax layer"
        )
    outputs = int(output_shape[1] or 1)
    classes = 2 if outputs == 1 else outputs  # one sigmoid unit: two classes
    names = [str(c) for c in meta.get("class_names") or []]
    if len(names) != classes:
        names = [f"class {i}" for i in range(classes)]
    return Classifier(
        model=model,
        class_names=names,
        input_size=(height, width),
        channels=channels,
        preprocessing=preprocessing,
        name=name,
    )


def _check_size_fits(model: Any, path: Path, shape: tuple[int, int, int]) -> None:
    """A free-size model runs at its sidecar's input_size: refuse one its layers cannot
    take (a 3x3 valid convolution on 1x1) from the shapes alone, in one line, rather than
    with TensorFlow's error at the first picture."""
    try:
        model.compute_output_shape((1, *shape))
    except ValueError:
        raise InputError(
            f"sidecar {path.with_suffix('.json').name}: input_size "
            f"[{shape[0]}, {shape[1]}] is too small for {path.name}; give a larger "
            "input_size in it",
            path=str(path),
        ) from None


def _input_size_of(model: Any, fallback: tuple[int, int] | None) -> tuple[int, int]:
    shape = tuple(model.inputs[0].shape)
    height, width = shape[1], shape[2]
    if height is None or width is None:
        if fallback is None:
            raise InputError(
                f"model '{model.name}' accepts any image size and has no input_size in its "
                "sidecar; add one ([height, width]) to its .json file"
            )
        return int(fallback[0]), int(fallback[1])
    return int(height), int(width)
