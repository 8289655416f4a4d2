"""``cnnstudio visualize``: what each channel of a layer looks for, as a grid PNG.

    cnnstudio visualize MODEL --layer LAYER [--channels 0-15] [--size 128] [--steps N]
        [--weights imagenet|random|PATH] -o GRID.png [--json] [--examples FOLDER [--top 9]]
        [--objective channel|neuron|class] [--seed N] [-q] [--overwrite]

MODEL is a backbone name, a library model's name or a ``.keras`` file. Progress goes to
stderr (an updating line on a terminal, else a line per batch); ``--json`` prints one
record per channel to stdout (channel, objective, box of its tile in the grid). The grid
carries its parameters and records. Files of the examples folder that are not readable
images are listed on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from cnnstudio.cli.options import add_common_flags
from cnnstudio.cli.output import check_image_output
from cnnstudio.cli.reporting import JobReporter
from cnnstudio.cli.text import printable
from cnnstudio.core import backbones
from cnnstudio.core.eta import Eta
from cnnstudio.core.events import Notice, Progress
from cnnstudio.core.visualize import params as vparams
from cnnstudio.core.visualize.grid import ChannelsDone


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``visualize`` job."""
    defaults = vparams.VisualizeParams()
    parser = subparsers.add_parser(
        "visualize",
        help="what each channel of a layer looks for (feature visualisation grid)",
        description=(
            "Optimise one image per channel of a layer to excite it (Fourier "
            "parameterisation, decorrelated colours, jitter/scale/rotation; Olah et al. "
            "2017), and save the grid. With --examples, also the images of a folder that "
            "excite each channel most."
        ),
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help=f"{', '.join(backbones.BACKBONE_NAMES)}, a library model name or a .keras file",
    )
    parser.add_argument(
        "--layer", help="layer path (nested: outer/inner); required unless --objective class"
    )
    parser.add_argument(
        "--channels",
        help=f"indices, e.g. 0-15 or 3,7,10-12 (default: the first "
        f"{vparams.DEFAULT_CHANNEL_COUNT}); class indices for --objective class",
    )
    parser.add_argument("-o", "--output", required=True, help="the grid (.png, .jpg, .webp)")
    parser.add_argument(
        "--weights", default="imagenet", help="imagenet (default), random or a weights file"
    )
    parser.add_argument(
        "--objective",
        choices=vparams.OBJECTIVES,
        default="channel",
        help="channel mean (default), centre neuron, or class logit",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=defaults.size,
        help=f"tile side in px ({defaults.size}; a fixed-size model uses its own)",
    )
    parser.add_argument("--steps", type=int, default=defaults.steps, help=f"({defaults.steps})")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=defaults.learning_rate,
        help=f"Adam ({defaults.learning_rate})",
    )
    parser.add_argument(
        "--jitter",
        type=int,
        default=defaults.jitter,
        help=f"largest random shift in px ({defaults.jitter})",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=defaults.scale,
        help=f"largest random scale change ({defaults.scale}: 0.9-1.1)",
    )
    parser.add_argument(
        "--rotation",
        type=float,
        default=defaults.rotation,
        help=f"largest random rotation in degrees ({defaults.rotation:g})",
    )
    parser.add_argument(
        "--pixels",
        action="store_true",
        help="optimise plain pixels instead of a 1/f Fourier spectrum",
    )
    parser.add_argument(
        "--no-decorrelate",
        action="store_true",
        help="optimise RGB directly, not decorrelated colours",
    )
    parser.add_argument(
        "--images-per-channel",
        type=int,
        default=1,
        metavar="K",
        help="images per channel, one row each (1)",
    )
    parser.add_argument(
        "--diversity",
        type=float,
        default=0.0,
        help="push a channel's images apart (0 = off; Lucid used 100)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=defaults.batch,
        help=f"images optimised at once ({defaults.batch})",
    )
    parser.add_argument(
        "--examples",
        metavar="FOLDER",
        help="also show each channel's most exciting images of FOLDER",
    )
    parser.add_argument(
        "--top", type=int, default=defaults.top, help=f"examples per channel ({defaults.top})"
    )
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    add_common_flags(parser, seed_default=defaults.seed)  # -q, --overwrite, --seed
    return parser


