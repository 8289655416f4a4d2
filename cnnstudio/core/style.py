"""Neural style transfer (Gatys et al. 2015) on VGG19, as a generator of job events.

The picture being optimised lives in RGB floats 0..1 (as in the TensorFlow tutorial); the
network sees ``backbones.preprocess("vgg19", image * 255)``. The loss is

    content_weight / n_content * sum_l w_l * mean((F_l - P_l)^2)
  + style_weight   / n_style   * sum_l w_l * mean((G_l - A_l)^2)
  + tv_weight * sum |neighbour differences|                  (tf.image.total_variation)

with Gram matrices G = F^T F / positions. Content features and style Grams are computed
once per run (per scale in multi-scale mode); the Adam step and the L-BFGS loss-and-gradient
are compiled once per layer choice, with an input signature of unknown height and width and
every weight passed as a tensor, so new sizes, runs and slider values never retrace.

TensorFlow is imported inside functions only: this module (params, presets, memory
estimate) stays importable by the GUI without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice, Preview, Progress

BACKBONE = "vgg19"
VGG19_MIN_SIZE = 32


@dataclass(frozen=True)
class LayerPreset:
    """Which VGG19 layers carry the content and the style (weight 1 each)."""

    label: str
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]


_BLOCK_CONV1 = tuple(f"block{i}_conv1" for i in range(1, 6))

LAYER_PRESETS: dict[str, LayerPreset] = {
    # Gatys et al. 2015 as Practical ML with Python runs it.
    "gatys": LayerPreset("Gatys et al.", ("block5_conv2",), _BLOCK_CONV1),
    # Johnson et al. 2016's choice (Practical ML with Python's alternative).
    "johnson": LayerPreset(
        "Johnson et al.",
        ("block2_conv2",),
        ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
    ),
    # The TF2 cookbook: two content layers, the first conv of each block for style.
    "cookbook": LayerPreset("TF2 cookbook", ("block4_conv2", "block5_conv2"), _BLOCK_CONV1),
}

OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "noise", "style")
COLOR_MODES = ("none", "luminance", "match")

ADAM_DEFAULT_STEPS = 300  # the TF tutorial runs 1000; 300 already looks styled
LBFGS_DEFAULT_STEPS = 20  # outer iterations, as Practical ML with Python

#: VGG19 feature layers in order: (name, downsampling factor, channels). Used for the
#: memory estimate, without building the network.
VGG19_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("block1_conv1", 1, 64),
    ("block1_conv2", 1, 64),
    ("block1_pool", 2, 64),
    ("block2_conv1", 2, 128),
    ("block2_conv2", 2, 128),
    ("block2_pool", 4, 128),
    ("block3_conv1", 4, 256),
    ("block3_conv2", 4, 256),
    ("block3_conv3", 4, 256),
    ("block3_conv4", 4, 256),
    ("block3_pool", 8, 256),
    ("block4_conv1", 8, 512),
    ("block4_conv2", 8, 512),
    ("block4_conv3", 8, 512),
    ("block4_conv4", 8, 512),
    ("block4_pool", 16, 512),
    ("block5_conv1", 16, 512),
    ("block5_conv2", 16, 512),
    ("block5_conv3", 16, 512),
    ("block5_conv4", 16, 512),
    ("block5_pool", 32, 512),
)
VGG19_LAYER_NAMES = tuple(name for name, _, _ in VGG19_LAYERS)


@dataclass
class StyleParams:
    """Everything that shapes a style run. Defaults: the TensorFlow tutorial's Adam recipe."""

    weights: str = "imagenet"  # "imagenet" | "random" | path to a VGG19 weights file
    layers: str = "cookbook"  # a LAYER_PRESETS key
    # Any layers with a weight each; when set they replace the preset's layers.
    content_layers: dict[str, float] | None = None
    style_layers: dict[str, float] | None = None
    content_weight: float = 1e4  # TF tutorial
    style_weight: float = 1e-2  # TF tutorial
    tv_weight: float = 30.0  # TF tutorial; on 0..1 pixels
    optimizer: str = "adam"  # "adam" | "lbfgs"
    steps: int | None = None  # optimiser iterations (per scale); None: the optimiser's default
    learning_rate: float = 0.02  # Adam, on 0..1 pixels (TF tutorial)
    beta_1: float = 0.99  # Adam (TF tutorial): heavy momentum smooths the picture
    beta_2: float = 0.999
    epsilon: float = 0.1  # Adam (TF tutorial): large, so flat regions do not get big steps
    lbfgs_evaluations: int = 20  # loss evaluations per L-BFGS iteration (Practical ML)
    size: int = 512  # longest side of the output in pixels
    style_scale: float = 1.0  # style image's longest side relative to the output's
    init: str = "content"  # start from "content", "noise" or "style"
    preserve_colors: str = "none"  # "none" | "luminance" (keep content chroma) | "match"
    multi_scale: bool = False  # optimise at 1/4, 1/2, then full size
    seed: int | None = None  # for the noise start
    preview_interval: float = 0.1  # seconds between previews (throttled at the source)

    def total_steps(self) -> int:
        """Optimiser iterations per scale."""
        if self.steps is not None:
            return self.steps
        return ADAM_DEFAULT_STEPS if self.optimizer == "adam" else LBFGS_DEFAULT_STEPS

    def layer_weights(self) -> tuple[dict[str, float], dict[str, float]]:
        """(content layer -> weight, style layer -> weight) after the preset and overrides."""
        preset = LAYER_PRESETS.get(self.layers)
        if preset is None and (self.content_layers is None or self.style_layers is None):
            raise InputError(
                f"unknown layer preset {self.layers!r}: choose one of {', '.join(LAYER_PRESETS)}"
            )
        content = (
            dict(self.content_layers)
            if self.content_layers is not None
            else dict.fromkeys(preset.content_layers, 1.0)
        )
        style = (
            dict(self.style_layers)
            if self.style_layers is not None
            else dict.fromkeys(preset.style_layers, 1.0)
        )
        return content, style

    def validate(self) -> None:
        """Raise InputError naming the first value that cannot work."""
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("init", self.init, INITS)
        _choice("preserve_colors", self.preserve_colors, COLOR_MODES)
        content, style = self.layer_weights()
        if not content or not style:
            raise InputError("style transfer needs at least one content and one style layer")
        for name, weight in {**content, **style}.items():
            if name not in VGG19_LAYER_NAMES:
                raise InputError(
                    f"unknown VGG19 layer {name!r}: use names like block4_conv2 or block1_conv1"
                )
            if not math.isfinite(weight) or weight < 0:
                raise InputError(f"layer weight {weight} for {name} must be 0 or more")
        # All-zero weights would silently drop a whole loss term (and divide nothing by n).
        for flag, weights in (("--content-layers", content), ("--style-layers", style)):
            if sum(weights.values()) <= 0:
                raise InputError(
                    f"{flag}: every layer weight is 0 ({', '.join(weights)}): "
                    "give at least one layer a weight above 0"
                )
        for label, value in (
            ("content weight", self.content_weight),
            ("style weight", self.style_weight),
            ("total-variation weight", self.tv_weight),
        ):
            if not math.isfinite(value) or value < 0:
                raise InputError(f"{label} {value} must be 0 or more")
        if self.total_steps() < 1:
            raise InputError(f"steps {self.total_steps()} must be at least 1")
        if self.size < VGG19_MIN_SIZE:
            raise InputError(f"size {self.size} is too small: VGG19 needs {VGG19_MIN_SIZE} px")
        if not self.learning_rate > 0:
            raise InputError(f"learning rate {self.learning_rate} must be more than 0")
        if not 0 < self.style_scale <= 4:
            raise InputError(f"style scale {self.style_scale} must be in (0, 4]")
        if self.lbfgs_evaluations < 1:
            raise InputError("L-BFGS needs at least 1 loss evaluation per iteration")


