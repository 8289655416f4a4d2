"""``cnnstudio style CONTENT --model NAME -o OUT``: style a picture with a fast style model
of the library (``cnnstudio style-train``) in one forward pass, at the picture's own size
(or ``--size``: the output's longest side, a smaller picture enlarged to it, as with style
images), in tiles when it is very large. The result is saved with its parameters.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cnnstudio.cli.output import check_image_output
from cnnstudio.core import image_saving, images
from cnnstudio.core.errors import InputError
from cnnstudio.core.style.params import MAX_SIZE, output_size

#: Gatys-only flags that mean nothing with --model (argparse default None or False)
_GATYS_FLAGS = (
    "style_blend",
    "weights",
    "steps",
    "optimizer",
    "learning_rate",
    "content_weight",
    "style_weight",
    "tv_weight",
    "layers",
    "content_layers",
    "style_layers",
    "style_scale",
    "init",
    "lbfgs_evaluations",
    "temporal_weight",
)


def check_fast_flags(args: argparse.Namespace) -> None:
    """The flags of a style transfer from style images mean nothing with ``--model``."""
    if args.styles:
        raise InputError(
            f"--model {args.model} styles without style images; leave out "
            f"{', '.join(Path(s).name for s in args.styles)} (or --model to use them)"
        )
    given = [name for name in _GATYS_FLAGS if getattr(args, name, None) not in (None, False)]
    if given or getattr(args, "multi_scale", False):
        given += ["multi_scale"] if getattr(args, "multi_scale", False) else []
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise InputError(f"{flags}: only for style transfer from style images, not --model")


def run(args: argparse.Namespace) -> int:
    """Style ``args.content`` with ``args.model``; 0 on success."""
    check_fast_flags(args)
    if args.size is not None and not 8 <= args.size <= MAX_SIZE:
        raise InputError(f"--size {args.size} must be from 8 to {MAX_SIZE}", param="size")
    output = check_image_output(Path(args.output).expanduser(), args.overwrite)
    content = images.load_image(args.content, max_side=args.size)
    if args.size is not None and max(content.shape[:2]) != args.size:
        # --size is the longest side of the output, as with style images: a smaller
        # picture is enlarged to it (the network styles any size)
        height, width = output_size(content.shape, args.size)
        content = images.resize_to(content, width, height)

    from cnnstudio.core import device
    from cnnstudio.core.faststyle import apply

    device.configure_devices()
    start = time.monotonic()
    style_model = apply.load_style_model(args.model)
    loaded = time.monotonic()

    def on_tile(done: int, total: int) -> None:
        if total > 1 and not args.quiet:
            print(f"style: tile {done}/{total}", file=sys.stderr, flush=True)

    preserve = bool(args.preserve_colors)
    result = apply.stylize(style_model, content, preserve_colors=preserve, on_tile=on_tile)
    meta = {
        "job": "style",
        "mode": "fast style model",
        "model": style_model.name,
        "model_styles": style_model.meta.get("styles"),
        "content": Path(args.content).name,
        "preserve_colors": preserve or style_model.trained_on_luminance,
        "output_size": [int(result.shape[1]), int(result.shape[0])],
    }
    saved = image_saving.save_image(output, result, params=meta, overwrite=args.overwrite)
    if not args.quiet:
        print(
            f"style: saved {saved} ({result.shape[1]}x{result.shape[0]}) with style model "
            f"'{style_model.name}' in {time.monotonic() - loaded:.2f}s "
            f"(loading {loaded - start:.1f}s)",
            file=sys.stderr,
        )
    return 0
