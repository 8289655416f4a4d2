"""Pretrained networks: InceptionV3, VGG19 and MobileNetV2.

Each backbone has its preprocessing (and the inverse), its minimum input size, the layer
names worth dreaming on or looking at, and three weight sources:

- ``"imagenet"``: the official Keras weight file, looked up by its exact name first in
  :func:`cnnstudio.core.paths.weights_dir` (files the user imported) and then in the Keras
  cache (``$KERAS_HOME/models``). If it is in neither, it is downloaded when the machine is
  online; offline, :class:`ResourceMissingError` says which file, its size, where it was
  looked for and how to import it. We never let Keras download on its own: its download
  has no timeout and would hang an offline machine.
- ``"random"``: an untrained network (``weights=None``), offered openly.
- a path to a ``.weights.h5`` (Keras 3) or ``.h5`` (legacy Keras) file for the architecture.

TensorFlow and Keras are imported inside functions only: importing this module is cheap and
GUI modules may use the name lists and :class:`BackboneInfo` without loading TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import paths
from cnnstudio.core.errors import InputError, ResourceMissingError
from cnnstudio.core.events import DownloadProgress

BACKBONE_NAMES: tuple[str, ...] = ("inception_v3", "vgg19", "mobilenet_v2")

#: ImageNet channel means in BGR order, as keras.applications' "caffe" preprocessing uses.
VGG_MEAN_BGR: tuple[float, float, float] = (103.939, 116.779, 123.68)

#: set to 1 to forbid any download attempt (tests, air-gapped installs)
OFFLINE_ENV = "CNNSTUDIO_OFFLINE"

#: seconds to wait for the connectivity probe before calling the machine offline
CONNECT_TIMEOUT_S = 3.0
#: seconds a started download may stall before it is given up
READ_TIMEOUT_S = 30.0

_KERAS_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

DownloadCallback = Callable[[int, int], None]


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
    #: md5 Keras checks the download against (None: Keras publishes none)
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


# ---------------------------------------------------------------------------- weight sources


def _normalize_weights(weights: str | os.PathLike) -> str:
    text = os.fspath(weights).strip()
    lowered = text.lower()
    if lowered in ("imagenet", "pretrained"):
        return "imagenet"
    if lowered in ("random", "untrained", "none"):
        return "random"
    return text


def is_untrained(weights: str | os.PathLike) -> bool:
    """True for the "random" (untrained) weight source."""
    return _normalize_weights(weights) == "random"


def weights_label(weights: str | os.PathLike) -> str:
    """Human label of a weight source: "ImageNet", "untrained (random)", "file x.h5"."""
    normalized = _normalize_weights(weights)
    if normalized == "imagenet":
        return "ImageNet"
    if normalized == "random":
        return "untrained (random)"
    return f"file {Path(normalized).name}"


def weights_search_dirs() -> tuple[Path, Path]:
    """Where "imagenet" weight files are looked for, in order."""
    return paths.weights_dir(), paths.keras_cache_dir() / "models"


def _candidate_names(file_name: str) -> tuple[str, str]:
    # A Keras 3 format file imported by the user is kept under the official stem with the
    # .weights.h5 suffix, because Keras picks its loader by suffix.
    return file_name, file_name[: -len(".h5")] + ".weights.h5"


def find_imagenet_weights(name: str, include_top: bool = False) -> Path | None:
    """The ImageNet weight file for this backbone if it is on this machine, else None."""
    info = get_backbone(name)
    for folder in weights_search_dirs():
        for file_name in _candidate_names(info.weights_file(include_top)):
            candidate = folder / file_name
            if candidate.is_file() and candidate.stat().st_size > 0:
                return candidate
    return None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.0f} MB"


def _missing_weights_error(info: BackboneInfo, include_top: bool, reason: str) -> Exception:
    first, second = weights_search_dirs()
    file_name = info.weights_file(include_top)
    return ResourceMissingError(
        f"{info.label} ImageNet weights are not on this machine and cannot be downloaded "
        f"({reason}): need {file_name} ({_megabytes(info.weights_size(include_top))}); "
        f"looked in {first} and {second}. Download it on a connected machine from "
        f"{info.weights_url(include_top)} and use File > Import weights... or "
        f"`cnnstudio import-weights FILE`, or pass --weights PATH."
    )


def downloads_allowed(allow_download: bool = True) -> bool:
    """False when the caller or ``CNNSTUDIO_OFFLINE=1`` forbids network access."""
    offline = os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    return allow_download and not offline


def _is_online(host: str, port: int = 443, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """A quick connectivity probe. Name resolution has no timeout of its own, so the probe
    runs on a daemon thread and we stop waiting after ``timeout`` seconds."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="cnnstudio-online-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _download(
    url: str,
    destination: Path,
    md5: str | None,
    on_download: DownloadCallback | None,
) -> Path:
    """Stream ``url`` to ``destination`` (atomically: a partial file is never left under the
    final name), reporting ``on_download(received_bytes, total_bytes)`` per chunk."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    handle, temp_name = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=READ_TIMEOUT_S) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0)
            received = 0
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if on_download is not None:
                    on_download(received, total or received)
        if total and received != total:
            raise OSError(f"download ended after {received} of {total} bytes")
        if md5 and digest.hexdigest() != md5:
            raise OSError("downloaded file is damaged (checksum mismatch)")
        os.replace(temp_name, destination)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return destination


def ensure_imagenet_weights(
    name: str,
    include_top: bool = False,
    allow_download: bool = True,
    on_download: DownloadCallback | None = None,
) -> Path:
    """Path of the ImageNet weight file, downloading it into the Keras cache if needed and
    allowed; :class:`ResourceMissingError` with what to do when it cannot be had."""
    info = get_backbone(name)
    found = find_imagenet_weights(info.name, include_top)
    if found is not None:
        return found
    if not downloads_allowed(allow_download):
        raise _missing_weights_error(info, include_top, "offline mode")
    url = info.weights_url(include_top)
    host = urllib.parse.urlsplit(url).hostname or ""
    if not _is_online(host):
        raise _missing_weights_error(info, include_top, f"no connection to {host}")
    destination = weights_search_dirs()[1] / info.weights_file(include_top)
    try:
        return _download(url, destination, info.weights_md5(include_top), on_download)
    except OSError as error:  # URLError, timeouts, short or damaged downloads
        raise _missing_weights_error(info, include_top, f"download failed: {error}") from error


class _DownloadCancelled(Exception):
    """The job that wanted the file was stopped: abandon the download."""


def ensure_weights_events(
    name: str,
    weights: str | os.PathLike = "imagenet",
    include_top: bool = False,
    allow_download: bool = True,
) -> Generator[DownloadProgress, None, Path | None]:
    """Make sure ``weights`` for backbone ``name`` are on this machine, as a job step.

    For ``"imagenet"`` weights that are not here yet, the download runs on a helper thread
    and this generator yields a :class:`DownloadProgress` per chunk, so a job can ``yield
    from`` it and its consumer (window or terminal) shows the download. Closing the
    generator (Stop) abandons the download at its next chunk; no partial file is left.
    Other sources, or weights already here, yield nothing. Returns the file (None for
    "random"); ResourceMissingError as :func:`ensure_imagenet_weights`."""
    info = get_backbone(name)
    normalized = _normalize_weights(weights)
    if normalized != "imagenet":
        return None
    found = find_imagenet_weights(info.name, include_top)
    if found is not None:
        return found
    file_name = info.weights_file(include_top)
    # one slot: the download runs at most one chunk ahead of the consumer, so a stopped
    # job abandons it promptly instead of finishing it in the background
    events: queue.Queue = queue.Queue(maxsize=1)
    cancelled = threading.Event()

    def put(item: object) -> None:
        while not cancelled.is_set():
            try:
                events.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _DownloadCancelled

    def report(received: int, total: int) -> None:
        put(DownloadProgress(file_name, received, total))

    def fetch() -> None:
        try:
            path = ensure_imagenet_weights(info.name, include_top, allow_download, report)
        except _DownloadCancelled:
            return
        except BaseException as error:  # noqa: BLE001 - handed to the job's thread
            outcome: tuple[str, object] = ("error", error)
        else:
            outcome = ("done", path)
        try:
            put(outcome)
        except _DownloadCancelled:
            pass

    thread = threading.Thread(target=fetch, name=f"cnnstudio-download-{info.name}", daemon=True)
    thread.start()
    try:
        while True:
            item = events.get()
            if isinstance(item, DownloadProgress):
                yield item
                continue
            kind, value = item
            if kind == "error":
                raise value  # type: ignore[misc]
            return value  # type: ignore[return-value]
    finally:
        cancelled.set()
        # the helper sees the flag at its next chunk (or put) and removes its partial file
        thread.join(timeout=2.0)


# ----------------------------------------------------------------------- weight files on disk


@dataclass(frozen=True)
class WeightsFileFacts:
    """What a weights file says about itself, read with h5py before any loading."""

    path: Path
    keras3: bool  # True: Keras 3 ``.weights.h5`` layout; False: legacy Keras ``.h5``
    has_top: bool  # contains a classifier (Dense) top
    guess: str | None  # the backbone it most likely belongs to
    array_count: int  # number of weight arrays stored


def inspect_weights_file(path: str | os.PathLike) -> WeightsFileFacts:
    """Read the layout of an HDF5 weights file. InputError when it is none."""
    import h5py

    file_path = Path(path)
    if not file_path.is_file():
        raise InputError(
            f"weights file {file_path} does not exist: give imagenet, random or the path "
            "of a .weights.h5/.h5 file"
        )
    if not file_path.name.lower().endswith(".h5"):
        raise InputError(
            f"weights file {file_path.name} is not a .weights.h5 or .h5 file: give the "
            "Keras weights file for the network"
        )
    try:
        with h5py.File(file_path, "r") as handle:
            group: Any = handle
            if "layer_names" not in group.attrs and "model_weights" in group:
                group = group["model_weights"]  # a whole legacy model saved as .h5
            if "layer_names" in group.attrs:
                names = [
                    n.decode() if isinstance(n, bytes) else str(n)
                    for n in group.attrs["layer_names"]
                ]
                return WeightsFileFacts(
                    file_path,
                    keras3=False,
                    has_top="predictions" in names or "fc1" in names,
                    guess=_guess_from_layer_names(names),
                    array_count=sum(_count_arrays(group[n]) for n in names if n in group),
                )
            if "layers" in handle:
                keys = list(handle["layers"].keys())
                return WeightsFileFacts(
                    file_path,
                    keras3=True,
                    has_top=any(key.split("_")[0] == "dense" for key in keys),
                    guess=_guess_from_class_keys(keys),
                    array_count=_count_arrays(handle["layers"]),
                )
    except OSError as error:
        raise InputError(
            f"weights file {file_path.name} is not a readable HDF5 file ({error}): give a "
            "Keras .weights.h5/.h5 weights file"
        ) from error
    raise InputError(
        f"weights file {file_path.name} holds no Keras layer weights: give a Keras "
        ".weights.h5/.h5 weights file"
    )


def _count_arrays(group: Any) -> int:
    import h5py

    found = [0]

    def visit(_name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            found[0] += 1

    group.visititems(visit)
    return found[0]


def _guess_from_layer_names(names: Sequence[str]) -> str | None:
    name_set = set(names)
    if "mixed0" in name_set:
        return "inception_v3"
    if "block1_conv1" in name_set:
        return "vgg19"
    if "Conv1" in name_set or "expanded_conv_project" in name_set:
        return "mobilenet_v2"
    return None


def _guess_from_class_keys(keys: Sequence[str]) -> str | None:
    # Keras 3 names entries by layer class (conv2d, conv2d_1, ...), not by layer name.
    if any(key.startswith("depthwise_conv2d") for key in keys):
        return "mobilenet_v2"
    if any(key.startswith("batch_normalization") for key in keys):
        return "inception_v3"
    if any(key.startswith("conv2d") for key in keys):
        return "vgg19"
    return None


def _top_words(has_top: bool) -> str:
    return "with the classifier top" if has_top else "without the classifier top (notop)"


def _check_file_fits(facts: WeightsFileFacts, info: BackboneInfo, include_top: bool) -> None:
    """Refuse a file that cannot fit, from its layout alone (before any slow build)."""
    name = facts.path.name
    if facts.has_top != include_top:
        needed = info.weights_file(include_top)
        raise InputError(
            f"weights file {name} is {_top_words(facts.has_top)}, but this job needs "
            f"{info.label} {_top_words(include_top)}: use a file like {needed}"
        )
    expected = info.weights_count(include_top)
    if facts.array_count != expected:
        hint = ""
        if facts.guess and facts.guess != info.name:
            hint = f" (it looks like {get_backbone(facts.guess).label} weights)"
        raise InputError(
            f"weights file {name} does not fit {info.label} {_top_words(include_top)}{hint}: "
            f"it holds {facts.array_count} weight arrays, the network has {expected}; "
            "give the weights of the same architecture"
        )


def _load_weights_file(model: Any, info: BackboneInfo, include_top: bool, path: Path) -> None:
    """Load ``path`` into ``model`` (``info``'s architecture); InputError if it does not fit."""
    facts = inspect_weights_file(path)
    _check_file_fits(facts, info, include_top)
    # Keras picks the loader by suffix; give it a name that matches the file's real layout.
    wanted_suffix = ".weights.h5" if facts.keras3 else ".h5"
    suffix_ok = path.name.endswith(".weights.h5") == facts.keras3
    try:
        # Keras 3 only warns when parts of a model find nothing to load and keep their
        # random weights; for us that is a file that does not fit, so warnings are errors.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if suffix_ok:
                model.load_weights(str(path))
            else:
                with tempfile.TemporaryDirectory() as folder:
                    alias = Path(folder) / f"weights{wanted_suffix}"
                    try:
                        os.symlink(path.resolve(), alias)
                    except OSError:  # no symlinks (Windows without privilege): copy
                        shutil.copyfile(path, alias)
                    model.load_weights(str(alias))
        unloaded = [
            str(w.message)
            for w in caught
            if any(word in str(w.message) for word in _NOT_LOADED_WORDS)
        ]
        if unloaded:
            raise ValueError(unloaded[0])
    except (ValueError, KeyError, TypeError, OSError) as error:
        hint = ""
        if facts.guess and facts.guess != info.name:
            hint = f" (it looks like {get_backbone(facts.guess).label} weights)"
        raise InputError(
            f"weights file {path.name} does not fit {info.label} {_top_words(include_top)}"
            f"{hint}: {_error_detail(error)}; give the weights of the same architecture"
        ) from error


_NOT_LOADED_WORDS = ("Skipping", "could not be loaded", "freshly-initialized")


def _error_detail(error: BaseException) -> str:
    """The most telling line of a (often multi-line) Keras loading error."""
    text = str(error)
    shapes = re.search(r"variable\.shape=(\(.*?\)), Received: value\.shape=(\(.*?\))", text)
    if shapes:
        layer = re.search(r"object <\w+ name=([^,>]+)", text)
        where = f"layer {layer.group(1)}" if layer else "a layer"
        return f"{where} needs shape {shapes.group(1)}, the file has {shapes.group(2)}"
    lines = [line.strip().rstrip(":.") for line in text.splitlines() if line.strip()]
    for line in lines:
        if "expected" in line or "mismatch" in line.lower():
            return line[:200]
    return lines[0][:200] if lines else type(error).__name__


# --------------------------------------------------------------------------------- building

_cache: dict[tuple, Any] = {}
_cache_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}


