"""Dataset examples: the images of a folder that excite a channel most, and where.

A visualisation shows what a channel responds to in the extreme; the photographs that
excite it most show it in the wild (Distill 2017, "Dataset examples"). The folder is
streamed in batches (only the ``top`` best per channel are remembered, as file names
and boxes, so memory does not grow with the folder). A channel's score on an image is
its highest activation over positions; the region is a square around that position (two
cells of the map wide, at least a quarter of the image), in the file's own pixels. For
the class objective, or a layer without a map, the region is the whole image. Files that
cannot be read as images are skipped and listed with the reason.
"""

from __future__ import annotations

import errno
import heapq
import os
import stat
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from cnnstudio.core import files, images
from cnnstudio.core.errors import InputError
from cnnstudio.core.visualize.grid import Box, Example
from cnnstudio.core.visualize.network import Network, features_function
from cnnstudio.core.visualize.pictures import oriented_size, scaled_region

#: images per forward pass
BATCH = 16
#: side at which a model with a free input size sees the folder's images
FREE_SIDE = 224
#: longest side images are decoded at (big photos cost little memory)
LOAD_SIDE = 1024
#: a region is at least this share of the image's side, and two map cells wide
MIN_REGION = 0.25


def list_folder(folder: str | Path) -> list[Path]:
    """Every non-hidden file under ``folder`` that is not a folder, sorted: images or not,
    FIFOs and devices too (what is not an image is skipped later, and listed with the
    reason; nothing is dropped unsaid). InputError when it is no folder, saying what it is,
    or holds no files."""
    root = Path(folder).expanduser()
    try:
        mode = os.stat(root).st_mode
    except OSError as error:
        reason = (
            "no such folder; check the path"
            if error.errno == errno.ENOENT and not root.is_symlink()
            else files.missing_reason(root, error)
        )
        raise InputError(f"{root}: {reason}", param="examples_folder") from None
    if not stat.S_ISDIR(mode):
        raise InputError(
            f"{root}: is {files.kind_of(mode)}, not a folder of images", param="examples_folder"
        )
    found = [
        path
        for path in root.rglob("*")
        if not path.is_dir() and not any(p.startswith(".") for p in path.relative_to(root).parts)
    ]
    if not found:
        raise InputError(f"{root}: the folder holds no files", param="examples_folder")
    return sorted(found, key=lambda p: str(p).lower())


def examples_size(net: Network) -> tuple[int, int]:
    """(height, width) the folder's images are resized to for the network."""
    if net.fixed_size is not None:
        return net.fixed_size
    side = max(FREE_SIDE, net.min_size)
    return side, side


class _Scorer:
    """The network's response to a batch of folder images, compiled once per run:
    each wanted channel's highest activation and where it is (row, column, map size)."""

    def __init__(self, net: Network, layer: str, objective: str, channels: Sequence[int]):
        self.net = net
        features = features_function(net, layer, objective)
        wanted = tf.constant(list(channels), tf.int32)
        height, width = examples_size(net)
        self.size = (height, width)

        def score(pixels: Any) -> tuple[Any, Any, Any]:
            activations, read = features(net.preprocess(pixels))
            if objective == "class" or len(activations.shape) != 4:
                values = tf.gather(tf.cast(read, tf.float32), wanted, axis=-1)
                return values, tf.zeros_like(values, tf.int32), tf.ones([2], tf.int32)
            maps = tf.gather(tf.cast(activations, tf.float32), wanted, axis=-1)
            shape = tf.shape(maps)
            flat = tf.reshape(tf.transpose(maps, [0, 3, 1, 2]), [shape[0], shape[3], -1])
            return tf.reduce_max(flat, -1), tf.argmax(flat, -1, tf.int32), shape[1:3]

        self._score = tf.function(
            score, input_signature=(tf.TensorSpec([None, height, width, 3], tf.float32),)
        )

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        values, positions, map_size = self._score(batch)
        return values.numpy(), positions.numpy(), (int(map_size[0]), int(map_size[1]))


def _region(position: int, map_size: tuple[int, int], image_size: tuple[int, int]) -> Box:
    """The square (in network-input proportions) around a map position, in the pixels
    of an image of ``image_size`` = (width, height)."""
    map_h, map_w = map_size
    width, height = image_size
    if map_h * map_w <= 1:
        return (0, 0, width, height)
    row, column = divmod(int(position), map_w)
    side_y = min(1.0, max(MIN_REGION, 2.0 / map_h))
    side_x = min(1.0, max(MIN_REGION, 2.0 / map_w))
    top = min(max((row + 0.5) / map_h - side_y / 2, 0.0), 1.0 - side_y)
    left = min(max((column + 0.5) / map_w - side_x / 2, 0.0), 1.0 - side_x)
    return (
        int(round(left * width)),
        int(round(top * height)),
        max(1, int(round(side_x * width))),
        max(1, int(round(side_y * height))),
    )


def scan(
    net: Network,
    layer: str,
    objective: str,
    channels: Sequence[int],
    files: Sequence[Path],
    top: int,
) -> Generator[int, None, tuple[list[list[Example]], list[tuple[str, str]]]]:
    """Score every file for every channel; yields the number of files done after each
    batch, returns (for each channel in order: its best ``top`` examples, best first;
    the skipped files as (path, reason))."""
    scorer = _Scorer(net, layer, objective, channels)
    height, width = scorer.size
    best: list[list[tuple[float, int, str, Box]]] = [[] for _ in channels]
    skipped: list[tuple[str, str]] = []
    order = 0  # ties: the earlier file first
    for start in range(0, len(files), BATCH):
        pixels, kept = [], []
        for path in files[start : start + BATCH]:
            try:
                image = images.load_image(path, max_side=LOAD_SIDE)
                kept.append((path, oriented_size(path)))
            except (InputError, OSError) as error:
                skipped.append((str(path), getattr(error, "reason", str(error))))
                continue
            pixels.append(images.resize_to(image, width, height).astype(np.float32))
        if pixels:
            values, positions, map_size = scorer(np.stack(pixels))
            for row, (path, size) in enumerate(kept):
                for column, heap in enumerate(best):
                    order -= 1
                    entry = (float(values[row, column]), order, str(path), (0, 0, 0, 0))
                    if len(heap) < top or entry[:2] > heap[0][:2]:
                        region = _region(positions[row, column], map_size, size)
                        entry = (entry[0], order, str(path), region)
                        (heapq.heappush if len(heap) < top else heapq.heapreplace)(heap, entry)
        yield min(start + BATCH, len(files))
    ranked = [
        [Example(file, score, region) for score, _, file, region in sorted(heap, reverse=True)]
        for heap in best
    ]
    return ranked, skipped


def crop(example: Example, tile: tuple[int, int]) -> np.ndarray | None:
    """The example's region as a tile of ``tile`` = (width, height), uint8 RGB; None if
    the file can no longer be read."""
    try:
        image = images.load_image(example.file, max_side=LOAD_SIDE)
        full_size = oriented_size(example.file)
    except (InputError, OSError):
        return None
    # the region is in the file's pixels; the image was loaded at most LOAD_SIDE wide
    left, top, w, h = scaled_region(example.region, full_size, (image.shape[1], image.shape[0]))
    return images.resize_to(image[top : top + h, left : left + w], tile[0], tile[1])
