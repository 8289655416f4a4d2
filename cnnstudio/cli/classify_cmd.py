"""``cnnstudio classify MODEL PATH [PATH ...]``: top-k labels for images and folders.

MODEL is a backbone name (ImageNet labels), a ``.keras`` file or a library model's name.
Each image gives one line (or one JSON object / CSV row); an unreadable file is reported
in its place and the batch goes on. Exit 0 when at least one image was classified, 2 when
none was or the model could not be loaded safely.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from cnnstudio.cli.options import add_common_flags
from cnnstudio.cli.reporting import DownloadLines
from cnnstudio.cli.text import printable
from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.errors import InputError, StudioError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "classify",
        help="top-k labels (and Grad-CAM heat maps) for images and folders",
        description=(
            "Classify images with an ImageNet backbone or a model of your own. Folders are "
            "searched for image files; a file that cannot be read is reported and skipped."
        ),
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help=f"{', '.join(BACKBONE_NAMES)}, a .keras file or a library model name",
    )
    parser.add_argument("paths", metavar="PATH", nargs="+", help="image files or folders")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="labels per image (5)")
    parser.add_argument(
        "--weights",
        default="imagenet",
        metavar="imagenet|random|PATH",
        help="weights of a backbone MODEL (default imagenet; ignored for .keras models)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON list to stdout")
    output.add_argument("--csv", metavar="OUT", help="write one CSV row per image to OUT")
    parser.add_argument(
        "--gradcam", metavar="DIR", help="save a Grad-CAM overlay PNG per image into DIR"
    )
    parser.add_argument(
        "--layer", metavar="NAME", help="Grad-CAM layer (default: the last convolution)"
    )
    add_common_flags(parser)  # -q, --overwrite, --seed (the weights of an untrained network)
    return parser


def run(args: argparse.Namespace) -> int:
    from cnnstudio.core import files
    from cnnstudio.core.classify import batch, classifier
    from cnnstudio.core.classify.params import check_top_k

    check_top_k(args.top)
    csv_path = Path(args.csv) if args.csv else None
    if csv_path is not None:
        files.check_output_file(csv_path, overwrite=args.overwrite, param="csv")
    gradcam_dir = Path(args.gradcam) if args.gradcam else None
    if gradcam_dir is not None:  # checked (and made) before the model loads
        if gradcam_dir.exists() and not gradcam_dir.is_dir():
            raise InputError(f"--gradcam {gradcam_dir}: not a folder")
        files.check_writable_folder(gradcam_dir, param="gradcam")
        try:
            gradcam_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise files.write_error(gradcam_dir, error, "gradcam") from None

    image_files = batch.expand_paths(args.paths)
    if not image_files:
        raise InputError("no image files found in " + ", ".join(args.paths))
    # ImageNet weights not here yet are downloaded first, with progress on stderr
    downloads = DownloadLines(sys.stderr, sys.stderr.isatty())
    with contextlib.closing(classifier.weights_download_events(args.model, args.weights)) as events:
        for event in events:
            if not args.quiet:
                downloads.show(event)
    # --seed picks the untrained network (the same one again for the same seed)
    model = classifier.load_classifier(args.model, weights=args.weights, seed=args.seed)
    if model.untrained:
        print(f"cnnstudio: note: {printable(model.label)}: labels are meaningless", file=sys.stderr)

    results = []
    records = []
    used_names: set[str] = set()
    gradcam_errors: dict[str, str] = {}
    for result in batch.classify_paths(model, image_files, top_k=args.top):
        results.append(result)
        record = result.to_dict()
        if result.ok and gradcam_dir is not None:
            try:
                record["gradcam"] = str(_save_gradcam(model, result, gradcam_dir, args, used_names))
            except StudioError as error:  # one image's heat map, not the whole batch
                record["gradcam_error"] = str(error)
                gradcam_errors[result.file] = str(error)
                print(printable(f"cnnstudio: Grad-CAM of {result.file}: {error}"), file=sys.stderr)
        records.append(record)
        if not args.json and csv_path is None:
            print(_line(result), flush=True)
        elif not result.ok:
            print(f"cnnstudio: {printable(result.error)}", file=sys.stderr)

    if args.json:
        json.dump(records, sys.stdout, indent=2)
        sys.stdout.write("\n")
    if csv_path is not None:
        batch.write_csv(
            results, csv_path, gradcam_errors if gradcam_dir else None, overwrite=args.overwrite
        )
        if not args.quiet:
            print(f"wrote {printable(csv_path)} ({len(results)} rows)", file=sys.stderr)

    classified = sum(1 for r in results if r.ok)
    if classified == 0:
        print(f"cnnstudio: none of the {len(results)} images could be classified", file=sys.stderr)
        return 2
    return 0


def _line(result) -> str:
    """One result as one line; names from files (the image's, the classes') escaped."""
    if not result.ok:
        return printable(f"{result.file}: error: {result.error}")
    labels = ", ".join(f"{printable(p.label)} {p.probability:.1%}" for p in result.predictions)
    return f"{printable(result.file)}: {labels}"


def _save_gradcam(classifier, result, folder: Path, args, used_names: set[str]) -> Path:
    """The Grad-CAM overlay of the top class, saved as ``<stem>_gradcam.png`` (a number is
    added when two inputs share a stem)."""
    from cnnstudio.core import image_saving, images
    from cnnstudio.core.classify.params import WORKING_SIDE

    image = images.load_image(result.file, max_side=WORKING_SIDE)
    cam = classifier.gradcam(image, class_index=result.top.index, layer=args.layer)
    stem = Path(result.file).stem
    name, counter = f"{stem}_gradcam.png", 2
    while name in used_names:
        name, counter = f"{stem}_gradcam-{counter}.png", counter + 1
    used_names.add(name)
    params = {
        "job": "gradcam",
        "model": classifier.label,
        "source": result.file,
        "class": result.top.label,
        "class_index": cam.class_index,
        "probability": result.top.probability,
        "layer": cam.layer,
    }
    return image_saving.save_image(
        folder / name, cam.overlay(image), params, overwrite=args.overwrite
    )
