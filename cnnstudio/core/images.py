"""The one door for images: every picture that enters or leaves CNN Studio passes here.

Loading accepts anything Pillow reads and always returns a uint8 RGB array of shape
(H, W, 3): EXIF orientation applied, any colour mode converted (alpha composited over
white; 16-bit, 32-bit and float images stretched from their actual value range to 0..255),
the first frame of an animation, decompression bombs refused from the header alone, and
big photos downscaled to the working size while decoding. Every failure raises one error
type, :class:`ImageLoadError`, whose message names the file and the reason.

Saving writes PNG with the job's parameters as JSON in a text chunk (JPEG and WebP carry
them in the EXIF UserComment), never overwrites unless asked, and writes atomically.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import struct
import warnings
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from cnnstudio.core import files, image_diagnosis
from cnnstudio.core.errors import InputError
from cnnstudio.core.json_input import nesting_depth

# Pillow's own hard threshold (it raises above 2 x MAX_IMAGE_PIXELS, ~179 Mpx). We apply
# it ourselves from the header so the check holds even if something in the process has
# relaxed Pillow's global; bigger files are almost always crafted to exhaust memory.
MAX_PIXELS = 2 * (1024 * 1024 * 1024 // 4 // 3)

IMAGE_SUFFIXES: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".jfif",
    ".webp",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".ppm",
    ".pgm",
    ".pbm",
    ".pnm",
    ".tga",
    ".ico",
)
"""Suffixes of files Pillow reads, for file dialogs and for scanning folders."""

SAVE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp")
"""Suffixes :func:`save_image` writes."""

IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ")"
"""A file-dialog filter string for the readable suffixes (plain text: no Qt here)."""

PARAMS_KEY = "cnnstudio"  # PNG text-chunk key for the embedded parameters
PARAMS_MAX_DEPTH = 16  # nesting of the embedded parameters (ours: 4 at most)

EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286
EXIF_SOFTWARE = 0x0131
_EXIF_ORIENTATION = 0x0112
USER_COMMENT_ASCII = b"ASCII\x00\x00\x00"  # the 8-byte charset header EXIF requires
SOFTWARE = "CNN Studio"
# A JPEG APP1 segment holds at most 64 KiB; leave room for the rest of the EXIF block.

# Modes whose samples are wider than 8 bits: scaled by their actual range, not clipped.
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N", "I;16S"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
# Modes that Pillow resizes with a high-quality filter (it premultiplies alpha itself).
_RESIZABLE_MODES = frozenset({"L", "LA", "RGB", "RGBA"})

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageLoadError(InputError):
    """An image file could not be read. The message names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name or self.path}: {reason}")


# --------------------------------------------------------------------------- loading


def load_image(path: str | os.PathLike[str], max_side: int | None = None) -> np.ndarray:
    """Read an image file as a uint8 RGB array of shape (H, W, 3).

    EXIF orientation is applied, any colour mode is converted, the first frame of an
    animation is used, and files whose header claims more than :data:`MAX_PIXELS` pixels
    are refused before any decoding. With ``max_side`` the result is shrunk (never
    enlarged) so its longest side is at most ``max_side``; JPEGs are then decoded at a
    reduced scale, so a 50-megapixel photo costs little memory.

    Raises :class:`ImageLoadError` naming the file and the reason.
    """
    path = Path(path)
    _check_max_side(max_side)
    _check_file(path)
    try:
        with _open_checked(path) as img:
            if max_side is not None and img.format == "JPEG":
                _draft_for(img, max_side)
            # Decode before reading EXIF: PNG's getexif() would otherwise decode on its
            # own, and _orientation() must not swallow a decoding error.
            img.load()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Cc]orrupt EXIF")
                orientation = _orientation(img)
            return _to_rgb_array(img, max_side, orientation)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bomb_error(path, _pixels_in_message(str(exc))) from None
    except UnidentifiedImageError:
        raise ImageLoadError(path, image_diagnosis.unidentified_reason(path)) from None
    except MemoryError:
        raise ImageLoadError(
            path, "the image is too large to fit in memory; open a smaller version"
        ) from None
    except PermissionError:
        raise ImageLoadError(path, "permission denied; check the file's permissions") from None
    except (OSError, SyntaxError, EOFError, ValueError, zlib.error, struct.error) as exc:
        raise ImageLoadError(path, image_diagnosis.decode_failure_reason(exc)) from None