def params_from_args(args: argparse.Namespace) -> vparams.VisualizeParams:
    """The VisualizeParams the flags describe."""
    from cnnstudio.core.errors import InputError

    if not args.layer and args.objective != "class":
        raise InputError("give the layer to look at with --layer (e.g. --layer mixed4)")
    params = vparams.VisualizeParams(
        model=args.model,
        weights=args.weights,
        layer=args.layer or "",
        channels=vparams.parse_channels(args.channels) if args.channels else (),
        objective=args.objective,
        size=args.size,
        steps=args.steps,
        learning_rate=args.learning_rate,
        jitter=args.jitter,
        scale=args.scale,
        rotation=args.rotation,
        decorrelate=not args.no_decorrelate,
        fourier=not args.pixels,
        diversity=args.diversity,
        images_per_channel=args.images_per_channel,
        batch=args.batch,
        seed=args.seed,
        examples_folder=args.examples,
        top=args.top,
    )
    vparams.validate_params(params)
    return params


class _Reporter(JobReporter):
    """Progress on stderr: an updating line on a terminal, else a line per batch."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        super().__init__(stream, quiet)
        self.eta = Eta()
        self.last: Progress | None = None

    def job_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self.eta.update(event.done)
            self.last = event
            if self.tty:
                self.stream.write(
                    f"\r\033[Kvisualize: {printable(event.message)}  objective {event.loss:.4g}  "
                    f"ETA {self.eta.text()}"
                )
                self.stream.flush()
        elif isinstance(event, Notice):
            self._line(f"visualize: {event.text}")
        elif isinstance(event, ChannelsDone):
            done = ", ".join(f"{r.channel}: {r.objective:.4g}" for r in event.records)
            self._line(f"visualize: done channel {done}  ({time.monotonic() - self.start:.1f}s)")


def run(args: argparse.Namespace) -> int:
    """Run the job; 0 on success (errors are raised for cli.main to report)."""
    params = params_from_args(args)
    output = Path(args.output).expanduser()
    check_image_output(output, args.overwrite)

    from cnnstudio.core import device, image_saving
    from cnnstudio.core.visualize import job

    device.configure_devices()
    reporter = _Reporter(sys.stderr, args.quiet)
    result = reporter.run(job.visualize(params))
    records = [record.to_dict() for record in result.records]
    meta = vparams.visualize_metadata(
        result.params,
        model_label=result.model_label,
        untrained=result.untrained,
        tile_size=result.tile_size,
        records=records,
        skipped=result.skipped,
    )
    saved = image_saving.save_image(output, result.grid, params=meta, overwrite=args.overwrite)
    if result.skipped:
        listed = "; ".join(f"{Path(path).name}: {reason}" for path, reason in result.skipped)
        print(
            f"cnnstudio: skipped {len(result.skipped)} file(s) of the examples folder that "
            f"are not readable images: {printable(listed)}",
            file=sys.stderr,
        )
    if args.json:
        json.dump(records, sys.stdout, indent=2)
        sys.stdout.write("\n")
    untrained = " (untrained network)" if result.untrained else ""
    height, width = result.grid.shape[:2]
    reporter.done(
        f"visualize: saved {saved} ({_what(params, len(records), result.layer)}, "
        f"{width}x{height}){untrained} in {time.monotonic() - reporter.start:.1f}s"
    )
    return 0


def _what(params: vparams.VisualizeParams, count: int, layer: str) -> str:
    """What the grid shows: "3 classes", "16 channels of mixed4" (the class objective's
    layer is only the one of its diversity term)."""
    if params.objective == "class":
        return f"{count} class{'es' if count != 1 else ''}"
    what = f"{count} channel{'s' if count != 1 else ''} of {layer}"
    return what + (" (centre neuron)" if params.objective == "neuron" else "")
