"""The model graph: layer paths in nested models, layer lists, and the one way to get at a
layer's activations.

A transfer model holds its backbone as a nested model (``Sequential([base, pooling,
dense])``), so a layer is addressed by a *path*, ``"mobilenetv2_1.00_96/Conv_1"``: the
nested model's name, :data:`PATH_SEP`, the layer's name. Every tab and job that looks
inside a network (Dream, Grad-CAM, feature maps, style, feature visualisation) goes through
this module: :func:`layer_at`, the layer lists (:func:`conv_layer_paths`,
:func:`dream_layer_paths`), :func:`find_last_conv_layer` and :func:`layer_outputs_model`.

Why a nested layer needs care: ``model.get_layer(base).get_layer(conv).output`` is connected
to the *nested* model's own input, not to the outer model's, so a model built from it cannot
be called on the outer input (activations and gradients come out disconnected). For such
paths :func:`layer_outputs_model` runs the outer model layer by layer on a new input,
entering nested models, and captures the wanted outputs on the way. That walk uses one
private Keras method, ``Functional._run_through_graph`` (the hook ``Functional.call`` itself
runs on); it is used nowhere else, and ``tests/core/test_layers.py`` pins it. Layers of the
top-level model take the public route, ``keras.Model(model.inputs, layer.output)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras

from cnnstudio.core import backbones
from cnnstudio.core.errors import InputError

#: separates a nested model's name from its layer's name in a layer path
PATH_SEP = "/"

CONV_CLASSES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")
# Layers that keep a conv output's layout (the activation after a conv is what Grad-CAM
# and the Keras Grad-CAM example use: e.g. MobileNetV2's Conv_1 -> Conv_1_bn -> out_relu).
ELEMENTWISE_CLASSES = ("BatchNormalization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU")
MERGE_CLASSES = ("Add", "Concatenate")
PREPROCESSING_CLASSES = ("Rescaling", "Normalization", "Resizing", "CenterCrop", "ZeroPadding2D")


# ------------------------------------------------------------------------------- walking


def is_model(layer: Any) -> bool:
    """True for a (nested) model, whose layers a path may enter."""
    return isinstance(layer, keras.Model)


def sublayers(model: Any) -> list[Any]:
    """A model's layers in network order, without its input layers."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def output_rank(layer: Any) -> int | None:
    """Rank of a layer's output (4 for a feature map), None when it has no single output."""
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None
    shape = getattr(output, "shape", None)
    return len(shape) if shape is not None else None


