"""Core errors in the command line's words: flags, not menus."""

from __future__ import annotations

from cnnstudio.core.errors import Remedy, StudioError

#: params whose flag is not ``--`` + the name with dashes
_FLAGS = {"output": "-o/--output"}


def flag_for(param: str) -> str:
    """``"run_dir"`` -> ``"--run-dir"``."""
    return _FLAGS.get(param, "--" + param.replace("_", "-"))


def _remedy(error: StudioError) -> str:
    details = error.details
    if error.remedy == Remedy.SUPPLY_WEIGHTS:
        return (
            "install the file once with `cnnstudio import-weights FILE`, or pass "
            "--weights PATH (--weights random for an untrained network)"
        )
    if error.remedy == Remedy.SUPPLY_DATASET:
        file_name = details.get("file_name", "FILE")
        return f"get the file and install it with `cnnstudio train --import-dataset {file_name}`"
    if error.remedy == Remedy.OVERWRITE:
        return "pass --overwrite to replace it, or choose another name"
    if error.remedy == Remedy.OTHER_RUN_FOLDER:
        return "choose another --run-dir, or run with the same settings"
    if error.remedy == Remedy.OTHER_FRAMES_FOLDER:
        folder = details.get("path") or "the folder"
        return (
            f"pass --overwrite to delete them and start again, delete {folder} yourself, "
            "or give another --frames-dir"
        )
    if error.remedy == Remedy.CHOOSE_WEIGHTS:
        return "give --weights imagenet, random or the path of a .weights.h5/.h5 file"
    if error.remedy == Remedy.SMALLER_SIZE and "size" in details:
        return f"pass {flag_for(error.param or 'size')} {details['size']} or less"
    if error.remedy == Remedy.LONG_JOB:
        return _long_job(error.param or "size", details)
    return ""


def describe(error: StudioError) -> str:
    """The one line the CLI prints after ``cnnstudio: ``."""
    message = str(error)
    remedy = _remedy(error)
    if remedy:
        message = f"{message.rstrip('. ')}; {remedy}"
    return message


def _long_job(param: str, details: dict) -> str:
    """What brings a long video job under the budget, and how to go ahead anyway."""
    size = flag_for(param)
    if "size" in details:
        way = f"pass {size} {details['size']} or less"
    elif "frames" in details:
        way = f"pass {flag_for(details.get('frames_param', 'max_frames'))} {details['frames']}"
    else:
        way = "pass a smaller --size or fewer frames"
    own = details.get("own_size")
    return f"{way}, or {size} {own} to go ahead as it is" if own else way
