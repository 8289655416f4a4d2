"""The visualisation job: a generator the window and the command line drive.

It yields :class:`~cnnstudio.core.events.DownloadProgress` while missing ImageNet weights
arrive, a :class:`~cnnstudio.core.events.Progress` after every step (with ``fraction``:
batches differ in size, and dataset examples cost differently), a
:class:`~cnnstudio.core.events.Preview` of the whole grid so far (at most every
``preview_interval`` seconds, and whenever a batch is done), :class:`.grid.ChannelsDone`
with the records of each finished batch and, with an examples folder,
:class:`.grid.ExamplesDone`. It returns a :class:`.grid.VisualizeResult`. Closing the
generator stops it at its next step.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import replace
from typing import Any

import numpy as np

from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.visualize import examples, network, parameterization, transforms
from cnnstudio.core.visualize.grid import (
    ChannelRecord,
    ChannelsDone,
    ExamplesDone,
    GridLayout,
    VisualizeResult,
    paste,
)
from cnnstudio.core.visualize.params import PREVIEW_INTERVAL_S, VisualizeParams, validate_params
from cnnstudio.core.visualize.step import compiled_step

#: a step's forward and backward pass cost about this many forward passes
BACKWARD_COST = 3.0


def _batches(count: int, per_channel: int, batch: int) -> list[list[int]]:
    """Channel positions in batches of whole channels, at most ``batch`` images each
    (at least one channel)."""
    channels_per_batch = max(1, batch // per_channel)
    return [
        list(range(i, min(i + channels_per_batch, count)))
        for i in range(0, count, channels_per_batch)
    ]


def visualize(
    params: VisualizeParams,
    *,
    net: network.Network | None = None,
    preview_interval: float = PREVIEW_INTERVAL_S,
) -> Generator[Any, None, VisualizeResult]:
    """Run a visualisation (see the module's docstring). ``net``: a network already
    loaded (e.g. the model Classify shows) instead of ``params.model``."""
    validate_params(params)
    if net is None:
        yield from network.weights_events(params)
        net = network.load_network(params)
    layer = network.resolve_layer(net, params)
    params = network.check_channels(net, layer, params)
    height, width = network.tile_size(net, params)
    files = examples.list_folder(params.examples_folder) if params.examples_folder else []

    step = compiled_step(net, layer, params.objective, params.fourier, params.decorrelate)
    per_channel = params.images_per_channel
    layout = GridLayout(
        len(params.channels), (width, height), per_channel, params.top if files else 0
    )
    grid = layout.blank()
    batches = _batches(len(params.channels), per_channel, params.batch)
    rng = np.random.default_rng(params.seed)
    jitter = transforms.effective_jitter(params.jitter, height, width)
    scale = parameterization.spectrum_scale(height, width) if params.fourier else np.zeros((1, 1))
    size = np.array([height, width], np.int32)

    # work in forward passes of one pixel: optimising costs a forward and a backward pass
    # per image and step, an example one forward pass at its size
    ex_height, ex_width = examples.examples_size(net)
    optimise_work = BACKWARD_COST * height * width * params.steps * params.image_count
    examples_work = float(ex_height * ex_width * len(files))
    total_work = optimise_work + examples_work
    total_steps = params.steps * len(batches) + (-(-len(files) // examples.BATCH))
    stages = len(batches) + (1 if files else 0)
    done_work, step_number = 0.0, 0
    records: list[ChannelRecord] = []
    last_preview = time.monotonic()

    for stage, positions in enumerate(batches):
        channels = np.repeat(
            np.asarray([params.channels[p] for p in positions], np.int32), per_channel
        )
        yield Notice(f"channels {_names(params, positions)}: {len(channels)} images")
        values = parameterization.init_params(len(channels), height, width, params.fourier, rng)
        moment1, moment2 = np.zeros_like(values), np.zeros_like(values)
        step_work = BACKWARD_COST * height * width * len(channels)
        for index in range(params.steps):
            shifts = transforms.random_transforms(
                rng, len(channels), jitter, params.scale, params.rotation
            )
            values, moment1, moment2, objective, diverse = step.step(
                values,
                moment1,
                moment2,
                index + 1,
                channels,
                shifts,
                size,
                scale,
                params.learning_rate,
                params.diversity,
                per_channel,
            )
            objective = objective.numpy()  # a few floats: the only sync per step
            step_number += 1
            done_work += step_work
            terms = {"objective": float(objective.mean())}
            if params.diversity and per_channel > 1:
                terms["diversity"] = float(np.asarray(diverse).mean())
            yield Progress(
                step=step_number,
                total=total_steps,
                loss=terms["objective"],
                terms=terms,
                stage=stage + 1,
                stages=stages,
                message=f"batch {stage + 1}/{len(batches)}, step {index + 1}/{params.steps}",
                fraction=min(done_work / total_work, 1.0),
            )
            last = index == params.steps - 1
            if last or time.monotonic() - last_preview >= preview_interval:
                final, pixels = step.evaluate(values, channels, size, scale)
                _paste_batch(grid, layout, positions, per_channel, pixels.numpy())
                if not last:
                    yield Preview(grid.copy(), step_number, total_steps)
                    last_preview = time.monotonic()
        finals = np.asarray(final.numpy(), np.float64).reshape(len(positions), per_channel)
        batch_records = tuple(
            _record(params, layout, position, finals[row]) for row, position in enumerate(positions)
        )
        records.extend(batch_records)
        for record in batch_records:
            if not any(record.objectives):
                # a ReLU that never fired gives no gradient (common in untrained networks)
                yield Notice(
                    f"channel {record.channel} did not respond (its activation stayed 0), "
                    "so its image stayed grey"
                )
        yield Preview(grid.copy(), step_number, total_steps)
        last_preview = time.monotonic()
        yield ChannelsDone(batch_records)

    skipped: list[tuple[str, str]] = []
    if files:
        yield Notice(f"dataset examples: {len(files)} files")
        scanning = examples.scan(net, layer, params.objective, params.channels, files, params.top)
        while True:
            try:
                files_done = next(scanning)
            except StopIteration as stop:
                ranked, skipped = stop.value
                break
            step_number += 1
            yield Progress(
                step=step_number,
                total=total_steps,
                loss=records[-1].objective,
                stage=stages,
                stages=stages,
                message=f"dataset examples: {files_done}/{len(files)} files",
                fraction=min((optimise_work + ex_height * ex_width * files_done) / total_work, 1.0),
            )
        records = _add_examples(grid, layout, records, ranked)
        yield Preview(grid.copy(), step_number, total_steps)
        yield ExamplesDone(tuple(records), tuple(skipped))

    return VisualizeResult(
        params=params,
        grid=grid,
        records=tuple(records),
        tile_size=(width, height),
        model_label=net.label,
        untrained=net.untrained,
        layer=layer,
        skipped=tuple(skipped),
    )


def _names(params: VisualizeParams, positions: list[int]) -> str:
    first, last = params.channels[positions[0]], params.channels[positions[-1]]
    return str(first) if len(positions) == 1 else f"{first}..{last}"


def _paste_batch(grid, layout: GridLayout, positions, per_channel: int, pixels) -> None:
    for row, position in enumerate(positions):
        for image in range(per_channel):
            paste(grid, layout.image_box(position, image), pixels[row * per_channel + image])


def _record(params: VisualizeParams, layout: GridLayout, position: int, finals) -> ChannelRecord:
    per_channel = params.images_per_channel
    return ChannelRecord(
        channel=int(params.channels[position]),
        objective=float(np.max(finals)),
        box=layout.channel_box(position),
        objectives=tuple(float(v) for v in finals),
        image_boxes=tuple(layout.image_box(position, i) for i in range(per_channel)),
    )


def _add_examples(grid, layout: GridLayout, records, ranked) -> list[ChannelRecord]:
    """Paste each channel's examples after its images; the records with their examples."""
    updated = []
    for position, (record, found) in enumerate(zip(records, ranked, strict=True)):
        placed = []
        for rank, example in enumerate(found):
            box = layout.example_box(position, rank)
            tile = examples.crop(example, layout.tile)
            if tile is None:
                continue
            paste(grid, box, tile)
            placed.append(replace(example, box=box))
        updated.append(replace(record, examples=tuple(placed)))
    return updated
