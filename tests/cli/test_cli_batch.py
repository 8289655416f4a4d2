"""Batch over a folder from the command line: ``cnnstudio dream FOLDER -o OUT`` and
``cnnstudio style FOLDER STYLE -o OUT``: every picture with the same parameters, saved
with them as they finish, unreadable files listed and skipped, a re-run skipping the
results there already unless --overwrite."""

from __future__ import annotations

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import batch, image_saving, images
from cnnstudio.core.events import Preview, Progress

FAST = ["--weights", "random", "--steps", "1", "--octaves", "1", "--tile-size", "80"]
FAST += ["--jitter", "0", "--seed", "1", "--max-size", "80"]


@pytest.fixture
def folder(tmp_path):
    pictures = tmp_path / "in"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        image_saving.save_image(pictures / name, rng.integers(0, 256, (60, 80, 3), dtype=np.uint8))
    (pictures / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (pictures / "notes.txt").write_text("not a picture")
    (pictures / ".hidden.png").write_bytes(b"")
    return pictures


def test_dream_a_folder_then_again_skips_what_is_done(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["dream", str(folder), "-o", str(out), *FAST]) == 0
    made = sorted(p.name for p in out.iterdir())
    assert made == ["a-dream.png", "b-dream.png"]
    meta = images.read_params(out / "b-dream.png")
    assert meta["job"] == "dream" and meta["source"] == "b.jpg"
    assert meta["params"]["steps"] == 1
    err = capsys.readouterr().err
    assert "skipped broken.png" in err
    assert "batch done" in err and "2 saved, 1 skipped" in err

    before = (out / "a-dream.png").stat().st_mtime_ns
    assert main(["dream", str(folder), "-o", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "2 result(s)" in err and "already" in err and "0 saved" in err
    assert (out / "a-dream.png").stat().st_mtime_ns == before
    assert main(["dream", str(folder), "-o", str(out), *FAST, "--overwrite"]) == 0
    assert "2 saved" in capsys.readouterr().err


def test_style_a_folder(folder, tmp_path):
    style = image_saving.save_image(tmp_path / "s.png", np.full((40, 40, 3), 200, np.uint8))
    out = tmp_path / "styled"
    args = ["style", str(folder), str(style), "-o", str(out), "--weights", "random"]
    assert main([*args, "--size", "48", "--steps", "1", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a-style.png", "b-style.png"]
    meta = images.read_params(out / "a-style.png")
    assert meta["content"] == "a.png" and meta["styles"] == ["s.png"]


def test_a_folder_with_nothing_readable_is_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.png").write_bytes(b"nope")
    assert main(["dream", str(empty), "-o", str(tmp_path / "o"), *FAST]) == 2
    assert "no picture of" in capsys.readouterr().err


def test_stop_keeps_what_is_done_and_names_collide_safely(folder, tmp_path):
    image_saving.save_image(folder / "a.jpg", np.zeros((20, 20, 3), np.uint8))
    plan = batch.plan_batch(folder, tmp_path / "o", "-x")
    assert [i.output.name for i in plan.items] == [
        "a_jpg-x.png", "a_png-x.png", "b-x.png", "broken-x.png",
    ]  # fmt: skip
    assert [p.name for p in plan.ignored] == ["notes.txt"]

    def job(image, item):
        yield Progress(1, 2, 0.5)
        yield Preview(image, 1, 2)
        yield Progress(2, 2, 0.1)
        return image

    run = batch.run_batch(plan, job, lambda item, result: {"job": "test"})
    events = []
    for event in run:
        events.append(event)
        if isinstance(event, batch.BatchSaved) and event.index == 2:
            run.close()  # Stop after the second picture
            break
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a_jpg-x.png", "a_png-x.png"]
    fractions = [e.done for e in events if isinstance(e, Progress)]
    assert fractions == [0.125, 0.25, 0.375, 0.5]  # over the whole batch of 4
    again = batch.plan_batch(folder, tmp_path / "o", "-x")
    assert [i.output.name for i in again.items] == ["b-x.png", "broken-x.png"]


def test_results_into_the_same_folder_are_not_taken_as_pictures(folder):
    image_saving.save_image(folder / "a-dream.png", np.zeros((20, 20, 3), np.uint8))
    plan = batch.plan_batch(folder, folder, "-dream")
    assert [i.source.name for i in plan.items] == ["b.jpg", "broken.png"]
    assert [i.source.name for i in plan.existing] == ["a.png"]
