"""``cnnstudio style``: neural style transfer from the command line.

    cnnstudio style CONTENT --model NAME -o OUTPUT [--size N] [--preserve-colors]
    cnnstudio style CONTENT STYLE [STYLE ...] -o OUTPUT [--style-blend 0.7,0.3]
        [--weights imagenet|random|PATH] [--size N] [--steps N]
        [--optimizer adam|lbfgs] [--learning-rate F] [--content-weight F]
        [--style-weight F] [--tv-weight F] [--layers gatys|johnson|cookbook]
        [--content-layers L=W,...] [--style-layers L=W,...] [--style-scale F]
        [--init content|noise|style] [--preserve-colors [luminance|match]]
        [--multi-scale] [--lbfgs-evaluations N] [--seed N] [--overwrite] [-q]

    cnnstudio style VIDEO STYLE... -o OUT.mp4 [--no-temporal] [--frames-dir DIR]
    cnnstudio style VIDEO --model NAME -o OUT.mp4

With ``--model`` a fast style model of the library (``cnnstudio style-train``) styles the
picture in one pass (:mod:`cnnstudio.cli.style_model`). A video in makes a video
(:mod:`cnnstudio.cli.motion_run`). Otherwise progress goes to stderr:
one updating line on a terminal, otherwise about ten lines per scale. The result is saved
with its parameters embedded. ``CONTENT`` may be a folder: each picture in it is painted
with the same styles and parameters into the folder ``-o`` names
(``OUTPUT/<name>-style.png``; see :mod:`cnnstudio.cli.batch_run`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from cnnstudio.cli import motion_flags
from cnnstudio.cli.messages import flag_for
from cnnstudio.cli.options import add_common_flags, parse_layer_weights
from cnnstudio.cli.output import check_image_output
from cnnstudio.cli.reporting import JobReporter
from cnnstudio.cli.text import printable
from cnnstudio.core import image_saving, images
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import Eta
from cnnstudio.core.events import Notice, Progress
from cnnstudio.core.style import job, memory
from cnnstudio.core.style import params as style_params


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``style`` job."""
    defaults = style_params.StyleParams()
    parser = subparsers.add_parser(
        "style",
        help="paint a picture in the style of another (neural style transfer)",
        description=(
            "Neural style transfer on VGG19 (Gatys et al.; default: the TensorFlow "
            "tutorial's Adam recipe with the TF2 cookbook's layers)."
        ),
    )
    parser.add_argument("content", help="the picture to repaint, or a folder: each picture in it")
    parser.add_argument(
        "styles", nargs="*", metavar="style", help="style image(s) (not with --model)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="a fast style model (library name or .keras file): one pass, no style images",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="result file (.png, .jpg, .webp); for a folder CONTENT, the folder of results",
    )
    parser.add_argument(
        "--style-blend", metavar="W,W,...", help="one weight per style image (default: equal)"
    )
    parser.add_argument(
        "--weights", help="imagenet (default), random (untrained) or a VGG19 weights file"
    )
    parser.add_argument(
        "--size",
        type=int,
        help=f"longest side of the output in px ({defaults.size}; --model: the picture's own)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        help=f"optimiser iterations per scale (adam {style_params.ADAM_DEFAULT_STEPS}, "
        f"lbfgs {style_params.LBFGS_DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--optimizer", choices=style_params.OPTIMIZERS, help="adam (default) or lbfgs"
    )
    parser.add_argument(
        "--learning-rate", type=float, help=f"Adam step on 0..1 pixels ({defaults.learning_rate})"
    )
    parser.add_argument(
        "--content-weight", type=float, help=f"content loss weight ({defaults.content_weight:g})"
    )
    parser.add_argument(
        "--style-weight", type=float, help=f"style loss weight ({defaults.style_weight:g})"
    )
    parser.add_argument(
        "--tv-weight", type=float, help=f"total-variation weight ({defaults.tv_weight:g})"
    )
    parser.add_argument(
        "--layers", choices=sorted(style_params.LAYER_PRESETS), help="layer preset (cookbook)"
    )
    parser.add_argument(
        "--content-layers", metavar="L=W,...", help="content layers with weights, e.g. block4_conv2"
    )
    parser.add_argument(
        "--style-layers",
        metavar="L=W,...",
        help="style layers with weights, e.g. block1_conv1=1,block2_conv1=0.5",
    )
    parser.add_argument(
        "--style-scale",
        type=float,
        help="style image size relative to the output (1.0; smaller = finer strokes)",
    )
    parser.add_argument("--init", choices=style_params.INITS, help="starting picture (content)")
    parser.add_argument(
        "--preserve-colors",
        nargs="?",
        const="luminance",
        choices=[m for m in style_params.COLOR_MODES if m != "none"],
        help="keep the content's colours: luminance (default) or match (recolour the style)",
    )
    parser.add_argument(
        "--multi-scale", action="store_true", help="optimise at 1/4, 1/2 then full size"
    )
    parser.add_argument(
        "--lbfgs-evaluations",
        type=int,
        help=f"loss evaluations per L-BFGS iteration ({defaults.lbfgs_evaluations})",
    )
    motion_flags.add_video_flags(parser, job="style")
    add_common_flags(parser)  # -q, --overwrite, --seed (the noise start)
    return parser


def parse_weights_list(flag: str, text: str) -> list[float]:
    """``0.7,0.3`` -> [0.7, 0.3]."""
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"{flag} {text!r}: {part.strip()!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{flag} {text!r}: weights must be 0 or more")
        values.append(value)
    return values


