"""The dataset survey before training: counts by listing, a bounded sample opened, arrays
counted from their labels, and the text the command line prints."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnstudio.core import images
from cnnstudio.core.errors import InputError
from cnnstudio.core.training import survey


def _run(generator):
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return stop.value, events


def test_a_large_folder_is_counted_by_listing_and_only_a_sample_is_opened(tmp_path, monkeypatch):
    """A folder of many pictures must not take long: every file is counted, but only
    CHECK_LIMIT of them (spread over the classes) are opened."""
    counts = {"cats": 900, "dogs": 300, "owls": 20}  # owls: all opened
    for name, count in counts.items():
        (tmp_path / name / "inner").mkdir(parents=True)
        for i in range(count):
            (tmp_path / name / ("inner" if i % 2 else "") / f"{i}.png").touch()
    (tmp_path / "cats" / ".hidden.png").touch()
    (tmp_path / "cats" / "notes.txt").touch()
    Image.new("RGB", (30, 20), (250, 0, 0)).save(tmp_path / "owls" / "0.png")
    opened: list[str] = []
    real_load = images.load_image

    def counting_load(path, max_side=None):
        opened.append(str(path))
        return real_load(path, max_side=max_side)

    monkeypatch.setattr(survey, "CHECK_LIMIT", 60)
    monkeypatch.setattr(survey.images, "load_image", counting_load)
    found, events = _run(survey.survey(tmp_path))
    assert found.class_names == ["cats", "dogs", "owls"]
    assert found.counts == [900, 300, 20] and found.total == 1220
    assert len(opened) == 60 == found.checked  # 20 a class: a bounded sample
    assert len(set(opened)) == 60
    assert len(found.unreadable) == 59  # the empty files opened; the red owl is fine
    assert [len(s) for s in found.samples] == [0, 0, 1]
    assert found.samples[2][0].shape == (32, 48, 3)  # a thumbnail, longest side 48
    assert "59 unreadable files among 60 of 1220 files (a sample)" in found.lines()
    assert found.balance == pytest.approx(20 / 900)
    assert "unbalanced" in survey.balance_text(found.balance)
    assert events and all(e.total >= e.step for e in events)
    grid = found.sample_grid()
    assert grid.shape == (3 * 50, survey.SAMPLES_PER_CLASS * 50, 3)


def test_arrays_are_counted_from_their_labels():
    rng = np.random.default_rng(0)
    y = np.array([0] * 50 + [1] * 25 + [2] * 25)
    arrays = {"x_train": rng.integers(0, 255, (100, 28, 28), dtype=np.uint8), "y_train": y}
    arrays["y_test"] = np.array([0, 1, 2, 2])
    found = survey._survey_arrays("digits.npz", arrays, ["a", "b", "c"], seed=0)
    assert found.counts == [50, 25, 25] and found.test_counts == [1, 1, 2]
    assert [len(s) for s in found.samples] == [8, 8, 8]
    assert found.samples[0][0].shape == (48, 48, 3)  # grey arrays become RGB thumbnails
    lines = found.lines()
    assert lines[0] == "digits.npz: 100 training images in 3 classes"
    assert lines[1].split()[:3] == ["a", "50", "50.0%"] and lines[1].endswith("#" * 30)
    assert lines[-2] == "balance: the smallest class has 50% of the images of the largest"


def test_a_folder_without_class_folders_is_refused(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(InputError, match="one subfolder per class"):
        _run(survey.survey(tmp_path))