def _open_checked(path: Path) -> ImageFile.ImageFile:
    """Open (header only) and refuse more than :data:`MAX_PIXELS` before any decoding.

    Our own check holds even if something in the process has relaxed Pillow's global
    limit. Pillow warns between its soft and hard limits; the decision is ours, so that
    warning is silenced for this call only (not process-wide, which would weaken it
    elsewhere).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = Image.open(path)
    width, height = img.size
    if width * height > MAX_PIXELS:
        img.close()
        raise _bomb_error(path, width * height)
    return img


def image_from_pil(pil_image: Image.Image, max_side: int | None = None) -> np.ndarray:
    """Convert an in-memory Pillow image (clipboard, drag from a browser) like
    :func:`load_image` does: EXIF orientation, any mode to RGB, optional shrink."""
    _check_max_side(max_side)
    width, height = pil_image.size
    if width * height > MAX_PIXELS:
        raise InputError(
            f"the pasted image has {width * height:,} pixels, more than the limit of "
            f"{MAX_PIXELS:,}; paste a smaller image"
        )
    try:
        pil_image.load()
    except (OSError, SyntaxError, EOFError, ValueError, zlib.error) as exc:
        raise InputError(
            f"the pasted image cannot be decoded: {image_diagnosis.decode_failure_reason(exc)}"
        ) from None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]orrupt EXIF")
        orientation = _orientation(pil_image)
    return _to_rgb_array(pil_image, max_side, orientation)


def _check_max_side(max_side: int | None) -> None:
    if max_side is not None and (not isinstance(max_side, int | np.integer) or max_side < 1):
        raise InputError(f"maximum image side {max_side!r} must be a whole number of 1 or more")


def _check_file(path: Path) -> None:
    """Reject what is not a readable, non-empty regular file with a precise reason (a FIFO
    would block the reader for ever, a device never ends)."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise ImageLoadError(path, files.missing_reason(path, error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageLoadError(path, "this is a folder, not an image file; pick a file inside it")
    if not stat.S_ISREG(info.st_mode):
        kind = files.kind_of(info.st_mode)
        if path.is_symlink():  # say where it leads: "a device (/dev/zero)"
            kind = f"{kind} ({os.path.realpath(path)})"
        raise ImageLoadError(path, f"is {kind}, not an image file")
    if info.st_size == 0:
        raise ImageLoadError(path, "the file is empty (0 bytes); re-export or re-download it")


def _bomb_error(path: Path, pixels: int | None) -> ImageLoadError:
    count = f"{pixels:,} pixels" if pixels else "too many pixels"
    return ImageLoadError(
        path,
        f"the image claims {count}, more than the limit of {MAX_PIXELS:,} "
        "(a possible decompression bomb); refused without decoding. "
        "Shrink it with an image editor if it is genuine",
    )


def _pixels_in_message(message: str) -> int | None:
    match = re.search(r"\((\d+) pixels\)", message)
    return int(match.group(1)) if match else None


def _draft_for(img: ImageFile.ImageFile, max_side: int) -> None:
    """Ask the JPEG decoder for a 1/2, 1/4 or 1/8 scale that still covers ``max_side``."""
    width, height = img.size
    scale = max_side / max(width, height)
    if scale < 1:
        img.draft(img.mode, (math.ceil(width * scale), math.ceil(height * scale)))


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - malformed EXIF must not stop an otherwise good image
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _to_rgb_array(img: Image.Image, max_side: int | None, orientation: int) -> np.ndarray:
    """Mode conversion, optional shrink and orientation, in the order that costs least."""
    if img.mode in _RESIZABLE_MODES:
        # Shrink first: converting a 100 Mpx RGBA photo before shrinking wastes memory.
        img = _shrink(img, max_side)
        img = _convert_to_rgb(img)
    else:
        img = _convert_to_rgb(img)
        img = _shrink(img, max_side)
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    if method is not None:
        img = img.transpose(method)
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:  # defensive: conversion guarantees RGB
        raise ValueError(f"mode {img.mode} did not convert to RGB")
    return np.ascontiguousarray(array)


def _shrink(img: Image.Image, max_side: int | None) -> Image.Image:
    if max_side is None or max(img.size) <= max_side:
        return img
    width, height = img.size
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reducing_gap lets Pillow box-reduce by an integer factor first: fast and still sharp.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _convert_to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode in _WIDE_MODES:
        return Image.fromarray(_wide_to_uint8(np.asarray(img), mode), "L").convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode in ("P", "PA"):
        img = img.convert("RGBA" if mode == "PA" else "RGB")
    elif mode in ("La", "RGBa"):
        img = img.convert("LA" if mode == "La" else "RGBA")
    elif mode == "L" and "transparency" in img.info:
        img = img.convert("LA")
    elif mode == "RGB" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    # L, 1, CMYK, YCbCr, RGBX, HSV ... Pillow converts these directly.
    return img.convert("RGB")