def _choice(label: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InputError(f"unknown {label} {value!r}: choose one of {', '.join(choices)}")


# ---------------------------------------------------------------------------------------
# Sizes and memory


def output_size(content_shape: Sequence[int], size: int) -> tuple[int, int]:
    """(height, width) of the output: the content's aspect with the longest side = size."""
    height, width = int(content_shape[0]), int(content_shape[1])
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def stage_sizes(height: int, width: int, multi_scale: bool) -> list[tuple[int, int]]:
    """The sizes optimised in turn: 1/4, 1/2, full in multi-scale mode (never below the
    network's minimum side), else only the full size."""
    if not multi_scale:
        return [(height, width)]
    sizes = []
    for factor in (0.25, 0.5):
        h, w = round(height * factor), round(width * factor)
        if min(h, w) >= VGG19_MIN_SIZE:
            sizes.append((h, w))
    sizes.append((height, width))
    return sizes


class StageEta:
    """Time left in a run whose scales cost differently: an iteration costs the pixel
    count of its scale (VGG19's work grows with it), so a multi-scale run's 1/4 and 1/2
    scales, which are quick, do not make the full-size scale look quick too. The rate is
    measured from the first iteration on (after building the network and tracing)."""

    def __init__(self, stage_costs: Sequence[float], steps_per_stage: int) -> None:
        self.costs = [float(c) for c in stage_costs]
        self.steps = max(int(steps_per_stage), 1)
        self.total = self.steps * len(self.costs)
        self._first: tuple[float, float] | None = None

    @classmethod
    def for_run(cls, params: StyleParams, content_shape: Sequence[int]) -> StageEta:
        """The estimator for ``stylize(content, ..., params)``."""
        height, width = output_size(content_shape, params.size)
        sizes = stage_sizes(height, width, params.multi_scale)
        return cls([h * w / (height * width) for h, w in sizes], params.total_steps())

    def work(self, step: int) -> float:
        """Cost of the first ``step`` iterations (a full-size iteration costs 1)."""
        step = min(max(int(step), 0), self.total)
        full, rest = divmod(step, self.steps)
        done = sum(self.costs[:full]) * self.steps
        if rest:
            done += self.costs[full] * rest
        return done

    def update(self, step: int, now: float) -> float | None:
        """Seconds left after iteration ``step`` finished at ``now`` (None at first)."""
        done = self.work(step)
        if self._first is None:
            self._first = (now, done)
            return None
        start, start_work = self._first
        if done <= start_work:
            return None
        per_unit = (now - start) / (done - start_work)
        return per_unit * (self.work(self.total) - done)


_BYTES_PER_FLOAT = 4
_BACKPROP_FACTOR = 3  # activations kept for the backward pass + their gradients + scratch
_RUNTIME_OVERHEAD = 300 * 2**20  # TensorFlow's own buffers and the Python process


def estimate_memory(params: StyleParams, content_shape: Sequence[int]) -> int:
    """Bytes a run will need at its largest scale: VGG19 activations up to the deepest
    layer used, times a factor for the backward pass, plus weights and optimiser state.

    Multi-scale mode needs the same: its last scale is the full size, and the smaller
    scales' buffers are freed before it starts, so it does not lower the peak."""
    height, width = output_size(content_shape, params.size)
    content, style = params.layer_weights()
    used = set(content) | set(style)
    deepest = max((VGG19_LAYER_NAMES.index(n) for n in used if n in VGG19_LAYER_NAMES), default=0)
    activations = height * width * 3
    weights = 0
    channels_in = 3
    for name, factor, channels in VGG19_LAYERS[: deepest + 1]:
        activations += math.ceil(height / factor) * math.ceil(width / factor) * channels
        if "conv" in name:
            weights += 3 * 3 * channels_in * channels + channels
        channels_in = channels
    image_state = 6 * height * width * 3  # image, gradient, Adam m and v, float64 L-BFGS copies
    total_floats = _BACKPROP_FACTOR * activations + weights + image_state
    return _BYTES_PER_FLOAT * total_floats + _RUNTIME_OVERHEAD


def available_memory() -> int:
    """Bytes the system can give us now: /proc/meminfo MemAvailable, else a safe 4 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 * 2**30


class MemoryTooLargeError(InputError):
    """A run will not fit in memory. ``suggested_size`` is a longest side that fits (the
    GUI offers it as a button, the CLI as ``--size``)."""

    def __init__(self, message: str, size: int, suggested_size: int, needed: int, available: int):
        super().__init__(message)
        self.size = size
        self.suggested_size = suggested_size
        self.needed = needed
        self.available = available


def fitting_size(params: StyleParams, content_shape: Sequence[int], available: int) -> int:
    """The largest size (a multiple of 16, at least VGG19's minimum) whose estimate fits in
    ``available`` bytes."""
    # Activations grow with the pixel count, so the size that fits scales with the root;
    # then step down until the estimate really fits (rounding, the fixed weight share).
    needed = estimate_memory(params, content_shape)
    usable = max(available - _RUNTIME_OVERHEAD, 0)
    ratio = math.sqrt(usable / max(needed - _RUNTIME_OVERHEAD, 1))
    size = max(VGG19_MIN_SIZE, int(params.size * ratio * 0.95) // 16 * 16)
    while (
        size > VGG19_MIN_SIZE
        and estimate_memory(dataclasses.replace(params, size=size), content_shape) > available
    ):
        size = max(VGG19_MIN_SIZE, size - 16)
    return size


def check_memory(
    params: StyleParams, content_shape: Sequence[int], available: int | None = None
) -> int:
    """Raise MemoryTooLargeError (an InputError carrying a size that fits) when the run
    will not fit; return the estimate otherwise."""
    needed = estimate_memory(params, content_shape)
    available = available_memory() if available is None else available
    if needed <= available:
        return needed
    fitting = fitting_size(params, content_shape, available)
    raise MemoryTooLargeError(
        f"size {params.size} px needs about {needed / 2**30:.1f} GB of memory but "
        f"{available / 2**30:.1f} GB is available: choose a size of {fitting} px or less",
        size=params.size,
        suggested_size=fitting,
        needed=needed,
        available=available,
    )


# ---------------------------------------------------------------------------------------
# Colours (numpy, no TensorFlow)


def rgb_to_ycbcr(image: np.ndarray) -> np.ndarray:
    """Full-range BT.601 (JPEG) Y, Cb, Cr as float, from RGB 0..255."""
    rgb = np.asarray(image, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return np.stack([y, cb, cr], axis=-1)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of rgb_to_ycbcr, float RGB (not clipped)."""
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128.0, ycc[..., 2] - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.stack([r, g, b], axis=-1)


def transfer_luminance(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The result's luminance with the content's chroma (Gatys et al. 2016,
    "luminance-only transfer"), uint8 RGB. Both arrays have the same size."""
    ycc = rgb_to_ycbcr(result)
    ycc[..., 1:] = rgb_to_ycbcr(content)[..., 1:]
    return np.clip(np.rint(ycbcr_to_rgb(ycc)), 0, 255).astype(np.uint8)


def luminance_image(image: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """The luminance (Y) of ``image`` as grey uint8 RGB (Y in all three channels), for
    luminance-only transfer (Gatys et al. 2016). With ``reference``, Y is shifted and
    scaled to the reference's mean and spread, as the paper does with the style's
    luminance so that it matches the content's."""
    y = rgb_to_ycbcr(image)[..., 0]
    if reference is not None:
        ref = rgb_to_ycbcr(reference)[..., 0]
        y = (y - y.mean()) * (ref.std() / max(float(y.std()), 1e-6)) + ref.mean()
    grey = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def match_colors(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``source`` with the mean and covariance of ``reference``'s RGB colours (Gatys et
    al. 2016, colour histogram matching, the linear "image analogies" variant), uint8."""
    src = np.asarray(source, dtype=np.float64).reshape(-1, 3)
    ref = np.asarray(reference, dtype=np.float64).reshape(-1, 3)
    src_mean, ref_mean = src.mean(axis=0), ref.mean(axis=0)
    eps = 1e-5 * np.eye(3)  # flat images have a singular covariance
    src_cov = np.cov(src - src_mean, rowvar=False) + eps
    ref_cov = np.cov(ref - ref_mean, rowvar=False) + eps

    def sqrtm(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
        values, vectors = np.linalg.eigh(matrix)
        values = np.clip(values, 1e-8, None) ** (-0.5 if inverse else 0.5)
        return (vectors * values) @ vectors.T

    transform = sqrtm(src_cov, inverse=True) @ sqrtm(ref_cov)
    out = (src - src_mean) @ transform + ref_mean
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(np.shape(source))


# ---------------------------------------------------------------------------------------
# Loss pieces (TensorFlow; also used by the benchmark and the tests)


def gram_matrix(features):
    """Gram matrix of (1, H, W, C) features: F^T F / (H * W), shape (C, C)."""
    import tensorflow as tf

    features = tf.cast(tf.convert_to_tensor(features), tf.float32)
    gram = tf.einsum("bijc,bijd->cd", features, features)
    positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], tf.float32)
    return gram / positions


#: how often each compiled function was traced (tests assert it does not grow)
_TRACES: Counter[str] = Counter()


def trace_counts() -> dict[str, int]:
    """Times each compiled style function has been traced in this process."""
    return dict(_TRACES)


class _StyleProgram:
    """VGG19 cut at the deepest layer in use, with the compiled target, Adam and
    loss-and-gradient functions for one choice of layers."""

    def __init__(self, model, content_layers: Sequence[str], style_layers: Sequence[str]):
        import tensorflow as tf

        from cnnstudio.core import backbones, layers

        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        unique = list(dict.fromkeys(self.style_layers + self.content_layers))
        self.extractor = layers.layer_outputs_model(model, unique)
        self.extractor.trainable = False
        style_index = [unique.index(n) for n in self.style_layers]
        content_index = [unique.index(n) for n in self.content_layers]
        channels = {n: int(self.extractor.get_layer(n).output.shape[-1]) for n in unique}
        n_content, n_style = len(self.content_layers), len(self.style_layers)

        image_spec = tf.TensorSpec([1, None, None, 3], tf.float32)
        content_specs = [tf.TensorSpec([1, None, None, channels[n]]) for n in content_layers]
        gram_specs = [tf.TensorSpec([channels[n], channels[n]]) for n in style_layers]
        weight_specs = [
            tf.TensorSpec([n_content], tf.float32),  # per content layer
            tf.TensorSpec([n_style], tf.float32),  # per style layer
            tf.TensorSpec([3], tf.float32),  # content, style, total variation
        ]

        def features(image):
            outputs = self.extractor(backbones.preprocess(BACKBONE, image * 255.0), training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            # Losses and Grams stay float32 even under a mixed-precision policy.
            outputs = [tf.cast(o, tf.float32) for o in outputs]
            return [outputs[i] for i in content_index], [outputs[i] for i in style_index]

        def losses(image, content_targets, gram_targets, content_w, style_w, loss_w):
            content_feats, style_feats = features(image)
            content = tf.add_n(
                [
                    content_w[i] * tf.reduce_mean(tf.square(f - t))
                    for i, (f, t) in enumerate(zip(content_feats, content_targets, strict=True))
                ]
            )
            style = tf.add_n(
                [
                    style_w[i] * tf.reduce_mean(tf.square(gram_matrix(f) - t))
                    for i, (f, t) in enumerate(zip(style_feats, gram_targets, strict=True))
                ]
            )
            content = content * loss_w[0] / n_content
            style = style * loss_w[1] / n_style
            tv = loss_w[2] * tf.reduce_sum(tf.image.total_variation(image))
            return tf.stack([content + style + tv, content, style, tv])

        @tf.function(input_signature=[image_spec])
        def targets(image):
            _TRACES["targets"] += 1
            content_feats, style_feats = features(image)
            return content_feats, [gram_matrix(f) for f in style_feats]

        @tf.function(
            input_signature=[
                image_spec,
                content_specs,
                gram_specs,
                *weight_specs,
                image_spec,  # Adam first moment
                image_spec,  # Adam second moment
                tf.TensorSpec([5], tf.float32),  # learning rate, beta_1, beta_2, epsilon, t
            ]
        )
        def adam_step(image, content_targets, gram_targets, content_w, style_w, loss_w, m, v, hp):
            # A functional Adam (Keras 3's update rule) so that its state can change shape
            # between scales without new variables or a retrace.
            _TRACES["adam"] += 1
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = losses(image, content_targets, gram_targets, content_w, style_w, loss_w)
                total = terms[0]  # sliced inside the tape so the slice is recorded
            grad = tape.gradient(total, image)
            lr, beta_1, beta_2, epsilon, t = hp[0], hp[1], hp[2], hp[3], hp[4]
            m = m + (grad - m) * (1.0 - beta_1)
            v = v + (tf.square(grad) - v) * (1.0 - beta_2)
            alpha = lr * tf.sqrt(1.0 - tf.pow(beta_2, t)) / (1.0 - tf.pow(beta_1, t))
            image = tf.clip_by_value(image - alpha * m / (tf.sqrt(v) + epsilon), 0.0, 1.0)
            return image, m, v, terms

        @tf.function(input_signature=[image_spec, content_specs, gram_specs, *weight_specs])
        def loss_and_grad(image, content_targets, gram_targets, content_w, style_w, loss_w):
            _TRACES["lbfgs"] += 1
            with tf.GradientTape() as tape:
                tape.watch(image)
                terms = losses(image, content_targets, gram_targets, content_w, style_w, loss_w)
                total = terms[0]
            return terms, tape.gradient(total, image)

        self.targets = targets
        self.adam_step = adam_step
        self.loss_and_grad = loss_and_grad


_PROGRAMS: OrderedDict[tuple, tuple[object, _StyleProgram]] = OrderedDict()
_PROGRAM_CACHE_SIZE = 4


def _program_for(model, content_layers, style_layers) -> _StyleProgram:
    key = (id(model), tuple(content_layers), tuple(style_layers))
    cached = _PROGRAMS.get(key)
    if cached is not None and cached[0] is model:
        _PROGRAMS.move_to_end(key)
        return cached[1]
    program = _StyleProgram(model, content_layers, style_layers)
    _PROGRAMS[key] = (model, program)  # keep the model alive so its id stays unique
    while len(_PROGRAMS) > _PROGRAM_CACHE_SIZE:
        _PROGRAMS.popitem(last=False)
    return program


# ---------------------------------------------------------------------------------------
# The job


def _to_float(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)[None] / 255.0


def _to_uint8(image) -> np.ndarray:
    array = np.asarray(image)[0]
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


def _resize_float(image, height: int, width: int):
    import tensorflow as tf

    resized = tf.image.resize(image, (height, width), method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 1.0)


def _check_image(label: str, image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise InputError(
            f"{label} must be a uint8 RGB image (H, W, 3); got {array.dtype} {array.shape}"
        )
    return array


def _blend_weights(n_styles: int, style_weights: Sequence[float] | None) -> np.ndarray:
    if style_weights is None:
        return np.full(n_styles, 1.0 / n_styles)
    weights = np.asarray(list(style_weights), dtype=np.float64)
    if weights.shape != (n_styles,):
        raise InputError(
            f"{weights.size} blend weights for {n_styles} style image(s): "
            "give one weight per style image"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise InputError(f"style blend weights {list(style_weights)} must be 0 or more, not all 0")
    return weights / weights.sum()


def _style_at(style: np.ndarray, height: int, width: int, scale: float) -> np.ndarray:
    """The style image resized so its longest side is the output's times ``scale``."""
    from cnnstudio.core import images

    side = max(VGG19_MIN_SIZE, round(max(height, width) * scale))
    sh, sw = output_size(style.shape, side)
    if min(sh, sw) < VGG19_MIN_SIZE:  # a very long thin style image
        grow = VGG19_MIN_SIZE / min(sh, sw)
        sh, sw = math.ceil(sh * grow), math.ceil(sw * grow)
    return images.resize_to(style, sw, sh)


def stylize(
    content: np.ndarray,
    styles: np.ndarray | Sequence[np.ndarray],
    params: StyleParams | None = None,
    *,
    style_weights: Sequence[float] | None = None,
    model=None,
) -> Generator[Progress | Preview | Notice, None, np.ndarray]:
    """Paint ``content`` in the style of ``styles`` (uint8 RGB arrays, e.g. from
    ``images.load_image``); yields Progress every iteration, Preview at most every
    ``params.preview_interval`` seconds, Notice at stage changes; returns uint8 RGB.

    ``style_weights`` blends several styles (their Gram targets are averaged with these
    weights). ``model`` is a VGG19 without top to use instead of building one.
    """
    params = params or StyleParams()
    params.validate()
    content = _check_image("content image", content)
    if isinstance(styles, np.ndarray):
        styles = [styles]
    styles = [_check_image(f"style image {i + 1}", s) for i, s in enumerate(styles)]
    if not styles:
        raise InputError("give at least one style image")
    blend = _blend_weights(len(styles), style_weights)
    check_memory(params, content.shape)

    import tensorflow as tf

    from cnnstudio.core import backbones, images

    if model is None:
        # fetch missing ImageNet weights first, as events: the window and the terminal
        # show the download, and Stop abandons it between chunks
        yield from backbones.ensure_weights_events(BACKBONE, params.weights)
        model = backbones.build_backbone(BACKBONE, params.weights, include_top=False)
    if backbones.is_untrained(params.weights):
        yield Notice("VGG19 has random weights (untrained): expect texture noise, not style")

    content_w, style_w = params.layer_weights()
    program = _program_for(model, list(content_w), list(style_w))
    content_w_t = tf.constant(list(content_w.values()), tf.float32)
    style_w_t = tf.constant(list(style_w.values()), tf.float32)
    loss_w_t = tf.constant([params.content_weight, params.style_weight, params.tv_weight])

    height, width = output_size(content.shape, params.size)
    full_content = images.resize_to(content, width, height)
    if params.preserve_colors == "match":
        styles = [match_colors(s, full_content) for s in styles]
    colour_content = content
    if params.preserve_colors == "luminance":
        # Luminance-only transfer (Gatys et al. 2016): optimise on grey versions of the
        # content and the styles (each style's luminance matched to the content's), so the
        # style's colours never enter the Gram targets; the content's chroma goes back on
        # the result's luminance in every preview and in the result.
        styles = [luminance_image(s, content) for s in styles]
        content = luminance_image(content)
    stages = stage_sizes(height, width, params.multi_scale)
    steps = params.total_steps()
    total = steps * len(stages)
    rng = np.random.default_rng(params.seed)
    image = None
    step = 0
    evaluations = [0]  # L-BFGS loss evaluations over the whole job (all scales)
    last_preview = -math.inf

    def preview_of(current, colour: np.ndarray | None) -> np.ndarray:
        picture = _to_uint8(current)
        if colour is not None:
            picture = transfer_luminance(picture, colour)
        return picture

    for stage, (h, w) in enumerate(stages, start=1):
        if len(stages) > 1:
            yield Notice(f"scale {stage}/{len(stages)}: {w}x{h} px")
        stage_content = images.resize_to(content, w, h)
        stage_colour = (
            images.resize_to(colour_content, w, h)
            if params.preserve_colors == "luminance"
            else None
        )
        content_targets, _ = program.targets(tf.constant(_to_float(stage_content)))
        gram_targets = None
        for weight, style in zip(blend, styles, strict=True):
            _, grams = program.targets(
                tf.constant(_to_float(_style_at(style, h, w, params.style_scale)))
            )
            weighted = [g * float(weight) for g in grams]
            gram_targets = (
                weighted
                if gram_targets is None
                else [a + b for a, b in zip(gram_targets, weighted, strict=True)]
            )

        if image is not None:
            image = _resize_float(image, h, w)
        elif params.init == "content":
            image = tf.constant(_to_float(stage_content))
        elif params.init == "style":
            main_style = styles[int(np.argmax(blend))]
            image = tf.constant(_to_float(images.resize_to(main_style, w, h)))
        else:
            image = tf.constant(rng.uniform(0.0, 1.0, (1, h, w, 3)).astype(np.float32))

        args = (content_targets, gram_targets, content_w_t, style_w_t, loss_w_t)
        if params.optimizer == "adam":
            updates = _adam(program, image, args, params, steps)
        else:
            updates = _lbfgs(program, image, args, params, steps, evaluations)
        for kind, current, terms, message in updates:
            now = time.monotonic()
            if kind == "evaluation":
                # inside an L-BFGS iteration: a yield per loss evaluation, so Stop and
                # the progress text respond within one evaluation
                yield LbfgsEvaluation(
                    iteration=step + 1,
                    total=total,
                    evaluation=int(message),
                    evaluations=evaluations[0],
                    loss=float(terms[0]),
                    stage=stage,
                    stages=len(stages),
                )
                if now - last_preview >= params.preview_interval:
                    last_preview = now
                    yield Preview(preview_of(current, stage_colour), step, total)
                continue
            image = current
            step += 1
            yield Progress(
                step=step,
                total=total,
                loss=float(terms[0]),
                terms={"content": float(terms[1]), "style": float(terms[2]), "tv": float(terms[3])},
                stage=stage,
                stages=len(stages),
                message=message,
            )
            if step == total or now - last_preview >= params.preview_interval:
                last_preview = now
                yield Preview(preview_of(image, stage_colour), step, total)

    return preview_of(image, stage_colour)


@dataclass(frozen=True)
class LbfgsEvaluation:
    """One loss evaluation inside an L-BFGS iteration. Yielded between the Progress events
    (which come once per iteration) so that Stop, the progress text and the preview
    respond within one evaluation rather than one batch of them."""

    iteration: int  # the iteration being worked on, 1..total over the whole job
    total: int  # iterations in the whole job
    evaluation: int  # loss evaluations spent in this iteration so far
    evaluations: int  # loss evaluations spent in the whole job so far
    loss: float  # the lowest loss of this iteration so far
    stage: int = 1
    stages: int = 1

    @property
    def text(self) -> str:
        """``iteration 3/20: evaluation 7 (47 in all)``."""
        return (
            f"iteration {self.iteration}/{self.total}: evaluation {self.evaluation} "
            f"({self.evaluations} in all)"
        )


def _adam(program: _StyleProgram, image, args, params: StyleParams, steps: int):
    """Yield ("step", image, loss terms, message) after each Adam step."""
    import tensorflow as tf

    m = tf.zeros_like(image)
    v = tf.zeros_like(image)
    for t in range(1, steps + 1):
        hp = tf.constant(
            [params.learning_rate, params.beta_1, params.beta_2, params.epsilon, t], tf.float32
        )
        image, m, v, terms = program.adam_step(image, *args, m, v, hp)
        yield "step", image, terms.numpy(), ""


class _CutShort(Exception):
    """Raised inside scipy's loss callback to end an L-BFGS run: its evaluation budget is
    spent or the job was closed. scipy does not catch it."""


def _lbfgs(
    program: _StyleProgram, image, args, params: StyleParams, steps: int, evaluations: list[int]
):
    """Yield ("evaluation", best pixels so far, their terms, evaluations this iteration)
    after each loss evaluation and ("step", image, terms, message) after each outer
    iteration: one run of scipy's L-BFGS-B with ``lbfgs_evaluations`` loss evaluations
    (more only while no point below the start has been found), pixels bounded to 0..1
    (Practical ML with Python's loop). ``evaluations[0]`` keeps the running total over the
    whole job.

    scipy's minimize only returns after its whole run, so it runs in a helper thread and
    asks this generator for each loss and gradient through a queue: TensorFlow stays in
    the job's thread, the generator can yield between evaluations, and closing it ends
    scipy at its next request without losing the curvature history in between."""
    import queue
    import threading

    import tensorflow as tf
    from scipy.optimize import Bounds, minimize

    shape = tuple(int(d) for d in image.shape)
    x = np.asarray(image, dtype=np.float64).ravel()
    budget = params.lbfgs_evaluations

    for _ in range(steps):
        requests: queue.Queue = queue.Queue()
        replies: queue.Queue = queue.Queue()

        def objective(flat: np.ndarray, requests=requests, replies=replies):
            requests.put(("evaluate", flat))
            reply = replies.get()
            if reply is None:
                raise _CutShort
            return reply

        def solve(start: np.ndarray = x, requests=requests) -> None:
            try:
                minimize(
                    objective,
                    start,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=Bounds(0.0, 1.0),
                    # the budget is enforced by _CutShort; these only bound scipy
                    options={"maxfun": 2 * budget + 10, "maxiter": budget},
                )
                requests.put(("done", None))
            except _CutShort:
                requests.put(("done", None))
            except BaseException as error:  # handed to the job's thread, raised there
                requests.put(("error", error))

        solver = threading.Thread(target=solve, name="style-lbfgs", daemon=True)
        solver.start()
        best_terms, best_x, spent, first_loss = None, x, 0, math.inf
        try:
            while True:
                kind, payload = requests.get()
                if kind == "done":
                    break
                if kind == "error":
                    raise payload
                if spent >= budget and best_terms[0] < first_loss:
                    # budget spent and the loss has fallen: end the run here, even mid
                    # line search, so an iteration costs exactly the budget. A run that
                    # has not found a lower point yet may finish its line search (within
                    # scipy's maxfun), else a small budget would never move the picture.
                    replies.put(None)
                    continue
                terms, grad = program.loss_and_grad(
                    tf.constant(payload.reshape(shape), tf.float32), *args
                )
                terms = terms.numpy()
                spent += 1
                evaluations[0] += 1
                if spent == 1:
                    first_loss = terms[0]  # scipy evaluates the starting point first
                if best_terms is None or terms[0] < best_terms[0]:
                    best_terms, best_x = terms, np.array(payload, dtype=np.float64)
                replies.put((float(terms[0]), grad.numpy().astype(np.float64).ravel()))
                yield "evaluation", best_x.reshape(shape), best_terms, spent
        finally:
            if solver.is_alive():  # closed mid-run: end scipy at its next request
                replies.put(None)
                solver.join()
        x = best_x
        yield (
            "step",
            tf.constant(x.reshape(shape), tf.float32),
            best_terms,
            f"{evaluations[0]} loss evaluations",
        )


def style_metadata(params: StyleParams, **extra: object) -> dict:
    """Parameters to embed in a saved picture so it can be redone, with the weights source
    said plainly (and whether the network was untrained)."""
    from cnnstudio.core import backbones

    meta: dict[str, object] = {"job": "style", "backbone": BACKBONE}
    meta.update(dataclasses.asdict(params))
    meta["steps"] = params.total_steps()
    if meta["weights"] not in ("imagenet", "random"):
        # the full path, so that restoring the picture's parameters finds the file again
        meta["weights"] = str(Path(str(meta["weights"])).expanduser().resolve())
    meta["weights_label"] = backbones.weights_label(params.weights)
    meta["untrained"] = backbones.is_untrained(params.weights)
    meta.update(extra)
    return meta


def params_from_metadata(meta: dict) -> StyleParams:
    """StyleParams from a saved picture's parameters (unknown keys ignored)."""
    names = {f.name for f in dataclasses.fields(StyleParams)}
    values = {k: v for k, v in meta.items() if k in names}
    return StyleParams(**values)


__all__ = [
    "COLOR_MODES",
    "INITS",
    "LAYER_PRESETS",
    "OPTIMIZERS",
    "LayerPreset",
    "LbfgsEvaluation",
    "MemoryTooLargeError",
    "StageEta",
    "StyleParams",
    "available_memory",
    "check_memory",
    "estimate_memory",
    "fitting_size",
    "gram_matrix",
    "luminance_image",
    "match_colors",
    "output_size",
    "params_from_metadata",
    "rgb_to_ycbcr",
    "stage_sizes",
    "style_metadata",
    "stylize",
    "trace_counts",
    "transfer_luminance",
]
