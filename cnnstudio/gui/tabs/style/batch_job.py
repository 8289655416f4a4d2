"""The Style tab's batch: every picture of a folder painted as the content, with the
tab's styles and blend and the form's parameters (``ImageJobTab.batch_job``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnstudio.core.errors import InputError
from cnnstudio.core.style import job as style_job
from cnnstudio.core.style import params as style_params
from cnnstudio.gui.tabs.batch import BatchJob

#: the Style tab (it imports this module)
StyleTab = Any


def style_batch_job(tab: StyleTab) -> BatchJob | None:
    """The batch's picture job and metadata, or None (said why) when the tab's settings
    cannot make one."""
    styles = list(tab.pictures.styles)
    if not styles:
        message = "Add at least one style picture: a batch paints every picture with it"
        tab.status.emit(message)
        tab.show_error(message)
        return None
    params = tab.form.params()
    blend = tab.pictures.style_blend()
    try:
        params.validate()
        if sum(blend) <= 0:
            raise InputError("every style weight is 0: give at least one style a weight")
    except InputError as error:
        tab.report_error(error)
        return None
    tab._run_params = params
    names = [s.name for s in styles]

    def job(content: np.ndarray, _item: object):
        return style_job.stylize(content, [s.image for s in styles], params, style_weights=blend)

    def metadata(item, result: np.ndarray) -> dict:
        size = [int(result.shape[1]), int(result.shape[0])]
        return style_params.style_metadata(
            params, content=item.source.name, styles=names, style_blend=blend, output_size=size
        )

    return BatchJob(job, metadata, params.size, tab.batch_suffix)
