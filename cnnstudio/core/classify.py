"""Classification, Grad-CAM and feature maps for any CNN: the ImageNet backbones and every
model of the library (or a ``.keras`` file).

A :class:`Classifier` bundles a Keras model with what it needs around it: class names,
input size, channels and preprocessing (from the backbone, or from the model's sidecar).
:func:`classify_paths` turns files and folders into one :class:`ClassifyResult` per file
(a file that cannot be read is one result with its error, never the end of the batch);
:func:`classify_job` is the same as a job generator for the GUI.

Grad-CAM and the feature-map viewer work on nested models too (a transfer model whose
backbone is a sub-model): layers are addressed by a path ``"outer/inner"`` and
:func:`cnnstudio.core.layers.layer_outputs_model` rebuilds the graph from the model's own inputs through the
nested model, so activations and gradients stay connected (the case that breaks the usual
``model.get_layer(base).get_layer(conv).output`` recipe).

TensorFlow/Keras are imported inside functions: this module loads without them.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.errors import InputError, StudioError
from cnnstudio.core.events import DownloadProgress, Notice, Progress

#: thumbnails carried by results (longest side, pixels)
THUMBNAIL_SIDE = 96
#: images are decoded at most this large before being resized to the model input
WORKING_SIDE = 1024
#: how many images go through the model at once in a batch job
BATCH_SIZE = 8

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


# -------------------------------------------------------------------- classifier


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
            from cnnstudio.core import weights

            return f"{self.name}, {weights.weights_label(self.weights)}"
        return self.name

    @property
    def untrained(self) -> bool:
        if not self.weights:
            return False
        from cnnstudio.core import weights

        return weights.is_untrained(self.weights)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """uint8 RGB (H, W, 3) -> float32 model input (h, w, channels)."""
        from cnnstudio.core import images

        height, width = self.input_size
        resized = images.resize_to(image, width, height).astype(np.float32)
        if self.channels == 1:
            # ITU-R 601 luma: what Pillow's convert("L") gives, the usual grey of datasets
            resized = resized @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
        elif self.channels != 3:
            raise InputError(f"model '{self.name}' takes {self.channels} channels; 1 or 3 work")
        if self.preprocessing and self.preprocessing != "none":
            from cnnstudio.core import backbones

            resized = np.asarray(backbones.preprocess(self.preprocessing, resized), np.float32)
        return resized

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Prepared inputs (n, h, w, c) -> class probabilities (n, classes)."""
        if self._predict_fn is None:
            import tensorflow as tf

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
    ) -> GradCam:
        """Grad-CAM of one uint8 RGB image (the top class unless ``class_index``)."""
        return gradcam(
            self.model, self.prepare(image), class_index, layer or self.default_layer, method
        )

    def feature_maps(self, image: np.ndarray, layer: str) -> np.ndarray:
        """Activations (h, w, channels) of ``layer`` for one uint8 RGB image."""
        return feature_maps(self.model, self.prepare(image), layer)

    def conv_layers(self) -> list[str]:
        """Layer paths whose output is a feature map, in network order."""
        from cnnstudio.core import layers

        return layers.conv_layer_paths(self.model)

    def last_conv_layer(self) -> str:
        from cnnstudio.core import layers

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


def model_choices() -> list[tuple[str, str]]:
    """(spec, label) of every model that can classify: the ImageNet backbones, then the
    library's models (spec = the ``.keras`` path)."""
    from cnnstudio.core import backbones, library

    choices = [
        (name, f"{backbones.get_backbone(name).label} (ImageNet)")
        for name in backbones.BACKBONE_NAMES
    ]
    choices += [(str(entry.path), entry.describe()) for entry in library.list_models()]
    return choices


