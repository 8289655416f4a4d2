"""What a grid saved from the view carries, and the name the save dialog suggests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnstudio.core.backbones import BACKBONE_NAMES
from cnnstudio.core.visualize import params as vparams


def grid_metadata(
    result: Any,
    params: vparams.VisualizeParams,
    records: Sequence[Any],
    model_name: str,
    skipped: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The parameters, the model, each finished channel's record (objective and tile)
    and the example files skipped, as ``cnnstudio visualize`` saves them: of the job's
    ``result``, or (stopped: no result) of the ``params`` run and the ``records`` so far."""
    if result is not None:
        params, records = result.params, result.records
        label, untrained, tile = result.model_label, result.untrained, result.tile_size
    else:
        label = model_name
        untrained = params.model in BACKBONE_NAMES and params.weights == "random"
        tile = tuple(records[0].image_boxes[0][2:]) if records else (0, 0)
    return vparams.visualize_metadata(
        params,
        model_label=label,
        untrained=untrained,
        tile_size=tile,
        records=[record.to_dict() for record in records],
        skipped=skipped,
    )


def suggested_name(model_name: str, params: vparams.VisualizeParams) -> str:
    """``digits-c1.png``, ``InceptionV3-mixed4.png``: the model and the layer."""
    name = f"{Path(model_name).stem}-{params.layer or 'classes'}.png"
    return name.replace("/", "_").replace(" ", "_")