def walk(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, layer) for every layer that is not a model, nested models entered in place."""
    for layer in sublayers(model):
        path = prefix + layer.name
        if is_model(layer):
            yield from walk(layer, path + PATH_SEP)
        else:
            yield path, layer


def _is_preprocessing(layer: Any) -> bool:
    """Rescaling, resizing and augmentation layers: their outputs are still the picture."""
    kind = type(layer).__name__
    return kind in PREPROCESSING_CLASSES or kind.startswith("Random")


# --------------------------------------------------------------------------- layer lists


def conv_layer_paths(model: Any) -> list[str]:
    """Paths of the layers whose output is a feature map (batch, h, w, channels), in
    network order, nested models included (``"mobilenetv2_1.00_96/Conv_1"``); the
    preprocessing layers in front (rescaling, augmentation) are left out."""
    return [
        path
        for path, layer in walk(model)
        if output_rank(layer) == 4 and not _is_preprocessing(layer)
    ]


def dream_layer_paths(model: Any) -> list[str]:
    """The layers a dream can amplify, in network order: convolutions, activations, block
    outputs and poolings with a feature-map output, nested models entered
    (``"base/block_6_expand_relu"``); no input, rescaling, batch-norm or dropout layers."""
    wanted = CONV_CLASSES + ELEMENTWISE_CLASSES + MERGE_CLASSES + ("MaxPooling2D",)
    return [
        path
        for path, layer in walk(model)
        if output_rank(layer) == 4
        and type(layer).__name__ in wanted
        and type(layer).__name__ != "BatchNormalization"
    ]


def split_path(model: Any, layer_path: str) -> tuple[str, ...]:
    """Check a layer path against the model and return its parts; InputError naming the
    layers there are when a part is not found."""
    parts = tuple(p for p in str(layer_path).split(PATH_SEP) if p)
    if not parts:
        raise InputError("empty layer name: choose a layer")
    current = model
    for depth, part in enumerate(parts):
        names = [layer.name for layer in sublayers(current)]
        if part not in names:
            where = PATH_SEP.join(parts[:depth]) or current.name
            shown = ", ".join(names[:40]) + (", ..." if len(names) > 40 else "")
            raise InputError(f"no layer '{part}' in {where}; choose one of: {shown}")
        current = current.get_layer(part)
        if depth < len(parts) - 1 and not is_model(current):
            raise InputError(f"layer '{PATH_SEP.join(parts[: depth + 1])}' has no sub-layers")
    return parts


def layer_at(model: Any, layer_path: str) -> Any:
    """The layer at ``layer_path`` (``"base/Conv_1"`` for a nested model's layer);
    InputError naming the choices when there is none."""
    current = model
    for part in split_path(model, layer_path):
        current = current.get_layer(part)
    return current


def layer_channels(model: Any, layer_path: str) -> int:
    """Number of channels of a layer's output (valid channel indices are 0..n-1)."""
    return int(layer_at(model, layer_path).output.shape[-1])


def _backbone_last_conv(model: Any) -> str | None:
    """The Grad-CAM layer of a known backbone (InceptionV3's ``mixed10``, ...) when
    ``model`` is one, recognised by its layer names (a transfer model may rename it)."""
    names = {layer.name for layer in model.layers}
    for info in backbones.all_backbones():
        if info.last_conv_layer in names and set(info.conv_layers) <= names:
            return info.last_conv_layer
    return None


def find_last_conv_layer(model: Any) -> str:
    """The path of the last convolution, moved forward over the batch-norm/activation
    layers that follow it and the Add/Concatenate that merge its branches (Grad-CAM wants
    the rectified block output); inside a known backbone, that backbone's own last
    feature map (InceptionV3: ``mixed10``). InputError if the model has no convolution."""
    walked = list(walk(model))
    last = None
    for position, (_, layer) in enumerate(walked):
        if type(layer).__name__ in CONV_CLASSES and output_rank(layer) == 4:
            last = position
    if last is None:
        raise InputError(
            f"model '{model.name}' has no convolutional layer, so it has no Grad-CAM; "
            "pick a layer with a feature-map output"
        )
    # Branches of a block (Inception's towers, a residual's shortcut) are listed one after
    # the other: the block ends where its branches are merged.
    passable = ELEMENTWISE_CLASSES + MERGE_CLASSES
    while last + 1 < len(walked):
        _, following = walked[last + 1]
        if type(following).__name__ not in passable or output_rank(following) != 4:
            break
        last += 1
    parts = walked[last][0].split(PATH_SEP)
    current = model
    for depth in range(len(parts)):
        known = _backbone_last_conv(current) if is_model(current) else None
        if known is not None:
            return PATH_SEP.join(parts[:depth] + [known])
        current = current.get_layer(parts[depth])
    return walked[last][0]


def final_layer(model: Any) -> Any:
    """The layer that produces the model's (single) output, or None."""
    if isinstance(model, keras.Sequential):
        layers = sublayers(model)
        return layers[-1] if layers else None
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) != 1:
        return None
    history = getattr(outputs[0], "_keras_history", None)
    return getattr(history, "operation", None)


def logits_function(layer: Any) -> Callable[[Any], Any] | None:
    """For a final softmax/sigmoid layer: a function from its input to its scores before
    the activation (a Dense layer's ``x @ kernel + bias``); None when the layer's output
    already is a score. Scores, not probabilities, are what Grad-CAM and class
    visualisation differentiate: a saturated softmax has a zero gradient."""
    squashing = (keras.activations.softmax, keras.activations.sigmoid)
    kind = type(layer).__name__
    activation = getattr(layer, "activation", None)
    if kind == "Softmax" or (kind == "Activation" and activation in squashing):
        return lambda x: x
    if kind == "Dense" and activation in squashing:

        def dense_logits(x: Any) -> Any:
            z = keras.ops.matmul(x, layer.kernel)
            return z + layer.bias if layer.bias is not None else z

        return dense_logits
    return None


# ---------------------------------------------------------------- activations of layers

#: marks a wanted path whose layer *input* is captured (Grad-CAM's scores before softmax)
INPUT_OF = "<input of>"


class _AllCaptured(Exception):
    """Raised to stop a symbolic pass once every wanted activation exists."""


def _takes_training(layer: Any) -> bool:
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


def _call_layer(layer: Any, args: tuple, kwargs: dict) -> Any:
    if _takes_training(layer):
        kwargs = {**kwargs, "training": False}
    return layer(*args, **kwargs)


