"""Core errors in the window's words: buttons and menus, not flags."""

from __future__ import annotations

import re

from cnnstudio.core.errors import Remedy, StudioError


def _remedy(error: StudioError) -> str:
    details = error.details
    if error.remedy == Remedy.SUPPLY_WEIGHTS:
        return (
            "Use File > Import weights... to install the file once, or choose "
            '"Weights file..." or "Untrained (random weights)" in the weights list.'
        )
    if error.remedy == Remedy.SUPPLY_DATASET:
        return "Use Import dataset file... in the Train tab to install a copy."
    if error.remedy == Remedy.OVERWRITE:
        return "Choose another name, or confirm that it may be replaced."
    if error.remedy == Remedy.OTHER_RUN_FOLDER:
        return "Choose another run folder, or start with the same settings."
    if error.remedy == Remedy.OTHER_FRAMES_FOLDER:
        return "Choose another frames folder, or run the job that made those frames."
    if error.remedy == Remedy.CHOOSE_WEIGHTS:
        return (
            'Choose "ImageNet (pretrained)", "Untrained (random weights)" or another file '
            "in the weights list."
        )
    if error.remedy == Remedy.SMALLER_SIZE and "size" in details:
        return f"Choose a size of {details['size']} px or less."
    if error.remedy == Remedy.LONG_JOB and "size" in details:
        return f"Choose a size of {details['size']} px or less."
    if error.remedy == Remedy.LONG_JOB and "frames" in details:
        return f"Make only the first {details['frames']} frames."
    return ""


def sentence(text: str) -> str:
    """A message as a sentence: a capital first letter (unless it starts with a file or
    layer name, which keep their own spelling) and a closing full stop."""
    text = text.strip()
    if not text:
        return text
    first = text.split(maxsplit=1)[0]
    if re.fullmatch(r"[a-z][a-z'-]*[:,;]?", first):
        text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def capitalized(text: str) -> str:
    """``text`` with a capital first letter (as :func:`sentence`, without the full stop):
    for labels and status lines built from a job's lower-case notices."""
    text = text.strip()
    if text and re.fullmatch(r"[a-z][a-z'-]*[:,;]?", text.split(maxsplit=1)[0]):
        return text[0].upper() + text[1:]
    return text


def describe(error: StudioError) -> str:
    """The text a dialog or the status line shows for ``error``."""
    remedy = _remedy(error)
    message = sentence(str(error))
    return f"{message} {remedy}" if remedy else message


def error_text(error: BaseException) -> str:
    """What to show of an error a user's action met (a file not saved, a folder not
    read): a core error as :func:`describe` words it, any other as it says itself."""
    if isinstance(error, StudioError):
        return describe(error)
    return str(error)


def weights_import_text(imported) -> str:
    """What File > Import weights... says it did (``core.weights_import.ImportedWeights``):
    ImageNet weights (the official file) or custom weights (anything else that fits)."""
    label = imported.backbone.label
    name = imported.path.name
    if not imported.is_imagenet:
        return (
            f"{name} fits {label} but is not the official Keras ImageNet file (its checksum "
            f'differs), so it was installed as custom weights: choose "Custom: {name}" in '
            f'a weights list. Results made with it are labelled "custom weights {name}".'
        )
    how = (
        "its checksum matches the official Keras file"
        if imported.matched_by == "checksum"
        else "it has the official file's exact size (Keras publishes no checksum for it)"
    )
    return (
        f"Installed the {label} ImageNet weights as {imported.path} ({how}); "
        '"ImageNet (pretrained)" uses them from now on.'
    )
