"""Pictures the app writes: PNG (or JPEG/WebP by suffix) carrying the parameters that made
them, written atomically and never over a file unless asked (``core/files.py``). The
parameters are read back by :func:`cnnstudio.core.images.read_params`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from cnnstudio.core import files, images
from cnnstudio.core.errors import InputError

_JPEG_QUALITY = 95
_WEBP_QUALITY = 95
_MAX_EXIF_PARAMS_BYTES = 60_000


def save_image(
    path: str | os.PathLike[str],
    image: np.ndarray,
    params: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``image`` (uint8 RGB; floats are read as 0..255) and return the path.

    The format follows the suffix: ``.png`` (lossless; ``params`` as JSON in an iTXt
    chunk keyed ``cnnstudio``), ``.jpg``/``.jpeg`` (quality 95) or ``.webp`` (quality 95),
    both with ``params`` as JSON in the EXIF UserComment (skipped if larger than ~60 KB).
    Parent folders are created. The file is written to a temporary name and moved into
    place, so a crash never leaves a half-written result. Raises
    :class:`~cnnstudio.core.files.OutputExistsError` if the file exists and ``overwrite`` is false, and
    :class:`InputError` for an unknown suffix.
    """
    path = files.check_output_file(path, overwrite=overwrite, suffixes=images.SAVE_SUFFIXES)
    suffix = path.suffix.lower()
    pil = Image.fromarray(images.as_rgb_uint8(image), "RGB")
    params_json = _params_json(params) if params is not None else None

    with files.atomic_write(path, overwrite=overwrite) as handle:
        _write(pil, handle, suffix, params_json)
    return path


def _params_json(params: dict[str, Any]) -> str:
    if not isinstance(params, dict):
        raise InputError(f"parameters to embed must be a dict, not {type(params).__name__}")
    return json.dumps(params, default=_json_default, ensure_ascii=True, sort_keys=True)


def _json_default(value: Any) -> Any:
    """Make numpy scalars/arrays, paths and tuples-of-odd-things embeddable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _write(pil: Image.Image, fh: Any, suffix: str, params_json: str | None) -> None:
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", images.SOFTWARE)
        if params_json is not None:
            info.add_itxt(images.PARAMS_KEY, params_json)
        pil.save(fh, format="PNG", pnginfo=info, optimize=False)
        return
    exif = Image.Exif()
    exif[images.EXIF_SOFTWARE] = images.SOFTWARE
    if params_json is not None and len(params_json) <= _MAX_EXIF_PARAMS_BYTES:
        exif.get_ifd(images.EXIF_IFD)[images.EXIF_USER_COMMENT] = (
            images.USER_COMMENT_ASCII + params_json.encode("ascii")
        )
    if suffix in (".jpg", ".jpeg"):
        pil.save(fh, format="JPEG", quality=_JPEG_QUALITY, exif=exif.tobytes())
    else:
        pil.save(fh, format="WEBP", quality=_WEBP_QUALITY, exif=exif.tobytes())
