"""``cnnstudio train RECIPE --data DATA -o MODEL.keras``: train a model headless.

Prints the model summary (stderr), one line per epoch (stdout) and the test accuracy;
writes the model with its JSON sidecar (checked before the run; written whole or not at
all). With the same ``--run-dir`` an interrupted run resumes from its last finished
epoch; a folder another trainer holds is refused. ``--cluster``/``--task-index`` make
this process one worker of a multi-machine run. Ctrl-C stops at the next batch, still saves the
model and then exits 130 (as ``cnnstudio dream`` does); a second Ctrl-C aborts at once.
``--import-dataset FILE`` installs mnist.npz or cifar-10-python.tar.gz for offline use.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

from cnnstudio.cli.options import add_common_flags
from cnnstudio.cli.reporting import JobReporter
from cnnstudio.core import files, library
from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.eta import Eta
from cnnstudio.core.events import Notice
from cnnstudio.core.training import job
from cnnstudio.core.training.cluster import DEFAULT_WORKER_TIMEOUT, find_cluster
from cnnstudio.core.training.data_files import import_dataset_file
from cnnstudio.core.training.events import (
    BatchEnd,
    EpochEnd,
    RunStarted,
    Testing,
    format_epoch,
)
from cnnstudio.core.training.params import (
    RECIPE_NAMES,
    SCHEDULES,
    TrainConfig,
    get_recipe,
    untrained_base_warning,
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train lenet5, cifar-cnn or a transfer model on MNIST, CIFAR-10, .npz or a folder",
        description=(
            "Train a recipe and write MODEL.keras with its JSON sidecar. DATA is mnist, "
            "cifar10, a .npz file in the Keras layout (x_train, y_train, x_test, y_test) "
            "or a folder with one subfolder of images per class."
        ),
    )
    parser.add_argument("recipe", nargs="?", choices=RECIPE_NAMES, help="the recipe")
    parser.add_argument("--data", default="", help="mnist | cifar10 | FILE.npz | FOLDER")
    parser.add_argument("-o", "--output", default=None, help="the model file (.keras)")
    parser.add_argument("--epochs", type=int, default=0, help="epochs (default: recipe's)")
    parser.add_argument("--batch-size", type=int, default=0, help="default: recipe's")
    parser.add_argument("--learning-rate", type=float, default=0.0, help="Adam learning rate")
    parser.add_argument("--schedule", choices=SCHEDULES, default="constant")
    parser.add_argument(
        "--early-stopping", type=int, default=0, metavar="N", help="patience on val_loss"
    )
    parser.add_argument("--image-size", type=int, default=0, help="square input size")
    parser.add_argument("--val-split", type=float, default=0.1, help="0 validates on test")
    parser.add_argument("--no-augment", action="store_true", help="no CIFAR augmentation")
    parser.add_argument("--augment", action="store_true", help="force augmentation on")
    parser.add_argument("--backbone", choices=BACKBONE_NAMES, default="inception_v3")
    parser.add_argument("--weights", default="imagenet", help="imagenet | random | PATH")
    parser.add_argument("--fine-tune", type=int, default=0, help="unfreeze the top N layers")
    parser.add_argument("--run-dir", default="", help="run folder (same folder: resume)")
    parser.add_argument("--limit", type=int, default=0, help="use at most N training images")
    parser.add_argument(
        "--save-to-library", metavar="NAME", default=None, help="also add it to the library"
    )
    parser.add_argument(
        "--import-dataset",
        metavar="FILE",
        default=None,
        help="install mnist.npz or cifar-10-python.tar.gz for offline use",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="look at the dataset (images per class, balance, unreadable files) and stop",
    )
    several = parser.add_argument_group(
        "several machines",
        "Train one model on several machines (TensorFlow's MultiWorkerMirroredStrategy): "
        "run the same command on every machine with its own --task-index; worker 0 is "
        "the chief, which alone writes the run folder and the model. TF_CONFIG in the "
        "environment is honoured when --cluster is not given.",
    )
    several.add_argument(
        "--cluster", metavar="HOST:PORT,HOST:PORT,...", default=None, help="every worker"
    )
    several.add_argument(
        "--task-index", type=int, default=None, metavar="N", help="this worker's place"
    )
    several.add_argument(
        "--worker-timeout",
        type=float,
        default=DEFAULT_WORKER_TIMEOUT,
        metavar="SECONDS",
        help=f"stop when a worker is silent this long (default {DEFAULT_WORKER_TIMEOUT:.0f})",
    )
    add_common_flags(parser, seed_default=0)  # -q, --overwrite, --seed
    return parser


class _Reporter(JobReporter):
    """The run on the terminal: the model summary and notices on stderr, one line per
    epoch on stdout and, on a terminal, an updating batch line with the ETA on stderr."""

    def __init__(
        self, stream: TextIO, out: TextIO, worker: int | None = None, quiet: bool = False
    ) -> None:
        super().__init__(stream, quiet=quiet)
        self.out = out
        self.worker = worker  # the index of a worker that is not the chief
        self.eta = Eta()
        self.batch_line = False  # an updating line is on the terminal

    def say(self, text: str) -> None:
        """A whole line on stderr (it replaces the batch line on a terminal)."""
        self.batch_line = False
        self._line(text)

    def job_event(self, event: object) -> None:
        if isinstance(event, BatchEnd):
            self.eta.update(event.done)  # every batch event, shown or not
            if self.tty:
                self.stream.write(
                    f"\r\033[Kepoch {event.epoch}/{event.epochs} batch {event.batch}/"
                    f"{event.steps}: loss {event.loss:.4f} accuracy {event.accuracy:.4f} "
                    f"{event.images_per_second:.0f} images/s ETA {self.eta.text()}"
                )
                self.stream.flush()
                self.batch_line = True
        elif isinstance(event, RunStarted):
            self.say(event.summary.rstrip())
            self.say(event.dataset_summary)
            if self.worker is None:
                self.say(f"run folder: {event.run_dir}")
            else:
                self.say(f"worker {self.worker}: the chief writes the run folder")
        elif isinstance(event, EpochEnd):
            self._clear()
            print(format_epoch(event), file=self.out, flush=True)
        elif isinstance(event, Testing):
            if event.batch == event.batches:
                self.say(f"tested {event.images} of {event.total_images} images")
        elif isinstance(event, Notice):
            self.say(event.text)

    def _clear(self) -> None:
        if self.batch_line:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.batch_line = False


def _check_output(output: Path, overwrite: bool) -> None:
    """The model and its sidecar can be written: checked before the (long) run."""
    if output.suffix.lower() != ".keras":
        raise InputError(f"{output} must end in .keras (the only format loaded safely)")
    if (output.exists() or output.is_symlink()) and not overwrite:
        raise InputError(f"{output} exists already", param="output", remedy=Remedy.OVERWRITE)
    files.check_output_file(output, overwrite=overwrite, example="model.keras")
    sidecar = library.sidecar_path(output)
    if sidecar.is_dir() or ((sidecar.exists() or sidecar.is_symlink()) and not overwrite):
        raise InputError(
            f"{sidecar} exists already (the model's sidecar goes there)",
            param="output",
            remedy=Remedy.OVERWRITE,
        )


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        recipe=args.recipe,
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        schedule=args.schedule,
        early_stopping=args.early_stopping,
        image_size=args.image_size,
        val_split=args.val_split,
        augment=False if args.no_augment else (True if args.augment else None),
        backbone=args.backbone,
        weights=args.weights,
        fine_tune=args.fine_tune,
        run_dir=args.run_dir,
        seed=args.seed,
        limit=args.limit,
    )


def run(args: argparse.Namespace) -> int:
    if args.import_dataset:
        name, path = import_dataset_file(args.import_dataset)
        print(f"installed the {name} dataset as {path}")
        if not args.recipe:
            return 0
    if args.summary:
        return _print_summary(args)
    if not args.recipe:
        raise InputError("give a recipe: " + " | ".join(RECIPE_NAMES))
    if not args.output:
        raise InputError("give the model file to write with -o MODEL.keras")
    cluster = find_cluster(args.cluster, args.task_index, os.environ, timeout=args.worker_timeout)
    chief = cluster is None or cluster.is_chief
    output = Path(args.output)
    if chief:  # the other workers write nothing
        _check_output(output, args.overwrite)
    config = _config(args)
    stop_requested = False
    # a transfer run's ImageNet weights may be downloaded first: shown on stderr too
    reporter = _Reporter(
        sys.stderr, sys.stdout, worker=None if chief else cluster.index, quiet=args.quiet
    )
    _say = reporter.say
    warning = untrained_base_warning(config)
    if warning:  # said before anything is loaded (a quiet run says it too)
        print(f"cnnstudio: warning: {warning}", file=sys.stderr, flush=True)

    def on_sigint(signum, frame) -> None:  # first Ctrl-C: stop at the next batch, save
        nonlocal stop_requested
        if stop_requested or cluster is not None:
            raise KeyboardInterrupt  # a worker cannot stop alone: the others report it
        stop_requested = True
        _say("stopping after this batch (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        several = {"cluster": cluster} if cluster is not None else {}
        result = job.train(
            config, on_event=reporter.event, should_stop=lambda: stop_requested, **several
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    if result is None:  # Ctrl-C during the weights download: no model to save
        _say(f"{output} was not written")
        return 130
    done = result.done
    label = "validation" if done.test_is_validation else "test"
    print(f"{label} accuracy {done.test_accuracy:.4f} {label} loss {done.test_loss:.4f}")
    if not chief:
        _say(f"worker {cluster.index} done: the chief writes the run folder and the model")
        return 0
    try:
        library.save_model_files(result.model, output, result.meta, overwrite=args.overwrite)
    except files.OutputExistsError:
        raise InputError(
            f"{output} appeared during the run and was left as it is; the trained model "
            f"was not written there (the run folder {done.run_dir} keeps the best one in "
            "checkpoints/best.keras)",
            param="output",
            remedy=Remedy.OVERWRITE,
        ) from None
    if not args.quiet:
        _say(f"wrote {output} and {library.sidecar_path(output).name}")
    if args.save_to_library:
        entry = library.save_to_library(result.model, args.save_to_library, result.meta)
        if not args.quiet:
            _say(f"added to the library as '{entry.name}'")
    if stop_requested:
        # interrupted by Ctrl-C: the partly trained model is saved, but the run did not
        # finish, and scripts must be able to tell (same exit code as cnnstudio dream)
        _say(
            f"interrupted after {done.epochs_completed} finished epoch(s): the partly "
            f"trained model is in {output}; run again with --run-dir {done.run_dir} to resume"
        )
        return 130
    return 0


def _print_summary(args: argparse.Namespace) -> int:
    """``--summary``: the dataset's classes, balance and unreadable files; no training."""
    from cnnstudio.core.training import survey

    if not args.data and not args.recipe:
        raise InputError("give the dataset to look at with --data (or a recipe)")
    data = args.data or get_recipe(args.recipe).default_dataset
    reporter = JobReporter(sys.stderr, args.quiet)
    found = reporter.run(survey.survey(data, seed=args.seed or 0))
    print("\n".join(found.lines()))
    return 0
