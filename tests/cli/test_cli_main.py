"""The CLI's contract shared by every job: exit codes and one-line messages."""

from __future__ import annotations

import subprocess
import sys


def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path):
    missing = tmp_path / "missing.png"
    result = subprocess.run(
        [sys.executable, "-m", "cnnstudio", "dream", str(missing), "-o", str(tmp_path / "o.png")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cnnstudio: ") and "missing.png" in lines[0]


def test_unknown_job_and_bad_flag_exit_2_without_usage_dump(capsys):
    from cnnstudio.cli.main import main

    for argv, named in ((["fly"], "fly"), (["dream", "--steps", "many"], "many")):
        try:
            main(argv)
        except SystemExit as exit_:
            assert exit_.code == 2
        else:
            raise AssertionError(f"{argv} did not exit")
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert len(lines) == 1, captured.err  # one line: no usage dump
        assert lines[0].startswith("cnnstudio: ") and named in lines[0], lines[0]
        assert "usage" not in captured.err.lower() and captured.out == ""


def test_every_job_has_the_common_flags_with_one_meaning():
    """-q/--quiet, --overwrite and --seed on every job that makes something, from the one
    helper (cli/options.add_common_flags): the same flags, the same help text."""
    import argparse

    from cnnstudio.cli import options
    from cnnstudio.cli.main import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps: dict[str, set[str]] = {"--quiet": set(), "--overwrite": set(), "--seed": set()}
    for job in ("train", "classify", "visualize", "dream", "style"):
        actions = {
            option: action
            for action in subparsers.choices[job]._actions
            for option in action.option_strings
        }
        assert actions["-q"] is actions["--quiet"], job
        for flag in helps:
            assert flag in actions, f"{job} has no {flag}"
            helps[flag].add(actions[flag].help.split(" (default")[0])
        assert actions["--seed"].type is int
    assert helps["--quiet"] == {options.QUIET_HELP}
    assert helps["--overwrite"] == {options.OVERWRITE_HELP.split(" (default")[0]}
    assert helps["--seed"] == {options.SEED_HELP.split(" (default")[0]}
