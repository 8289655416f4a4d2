"""Style networks in the model library: the sidecar (``kind: "style"``, the style's
thumbnail, how it was trained), and the checks that keep style networks and classifiers
apart. No TensorFlow.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from cnnstudio.core import images, library
from cnnstudio.core.errors import InputError
from cnnstudio.core.faststyle.params import (
    RECIPE,
    STYLE_KIND,
    FastStyleParams,
    is_style_model,
)
from cnnstudio.core.weights import is_untrained, weights_label

THUMBNAIL_SIDE = 96
_THUMBNAIL_MAX_BYTES = 200_000  # base64 text in a sidecar; ours are ~20 KB


def thumbnail_text(picture: np.ndarray, side: int = THUMBNAIL_SIDE) -> str:
    """A small PNG of ``picture`` (longest side ``side``) as base64 text for a sidecar."""
    small = images.resize_max_side(picture, side)
    buffer = io.BytesIO()
    Image.fromarray(small, "RGB").save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail(meta: dict[str, Any]) -> np.ndarray | None:
    """The style thumbnail of a style model's sidecar (uint8 RGB), None when it has none
    or it is not a small picture."""
    text = meta.get("style_thumbnail") if meta else None
    if not isinstance(text, str) or len(text) > _THUMBNAIL_MAX_BYTES:
        return None
    try:
        pil = Image.open(io.BytesIO(base64.b64decode(text, validate=True)))
        if max(pil.size) > 4 * THUMBNAIL_SIDE:
            return None
        return images.image_from_pil(pil)
    except (ValueError, OSError, InputError):
        return None


def style_model_meta(
    params: FastStyleParams,
    styles: list[np.ndarray],
    *,
    steps: int,
    best_step: int,
    held_out_loss: float | None,
    photos: int,
) -> dict[str, Any]:
    """The sidecar of a trained style network (see :mod:`cnnstudio.core.library`)."""
    from pathlib import Path

    return {
        "kind": STYLE_KIND,
        "recipe": RECIPE,
        "dataset": Path(params.data).name or str(params.data),
        "styles": [Path(s).name for s in params.styles],
        "style_thumbnail": thumbnail_text(styles[0]),
        # a fully convolutional network: any size (the sides are padded to multiples of 4)
        "input_size": None,
        "channels": 3,
        "preprocessing": "none",  # RGB floats 0..255 in and out
        "training_size": params.size,
        "steps": steps,
        "best_step": best_step,
        "held_out_loss": held_out_loss,
        "photos": photos,
        "batch_size": params.batch_size,
        "loss_weights": {
            "content": params.content_weight,
            "style": params.style_weight,
            "tv": params.tv_weight,
        },
        "loss_version": params.loss_version,
        "content_layers": params.content_layers,
        "style_layers": params.style_layers,
        "loss_network": "VGG19",
        "loss_network_weights": weights_label(params.weights),
        "untrained_loss_network": is_untrained(params.weights),
        # trained on luminance: styling puts the picture's own colours back
        "preserve_colors": bool(params.preserve_colors),
    }


def check_style_entry(entry: library.ModelEntry) -> None:
    """InputError unless ``entry`` is a style network (a classifier is refused)."""
    if not is_style_model(entry.meta):
        what = (
            "a classifier, not a style model"
            if entry.meta.get("class_names")
            else ("not a style model")
        )
        raise InputError(
            f"model '{entry.name}' is {what}: it cannot paint a picture; choose a style "
            "model (one trained from photos and a style picture with style-train)",
            param="model",
        )


def check_not_style_model(
    name: str, meta: dict[str, Any] | None, use: str = "classify pictures"
) -> None:
    """InputError if the model ``name`` with sidecar ``meta`` is a style network (it has
    no classes); checked before the model is loaded."""
    if is_style_model(meta):
        raise InputError(
            f"model '{name}' is a style model: it paints pictures and has no classes, "
            f"so it cannot {use}; use it to style pictures, or choose a classifier",
            param="model",
        )


def style_entries() -> list[library.ModelEntry]:
    """The library's style models."""
    return [entry for entry in library.list_models() if is_style_model(entry.meta)]


def save_style_model(
    model: Any, name: str, meta: dict[str, Any], *, run_dir: str | None = None
) -> library.ModelEntry:
    """Save a trained style network into the library (never over another entry: ``-2``,
    ...). With ``run_dir`` (the training run it comes from, recorded in its sidecar) the
    entry an earlier save of the same run made under ``name`` (stopped, then resumed) is
    replaced: one run, one entry. The new entry is written before the old one goes."""
    if run_dir is None:
        return library.save_to_library(model, name, meta)
    meta = {**meta, "run_dir": _run_folder(run_dir)}
    earlier = same_run_entry(name, run_dir)
    entry = library.save_to_library(model, name, meta)
    if earlier is not None and entry.path != earlier.path:
        library.delete_model(earlier)
        entry = library.rename_model(entry, earlier.name)
    return entry


def same_run_entry(name: str, run_dir: str) -> library.ModelEntry | None:
    """The library entry called ``name`` if the training run in ``run_dir`` saved it."""
    for entry in library.list_models():
        if entry.name == name and entry.meta.get("run_dir") == _run_folder(run_dir):
            return entry
    return None


def _run_folder(run_dir: str) -> str:
    from pathlib import Path

    return str(Path(run_dir).expanduser().resolve())
