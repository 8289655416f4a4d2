"""``cnnstudio dream``: DeepDream from the command line.

    cnnstudio dream [INPUT | --noise WxH] -o OUTPUT
        [--backbone NAME --weights imagenet|random|PATH | --model NAME_OR_PATH]
        [--layers mixed3,mixed5 | mixed4=0,mixed5=3,mixed6=2,mixed7=1.5 | tf2 | dlwp]
        [--channel LAYER:INDEX | --guide IMAGE] [--steps N] [--step-size F] [--octaves N]
        [--octave-scale F] [--tile-size N] [--jitter PX] [--max-size N] [--seed N]
        [--overwrite]
    cnnstudio dream INPUT --zoom-frames N [--zoom 1.05] [--rotate DEG] [--shift DX,DY]
        -o OUT.mp4|OUT.gif [--frames-dir DIR]
    cnnstudio dream VIDEO -o OUT.mp4 [--no-temporal] [--frames-dir DIR] [--size N]

``INPUT`` may be a folder: every picture in it is dreamed with the same parameters into
the folder ``-o`` names (``OUTPUT/<name>-dream.png``; see :mod:`cnnstudio.cli.batch_run`).
A zoom or a video in makes a video (:mod:`cnnstudio.cli.motion_run`); ``--guide``
dreams toward the features of a guide picture.

``--model`` dreams with a model of the library (or a ``.keras`` file), loaded as Classify
loads it; its layers are named by their paths, nested ones included
(``mobilenetv2_1.00_75/block_6_expand_relu``). Progress goes to stderr: one updating line
when stderr is a terminal, otherwise a line per octave and a final line. The result is
saved with its parameters (and the model's name) embedded.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from cnnstudio.cli import motion_flags
from cnnstudio.cli.options import add_common_flags, parse_layer_weights
from cnnstudio.cli.output import check_image_output
from cnnstudio.cli.reporting import JobReporter
from cnnstudio.core import backbones, files, image_saving, images
from cnnstudio.core.dream import params as dream
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import Eta
from cnnstudio.core.events import Notice, Progress
from cnnstudio.core.video.params import OUTPUT_SUFFIXES


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``dream`` job."""
    defaults = dream.DreamParams()
    parser = subparsers.add_parser(
        "dream",
        help="DeepDream an image (or noise)",
        description=(
            "Dream on an image with a pretrained network (default: the TF2 recipe, "
            "InceptionV3 mixed3+mixed5, 5 octaves 1.3 apart, 50 steps each). A video in "
            "or a zoom (--zoom-frames) dreams every frame with the 'motion' preset "
            "instead, as the window does: 1 octave of 10 steps (--preset, --steps, "
            "--octaves change it)."
        ),
    )
    parser.add_argument(
        "input",
        nargs="?",
        help="image to dream on, or a folder: each picture in it (omit with --noise)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="result file (.png, .jpg, .webp); for a folder INPUT, the folder of results",
    )
    parser.add_argument("--noise", metavar="WxH", help="start from noise of this size instead")
    parser.add_argument(
        "--preset",
        choices=sorted(dream.DREAM_PRESETS),
        help="a whole recipe (layers, objective, steps, octaves); other flags override it",
    )
    parser.add_argument("--backbone", help=f"network: {', '.join(backbones.BACKBONE_NAMES)}")
    parser.add_argument(
        "--weights", help="imagenet (default), random (untrained) or a weights file path"
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="dream with a model of the library (its name) or a .keras file instead of a "
        "backbone; --layers then names its own layers, nested ones as OUTER/INNER (default: "
        "its deepest layer with a spatial output)",
    )
    parser.add_argument(
        "--layers",
        help="mixed3,mixed5 (weight 1 each), mixed4=0,mixed5=3,... or a preset: "
        + ", ".join(dream.LAYER_PRESETS),
    )
    parser.add_argument("--channel", metavar="LAYER:INDEX", help="maximise one channel")
    parser.add_argument(
        "--guide",
        metavar="IMAGE",
        help="dream toward the features of this picture (each position pulled toward the "
        "guide feature it matches best)",
    )
    parser.add_argument(
        "--objective", choices=dream.OBJECTIVES, help="mean (default), l2 or guide (--guide)"
    )
    parser.add_argument(
        "--steps", type=int, help=f"steps per octave ({defaults.steps}; a video or a zoom: 10)"
    )
    parser.add_argument(
        "--step-size",
        type=float,
        help="in network input units (default: 0.01 for InceptionV3 and MobileNetV2, "
        f"{dream.default_step_size('vgg19'):g} for VGG19)",
    )
    parser.add_argument(
        "--octaves", type=int, help=f"number of scales ({defaults.octaves}; a video or a zoom: 1)"
    )
    parser.add_argument(
        "--octave-scale", type=float, help=f"ratio between scales ({defaults.octave_scale})"
    )
    parser.add_argument(
        "--top-octave",
        type=int,
        help="exponent of the largest octave (0: end at the input size; default: centred)",
    )
    parser.add_argument(
        "--no-reinject", action="store_true", help="do not re-inject detail after upscaling"
    )
    parser.add_argument("--max-loss", type=float, help="stop an octave once its loss exceeds this")
    parser.add_argument("--tv-weight", type=float, help="total-variation smoothing (0 = off)")
    parser.add_argument("--tile-size", type=int, help=f"tile size in px ({defaults.tile_size})")
    parser.add_argument(
        "--jitter", type=int, help=f"largest random roll in px, 0 = off ({defaults.jitter})"
    )
    parser.add_argument(
        "--max-size", type=int, help=f"longest side of the working image ({defaults.max_size})"
    )
    motion_flags.add_zoom_flags(parser)
    motion_flags.add_video_flags(parser, job="dream")
    add_common_flags(parser)  # -q, --overwrite, --seed (the rolls and the noise start)
    return parser


