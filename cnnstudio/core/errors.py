"""Errors a user can cause. Their messages are shown as they are, so each one names the
file or the value and says what to do. The CLI exits 2 on them; the GUI shows them."""

from __future__ import annotations


class StudioError(Exception):
    """Base class: an error whose message is fit for the user to read."""


class InputError(StudioError, ValueError):
    """A value or file given by the user is not usable (bad flag, unreadable image, ...)."""


class ResourceMissingError(StudioError, RuntimeError):
    """Something the job needs is not on this machine (weights, a dataset) and cannot be
    downloaded; the message says which file, its size, where it is looked for and how to
    supply it."""


class UnsafeModelError(StudioError, ValueError):
    """A model file was refused because loading it could run code."""