def _wide_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map a 16-bit, 32-bit or float plane onto 0..255 without clipping.

    16-bit modes (I;16, I;16B, I;16L, ...) are scaled by their nominal range (/257), so a dark
    16-bit picture stays dark. 32-bit integers (I) and floats (F) have no fixed range: values
    already in 0..255 are kept, floats in 0..1 are scaled by 255, and anything else is
    scaled by its actual range (clipping would turn most of such an image white)."""
    if mode.startswith("I;16"):
        data = values.astype(np.float64) / 257.0
        return np.rint(np.clip(data, 0.0, 255.0)).astype(np.uint8)
    data = values.astype(np.float64)
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(data.shape, dtype=np.uint8)
    low = float(data[finite].min())
    high = float(data[finite].max())
    # NaN reads as black, +-inf as the extremes of the finite values
    fill = min(low, 0.0)
    data = np.where(finite, data, np.where(np.isnan(data), fill, np.clip(data, low, high)))
    if mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = data * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = data
    elif high > low:
        scaled = (data - low) * (255.0 / (high - low))
    else:
        scaled = np.full(data.shape, 255.0 if low > 255.0 else 0.0)
    return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


# ------------------------------------------------------------------ array helpers


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Accept (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) arrays; floats are read as 0..255."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise InputError(
            f"an image must be an array of shape (height, width, 3), not {array.shape}"
        )
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number):
            raise InputError(f"an image must hold numbers, not {array.dtype}")
        array = np.clip(np.rint(np.nan_to_num(array.astype(np.float64))), 0, 255)
        array = array.astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        rgb = array[:, :, :3].astype(np.float32)
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = np.rint(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(array)


def resize_max_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longest side is at most ``max_side`` (never enlarges; returns the
    input unchanged when it already fits)."""
    _check_max_side(max_side)
    array = as_rgb_uint8(image)
    height, width = array.shape[:2]
    if max(height, width) <= max_side:
        return array
    return np.asarray(_shrink(Image.fromarray(array, "RGB"), max_side), dtype=np.uint8)


def resize_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to exactly ``width`` x ``height`` (Lanczos; shrinks and enlarges)."""
    if width < 1 or height < 1:
        raise InputError(f"image size {width}x{height} must be at least 1x1")
    array = as_rgb_uint8(image)
    if array.shape[:2] == (height, width):
        return array
    pil = Image.fromarray(array, "RGB")
    resized = pil.resize((int(width), int(height)), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(resized, dtype=np.uint8)


def noise_image(width: int, height: int, seed: int | None = None) -> np.ndarray:
    """A mid-grey uint8 RGB image with gentle uniform noise: the DeepDream notebooks' start
    (a flat grey with a little noise gives the gradients something to grow from)."""
    if width < 1 or height < 1:
        raise InputError(f"noise size {width}x{height} must be at least 1x1")
    if width * height > MAX_PIXELS:
        raise InputError(f"noise size {width}x{height} is too large; use a smaller size")
    rng = np.random.default_rng(seed)
    return rng.integers(96, 160, size=(height, width, 3), dtype=np.uint8, endpoint=True)


def read_params(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The parameters :func:`save_image` embedded in ``path``, or None when the image has
    none (or they are not ours). Raises :class:`ImageLoadError` if the file cannot be read."""
    path = Path(path)
    _check_file(path)
    try:
        # No decoding: save_image writes the PNG text chunk before the image data, and
        # EXIF sits in the header of JPEG and WebP files.
        with _open_checked(path) as img:
            text = img.info.get(PARAMS_KEY)
            if text is None and img.format in ("JPEG", "WEBP"):
                text = _user_comment(img)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(path, image_diagnosis.unidentified_reason(path)) from None
    except Image.DecompressionBombError as exc:
        raise _bomb_error(path, _pixels_in_message(str(exc))) from None
    except (OSError, SyntaxError, EOFError, ValueError, zlib.error, struct.error) as exc:
        raise ImageLoadError(path, image_diagnosis.decode_failure_reason(exc)) from None
    if not text or not isinstance(text, str):
        return None
    try:
        params = json.loads(text)
        too_deep = nesting_depth(params, PARAMS_MAX_DEPTH) > PARAMS_MAX_DEPTH
    except RecursionError:  # thousands of levels: json gives up before we measure
        too_deep = True
    except (TypeError, ValueError):
        return None  # not JSON: not our parameters
    if too_deep:
        raise InputError(
            f"{path.name}: its embedded parameters are nested more than {PARAMS_MAX_DEPTH} "
            "levels deep; they were not read",
            path=str(path),
        )
    return params if isinstance(params, dict) else None


def _user_comment(img: Image.Image) -> str | None:
    try:
        exif = img.getexif()
        if exif.get(EXIF_SOFTWARE) != SOFTWARE:
            return None  # someone else's comment: not our parameters
        raw = exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    except Exception:  # noqa: BLE001 - malformed EXIF means "no parameters", not a crash
        return None
    if isinstance(raw, bytes):
        if raw.startswith(USER_COMMENT_ASCII):
            raw = raw[len(USER_COMMENT_ASCII) :]
        return raw.decode("ascii", errors="replace")
    return raw if isinstance(raw, str) else None


# ------------------------------------------------------------------------ folders


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True for what is not a folder and whose suffix is one of :data:`IMAGE_SUFFIXES` (no
    decoding). A FIFO or a device named like a picture counts: :func:`load_image` refuses
    it at once and says what it is, rather than the folder dropping it unsaid."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir()


def iter_image_files(
    paths: Iterable[str | os.PathLike[str]], recursive: bool = True
) -> Iterator[Path]:
    """Expand dropped files and folders into image files, in a stable sorted order.
    Hidden files and files with other suffixes inside folders are skipped; files named
    explicitly are passed through so :func:`load_image` can say what is wrong with them."""
    for item in paths:
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = (
                p
                for p in path.glob(pattern)
                if not any(part.startswith(".") for part in p.relative_to(path).parts)
                and is_image_file(p)
            )
            yield from sorted(found, key=lambda p: str(p).lower())
        else:
            yield path
