"""Batches: files and folders to one result each (broken files included), the job the
Classify tab drives (ImageNet weights downloaded first), the CSV export."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from classify_data import COLOUR_NAMES, SIZE, colour_patches, save_png

from cnnstudio.core import backbones, image_saving, images, library, paths
from cnnstudio.core.classify import batch
from cnnstudio.core.classify.classifier import Classifier, load_classifier, weights_download_events
from cnnstudio.core.classify.params import ClassifyResult, Prediction
from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Progress
from cnnstudio.core.files import OutputExistsError


def test_library_model_trained_on_generated_data_classifies_files_and_folders(
    tmp_path, nested_colour_model
):
    entry = library.save_to_library(
        nested_colour_model,
        "patches",
        {
            "recipe": "test",
            "dataset": "colour patches",
            "class_names": COLOUR_NAMES,
            "input_size": [SIZE, SIZE],
            "channels": 3,
            "preprocessing": "none",
        },
    )
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    x, y, _ = colour_patches(10, seed=42)
    expected = {}
    for i in range(10):
        target = folder / ("sub" if i % 2 else "") / f"img{i:02d}.png"
        expected[save_png(target, x[i])] = COLOUR_NAMES[y[i]]
    (folder / "notes.txt").write_text("not an image")  # not an image suffix: skipped
    (folder / "empty.png").write_bytes(b"")
    (folder / "broken.jpg").write_text("this is not a jpeg")
    good = images.load_image(next(iter(expected)))
    truncated = tmp_path / "truncated.png"
    image_saving.save_image(truncated, images.resize_to(good, 64, 64))
    truncated.write_bytes(truncated.read_bytes()[:120])

    for spec in (entry, "patches", str(entry.path)):
        classifier = load_classifier(spec)
        assert classifier.class_names == COLOUR_NAMES
        assert classifier.input_size == (SIZE, SIZE) and classifier.preprocessing == "none"

    results = list(batch.classify_paths(classifier, [folder, truncated], top_k=2, batch_size=4))
    files = [r.file for r in results]
    assert len(results) == 13 and str(folder / "notes.txt") not in files
    assert [r.index for r in results] == list(range(13))
    errors = {os.path.basename(r.file): r.error for r in results if not r.ok}
    assert set(errors) == {"empty.png", "broken.jpg", "truncated.png"}
    assert all(name in message for name, message in errors.items())
    for result in results:
        if result.ok:
            assert result.top.label == expected[result.file], result.file
            assert len(result.predictions) == 2
            assert result.thumbnail.dtype == np.uint8 and max(result.thumbnail.shape) <= 96

    out = batch.write_csv(results, tmp_path / "results.csv")
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["file", "label_1", "probability_1", "label_2", "probability_2", "error"]
    assert len(rows) == 14
    broken_row = next(row for row in rows if row[0].endswith("broken.jpg"))
    assert broken_row[1] == "" and "broken.jpg" in broken_row[-1]
    ok_dicts = [r.to_dict() for r in results if r.ok]
    assert set(ok_dicts[0]) == {"file", "predictions"}
    assert set(ok_dicts[0]["predictions"][0]) == {"label", "probability"}


def test_classify_job_reports_each_file_and_returns_the_results(tmp_path, nested_colour_model):
    x, _, _ = colour_patches(3, seed=9)
    files = [save_png(tmp_path / f"{i}.png", x[i]) for i in range(3)]
    (tmp_path / "bad.png").write_text("nope")
    classifier = Classifier(nested_colour_model, COLOUR_NAMES, (SIZE, SIZE), name="t")
    job = batch.classify_job("t", files + [str(tmp_path / "bad.png")], classifier=classifier)
    events = []
    try:
        while True:
            events.append(next(job))
    except StopIteration as stop:
        returned = stop.value
    progress = [e for e in events if isinstance(e, Progress)]
    results = [e for e in events if isinstance(e, ClassifyResult)]
    assert [p.step for p in progress] == [1, 2, 3, 4] and progress[-1].total == 4
    assert results == returned and [r.ok for r in results] == [True, True, True, False]
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(InputError, match="no image files"):
        next(batch.classify_job("t", [str(tmp_path / "empty-folder")], classifier=classifier))


def test_classify_job_downloads_the_imagenet_weights_first(tmp_path, fake_weights_download):
    from cnnstudio.core.events import DownloadProgress, Notice

    # stands in for the official file: a MobileNetV2 with its top and random weights
    original = backbones.build_backbone_uncached("mobilenet_v2", "random", include_top=True)
    saved = tmp_path / "mobilenet_top.weights.h5"
    original.save_weights(saved)
    payload = saved.read_bytes()
    requested = fake_weights_download(payload)
    picture = save_png(tmp_path / "pic.png", images.noise_image(64, 48, seed=2))
    info = backbones.get_backbone("mobilenet_v2")
    try:
        events = []
        job = batch.classify_job("mobilenet_v2", [picture], top_k=3, weights="imagenet")
        try:
            while True:
                events.append(next(job))
        except StopIteration as stop:
            returned = stop.value
        assert requested == [info.weights_url(True)]  # the file with the classifier top
        kinds = [type(e).__name__ for e in events]
        at = [i for i, kind in enumerate(kinds) if kind == "DownloadProgress"]
        first, last = at[0], at[-1] + 1
        # the download comes after the first "Loading" notice and before the model exists
        assert kinds[0] == "Notice" and first == 1
        assert set(kinds[first:last]) == {"DownloadProgress"}
        assert kinds[last:] == ["Notice", "ClassifierReady", "ClassifyResult", "Progress"]
        downloads = [e for e in events if isinstance(e, DownloadProgress)]
        received = [e.received for e in downloads]
        assert received == sorted(received) and len(downloads) >= 2  # several chunks
        assert downloads[-1].received == downloads[-1].total == len(payload)
        assert downloads[-1].file_name == info.weights_file(True)
        assert isinstance(events[last], Notice)
        # then it goes on: the downloaded weights are the ones that classified
        ready = events[last + 1].classifier
        assert not ready.untrained and ready.model.outputs[0].shape[-1] == 1000
        weights = ready.model.get_weights()
        assert all(
            np.array_equal(a, b) for a, b in zip(weights, original.get_weights(), strict=True)
        )
        assert len(returned) == 1 and returned[0].ok and len(returned[0].predictions) == 3
        cached = paths.keras_cache_dir() / "models" / info.weights_file(True)
        assert cached.read_bytes() == payload
        # here now: a second job downloads nothing
        again = list(weights_download_events("mobilenet_v2", "imagenet"))
        assert again == [] and len(requested) == 1
        # library models and other weight sources never download
        assert list(weights_download_events("mobilenet_v2", "random")) == []
        assert list(weights_download_events(str(tmp_path / "m.keras"))) == []
    finally:
        backbones.clear_model_cache()  # the "imagenet" model must not reach other tests


def test_csv_is_written_whole_and_replaces_a_file_only_when_asked(tmp_path):
    results = [
        ClassifyResult("a.png", (Prediction("cat", 0.75, 0), Prediction("dog", 0.25, 1))),
        ClassifyResult("b.png", error="b.png: not an image"),
    ]
    out = tmp_path / "results.csv"
    out.write_text("precious")
    with pytest.raises(OutputExistsError):
        batch.write_csv(results, out)
    assert out.read_text() == "precious"
    assert batch.write_csv(results, out, {"a.png": "no heat map"}, overwrite=True) == out
    assert list(csv.reader(out.open(encoding="utf-8", newline=""))) == [
        ["file", "label_1", "probability_1", "label_2", "probability_2", "error", "gradcam_error"],
        ["a.png", "cat", "0.750000", "dog", "0.250000", "", "no heat map"],
        ["b.png", "", "", "", "", "b.png: not an image", ""],
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]  # no temporary left
