"""Full disks and kills at the save (issue 10, bug 2): the old files stay whole, no half
file ever appears under a final name, and the user reads one line (exit 2)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from fault_tools import tiny_model, tiny_model_file

from cnnstudio.cli.main import main
from cnnstudio.core import files, image_saving, library, paths, stale_files
from cnnstudio.core.classify.batch import write_csv
from cnnstudio.core.classify.params import ClassifyResult
from cnnstudio.core.errors import InputError

pytestmark = pytest.mark.faults

FULL = "the disk is full; free some space and save again"


def _disk_full_at_sync(monkeypatch):
    """ENOSPC where a full disk reports it last, when the written data is synced: every
    atomic write syncs before it moves its file into place."""

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return tiny_model_file(folder / "old.keras", 3), tiny_model_file(folder / "new.keras", 4)


def test_full_disk_on_export_keeps_the_old_pair(model_files, tmp_path, monkeypatch, capsys):
    old, new = model_files
    dest = tmp_path / "out"
    dest.mkdir()
    shutil.copyfile(old, dest / "m.keras")
    library.write_sidecar(dest / "m.keras", {"recipe": "old"})
    before = _snapshot(dest)
    shutil.copyfile(new, paths.library_dir() / "m.keras")
    _disk_full_at_sync(monkeypatch)
    assert main(["models", "export", "m", str(dest), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and FULL in err and "cannot write" in err
    assert _snapshot(dest) == before  # the old pair, whole; and no temporary file left
    assert not library.resolve_model(dest / "m.keras").damaged


def test_full_disk_on_import_and_save_leaves_no_entry(model_files, monkeypatch, capsys):
    old, _ = model_files
    _disk_full_at_sync(monkeypatch)
    assert main(["models", "import", str(old)]) == 2
    assert FULL in capsys.readouterr().err
    with pytest.raises(InputError, match=FULL):
        library.save_to_library(tiny_model(), "saved", {"recipe": "x"})
    assert os.listdir(paths.library_dir()) == []


def test_keras_failing_half_way_leaves_nothing(tmp_path):
    """model.save itself hits the full disk after writing part of the file."""

    class HalfSaved:
        def save(self, path):
            Path(path).write_bytes(b"PK\x03\x04 half a model")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    target = tmp_path / "m.keras"
    target.write_bytes(b"the old model")
    with pytest.raises(InputError, match=f"cannot write .*m.keras: {FULL}"):
        library.save_model_files(HalfSaved(), target, {}, overwrite=True)
    assert os.listdir(tmp_path) == ["m.keras"] and target.read_bytes() == b"the old model"


def test_full_disk_on_pictures_and_csv_keeps_the_old_files(tmp_path, monkeypatch):
    picture = tmp_path / "p.png"
    picture.write_bytes(b"old picture")
    table = tmp_path / "t.csv"
    table.write_bytes(b"old table")
    _disk_full_at_sync(monkeypatch)
    with pytest.raises(InputError, match=f"p.png: {FULL}"):
        image_saving.save_image(picture, np.zeros((4, 4, 3), np.uint8), {}, overwrite=True)
    with pytest.raises(InputError, match=f"t.csv: {FULL}"):
        write_csv([ClassifyResult("x.png", error="e")], table, overwrite=True)
    assert _snapshot(tmp_path) == {"p.png": b"old picture", "t.csv": b"old table"}


_TMPFS_SCRIPT = textwrap.dedent(
    """
    import os, shutil, sys
    from cnnstudio.core import library, paths
    from cnnstudio.core.errors import InputError
    source = sys.argv[1]
    folder = paths.library_dir()
    shutil.copyfile(source, folder / "kept.keras")
    library.write_sidecar(folder / "kept.keras", {"recipe": "kept"})
    filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk...
    try:
        while True:
            os.write(filler, b"x" * 4096)
    except OSError:
        os.close(filler)
    os.truncate(folder / "filler", os.path.getsize(folder / "filler") - 4096)  # ...but 4 KB
    before = {p: open(folder / p, "rb").read() for p in sorted(os.listdir(folder))}
    try:
        library.export_model(library.find_model("kept"), folder / "copy.keras")
    except InputError as error:
        print("MESSAGE", error)
    after = {p: open(folder / p, "rb").read() for p in sorted(os.listdir(folder))}
    print("INTACT", before == after)
    print("ENTRIES", [(e.name, e.damaged) for e in library.list_models()])
    """
)


def test_full_disk_on_a_real_small_tmpfs(model_files, tmp_path):
    """A real full disk, where the machine lets us mount a small tmpfs (a private mount
    namespace: unshare needs user namespaces or root)."""
    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "fill.py"
    script.write_text(_TMPFS_SCRIPT)
    shell = (
        f"mount -t tmpfs -o size=128k tmpfs {home} && "
        f"CNNSTUDIO_HOME={home} {sys.executable} {script} {model_files[0]}"
    )
    probe = f"mount -t tmpfs -o size=128k tmpfs {home} && echo mounted"
    try:
        mounted = subprocess.run(
            ["unshare", "-rm", "sh", "-c", probe], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError:
        pytest.skip("no unshare here to mount a private tmpfs (the injected ENOSPC tests run)")
    if mounted.stdout.strip() != "mounted":
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:120]}); the "
                    "injected ENOSPC tests cover the path")  # fmt: skip
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", shell], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert "copy.keras" in lines["MESSAGE"] and FULL in lines["MESSAGE"], done.stdout
    assert lines["INTACT"] == "True"
    assert lines["ENTRIES"] == "[('kept', '')]"


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from cnnstudio.core import files, library, model_pair
    stage, source, dest = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    def pause():
        print("ready", flush=True)
        time.sleep(600)

    if stage == "mid-copy":
        def copier(src):
            def copy(temp):
                data = src.read_bytes()
                Path(temp).write_bytes(data[: len(data) // 2])
                pause()
            return copy
        model_pair.copier = copier
    else:
        placed = []
        real_place = files.place_file
        def place(temp, path, *, overwrite=False):
            placed.append(path)
            if len(placed) == {"before-sidecar": 1, "between-files": 2}[stage]:
                pause()
            return real_place(temp, path, overwrite=overwrite)
        files.place_file = place
    if dest.name == "new.keras":  # a new library entry, as Save to library writes one
        model_pair.write_pair(dest, model_pair.copier(source), {"recipe": "new"}, overwrite=False)
    else:
        library.export_model(library.find_model("src"), dest, overwrite=True)
    """
)