def params_from_args(args: argparse.Namespace) -> style_params.StyleParams:
    """The StyleParams the flags describe (defaults for the flags not given)."""
    params = style_params.StyleParams()
    simple = (
        "weights",
        "size",
        "steps",
        "optimizer",
        "learning_rate",
        "content_weight",
        "style_weight",
        "tv_weight",
        "layers",
        "style_scale",
        "init",
        "lbfgs_evaluations",
        "seed",
        "temporal_weight",  # a video's
    )
    for name in simple:
        value = getattr(args, name)
        if value is not None:
            setattr(params, name, value)
    if args.content_layers:
        params.content_layers = parse_layer_weights(
            "--content-layers", args.content_layers, example="block4_conv2"
        )
    if args.style_layers:
        params.style_layers = parse_layer_weights(
            "--style-layers", args.style_layers, example="block1_conv1,block2_conv1"
        )
    if args.preserve_colors:
        params.preserve_colors = args.preserve_colors
    params.multi_scale = bool(args.multi_scale)
    try:
        params.validate()
    except InputError as error:
        if error.param is None:
            raise
        # the core names the parameter; on the command line that is a flag
        raise InputError(
            f"{flag_for(error.param)}: {error}",
            param=error.param,
            remedy=error.remedy,
            **error.details,
        ) from None
    return params