def clear_model_cache() -> None:
    """Forget every cached model (tests; after importing new weights)."""
    with _cache_lock:
        _cache.clear()
        _key_locks.clear()


def _cache_key(
    info: BackboneInfo, weights: str, include_top: bool, input_shape: tuple | None
) -> tuple:
    if weights not in ("imagenet", "random"):
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


def _build_architecture(info: BackboneInfo, include_top: bool, input_shape: tuple | None) -> Any:
    """A fresh model with random weights (Keras ``weights=None``)."""
    try:
        return _constructor(info)(weights=None, include_top=include_top, input_shape=input_shape)
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
) -> Any:
    """The backbone as a ``keras.Model``, cached per (name, weights, include_top,
    input_shape): a second call returns the same model at no cost. Callers share cached
    models, so they must not change their weights or ``trainable`` flags in place
    (training clones or builds with :func:`build_backbone_uncached`)."""
    info = get_backbone(name)
    normalized = _normalize_weights(weights)
    shape = _check_input_shape(info, input_shape)
    key = _cache_key(info, normalized, include_top, shape)
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
            info.name, normalized, include_top, shape, on_download, allow_download
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
) -> Any:
    """Like :func:`build_backbone` but always a new model (safe to train or modify)."""
    info = get_backbone(name)
    normalized = _normalize_weights(weights)
    shape = _check_input_shape(info, input_shape)
    if normalized == "imagenet":
        # find (or download) the file before building: a missing file fails fast
        weights_path = ensure_imagenet_weights(info.name, include_top, allow_download, on_download)
    elif normalized == "random":
        weights_path = None
    else:
        weights_path = Path(normalized).expanduser()
        # exists, is HDF5, has the right top and array count: fail before the slow build
        _check_file_fits(inspect_weights_file(weights_path), info, include_top)
    model = _build_architecture(info, include_top, shape)
    if weights_path is not None:
        _load_weights_file(model, info, include_top, weights_path)
    return model