def parse_channel(text: str) -> tuple[str, int]:
    """``mixed4:139`` -> ("mixed4", 139)."""
    name, sep, index = text.rpartition(":")
    if not sep or not name.strip():
        raise InputError(f"--channel {text!r}: give LAYER:INDEX, e.g. mixed4:139")
    try:
        return name.strip(), int(index)
    except ValueError:
        raise InputError(f"--channel {text!r}: the index {index!r} is not a whole number") from None


def parse_size(text: str) -> tuple[int, int]:
    """``640x480`` -> (640, 480)."""
    width, sep, height = text.lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        raise InputError(f"--noise {text!r}: give the size as WIDTHxHEIGHT, e.g. 640x480") from None
    if not sep or min(size) < 1:
        raise InputError(f"--noise {text!r}: give the size as WIDTHxHEIGHT, e.g. 640x480")
    return size


def params_from_args(
    args: argparse.Namespace, model_preprocessing: str | None = None
) -> dream.DreamParams:
    """The DreamParams the flags describe (preset first, then explicit flags).
    ``model_preprocessing``: the sidecar's preprocessing of the ``--model`` (its backbone
    decides the presets' step sizes)."""
    if args.preset:
        params = dream.preset_params(args.preset)
    elif motion_flags.is_video_job(args.input, args.output, args.zoom_frames):
        # a zoom's or a video's frames: one octave of a few steps each, as in the window
        # (the still recipe, 5 octaves of 50 steps, costs 25 times as much per frame);
        # --steps, --octaves and the rest still override it
        params = dream.preset_params("motion")
    else:
        params = dream.DreamParams()
    changes: dict[str, Any] = {}
    if model_preprocessing is not None:
        changes["backbone"] = dream.library_backbone(model_preprocessing)
        if params.step_size is not None:  # a preset's step, in [-1, 1] units: the model's
            scale = dream.library_step_size(model_preprocessing) / dream.BASE_STEP_SIZE
            changes["step_size"] = round(params.step_size * scale, 6)
    if args.backbone is not None:
        changes["backbone"] = backbones.get_backbone(args.backbone).name
        if args.layers is None and args.channel is None:  # mixed3/mixed5 are Inception's
            changes["layers"] = dream.default_layers(changes["backbone"])
    if args.weights is not None:
        changes["weights"] = args.weights
    if args.layers is not None:
        changes["layers"] = parse_layer_weights("--layers", args.layers, dream.LAYER_PRESETS)
        changes["channel"] = None
    if args.channel is not None:
        changes["channel"] = parse_channel(args.channel)
    simple = {
        "objective": "objective",
        "steps": "steps",
        "step_size": "step_size",
        "octaves": "octaves",
        "octave_scale": "octave_scale",
        "top_octave": "top_octave",
        "max_loss": "max_loss",
        "tv_weight": "tv_weight",
        "tile_size": "tile_size",
        "jitter": "jitter",
        "max_size": "max_size",
        "seed": "seed",
    }
    for flag, name in simple.items():
        value = getattr(args, flag)
        if value is not None:
            changes[name] = value
    if args.no_reinject:
        changes["reinject_detail"] = False
    if args.guide is not None:
        if args.objective not in (None, "guide"):
            raise InputError(
                f"--guide dreams toward a picture: leave out --objective {args.objective}"
            )
        guide = Path(args.guide).expanduser()
        files.check_regular_file(guide, what="guide picture", param="guide")
        changes["objective"] = "guide"
        changes["guide"] = str(guide.resolve())
    params = params.replace(**changes)
    dream.validate_params(params)
    return params


