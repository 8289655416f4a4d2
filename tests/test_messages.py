"""Core errors worded by each front end: flags on the command line, menus in the window."""

from __future__ import annotations

import pickle

from cnnstudio.cli import messages as cli_messages
from cnnstudio.core.errors import InputError, Remedy, ResourceMissingError
from cnnstudio.gui import messages as gui_messages


def test_each_front_end_words_the_remedy_in_its_own_terms() -> None:
    error = ResourceMissingError(
        "InceptionV3 ImageNet weights are not on this machine", remedy=Remedy.SUPPLY_WEIGHTS
    )
    cli = cli_messages.describe(error)
    gui = gui_messages.describe(error)
    assert "--weights PATH" in cli and "cnnstudio import-weights" in cli
    assert "File > Import weights..." in gui and "--" not in gui
    assert str(error) == "InceptionV3 ImageNet weights are not on this machine"


def test_gui_sentences_keep_file_names_as_they_are() -> None:
    assert gui_messages.sentence("steps 0 must be at least 1") == "Steps 0 must be at least 1."
    assert gui_messages.sentence("evil.keras was refused.") == "evil.keras was refused."
    assert gui_messages.sentence("mixed3: no such layer") == "mixed3: no such layer."


def test_cli_flags_and_sizes_from_the_error_data() -> None:
    assert cli_messages.flag_for("run_dir") == "--run-dir"
    assert cli_messages.flag_for("output") == "-o/--output"
    error = InputError("512 px needs 9 GB", param="size", remedy=Remedy.SMALLER_SIZE, size=256)
    assert cli_messages.describe(error).endswith("pass --size 256 or less")
    assert gui_messages.describe(error).endswith("Choose a size of 256 px or less.")


def test_errors_keep_their_data_across_processes() -> None:
    error = InputError("bad", param="steps", remedy=Remedy.OVERWRITE, path="/x")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.param, copy.remedy, copy.details, str(copy)) == (
        "steps",
        Remedy.OVERWRITE,
        {"path": "/x"},
        "bad",
    )
