"""``cnnstudio import-weights FILE [--name NET]``: install a pretrained weights file.

For machines without internet: the ImageNet weights downloaded elsewhere are checked
against the architecture and copied where ``--weights imagenet`` finds them.
"""

from __future__ import annotations

import argparse

from cnnstudio.core.backbones import BACKBONE_NAMES


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import-weights",
        help="check a Keras weights file and install it for --weights imagenet",
        description=(
            "Check a .h5/.weights.h5 weights file against InceptionV3, VGG19 or "
            "MobileNetV2 (with or without the classifier top) and install it in the "
            "CNN Studio weights folder, so that '--weights imagenet' finds it offline."
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
    top = "with" if imported.include_top else "without"
    print(
        f"installed {imported.backbone.label} weights ({top} the classifier top) as {imported.path}"
    )
    return 0