class _Reporter(JobReporter):
    """Progress on stderr: an updating line on a terminal, else ~10 lines per scale. The
    ETA follows the work done (a multi-scale run's last scale costs 16x its first)."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        super().__init__(stream, quiet)
        self.eta = Eta()

    def _describe(self, p: Progress) -> str:
        scale = f"scale {p.stage}/{p.stages}  " if p.stages > 1 else ""
        terms = "  ".join(f"{k} {v:.3g}" for k, v in p.terms.items())
        extra = f"  ({p.message})" if p.message else ""
        return (
            f"style: {scale}step {p.step}/{p.total}  loss {p.loss:.4g}  [{terms}]{extra}  "
            f"ETA {self.eta.text()}"
        )

    def job_event(self, event: object) -> None:
        if isinstance(event, job.LbfgsEvaluation):
            # inside an L-BFGS iteration: only the terminal's updating line shows it
            if self.tty:
                self.stream.write(f"\r\033[Kstyle: {printable(event.text)}  loss {event.loss:.4g}")
                self.stream.flush()
            return
        if isinstance(event, Progress):
            self.eta.update(event.done)  # every iteration, printed or not
            if self.tty:
                self.stream.write("\r\033[K" + printable(self._describe(event)))
                self.stream.flush()
                return
            per_stage = max(1, event.total // event.stages)
            if event.step % max(1, per_stage // 10) == 0 or event.step == event.total:
                self._line(self._describe(event))
        elif isinstance(event, Notice):
            self._line(f"style: {event.text}")


def run(args: argparse.Namespace) -> int:
    """Run the job; 0 on success (errors are raised for cli.main to report)."""
    if motion_flags.is_video_job(args.content, args.output):
        from cnnstudio.cli import motion_run

        blend = parse_weights_list("--style-blend", args.style_blend) if args.style_blend else None
        return motion_run.run_style(args, params_from_args, blend)
    motion_flags.refuse_video_flags(args)
    if args.model:
        from cnnstudio.cli import style_model

        return style_model.run(args)
    if not args.styles:
        raise InputError("give at least one style image, or a fast style model with --model NAME")
    params = params_from_args(args)
    blend = parse_weights_list("--style-blend", args.style_blend) if args.style_blend else None
    if blend is not None and len(blend) != len(args.styles):
        raise InputError(
            f"--style-blend has {len(blend)} weights for {len(args.styles)} style image(s): "
            "give one weight per style image"
        )
    if Path(args.content).expanduser().is_dir():
        return _run_batch(args, params, blend)
    output = Path(args.output).expanduser()
    check_image_output(output, args.overwrite)
    # Big photos are shrunk while decoding; stylize then sets the exact working size.
    content = images.load_image(args.content, max_side=params.size)
    style_side = max(
        style_params.VGG19_MIN_SIZE, math.ceil(params.size * max(1.0, params.style_scale))
    )
    styles = [images.load_image(path, max_side=style_side) for path in args.styles]
    memory.check_memory(params, content.shape)  # before any slow work

    from cnnstudio.core import device

    device.configure_devices()
    reporter = _Reporter(sys.stderr, args.quiet)
    result = reporter.run(job.stylize(content, styles, params, style_weights=blend))
    meta = style_params.style_metadata(
        params,
        content=Path(args.content).name,
        styles=[Path(p).name for p in args.styles],
        style_blend=blend,
        output_size=[int(result.shape[1]), int(result.shape[0])],
    )
    saved = image_saving.save_image(output, result, params=meta, overwrite=args.overwrite)
    untrained = " (untrained network)" if meta["untrained"] else ""
    reporter.done(
        f"style: saved {saved} ({result.shape[1]}x{result.shape[0]}){untrained} in "
        f"{time.monotonic() - reporter.start:.1f}s"
    )
    return 0


def _run_batch(
    args: argparse.Namespace, params: style_params.StyleParams, blend: list[float] | None
) -> int:
    """CONTENT is a folder: paint each of its pictures into the folder ``-o``."""
    from cnnstudio.cli import batch_run
    from cnnstudio.core.batch import plan_batch

    plan = plan_batch(args.content, args.output, "-style", overwrite=args.overwrite)
    style_side = max(
        style_params.VGG19_MIN_SIZE, math.ceil(params.size * max(1.0, params.style_scale))
    )
    styles = [images.load_image(path, max_side=style_side) for path in args.styles]
    from cnnstudio.core import device

    device.configure_devices()

    def paint(content, _item):
        return job.stylize(content, styles, params, style_weights=blend)

    def metadata(item, result) -> dict:
        return style_params.style_metadata(
            params,
            content=item.source.name,
            styles=[Path(p).name for p in args.styles],
            style_blend=blend,
            output_size=[int(result.shape[1]), int(result.shape[0])],
        )

    return batch_run.run("style", plan, paint, metadata, max_side=params.size, quiet=args.quiet)
