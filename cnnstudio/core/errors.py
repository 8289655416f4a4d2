"""Errors a user can cause, with what each front end needs to word them.

The core speaks neither in flags nor in menus: a message names the file or the value and
what is wrong with it, in words that fit the window and the terminal alike. What the user
can *do* about it differs between them (``--weights PATH`` on the command line, "File >
Import weights..." in the window), so an error carries that as data:

- ``param``: the parameter the error is about (a params field such as ``"steps"``,
  ``"output"``, ``"run_dir"``), which the CLI turns into its flag and the GUI into the
  label of its control;
- ``remedy``: one of the :class:`Remedy` keys, which each front end words itself
  (``cnnstudio.cli.messages``, ``cnnstudio.gui.messages``);
- ``details``: facts a front end may show or act on (file names, sizes, a size that fits).

``str(error)`` is the neutral message alone. The CLI exits 2 on a :class:`StudioError`;
the GUI shows it in a dialog or the status line.
"""

from __future__ import annotations

from typing import Any


class Remedy:
    """What the user can do about an error; each front end words these in its own terms."""

    #: supply pretrained weights: import a file once, or point at one for this job
    SUPPLY_WEIGHTS = "supply_weights"
    #: supply a dataset file (MNIST, CIFAR-10) that cannot be downloaded here
    SUPPLY_DATASET = "supply_dataset"
    #: the output exists: choose another name or allow replacing it
    OVERWRITE = "overwrite"
    #: a run folder holds another run: choose another folder or the same settings
    OTHER_RUN_FOLDER = "other_run_folder"
    #: a frames folder holds another motion job's frames: choose another folder
    OTHER_FRAMES_FOLDER = "other_frames_folder"
    #: the job would not fit in memory: use the smaller size in ``details["size"]``
    SMALLER_SIZE = "smaller_size"
    #: a video job would take too long: the smaller size in ``details["size"]`` or the
    #: frame limit in ``details["frames"]`` (its parameter: ``details["frames_param"]``)
    #: brings it under; ``details["own_size"]`` is the size as it is (to go ahead)
    LONG_JOB = "long_job"
    #: a weights file named for a job is not there: choose ImageNet, untrained or a file
    CHOOSE_WEIGHTS = "choose_weights"


class StudioError(Exception):
    """Base class: an error whose message is fit for the user to read.

    ``StudioError("steps 0 must be at least 1", param="steps")``; subclasses add their own
    fields. ``str(error)`` is the message without any front end's advice.
    """

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        remedy: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.remedy = remedy
        self.details = details

    def __reduce__(self):  # keep the fields across pickling (multiprocessing, workers)
        state = dict(self.__dict__)
        return (_rebuild, (type(self), self.message, self.param, self.remedy, self.details), state)


def _rebuild(cls: type, message: str, param: str | None, remedy: str | None, details: dict):
    error = cls.__new__(cls)
    StudioError.__init__(error, message, param=param, remedy=remedy, **details)
    return error


class InputError(StudioError, ValueError):
    """A value or file given by the user is not usable (bad value, unreadable image, ...)."""


class ResourceMissingError(StudioError, RuntimeError):
    """Something the job needs is not on this machine (weights, a dataset) and cannot be
    downloaded; the message says which file, its size and where it was looked for, and
    ``remedy`` says how it can be supplied."""


class UnsafeModelError(StudioError, ValueError):
    """A model file was refused because loading it could run code."""
