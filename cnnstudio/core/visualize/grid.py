"""The grid of a visualisation: where each tile goes, and what a finished job reports.

A grid without dataset examples is as square as it can be, one tile per channel in the
order asked for. With several images per channel, or with dataset examples, each channel
gets a row: its images, a gap, then its examples best first. Every tile has a box
``[x, y, width, height]`` in the grid, which the records carry, so a front end can label
the tiles, or find the channel under the mouse, without knowing the layout rules.

No TensorFlow here: the GUI may draw a finished grid without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnstudio.core.visualize.params import VisualizeParams

Box = tuple[int, int, int, int]  # x, y, width, height

#: pixels between tiles, and the extra gap between a channel's images and its examples
PAD = 2
EXAMPLES_GAP = 6
BACKGROUND = 32  # dark grey: tiles stand out, a missing tile is visibly missing


@dataclass(frozen=True)
class GridLayout:
    """Positions of the tiles: ``count`` channels of ``per_channel`` images each, plus
    ``examples`` dataset examples per channel, all ``tile`` = (width, height) in size."""

    count: int
    tile: tuple[int, int]
    per_channel: int = 1
    examples: int = 0

    @property
    def one_row_per_channel(self) -> bool:
        return self.per_channel > 1 or self.examples > 0

    @property
    def columns(self) -> int:
        if self.one_row_per_channel:
            return self.per_channel + self.examples
        return max(1, math.ceil(math.sqrt(self.count)))

    @property
    def rows(self) -> int:
        if self.one_row_per_channel:
            return self.count
        return max(1, math.ceil(self.count / self.columns))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole grid."""
        width, height = self.tile
        gap = EXAMPLES_GAP if self.examples else 0
        return (
            PAD + self.columns * (width + PAD) + gap,
            PAD + self.rows * (height + PAD),
        )

    def _cell(self, row: int, column: int, after_gap: bool = False) -> Box:
        width, height = self.tile
        x = PAD + column * (width + PAD) + (EXAMPLES_GAP if after_gap else 0)
        return (x, PAD + row * (height + PAD), width, height)

    def image_box(self, position: int, image: int = 0) -> Box:
        """The tile of the ``image``-th image of the ``position``-th channel asked for."""
        if self.one_row_per_channel:
            return self._cell(position, image)
        row, column = divmod(position, self.columns)
        return self._cell(row, column)

    def channel_box(self, position: int) -> Box:
        """The box around all images of one channel (its tile when it has one image)."""
        x, y, width, height = self.image_box(position, 0)
        return (x, y, self.per_channel * (width + PAD) - PAD, height)

    def example_box(self, position: int, rank: int) -> Box:
        """The tile of a channel's ``rank``-th best dataset example."""
        return self._cell(position, self.per_channel + rank, after_gap=True)

    def blank(self) -> np.ndarray:
        """An empty grid: uint8 RGB, background colour."""
        width, height = self.size
        return np.full((height, width, 3), BACKGROUND, np.uint8)


def paste(grid: np.ndarray, box: Box, tile: np.ndarray) -> None:
    """Put a uint8 RGB tile of the box's size into the grid, in place."""
    x, y, width, height = box
    grid[y : y + height, x : x + width] = tile[:height, :width]


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Example:
    """One dataset example of a channel: the image file, its score (the channel's
    highest activation on it), the region that excites it most in the file's own pixels
    (x, y, width, height) and the example's tile in the grid."""

    file: str
    score: float
    region: Box
    box: Box | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"file": self.file, "score": round(self.score, 6), "region": list(self.region)}
        if self.box is not None:
            data["box"] = list(self.box)
        return data


@dataclass(frozen=True)
class ChannelRecord:
    """A channel of the grid: its index, its final objective (the best of its images,
    measured without the random transformations) and its box in the grid; with several
    images per channel each image's value and box too; its dataset examples, if any."""

    channel: int
    objective: float
    box: Box
    objectives: tuple[float, ...] = ()
    image_boxes: tuple[Box, ...] = ()
    examples: tuple[Example, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON record: channel, objective, box (and images, examples)."""
        data: dict[str, Any] = {
            "channel": self.channel,
            "objective": round(self.objective, 6),
            "box": list(self.box),
        }
        if len(self.objectives) > 1:
            data["images"] = [
                {"objective": round(value, 6), "box": list(box)}
                for value, box in zip(self.objectives, self.image_boxes, strict=True)
            ]
        if self.examples:
            data["examples"] = [example.to_dict() for example in self.examples]
        return data


@dataclass(frozen=True)
class ChannelsDone:
    """Event: the images of some channels are finished (a batch). A front end can label
    their tiles and offer them (e.g. to Dream) before the whole grid is done."""

    records: tuple[ChannelRecord, ...]


@dataclass(frozen=True)
class ExamplesDone:
    """Event: the dataset examples are found; ``skipped`` lists (file, reason) of the
    files in the folder that could not be read as images."""

    records: tuple[ChannelRecord, ...]
    skipped: tuple[tuple[str, str], ...]


@dataclass(frozen=True, eq=False)
class VisualizeResult:
    """What the job returns: the parameters as run (default channels filled in), the
    grid (uint8 RGB), one record per channel in the order asked for, the tile size (width, height), the model's label, whether its weights were
    untrained, the layer, and the example files skipped as unreadable."""

    params: VisualizeParams
    grid: np.ndarray
    records: tuple[ChannelRecord, ...]
    tile_size: tuple[int, int]
    model_label: str
    untrained: bool
    layer: str
    skipped: tuple[tuple[str, str], ...] = ()