def load_classifier(
    spec: Any,
    weights: str = "imagenet",
    on_download: Callable[..., None] | None = None,
) -> Classifier:
    """A classifier for ``spec``: a backbone name (``inception_v3``, ``vgg19``,
    ``mobilenet_v2``; ``weights`` picks imagenet/random/a weights file), a library entry,
    a ``.keras`` path, or the name of a library model. Unsafe files raise
    UnsafeModelError; unknown names an InputError listing the choices."""
    from cnnstudio.core import backbones, library

    if isinstance(spec, library.ModelEntry):
        return _classifier_from_file(Path(spec.path), dict(spec.meta), spec.name)
    text = str(spec).strip()
    if text.lower() in backbones.BACKBONE_NAMES:
        name = text.lower()
        info = backbones.get_backbone(name)
        model = backbones.build_backbone(
            name, weights=weights, include_top=True, on_download=on_download
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
    path = Path(os.path.expanduser(text))
    if path.exists():
        return _classifier_from_file(path, library.read_sidecar(path), path.stem)
    for entry in library.list_models():
        if entry.name == text:
            return _classifier_from_file(entry.path, dict(entry.meta), entry.name)
    if path.suffix.lower() in (library.MODEL_SUFFIX,) + library.LEGACY_SUFFIXES:
        raise InputError(f"model file not found: {path}")
    library_names = [e.name for e in library.list_models()]
    choices = ", ".join(list(backbones.BACKBONE_NAMES) + library_names)
    raise InputError(
        f"unknown model '{text}': give a backbone name, a .keras file or a library model "
        f"({choices})"
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
    from cnnstudio.core import backbones
    from cnnstudio.core.weights import ensure_weights_events

    if not isinstance(spec, (str, os.PathLike)):
        return  # a library entry: no pretrained weights to fetch
    name = os.fspath(spec).strip().lower()
    if name in backbones.BACKBONE_NAMES:
        yield from ensure_weights_events(backbones.get_backbone(name), weights, include_top=True)


def _classifier_from_file(path: Path, meta: dict[str, Any], name: str) -> Classifier:
    from cnnstudio.core import backbones, library

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


# ---------------------------------------------------------------------- batches


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files and folders -> image files (folders scanned recursively, sorted; files named
    explicitly kept whatever their suffix, so a bad one is reported, not skipped)."""
    from cnnstudio.core import images

    return list(images.iter_image_files(paths, recursive=True))


def classify_paths(
    classifier: Classifier,
    paths: Iterable[str | os.PathLike[str]],
    top_k: int = 5,
    batch_size: int = BATCH_SIZE,
) -> Iterator[ClassifyResult]:
    """One result per image file (in order) for files and folders; an unreadable file
    gives a result with its error and the batch goes on."""
    from cnnstudio.core import images

    pending: list[tuple[int, Path, np.ndarray | None, str | None]] = []

    def flush() -> Iterator[ClassifyResult]:
        loaded = [(i, p, x) for i, p, x, e in pending if e is None]
        probabilities = {}
        if loaded:
            batch = np.stack([x for _, _, x in loaded])
            for (i, _, _), probs in zip(loaded, classifier.predict(batch), strict=True):
                probabilities[i] = probs
        for i, path, _, error in pending:
            thumbnail = thumbnails.pop(i, None)
            if error is not None:
                yield ClassifyResult(str(path), error=error, index=i)
            else:
                yield ClassifyResult(
                    str(path),
                    classifier.top_k(probabilities[i], top_k),
                    thumbnail=thumbnail,
                    index=i,
                )
        pending.clear()

    thumbnails: dict[int, np.ndarray] = {}
    for index, path in enumerate(expand_paths(paths)):
        try:
            image = images.load_image(path, max_side=WORKING_SIDE)
            thumbnails[index] = images.resize_max_side(image, THUMBNAIL_SIDE)
            pending.append((index, path, classifier.prepare(image), None))
        except StudioError as error:
            pending.append((index, path, None, str(error)))
        except (OSError, ValueError) as error:  # anything odd in a file stays one row
            pending.append((index, path, None, f"{path.name}: {error}"))
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()


@dataclass(frozen=True, eq=False)
class ClassifierReady:
    """Event: the model is loaded (the GUI keeps it for Grad-CAM and feature maps)."""

    classifier: Classifier


def classify_job(
    spec: Any,
    paths: Sequence[str | os.PathLike[str]],
    top_k: int = 5,
    weights: str = "imagenet",
    classifier: Classifier | None = None,
) -> Iterator[object]:
    """Job generator for the GUI: yields a Notice while the model loads (and, for a
    backbone whose ImageNet weights are not here yet, DownloadProgress events while they
    download) and a :class:`ClassifierReady`, then for each file a
    :class:`ClassifyResult` and a Progress; returns the list of results."""
    files = expand_paths(paths)
    if not files:
        raise InputError("no image files found in " + ", ".join(str(p) for p in paths))
    if classifier is None:
        loading = Notice(f"Loading {Path(str(spec)).name}...")
        yield loading
        downloaded = False
        downloads = weights_download_events(spec, weights)
        try:
            for event in downloads:
                downloaded = True
                yield event
        finally:
            downloads.close()  # Stop: abandon the download now, not when collected
        if downloaded:
            yield loading  # the bar showed the download; building the model comes next
        classifier = load_classifier(spec, weights)
    yield ClassifierReady(classifier)
    results: list[ClassifyResult] = []
    for result in classify_paths(classifier, files, top_k):
        results.append(result)
        yield result
        name = Path(result.file).name
        yield Progress(len(results), len(files), 0.0, message=f"{name}")
    return results


def write_csv(
    results: Iterable[ClassifyResult],
    path: str | os.PathLike[str],
    gradcam_errors: dict[str, str] | None = None,
) -> Path:
    """One row per image: file, then label/probability pairs, best first, then the error;
    with ``gradcam_errors`` ({file: message}) a last ``gradcam_error`` column too."""
    results = list(results)
    k = max((len(r.predictions) for r in results), default=0)
    header = ["file"]
    for rank in range(1, k + 1):
        header += [f"label_{rank}", f"probability_{rank}"]
    header.append("error")
    if gradcam_errors is not None:
        header.append("gradcam_error")
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for result in results:
            row = [result.file]
            for rank in range(k):
                if rank < len(result.predictions):
                    p = result.predictions[rank]
                    row += [p.label, f"{p.probability:.6f}"]
                else:
                    row += ["", ""]
            row.append(result.error or "")
            if gradcam_errors is not None:
                row.append(gradcam_errors.get(result.file, ""))
            writer.writerow(row)
    return path


# ---------------------------------------------------------------------- Grad-CAM


@dataclass(frozen=True, eq=False)
class GradCam:
    """A Grad-CAM heat map: float32 (h, w) in 0..1 at the layer's resolution."""

    heatmap: np.ndarray
    class_index: int
    layer: str
    score: float

    def overlay(self, image: np.ndarray, alpha: float = 0.45) -> np.ndarray:
        return heatmap_overlay(image, self.heatmap, alpha)


def _as_batch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x[None] if x.ndim == 3 else x


CAM_METHODS = ("gradcam", "hirescam")


def gradcam(
    model: Any,
    x: np.ndarray,
    class_index: int | None = None,
    layer: str | None = None,
    method: str = "gradcam",
) -> GradCam:
    """Grad-CAM (Selvaraju et al. 2017) of one prepared input (h, w, c) or (1, h, w, c):
    the layer's maps weighted by the mean gradient of the class score (before softmax),
    rectified, scaled to 0..1. ``layer`` defaults to the last convolution (nested models
    included). ``method="hirescam"`` multiplies maps and gradients position by position
    instead of averaging the gradient first (Draelos & Carin 2020): faithful for heads
    that flatten the maps into a dense layer, where averaging can cancel out."""
    import tensorflow as tf

    from cnnstudio.core import layers

    if method not in CAM_METHODS:
        raise InputError(f"unknown heat-map method '{method}'; use {' or '.join(CAM_METHODS)}")

    layer = layer or layers.find_last_conv_layer(model)
    grad_model = _gradcam_model(model, layer)
    batch = tf.convert_to_tensor(_as_batch(x)[:1])
    with tf.GradientTape() as tape:
        activations, outputs = grad_model(batch, training=False)
        outputs = tf.reshape(outputs, (1, -1))
        if class_index is None:
            class_index = int(tf.argmax(outputs[0]))
        if outputs.shape[-1] == 1:
            # one sigmoid unit: class 1 is the unit, class 0 its opposite
            score = outputs[0, 0] if class_index == 1 else -outputs[0, 0]
        else:
            score = outputs[0, class_index]
    if len(activations.shape) != 4:
        choices = ", ".join(layers.conv_layer_paths(model)[-8:])
        raise InputError(
            f"layer '{layer}' is not a convolutional feature map (its output has shape "
            f"{tuple(activations.shape)}); choose one of: {choices}"
        )
    grads = tape.gradient(score, activations)
    if grads is None:
        raise InputError(f"layer '{layer}' does not feed the model's output; pick another")
    if method == "hirescam":
        cam = tf.nn.relu(tf.reduce_sum(activations[0] * grads[0], axis=-1)).numpy()
    else:
        weights = tf.reduce_mean(grads, axis=(1, 2))  # one weight per channel
        cam = tf.nn.relu(tf.reduce_sum(activations[0] * weights[0], axis=-1)).numpy()
    peak = float(cam.max())
    heatmap = (cam / peak if peak > 0 else np.zeros_like(cam)).astype(np.float32)
    return GradCam(heatmap, int(class_index), layer, float(score))


def _gradcam_model(model: Any, layer: str) -> Any:
    """inputs -> [activations of ``layer``, class scores before the final softmax or
    sigmoid]. Grad-CAM needs the scores: a saturated softmax (p = 1.0 in float32) has a
    zero gradient, and a confident trained model is exactly the one users explain."""
    import keras

    from cnnstudio.core import layers

    cache = layers.features_model_cache(model)
    key = ("gradcam", layer)
    if key in cache:
        return cache[key]
    wanted = [layers.split_path(model, layer)]
    final = layers.final_layer(model)
    logits_of = _logits_function(final) if final is not None else None
    if logits_of is not None:
        wanted.append((layers.INPUT_OF, final.name))
    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
    captured: dict[tuple[str, ...], Any] = {}
    output = layers.run_capturing(model, inputs, wanted, captured)
    if isinstance(output, (list, tuple)):
        output = output[0]
    scores = logits_of(captured[wanted[1]]) if logits_of is not None else output
    result = keras.Model(inputs, [captured[wanted[0]], scores], name=f"{model.name}_gradcam")
    cache[key] = result
    return result


def _logits_function(layer: Any) -> Callable[[Any], Any] | None:
    """For a final softmax/sigmoid layer: a function from its input to its scores before
    the activation; None when the layer's output already is a score."""
    from keras import activations, ops

    squashing = (activations.softmax, activations.sigmoid)
    kind = type(layer).__name__
    activation = getattr(layer, "activation", None)
    if kind == "Activation" and activation in squashing:
        return lambda x: x
    if kind == "Softmax":
        return lambda x: x
    if kind == "Dense" and activation in squashing:

        def dense_logits(x: Any) -> Any:
            z = ops.matmul(x, layer.kernel)
            return z + layer.bias if layer.bias is not None else z

        return dense_logits
    return None


def _colormap(values: np.ndarray) -> np.ndarray:
    """0..1 -> uint8 RGB on a 'jet'-like ramp (blue, cyan, yellow, red)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    red = np.clip(1.5 - np.abs(4.0 * v - 3.0), 0.0, 1.0)
    green = np.clip(1.5 - np.abs(4.0 * v - 2.0), 0.0, 1.0)
    blue = np.clip(1.5 - np.abs(4.0 * v - 1.0), 0.0, 1.0)
    return (np.concatenate([red, green, blue], axis=-1) * 255.0).astype(np.uint8)


def resize_heatmap(heatmap: np.ndarray, width: int, height: int) -> np.ndarray:
    """A 0..1 heat map resized smoothly (bilinear) to ``width`` x ``height``."""
    from PIL import Image

    pil = Image.fromarray(np.asarray(heatmap, np.float32), mode="F")
    resized = pil.resize((int(width), int(height)), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, np.float32), 0.0, 1.0)


def heatmap_overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heat map in colour over a uint8 RGB image (same size as the image); cold
    regions stay mostly the picture, hot ones turn red."""
    image = np.asarray(image, np.uint8)
    height, width = image.shape[:2]
    heat = resize_heatmap(heatmap, width, height)
    colour = _colormap(heat).astype(np.float32)
    weight = alpha * (0.35 + 0.65 * heat[..., None])  # hotter: more colour
    blended = image.astype(np.float32) * (1.0 - weight) + colour * weight
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ feature maps


def feature_maps(model: Any, x: np.ndarray, layer: str) -> np.ndarray:
    """Activations of ``layer`` for one prepared input: float32 (h, w, channels)."""
    from cnnstudio.core import layers

    features = layers.layer_outputs_model(model, [layer])
    output = features(_as_batch(x)[:1], training=False)
    if isinstance(output, (list, tuple)):
        output = output[0]
    maps = np.asarray(output)[0]
    if maps.ndim != 3:
        raise InputError(f"layer '{layer}' has no feature-map output (shape {maps.shape})")
    return maps.astype(np.float32)


def tile_channels(
    maps: np.ndarray,
    max_channels: int = 64,
    columns: int | None = None,
    pad: int = 1,
    cell: int | None = None,
) -> np.ndarray:
    """Channels (h, w, c) tiled into one grid image (uint8 RGB, grey per channel, each
    channel scaled to its own range; dead channels are black). ``cell`` enlarges small
    maps to that many pixels per side (nearest neighbour, so pixels stay visible)."""
    maps = np.asarray(maps, np.float32)
    if maps.ndim == 2:
        maps = maps[..., None]
    count = max(1, min(int(max_channels), maps.shape[-1]))
    maps = maps[..., :count]
    if cell and cell > maps.shape[0]:
        factor = max(1, int(cell) // max(maps.shape[0], maps.shape[1]))
        maps = maps.repeat(factor, axis=0).repeat(factor, axis=1)
    height, width = maps.shape[:2]
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad), 48, dtype=np.uint8)
    low = maps.min(axis=(0, 1))
    span = maps.max(axis=(0, 1)) - low
    for channel in range(count):
        row, col = divmod(channel, columns)
        values = maps[..., channel] - low[channel]
        tile = values / span[channel] if span[channel] > 1e-12 else np.zeros_like(values)
        top = pad + row * (height + pad)
        left = pad + col * (width + pad)
        grid[top : top + height, left : left + width] = np.rint(tile * 255.0).astype(np.uint8)
    return np.repeat(grid[..., None], 3, axis=2)
