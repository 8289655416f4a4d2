"""core/files.py: untrusted files are read within limits, writes are atomic."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from cnnstudio.core import files
from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.files import OutputExistsError


def test_reads_a_regular_file_within_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"{}")
    assert files.read_bytes(path, 10, what="sidecar") == b"{}"


def test_refuses_a_file_over_the_limit_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(InputError, match=r"sidecar big.json: is .* more than the limit"):
        files.read_bytes(path, 1000, what="sidecar")


def test_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "m.keras"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"model file m.keras: is a named pipe \(FIFO\)"):
        files.read_bytes(fifo, 1000, what="model file")


def test_refuses_dev_zero_behind_a_symlink(tmp_path: Path) -> None:
    link = tmp_path / "m.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="m.json: is a device"):
        files.open_regular(link)


def test_names_a_symlink_loop_and_a_dangling_link(tmp_path: Path) -> None:
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="loop of symbolic links"):
        files.check_regular_file(loop)
    dangling = tmp_path / "gone.png"
    dangling.symlink_to(tmp_path / "nothing.png")
    with pytest.raises(InputError, match="symbolic link to a file that does not exist"):
        files.check_regular_file(dangling)


def test_atomic_write_gives_the_umask_mode_and_keeps_an_old_files_mode(tmp_path: Path) -> None:
    old_mask = os.umask(0o027)
    os.umask(old_mask)
    path = tmp_path / "out.csv"
    files.write_bytes(path, b"a")
    assert stat.S_IMODE(path.stat().st_mode) == files.new_file_mode()
    path.chmod(0o640)
    files.write_bytes(path, b"b", overwrite=True)
    assert path.read_bytes() == b"b"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_atomic_write_never_replaces_a_file_that_appeared(tmp_path: Path) -> None:
    path = tmp_path / "result.png"
    with pytest.raises(OutputExistsError) as info:
        with files.atomic_write(path) as handle:
            handle.write(b"new")
            path.write_bytes(b"theirs")  # another writer got there first
    assert path.read_bytes() == b"theirs"
    assert info.value.remedy == Remedy.OVERWRITE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(b"old")
    with pytest.raises(InputError, match="model.json: the disk is full"):
        with files.atomic_write(path, overwrite=True) as handle:
            handle.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_output_check_refuses_before_the_job(tmp_path: Path) -> None:
    existing = tmp_path / "a.png"
    existing.write_bytes(b"x")
    with pytest.raises(OutputExistsError):
        files.check_output_file(existing)
    assert files.check_output_file(existing, overwrite=True) == existing
    with pytest.raises(InputError, match="is a folder"):
        files.check_output_file(tmp_path)
    with pytest.raises(InputError, match=r"cannot save as '\.txt'"):
        files.check_output_file(tmp_path / "a.txt", suffixes=(".png",))
    # a missing folder is fine (it is created); a file in the way of the folder is not
    assert files.check_output_file(tmp_path / "new" / "deeper" / "b.png")
    with pytest.raises(InputError, match="is a file, not a folder"):
        files.check_output_file(existing / "b.png")


def test_output_check_refuses_a_read_only_folder(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    real_access = os.access
    # root may write anywhere, so ask os.access what a normal user would be told
    monkeypatch.setattr(
        files.os, "access", lambda p, mode: False if Path(p) == folder else real_access(p, mode)
    )
    with pytest.raises(InputError, match=r"folder .*ro is read-only for you"):
        files.check_output_file(folder / "x.png")
    with pytest.raises(InputError, match="read-only"):
        files.check_output_file(folder / "missing" / "x.png")