@pytest.mark.parametrize("stage", ["mid-copy", "before-sidecar", "between-files"])
@pytest.mark.timeout(60)
def test_kill_9_at_the_save_never_leaves_a_mixed_or_half_pair(model_files, tmp_path, stage):
    old, new = model_files
    shutil.copyfile(new, paths.library_dir() / "src.keras")
    library.write_sidecar(paths.library_dir() / "src.keras", {"recipe": "src"})
    dest = tmp_path / "out" / "m.keras"
    dest.parent.mkdir()
    shutil.copyfile(old, dest)
    library.write_sidecar(dest, {"recipe": "old"})
    before = _snapshot(dest.parent)
    script = tmp_path / "kill.py"
    script.write_text(_KILL_SCRIPT)

    def run_and_kill(target: Path) -> None:
        child = subprocess.Popen(
            [
                sys.executable,
                str(script),
                stage,
                str(paths.library_dir() / "src.keras"),
                str(target),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        assert child.stdout.readline().strip() == "ready"  # paused at the chosen point
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL

    run_and_kill(dest)
    visible = {n: b for n, b in _snapshot(dest.parent).items() if not n.startswith(".")}
    if stage == "between-files":
        # the new sidecar is in place, the old model not yet replaced: read as damaged
        assert visible["m.keras"] == before["m.keras"]
        assert json.loads(visible["m.json"])["recipe"] == "src"
        entry = library.resolve_model(dest)
        assert "written for another version of m.keras" in entry.damaged
        with pytest.raises(InputError, match="cannot be used"):
            library.load_model_file(dest)
    else:
        assert visible == before  # the old pair, byte for byte
        assert not library.resolve_model(dest).damaged
    # a new entry killed at any point is not listed: nothing or the whole pair
    run_and_kill(paths.library_dir() / "new.keras")
    assert [e.name for e in library.list_models()] == ["src"]


def test_saved_files_get_the_umask_mode_and_overwrite_keeps_the_old_mode(model_files, tmp_path):
    """Temporary files are made 0600; what is moved into place is not (bug 9)."""
    umask_mode = files.new_file_mode()  # 0o666 less the umask (0644 for 022)
    picture = image_saving.save_image(tmp_path / "p.png", np.zeros((4, 4, 3), np.uint8), {})
    exported = library.export_model(_entry(model_files[0]), tmp_path / "e.keras")
    table = write_csv([ClassifyResult("x.png", error="e")], tmp_path / "t.csv")
    for path in (picture, exported, library.sidecar_path(exported), table):
        assert stat.S_IMODE(path.stat().st_mode) == umask_mode, path
    if umask_mode != 0o600:
        assert stat.S_IMODE(picture.stat().st_mode) != 0o600
    picture.chmod(0o640)
    image_saving.save_image(picture, np.ones((4, 4, 3), np.uint8), {}, overwrite=True)
    assert stat.S_IMODE(picture.stat().st_mode) == 0o640
    exported.chmod(0o604)
    library.export_model(_entry(model_files[1]), exported, overwrite=True)
    assert stat.S_IMODE(exported.stat().st_mode) == 0o604


def _entry(model_file: Path) -> library.ModelEntry:
    target = paths.library_dir() / f"{model_file.stem}.keras"
    shutil.copyfile(model_file, target)
    return library.find_model(model_file.stem)


def test_a_mixed_pair_of_one_size_is_never_listed_as_valid(model_files, tmp_path, monkeypatch):
    """Between the two renames of an overwrite a reader finds the new sidecar with the old
    model; when both models were of one size (a network trained again), ``models list``
    showed that entry as valid, with the new sidecar's details (review item 10)."""
    from cnnstudio.core import model_pair

    old = model_files[0]
    data = bytearray(old.read_bytes())
    data[len(data) // 2] ^= 0xFF  # another model of the very same size
    same_size = tmp_path / "retrained.keras"
    same_size.write_bytes(bytes(data))
    target = paths.library_dir() / "m.keras"
    model_pair.write_pair(target, model_pair.copier(old), {"recipe": "old"}, overwrite=False)
    seen = []
    real_place = files.place_file

    def place(temp, path, *, overwrite=False):
        if Path(path) == target:  # the sidecar is in place, the model not yet
            seen.append(library.list_models()[0])
        return real_place(temp, path, overwrite=overwrite)

    monkeypatch.setattr(files, "place_file", place)
    model_pair.write_pair(target, model_pair.copier(same_size), {"recipe": "new"}, overwrite=True)
    monkeypatch.setattr(files, "place_file", real_place)
    (mixed,) = seen
    assert mixed.damaged and "written for another version of m.keras" in mixed.damaged
    assert mixed.meta.get("recipe") != "new"
    (entry,) = library.list_models()
    assert not entry.damaged and entry.meta["recipe"] == "new"

    # listing a pair whose stamp matches reads no model file (cheap); a library copied
    # elsewhere (other inodes) is hashed once, and stays valid
    def no_reading(path):
        raise AssertionError(f"{path} was hashed")

    with monkeypatch.context() as patch:
        patch.setattr(model_pair, "digest", no_reading)
        assert not library.list_models()[0].damaged
    copy = paths.library_dir() / "copy.keras"
    shutil.copyfile(target, copy)
    shutil.copyfile(library.sidecar_path(target), library.sidecar_path(copy))
    hashed = []
    real_digest = model_pair.digest
    monkeypatch.setattr(model_pair, "digest", lambda p: hashed.append(p) or real_digest(p))
    for _ in range(2):
        assert [(e.name, e.damaged) for e in library.list_models()] == [("copy", ""), ("m", "")]
    assert hashed == [copy]


def test_temporary_files_of_killed_saves_are_swept_when_stale(model_files, tmp_path):
    """kill -9 during a save left .NAME.keras.XXXXXXXX.keras in the library or the export
    folder for ever (review item 11): listing or writing there removes ours once they
    have not changed for 15 minutes, and nothing else."""
    library_dir = paths.library_dir()
    export_dir = tmp_path / "exports"
    export_dir.mkdir()
    old_time = time.time() - stale_files.STALE_TEMPORARY_SECONDS - 60
    kept_names = [
        ".m.keras.fresh123.keras",  # a save under way (just written)
        ".notes.20240101.part",  # not a name of ours: no .keras or .json before it
        "m.keras.abcd1234.keras",  # not hidden
        ".m.keras.abcd1234.png",  # the wrong suffix
        ".m.keras.ABCD1234.keras",  # not mkstemp's characters
    ]
    for folder in (library_dir, export_dir):
        for name in [".m.keras.abcd1234.keras", ".m.json.a_c9d12x.part", *kept_names]:
            (folder / name).write_bytes(b"half a model")
            if name != ".m.keras.fresh123.keras":
                os.utime(folder / name, (old_time, old_time))
        link = folder / ".l.keras.linkto12.keras"
        link.symlink_to(folder / "m.keras.abcd1234.keras")
        os.utime(link, (old_time, old_time), follow_symlinks=False)
        kept_names_here = {*kept_names, link.name}
        if folder == library_dir:
            assert [e.name for e in library.list_models()] == ["m.keras.abcd1234"]
        else:
            library.export_model(_entry(model_files[0]), export_dir / "e.keras")
            kept_names_here |= {"e.keras", "e.json"}
        assert {p.name for p in folder.iterdir()} == kept_names_here, folder
