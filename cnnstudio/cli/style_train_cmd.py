"""``cnnstudio style-train STYLE [STYLE...] --data PHOTOS -o NAME``: train a fast style
network (Johnson et al. 2016) and put it into the model library as NAME.

    cnnstudio style-train STYLE [STYLE ...] --data PHOTOS -o NAME [--size 256]
        [--steps N] [--batch 4] [--learning-rate F] [--weights imagenet|random|PATH]
        [--content-weight F] [--style-weight F] [--tv-weight F]
        [--content-layers L=W,...] [--style-layers L=W,...] [--style-scale F]
        [--preserve-colors] [--preview-every N] [--checkpoint-every N]
        [--run-dir DIR] [--seed N] [-q]

Progress on stderr: an updating line on a terminal, else a line every few percent; the
held-out loss and every checkpoint on a line of their own. With the same ``--run-dir`` a
killed run resumes from its last checkpoint. Ctrl-C stops after the current step, keeps
the best network so far (it still goes into the library) and exits 130; a second Ctrl-C
aborts at once. Then ``cnnstudio style PHOTO --model NAME -o OUT`` styles a picture.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any, TextIO

from cnnstudio.cli.messages import flag_for
from cnnstudio.cli.options import parse_layer_weights
from cnnstudio.cli.reporting import JobReporter
from cnnstudio.core import library
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import Eta
from cnnstudio.core.events import Notice, Progress
from cnnstudio.core.faststyle import job, models
from cnnstudio.core.faststyle.events import (
    CheckpointSaved,
    HeldOutLoss,
    PhotosRead,
    ReadingPhotos,
    RunStarted,
)
from cnnstudio.core.faststyle.params import FastStyleParams

#: params fields with a flag of their own name
_SIMPLE = (
    "size",
    "steps",
    "learning_rate",
    "weights",
    "content_weight",
    "style_weight",
    "tv_weight",
    "style_scale",
    "preview_every",
    "checkpoint_every",
    "seed",
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``style-train`` job."""
    defaults = FastStyleParams()
    parser = subparsers.add_parser(
        "style-train",
        help="train a fast style model from a folder of photos and style picture(s)",
        description=(
            "Train a style network (Johnson et al. 2016) on a folder of photos (flat or "
            "with class subfolders) for the style picture(s), and add it to the model "
            "library as NAME; then `cnnstudio style PHOTO --model NAME -o OUT` styles any "
            "picture in one pass. The same --run-dir resumes a run."
        ),
    )
    parser.add_argument("styles", nargs="+", metavar="style", help="style picture(s)")
    parser.add_argument("--data", required=True, metavar="PHOTOS", help="a folder of photos")
    parser.add_argument(
        "-o", "--output", required=True, metavar="NAME", help="the style model's library name"
    )
    parser.add_argument("--size", type=int, help=f"training pictures' side in px ({defaults.size})")
    parser.add_argument("--steps", type=int, help=f"training steps in all ({defaults.steps})")
    parser.add_argument(
        "--batch",
        type=int,
        dest="batch_size",
        metavar="N",
        help=f"photos per step ({defaults.batch_size})",
    )
    parser.add_argument(
        "--learning-rate", type=float, help=f"Adam learning rate ({defaults.learning_rate:g})"
    )
    parser.add_argument(
        "--weights", help="the loss network's (VGG19): imagenet (default), random or a file"
    )
    parser.add_argument(
        "--content-weight",
        type=float,
        help=f"content's relative importance ({defaults.content_weight:g})",
    )
    parser.add_argument(
        "--style-weight",
        type=float,
        help=f"style's relative importance ({defaults.style_weight:g})",
    )
    parser.add_argument(
        "--tv-weight", type=float, help=f"smoothing's relative importance ({defaults.tv_weight:g})"
    )
    parser.add_argument(
        "--content-layers",
        metavar="L=W,...",
        help=f"content layers ({','.join(defaults.content_layers)})",
    )
    parser.add_argument(
        "--style-layers",
        metavar="L=W,...",
        help=f"style layers ({','.join(defaults.style_layers)})",
    )
    parser.add_argument(
        "--style-scale", type=float, help="style picture's size relative to the training size (1)"
    )
    parser.add_argument(
        "--preserve-colors",
        action="store_true",
        help="train on luminance: styled pictures keep their own colours",
    )
    parser.add_argument(
        "--preview-every",
        type=int,
        help=f"steps between held-out checks ({defaults.preview_every})",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        help=f"steps between checkpoints ({defaults.checkpoint_every})",
    )
    parser.add_argument("--run-dir", default="", help="run folder (the same folder resumes)")
    parser.add_argument("--seed", type=int, help="which photos are held out, batch order (0)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return parser


def params_from_args(args: argparse.Namespace) -> FastStyleParams:
    """The FastStyleParams the flags describe (defaults for the flags not given)."""
    params = FastStyleParams(styles=list(args.styles), data=args.data, run_dir=args.run_dir)
    for name in (*_SIMPLE, "batch_size"):
        value = getattr(args, name)
        if value is not None:
            setattr(params, name, value)
    if args.content_layers:
        params.content_layers = parse_layer_weights(
            "--content-layers", args.content_layers, example="block2_conv2"
        )
    if args.style_layers:
        params.style_layers = parse_layer_weights(
            "--style-layers", args.style_layers, example="block1_conv2,block2_conv2"
        )
    params.preserve_colors = bool(args.preserve_colors)
    try:
        params.validate()
    except InputError as error:
        if error.param is None:
            raise
        flag = "--batch" if error.param == "batch_size" else flag_for(error.param)
        raise InputError(
            f"{flag}: {error}", param=error.param, remedy=error.remedy, **error.details
        ) from None
    return params


class _Reporter(JobReporter):
    """Training on stderr: an updating step line on a terminal (else ~50 lines a run), and
    the held-out checks, checkpoints and notices as lines of their own."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        super().__init__(stream, quiet)
        self.eta = Eta()

    def job_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self.eta.update(event.done)
            terms = "  ".join(f"{k} {v:.3g}" for k, v in event.terms.items())
            text = (
                f"style-train: step {event.step}/{event.total}  loss {event.loss:.4g}  "
                f"[{terms}]  {event.message}  ETA {self.eta.text()}"
            )
            if self.tty:
                self.stream.write("\r\033[K" + text)
                self.stream.flush()
            elif event.step % max(1, event.total // 50) == 0 or event.step == event.total:
                self._line(text)
        elif isinstance(event, HeldOutLoss):
            best = "  (best so far)" if event.best else ""
            self._line(f"style-train: step {event.step}: held-out loss {event.loss:.4g}{best}")
        elif isinstance(event, CheckpointSaved):
            self._line(f"style-train: checkpoint saved at step {event.step}")
        elif isinstance(event, RunStarted):
            self._line(f"style-train: run folder {event.run_dir}")
        elif isinstance(event, ReadingPhotos):
            if self.tty:
                self.stream.write(f"\r\033[Kstyle-train: {event.text}")
                self.stream.flush()
        elif isinstance(event, PhotosRead):
            self._line(
                f"style-train: {event.training} photos for training, {event.held_out} held out"
            )
        elif isinstance(event, Notice):
            self._line(f"style-train: {event.text}")


def run(args: argparse.Namespace) -> int:
    """Train, save into the library; 0 when finished, 130 after Ctrl-C (saved too)."""
    params = params_from_args(args)
    from cnnstudio.core import device

    device.configure_devices()
    reporter = _Reporter(sys.stderr, args.quiet)
    stop_requested = False

    def on_sigint(signum, frame) -> None:  # first Ctrl-C: stop after this step and save
        nonlocal stop_requested
        if stop_requested:
            raise KeyboardInterrupt
        stop_requested = True
        reporter.done("style-train: stopping after this step (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = job.train(params, on_event=reporter.event, should_stop=lambda: stop_requested)
    finally:
        signal.signal(signal.SIGINT, previous)
    if result is None:
        reporter.done("style-train: stopped before the first step; nothing was saved")
        return 130
    earlier = models.same_run_entry(args.output, str(result.run_dir))
    entry = models.save_style_model(
        result.model, args.output, result.meta, run_dir=str(result.run_dir)
    )
    if earlier is not None:
        named = f", replacing the one this run saved at step {earlier.meta.get('steps')}"
    elif entry.name != library.sanitize_name(args.output):
        named = f" ('{args.output}' is another model's name)"
    else:
        named = ""
    reporter.done(
        f"style-train: saved style model '{entry.name}' (step {result.best_step} of "
        f"{result.steps_done}, the lowest held-out loss) in the library{named}; style a "
        f"picture with: cnnstudio style PHOTO --model '{entry.name}' -o OUT.png"
    )
    if result.stopped:
        reporter.done(
            f"style-train: interrupted at step {result.steps_done}/{params.steps}; run the "
            f"same command with --run-dir {result.run_dir} to go on"
        )
        return 130
    return 0