class _Reporter(JobReporter):
    """Progress on stderr: an updating line on a terminal, else a line per octave."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        super().__init__(stream, quiet)
        self.last: Progress | None = None
        # timed from the first step (building the network and compiling are behind us),
        # on the work done: later octaves have more pixels
        self.eta = Eta()

    def job_event(self, event: object) -> None:
        if isinstance(event, Progress):
            if not self.tty and self.last is not None and event.stage != self.last.stage:
                self._octave_line(self.last)
            self.last = event
            self.eta.update(event.done)
            if self.tty:
                self.stream.write(
                    f"\rdream: octave {event.stage}/{event.stages}  step {event.step}/{event.total}  "
                    f"loss {event.loss:.4g}  ETA {self.eta.text()}   "
                )
                self.stream.flush()
        elif isinstance(event, Notice):
            # octave starts are summed up by the octave lines / the updating line
            if "early" in event.text or not event.text.startswith("octave "):
                self._line(f"dream: {event.text}")

    def _octave_line(self, last: Progress) -> None:
        self._line(
            f"dream: octave {last.stage}/{last.stages} done at step {last.step}/{last.total}, "
            f"loss {last.loss:.4g}, {time.monotonic() - self.start:.1f}s"
        )

    def done(self, text: str) -> None:
        if not self.quiet and not self.tty and self.last is not None:
            self._octave_line(self.last)
        super().done(text)


def run(args: argparse.Namespace) -> int:
    """Run the job; 0 on success (errors are raised for cli.main to report)."""
    model = None
    if args.model is not None:
        if args.backbone is not None or args.weights is not None:
            raise InputError(
                "--model dreams with that model and its own weights: leave out --backbone "
                "and --weights (they choose a pretrained network instead)"
            )
        from cnnstudio.core.dream import network

        model = network.find_library_model(args.model)  # nothing loaded yet
    params = params_from_args(args, model.preprocessing if model is not None else None)
    if args.input is not None and Path(args.input).expanduser().is_dir():
        return _run_batch(args, params, model)
    if motion_flags.is_video_job(args.input, args.output, args.zoom_frames):
        from cnnstudio.cli import motion_run

        return motion_run.run_dream(
            args, params, model, parse_size(args.noise) if args.noise else None
        )
    motion_flags.refuse_video_flags(args)
    if args.size is not None:
        raise InputError("--size: only for a video or a zoom; a picture's is --max-size")
    output = Path(args.output).expanduser()
    if output.suffix.lower() in OUTPUT_SUFFIXES:
        raise InputError(
            f"-o {output.name}: a picture dreams into a picture; for a video of it, add "
            "--zoom-frames N (a zoom of N frames), or give a name ending in .png, .jpg or .webp",
            param="output",
        )
    check_image_output(output, args.overwrite)
    noise_size = parse_size(args.noise) if args.noise else None
    if args.input is None and noise_size is None:
        raise InputError("give an INPUT image or --noise WxH to start from noise")
    if args.input is not None and noise_size is not None:
        raise InputError("give either an INPUT image or --noise WxH, not both")
    image = None
    if args.input is not None:
        image = images.load_image(args.input, max_side=params.max_size)

    from cnnstudio.core import device
    from cnnstudio.core.dream import job

    device.configure_devices()
    if model is not None and args.layers is None and args.channel is None:
        # the model's own layers: known once it is loaded (the job reuses it)
        params = params.replace(layers=network.library_default_layers(model))
    reporter = _Reporter(sys.stderr, args.quiet)
    result = reporter.run(job.dream(image, params, noise_size=noise_size, model=model))
    source = Path(args.input).name if args.input else f"noise {args.noise}"
    meta = dream.dream_metadata(
        params,
        source=source,
        size=(result.shape[1], result.shape[0]),
        model_name=model.name if model is not None else None,
    )
    saved = image_saving.save_image(output, result, params=meta, overwrite=args.overwrite)
    untrained = " (untrained network)" if meta["untrained"] else ""
    with_model = f" with {model.name}" if model is not None else ""
    reporter.done(
        f"dream: saved {saved} ({result.shape[1]}x{result.shape[0]}){with_model}{untrained} "
        f"in {time.monotonic() - reporter.start:.1f}s"
    )
    return 0


def _run_batch(args: argparse.Namespace, params: dream.DreamParams, model: Any) -> int:
    """INPUT is a folder: dream on each of its pictures into the folder ``-o``."""
    from cnnstudio.cli import batch_run
    from cnnstudio.core.batch import plan_batch

    if args.noise:
        raise InputError("give either a folder of pictures or --noise WxH, not both")
    plan = plan_batch(args.input, args.output, "-dream", overwrite=args.overwrite)
    from cnnstudio.core import device
    from cnnstudio.core.dream import job, network

    device.configure_devices()
    if model is not None and args.layers is None and args.channel is None:
        params = params.replace(layers=network.library_default_layers(model))

    def dream_one(image, _item):
        return job.dream(image, params, model=model)

    def metadata(item, result) -> dict:
        return dream.dream_metadata(
            params,
            source=item.source.name,
            size=(result.shape[1], result.shape[0]),
            model_name=model.name if model is not None else None,
        )

    return batch_run.run(
        "dream", plan, dream_one, metadata, max_side=params.max_size, quiet=args.quiet
    )
