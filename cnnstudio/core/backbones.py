"""Pretrained networks: InceptionV3, VGG19 and MobileNetV2.

The registry (:class:`BackboneInfo`: minimum and default input size, the layer names worth
dreaming on or looking at, the official ImageNet weights files with their sizes), the
preprocessing of each network (and its inverse), and the builders with their model cache.

A network is built with one of three weight sources (:mod:`cnnstudio.core.weights`):
``"imagenet"`` (the official file, found or downloaded first), ``"random"`` (untrained) or
the path of a weights file (read and checked by :mod:`cnnstudio.core.weights_files`).
An untrained network is drawn from a seed (:data:`UNTRAINED_SEED` unless the caller gives
one): the same network in every process, so a job resumed after a kill, or run again with
the same ``--seed``, meets the network it started with.

TensorFlow and Keras are imported inside the builders only: the GUI imports this module at
start for the name lists and :class:`BackboneInfo`, without loading TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core.errors import InputError
from cnnstudio.core.weights import DownloadCallback, ensure_imagenet_weights, normalize_weights
from cnnstudio.core.weights_files import check_file_fits, inspect_weights_file, load_weights_file

BACKBONE_NAMES: tuple[str, ...] = ("inception_v3", "vgg19", "mobilenet_v2")

#: ImageNet channel means in BGR order, as keras.applications' "caffe" preprocessing uses.
VGG_MEAN_BGR: tuple[float, float, float] = (103.939, 116.779, 123.68)

_KERAS_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

#: the seed an untrained ("random") network is drawn from unless the caller gives one
UNTRAINED_SEED = 0


@dataclass(frozen=True)
class BackboneInfo:
    """What the app needs to know about one pretrained architecture."""

    name: str
    label: str
    min_size: int
    default_size: int
    #: range of the network's input after :func:`preprocess`; None for VGG19 (caffe style:
    #: BGR with the ImageNet mean subtracted, roughly -124..152)
    input_range: tuple[float, float] | None
    preprocessing: str  # "tf" ([-1, 1]) or "caffe" (BGR minus mean)
    dream_layers: tuple[str, ...]
    conv_layers: tuple[str, ...]
    last_conv_layer: str
    weights_file_top: str
    weights_file_notop: str
    #: byte sizes of the official files (from the Keras download logs, see _SIZES_SOURCE)
    weights_size_top: int
    weights_size_notop: int
    weights_url_dir: str
    #: number of weight arrays (trainable and not) in the model with / without the top:
    #: a file with another count cannot fit, which we can tell without building anything
    weights_count_top: int
    weights_count_notop: int
    #: md5 Keras checks the download against (the ``file_hash`` of keras/src/applications;
    #: None: Keras publishes none); an imported file is ImageNet only when it matches
    weights_md5_top: str | None = None
    weights_md5_notop: str | None = None

    def weights_file(self, include_top: bool) -> str:
        """Official Keras file name of the ImageNet weights with or without the top."""
        return self.weights_file_top if include_top else self.weights_file_notop

    def weights_size(self, include_top: bool) -> int:
        return self.weights_size_top if include_top else self.weights_size_notop

    def weights_url(self, include_top: bool) -> str:
        return self.weights_url_dir + self.weights_file(include_top)

    def weights_md5(self, include_top: bool) -> str | None:
        return self.weights_md5_top if include_top else self.weights_md5_notop

    def weights_count(self, include_top: bool) -> int:
        return self.weights_count_top if include_top else self.weights_count_notop


# Sizes: the "N/N" byte counts Keras prints when it downloads each file, e.g.
# "87910968/87910968 ... inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in the
# keras-io style-transfer / TF tutorials' logged outputs; md5s from keras/src/applications.
_SIZES_SOURCE = "Keras download logs (keras-io examples, TF tutorials)"

_VGG_CONVS = tuple(
    f"block{block}_conv{conv}"
    for block, convs in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
    for conv in range(1, convs + 1)
)

_MOBILENET_CONVS = (
    ("Conv1", "expanded_conv_depthwise", "expanded_conv_project")
    + tuple(
        f"block_{block}_{part}"
        for block in range(1, 17)
        for part in ("expand", "depthwise", "project")
    )
    + ("Conv_1",)
)

_MOBILENET_ADDS = tuple(f"block_{block}_add" for block in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15))

_INCEPTION_MIXED = tuple(f"mixed{index}" for index in range(11))

_BACKBONES: dict[str, BackboneInfo] = {
    "inception_v3": BackboneInfo(
        name="inception_v3",
        label="InceptionV3",
        min_size=75,
        default_size=299,
        input_range=(-1.0, 1.0),
        preprocessing="tf",
        dream_layers=_INCEPTION_MIXED,
        # InceptionV3's convolutions have auto-generated names (conv2d_N) that change from
        # one build to the next, so its named blocks stand in for them.
        conv_layers=_INCEPTION_MIXED,
        last_conv_layer="mixed10",
        weights_file_top="inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        weights_file_notop="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_size_top=96_112_376,
        weights_size_notop=87_910_968,
        weights_url_dir=_KERAS_APPS_URL + "inception_v3/",
        weights_count_top=378,
        weights_count_notop=376,
        weights_md5_top="9a0d58056eeedaa3f26cb7ebd46da564",
        weights_md5_notop="bcbd6486424b2319ff4ef7d526e38f63",
    ),
    "vgg19": BackboneInfo(
        name="vgg19",
        label="VGG19",
        min_size=32,
        default_size=224,
        input_range=None,
        preprocessing="caffe",
        dream_layers=_VGG_CONVS,
        conv_layers=_VGG_CONVS,
        last_conv_layer="block5_conv4",
        weights_file_top="vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        weights_file_notop="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_size_top=574_710_816,
        weights_size_notop=80_134_624,
        weights_url_dir=_KERAS_APPS_URL + "vgg19/",
        weights_count_top=38,
        weights_count_notop=32,
        weights_md5_top="cbe5617147190e668d6c5d5026f83318",
        weights_md5_notop="253f8cb515780f3b799900260a226db6",
    ),
    "mobilenet_v2": BackboneInfo(
        name="mobilenet_v2",
        label="MobileNetV2",
        min_size=32,
        default_size=224,
        input_range=(-1.0, 1.0),
        preprocessing="tf",
        dream_layers=_MOBILENET_ADDS + ("out_relu",),
        conv_layers=_MOBILENET_CONVS,
        last_conv_layer="out_relu",
        # alpha 1.0 at 224 px: convolution weights do not depend on the input size, so the
        # 224 file serves every input shape.
        weights_file_top="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        weights_file_notop="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        weights_size_top=14_536_120,
        weights_size_notop=9_406_464,
        weights_url_dir=_KERAS_APPS_URL + "mobilenet_v2/",
        weights_count_top=262,
        weights_count_notop=260,
        # keras/src/applications/mobilenet_v2.py downloads these files without a
        # file_hash: no checksum is published, so an import recognises the official file
        # by its exact size (weights_import.official_match)
    ),
}


def get_backbone(name: str) -> BackboneInfo:
    """The :class:`BackboneInfo` for ``name`` (case and ``-`` insensitive)."""
    key = str(name).strip().lower().replace("-", "_")
    aliases = {"inceptionv3": "inception_v3", "mobilenetv2": "mobilenet_v2"}
    key = aliases.get(key, key)
    if key not in _BACKBONES:
        raise InputError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONE_NAMES)}")
    return _BACKBONES[key]


def all_backbones() -> tuple[BackboneInfo, ...]:
    return tuple(_BACKBONES[name] for name in BACKBONE_NAMES)


# --------------------------------------------------------------------------- preprocessing


def _as_float(x: Any) -> Any:
    """float32 numpy array for numpy-like input; tensors keep float dtypes (float16 under
    mixed precision stays float16) and integer tensors are cast to float32."""
    if isinstance(x, (np.ndarray, np.generic, list, tuple, int, float)):
        return np.asarray(x, dtype=np.float32)
    dtype = getattr(x, "dtype", None)
    if dtype is not None and not getattr(dtype, "is_floating", True):
        import tensorflow as tf

        return tf.cast(x, tf.float32)
    return x


def _is_numpy(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def preprocess(name: str, x: Any) -> Any:
    """RGB pixels as floats in 0..255 -> the backbone's input. Works on numpy arrays and on
    TensorFlow tensors (also inside ``tf.function``): plain arithmetic and ``x[..., ::-1]``."""
    info = get_backbone(name)
    x = _as_float(x)
    if info.preprocessing == "caffe":
        mean = np.asarray(VGG_MEAN_BGR, np.float32) if _is_numpy(x) else list(VGG_MEAN_BGR)
        return x[..., ::-1] - mean
    return x / 127.5 - 1.0


def deprocess(name: str, x: Any) -> Any:
    """The inverse of :func:`preprocess`: back to RGB floats in 0..255, not clipped (the
    caller decides when to clip and convert to uint8)."""
    info = get_backbone(name)
    x = _as_float(x)
    if info.preprocessing == "caffe":
        mean = np.asarray(VGG_MEAN_BGR, np.float32) if _is_numpy(x) else list(VGG_MEAN_BGR)
        return (x + mean)[..., ::-1]
    return (x + 1.0) * 127.5


# --------------------------------------------------------------------------------- building

_cache: dict[tuple, Any] = {}
_cache_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}


def clear_model_cache() -> None:
    """Forget every cached model (tests)."""
    with _cache_lock:
        _cache.clear()
        _key_locks.clear()


def forget_imagenet_models(name: str) -> None:
    """Forget the cached "imagenet" models of backbone ``name``: its file was replaced."""
    with _cache_lock:
        for key in [k for k in _cache if k[0] == name and k[1] == "imagenet"]:
            del _cache[key]


def _cache_key(
    info: BackboneInfo, weights: str, include_top: bool, input_shape: tuple | None, seed: int
) -> tuple:
    if weights == "random":
        weights = f"random@{seed}"  # another seed is another network
    elif weights != "imagenet":
        path = Path(weights).expanduser().resolve()
        # the file's modification time is part of the key: a replaced file is reloaded
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        weights = f"{path}@{stamp}"
    # a model keeps the dtype policy it was built under: switching mixed precision on or
    # off must build anew, not hand back the network of the other precision
    return (info.name, weights, include_top, input_shape, _dtype_policy_name())


def _dtype_policy_name() -> str:
    import keras

    return str(keras.config.dtype_policy().name)


def _constructor(info: BackboneInfo) -> Callable[..., Any]:
    import keras

    return {
        "inception_v3": keras.applications.InceptionV3,
        "vgg19": keras.applications.VGG19,
        "mobilenet_v2": keras.applications.MobileNetV2,
    }[info.name]


def _check_input_shape(info: BackboneInfo, input_shape: Sequence | None) -> tuple | None:
    if input_shape is None:
        return None
    shape = tuple(None if d is None else int(d) for d in input_shape)
    if len(shape) != 3 or shape[2] != 3:
        raise InputError(f"input shape {shape} does not suit {info.label}: give (height, width, 3)")
    for side in shape[:2]:
        if side is not None and side < info.min_size:
            raise InputError(
                f"input size {shape[0]}x{shape[1]} is too small for {info.label}: "
                f"each side must be at least {info.min_size} pixels"
            )
    return shape


#: one seeded build at a time: they share Python's random state while they run
_seeded_build_lock = threading.Lock()


@contextlib.contextmanager
def seeded_initializers(seed: int) -> Iterator[None]:
    """Within the block, Keras layers get the initial weights of ``seed``; outside it
    Python's random state is exactly what it was, so no one else's draws change (a
    training run's shuffles, a ``--seed`` the user gave).

    Keras 3 gives an initializer made without a seed (every layer of
    ``keras.applications``) a seed drawn from Python's ``random`` when the layer is
    made (``keras.src.random.seed_generator.make_default_seed``), and draws its values
    statelessly from that: seeding ``random`` for the build fixes the whole network.
    ``tests/core/test_backbones.py`` pins that behaviour. Another thread drawing from
    Python's ``random`` during a build would change the network; the app's jobs do not."""
    with _seeded_build_lock:
        state = random.getstate()
        random.seed(seed)
        try:
            yield
        finally:
            random.setstate(state)


def build_architecture(
    info: BackboneInfo,
    include_top: bool,
    input_shape: tuple | None,
    seed: int = UNTRAINED_SEED,
) -> Any:
    """A fresh model with the untrained weights of ``seed`` (Keras ``weights=None``)."""
    try:
        with seeded_initializers(seed):
            return _constructor(info)(
                weights=None, include_top=include_top, input_shape=input_shape
            )
    except ValueError as error:
        raise InputError(
            f"cannot build {info.label} for input shape {input_shape}: {error}"
        ) from error


def build_backbone(
    name: str,
    weights: str | os.PathLike = "imagenet",
    include_top: bool = False,
    input_shape: Sequence | None = None,
    on_download: DownloadCallback | None = None,
    allow_download: bool = True,
    seed: int | None = None,
) -> Any:
    """The backbone as a ``keras.Model``, cached per (name, weights, include_top,
    input_shape): a second call returns the same model at no cost. Callers share cached
    models, so they must not change their weights or ``trainable`` flags in place
    (training clones or builds with :func:`build_backbone_uncached`). ``seed``: which
    untrained network ``"random"`` is (default :data:`UNTRAINED_SEED`)."""
    info = get_backbone(name)
    normalized = normalize_weights(weights)
    shape = _check_input_shape(info, input_shape)
    seed = UNTRAINED_SEED if seed is None else int(seed)
    key = _cache_key(info, normalized, include_top, shape, seed)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        key_lock = _key_locks.setdefault(key, threading.Lock())
    # one lock per key: two threads asking for the same model build it once, while
    # different models still build in parallel
    with key_lock:
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None:
            return cached
        model = build_backbone_uncached(
            info.name, normalized, include_top, shape, on_download, allow_download, seed
        )
        with _cache_lock:
            _cache[key] = model
        return model


def build_backbone_uncached(
    name: str,
    weights: str | os.PathLike = "imagenet",
    include_top: bool = False,
    input_shape: Sequence | None = None,
    on_download: DownloadCallback | None = None,
    allow_download: bool = True,
    seed: int | None = None,
) -> Any:
    """Like :func:`build_backbone` but always a new model (safe to train or modify)."""
    info = get_backbone(name)
    normalized = normalize_weights(weights)
    shape = _check_input_shape(info, input_shape)
    if normalized == "imagenet":
        # find (or download) the file before building: a missing file fails fast
        weights_path = ensure_imagenet_weights(info, include_top, allow_download, on_download)
    elif normalized == "random":
        weights_path = None
    else:
        weights_path = Path(normalized).expanduser()
        # exists, is HDF5, has the right top and array count: fail before the slow build
        check_file_fits(inspect_weights_file(weights_path), info, include_top)
    model = build_architecture(info, include_top, shape, UNTRAINED_SEED if seed is None else seed)
    if weights_path is not None:
        load_weights_file(model, info, include_top, weights_path)
    return model