def run_capturing(
    model: Any,
    inputs: Any,
    wanted: Sequence[tuple[str, ...]],
    captured: dict[tuple[str, ...], Any],
    prefix: tuple[str, ...] = (),
    stop_early: bool = False,
) -> Any:
    """Run ``model`` on ``inputs`` layer by layer (eager or symbolic), entering the nested
    models that hold a wanted path, and put the outputs of the ``wanted`` layer paths (as
    tuples of parts; ``(INPUT_OF, *path)`` for a layer's input) into ``captured``.
    Returns the model's output (``stop_early``: raises ``_AllCaptured`` once all are in)."""

    def call(layer: Any, args: tuple, kwargs: dict) -> Any:
        path = prefix + (layer.name,)
        if (INPUT_OF,) + path in wanted:
            captured[(INPUT_OF,) + path] = args[0]
        inner = [p for p in wanted if p[: len(path)] == path and len(p) > len(path)]
        if inner and is_model(layer):
            output = run_capturing(layer, args[0], wanted, captured, path, stop_early)
        else:
            output = _call_layer(layer, args, kwargs)
        if path in wanted:
            captured[path] = output
        if stop_early and all(p in captured for p in wanted):
            raise _AllCaptured
        return output

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in sublayers(model):
            x = call(layer, (x,), {})
        return x
    # A functional model: walk its own graph (any topology) with our wrapper per layer.
    # The one private Keras API of the app (pinned by tests/core/test_layers.py).
    return model._run_through_graph(inputs, operation_fn=lambda op: lambda *a, **k: call(op, a, k))


def features_model_cache(model: Any) -> dict:
    """A dict stored on ``model`` itself, so cached feature models live and die with it."""
    cache = getattr(model, "_cnnstudio_feature_models", None)
    if cache is None:
        cache = {}
        try:
            object.__setattr__(model, "_cnnstudio_feature_models", cache)
        except (AttributeError, TypeError):
            pass
    return cache


def layer_outputs_model(
    model: Any,
    layer_paths: Sequence[str],
    include_output: bool = False,
    input_shape: tuple | None = None,
) -> Any:
    """A Keras model from one image input to the activations of ``layer_paths`` (a list,
    in the order given; nested paths such as ``"base/Conv_1"`` work), plus the model's
    output last when ``include_output``. ``input_shape`` (e.g. ``(None, None, 3)``) gives
    a model that takes other image sizes; the layers after the last wanted one are then
    not built. Cached on ``model``. InputError naming the choices for an unknown layer."""
    paths = [str(p) for p in layer_paths]
    if not paths:
        raise InputError("no layers chosen: pick at least one layer")
    wanted = [split_path(model, p) for p in paths]
    key = (tuple(wanted), include_output, tuple(input_shape) if input_shape else None)
    cache = features_model_cache(model)
    if key in cache:
        return cache[key]
    flat = all(len(parts) == 1 for parts in wanted)
    if flat and input_shape is None and len(model.inputs) == 1:
        # the public route: the layers' own symbolic outputs, on the model's own input
        outputs = [model.get_layer(parts[0]).output for parts in wanted]
        if include_output:
            outputs.append(model.outputs[0])
        result = keras.Model(model.inputs[0], outputs, name=f"{model.name}_features")
    else:
        shape = input_shape or tuple(model.inputs[0].shape[1:])
        inputs = keras.Input(shape=shape, dtype=model.inputs[0].dtype)
        captured: dict[tuple[str, ...], Any] = {}
        output = None
        try:
            output = run_capturing(model, inputs, wanted, captured, stop_early=not include_output)
        except _AllCaptured:
            pass
        outputs = [captured[p] for p in wanted]
        if include_output:
            outputs.append(output)
        result = keras.Model(inputs, outputs, name=f"{model.name}_features")
    cache[key] = result
    return result


def scores_model(model: Any, layer_paths: Sequence[str]) -> Any:
    """A Keras model from one image input to the activations of ``layer_paths`` (nested
    paths too) followed by the model's class scores *before* its final softmax/sigmoid
    (see :func:`logits_function`; the output itself when it already is a score). Cached
    on ``model``. InputError naming the choices for an unknown layer."""
    wanted = [split_path(model, str(p)) for p in layer_paths]
    cache = features_model_cache(model)
    key = ("scores", tuple(wanted))
    if key in cache:
        return cache[key]
    final = final_layer(model)
    logits_of = logits_function(final) if final is not None else None
    captures = list(wanted)
    if logits_of is not None:
        captures.append((INPUT_OF, final.name))
    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
    captured: dict[tuple[str, ...], Any] = {}
    output = run_capturing(model, inputs, captures, captured)
    if isinstance(output, (list, tuple)):
        output = output[0]
    scores = logits_of(captured[captures[-1]]) if logits_of is not None else output
    outputs = [captured[p] for p in wanted] + [scores]
    result = keras.Model(inputs, outputs, name=f"{model.name}_scores")
    cache[key] = result
    return result