# ---------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportedWeights:
    """Result of :func:`import_weights_detailed`."""

    path: Path
    backbone: BackboneInfo
    include_top: bool


def import_weights_detailed(path: str | os.PathLike, name: str | None = None) -> ImportedWeights:
    """Check ``path`` against the architectures (only ``name`` if given) by loading it,
    then copy it into :func:`paths.weights_dir` under the official Keras file name so that
    ``weights="imagenet"`` finds it from now on."""
    source = Path(path).expanduser()
    facts = inspect_weights_file(source)
    if name is not None:
        candidates = [get_backbone(name)]
    else:
        order = [facts.guess] if facts.guess else []
        order += [n for n in BACKBONE_NAMES if n not in order]
        candidates = [get_backbone(n) for n in order]
    failures: list[str] = []
    for info in candidates:
        try:
            _check_file_fits(facts, info, facts.has_top)
            model = _build_architecture(info, facts.has_top, None)
            _load_weights_file(model, info, facts.has_top, source)
            del model
        except InputError as error:
            failures.append(f"{info.label}: {error}")
            continue
        file_name = info.weights_file(facts.has_top)
        if facts.keras3:
            file_name = _candidate_names(file_name)[1]
        destination = paths.weights_dir() / file_name
        temp = destination.with_name(destination.name + ".part")
        shutil.copyfile(source, temp)
        os.replace(temp, destination)
        # an imported file may replace one found earlier: cached "imagenet" models are stale
        for other in _candidate_names(info.weights_file(facts.has_top)):
            stale = paths.weights_dir() / other
            if stale != destination and stale.exists():
                stale.unlink()
        with _cache_lock:
            for key in [k for k in _cache if k[0] == info.name and k[1] == "imagenet"]:
                del _cache[key]
        return ImportedWeights(destination, info, facts.has_top)
    if name is not None:
        raise InputError(failures[0].split(": ", 1)[1])
    labels = ", ".join(info.label for info in candidates)
    raise InputError(
        f"weights file {source.name} fits none of {labels} ({_top_words(facts.has_top)}; "
        "MobileNetV2 only with alpha 1.0): give the Keras weights of one of these networks"
    )


def import_weights(path: str | os.PathLike, name: str | None = None) -> Path:
    """Validate a weights file and install it where "imagenet" finds it; the destination."""
    return import_weights_detailed(path, name).path
