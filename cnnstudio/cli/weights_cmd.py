"""``cnnstudio import-weights FILE [--name NET]``: install a pretrained weights file.

For machines without internet: the ImageNet weights downloaded elsewhere are checked
against the architecture and copied where ``--weights imagenet`` finds them when their
checksum is the official Keras file's; any other file that fits is installed as custom
weights (``--weights PATH``; results say "custom weights FILE").
"""

from __future__ import annotations

import argparse

from cnnstudio.core.backbones import BACKBONE_NAMES


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import-weights",
        help="check a Keras weights file and install it (ImageNet or custom weights)",
        description=(
            "Check a .h5/.weights.h5 weights file against InceptionV3, VGG19 or "
            "MobileNetV2 (with or without the classifier top) and install it in the "
            "CNN Studio weights folder. The official Keras ImageNet file (its published "
            "checksum matches) is found by '--weights imagenet' from then on; any other "
            "file that fits is installed as custom weights, used with '--weights PATH'."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the weights file (.h5 or .weights.h5)")
    parser.add_argument(
        "--name",
        choices=BACKBONE_NAMES,
        default=None,
        help="the architecture the file is for (default: detect it)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from cnnstudio.core.weights_import import import_weights_detailed

    imported = import_weights_detailed(args.file, args.name)
    print(imported.describe())
    if not imported.is_imagenet:
        print(f"use it with --weights {imported.path}")
    return 0
