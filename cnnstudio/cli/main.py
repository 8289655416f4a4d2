"""``cnnstudio JOB ...``: argument parsing, progress on stderr, exit codes.

Exit 0 on success; 2 with a one-line message on bad input (a StudioError, a bad flag);
1 on an unexpected failure; 141 (128 + SIGPIPE), quietly, when the reader of stdout went
away (``| head``), as a Unix tool killed by SIGPIPE. Each job lives in its own module with ``add_parser(subparsers)``
and ``run(args) -> int`` (and ``USES_TENSORFLOW = False`` if it never needs TensorFlow).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys

from cnnstudio import __version__
from cnnstudio.cli import messages
from cnnstudio.cli.text import printable
from cnnstudio.core.errors import StudioError

#: job name -> module under cnnstudio.cli that implements it
JOBS = {
    "dream": "cnnstudio.cli.dream_cmd",
    "style": "cnnstudio.cli.style_cmd",
    "style-train": "cnnstudio.cli.style_train_cmd",
    "import-weights": "cnnstudio.cli.weights_cmd",
    "classify": "cnnstudio.cli.classify_cmd",
    "train": "cnnstudio.cli.train_cmd",
    "models": "cnnstudio.cli.models_cmd",
    "runs": "cnnstudio.cli.runs_cmd",
    "visualize": "cnnstudio.cli.visualize_cmd",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"cnnstudio: {printable(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnnstudio", description="CNN Studio jobs from the command line.")
    parser.add_argument("--version", action="version", version=f"cnnstudio {__version__}")
    subparsers = parser.add_subparsers(dest="job", required=True, parser_class=_Parser)
    for module_name in JOBS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def _never_fail_to_print() -> None:
    """Whatever the terminal's encoding, printing never raises: a character it cannot
    show is written as an escape (file names are escaped before that, see cli.text)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _never_fail_to_print()
    args = build_parser().parse_args(argv)
    module = importlib.import_module(JOBS[args.job])
    try:
        if getattr(module, "USES_TENSORFLOW", True):
            # quietly, and before the job can touch a GPU (memory growth)
            from cnnstudio.core.device import start_tensorflow

            start_tensorflow()
        code = module.run(args)
        sys.stdout.flush()  # a reader gone away shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except StudioError as error:
        print(f"cnnstudio: {printable(messages.describe(error))}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a read-only folder: the user's to fix
        from cnnstudio.core.files import os_error_message

        message = os_error_message(error)
        if message is None:
            return _unexpected(error)
        print(f"cnnstudio: {printable(message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnnstudio: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: say what happened, keep the terminal readable
        return _unexpected(error)


#: the exit status of a process killed by SIGPIPE, as a shell reports it
PIPE_CLOSED = 128 + 13


def _reader_gone() -> int:
    """stdout's reader closed the pipe (``cnnstudio models list --json | head -1``):
    nothing more can be said there, and nothing is wrong. As Python's documentation of
    SIGPIPE advises, what is still buffered for stdout goes to devnull, so the flush at
    exit raises no second BrokenPipeError."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return PIPE_CLOSED


def _unexpected(error: Exception) -> int:
    text = printable(f"{type(error).__name__}: {error}")
    print(f"cnnstudio: unexpected error: {text}", file=sys.stderr)
    if os.environ.get("CNNSTUDIO_DEBUG"):
        raise error
    return 1
