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
