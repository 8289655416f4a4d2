"""Every prediction of a run's test set is kept in its folder, so any confusion-matrix
cell opens later: the right images, their Grad-CAM, file paths for class folders, the
validation set on request, and damaged files refused in words."""

from __future__ import annotations

import numpy as np
import pytest
from training_samples import run_config, write_class_folder, write_npz

from cnnstudio.core.errors import InputError
from cnnstudio.core.events import Notice
from cnnstudio.core.training import datasets, explain_run, job
from cnnstudio.core.training import predictions as preds


def _drain(generator):
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return events, stop.value


def _cell_with_images(stored: preds.Predictions) -> tuple[int, int]:
    matrix = stored.confusion()
    off = matrix - np.diag(np.diag(matrix))
    cell = np.unravel_index(np.argmax(off if off.any() else matrix), matrix.shape)
    return int(cell[0]), int(cell[1])


def test_a_cell_opens_its_images_with_gradcam_and_the_validation_set_on_request(tmp_path):
    npz = write_npz(tmp_path / "bands.npz", train=120, test=30)
    run = tmp_path / "run"
    result = job.train(run_config(npz, run, epochs=1, val_split=0.25))
    stored = preds.load_predictions(run, "test")
    assert stored is not None and len(stored) == stored.total == 30
    assert (stored.confusion() == result.done.confusion).all()
    assert "finished after 1 epochs" in stored.model
    assert stored.misclassified == int(
        result.done.confusion.sum() - np.trace(result.done.confusion)
    )

    true, predicted = _cell_with_images(stored)
    rows = stored.cell(true, predicted)
    assert len(rows) == result.done.confusion[true, predicted] > 0
    events, count = _drain(explain_run.cell_job(run, "test", true, predicted, count=5))
    pictures = [e for e in events if isinstance(e, preds.CellPicture)]
    assert count == len(rows) and len(pictures) == min(5, len(rows))
    x_test = np.load(npz)["x_test"]
    for picture, row in zip(pictures, rows, strict=False):
        assert picture.index == stored.index[row]
        assert picture.true == stored.class_names[true]
        assert picture.predicted == stored.class_names[predicted]
        # the picture is the test image itself (grey -> RGB, enlarged 4x for the heat map)
        expected = np.repeat(np.repeat(x_test[picture.index], 4, 0), 4, 1)
        assert picture.image.shape == (112, 112, 3)
        assert (picture.image[..., 0] == expected).all()
        assert picture.overlay is not None and picture.overlay.shape == picture.image.shape
    # without Grad-CAM: the pictures only (no model needed)
    events, _ = _drain(explain_run.cell_job(run, "test", true, predicted, gradcam=False))
    assert all(e.overlay is None for e in events if isinstance(e, preds.CellPicture))

    # the validation set, predicted on request by best.keras, kept for later
    assert preds.available_splits(run) == ["test"]
    _, validation = _drain(explain_run.predictions_job(run, "validation"))
    assert len(validation) == 30 and "best.keras" in validation.model  # 120 * 0.25
    assert preds.available_splits(run) == ["test", "validation"]
    assert (preds.load_predictions(run, "validation").true == validation.true).all()

    # no best model: the pictures come, with the reason there is no heat map
    (run / "checkpoints" / "best.keras").unlink()
    events, _ = _drain(explain_run.cell_job(run, "test", true, predicted, count=2))
    assert any(isinstance(e, Notice) and "best.keras" in e.text for e in events)
    assert [e.overlay for e in events if isinstance(e, preds.CellPicture)] == [None] * min(
        2, len(rows)
    )
    # the dataset changed since: refused in words, not wrong pictures
    np.savez(npz, x_train=x_test, y_train=(stored.true + 1) % 3, x_test=x_test,
             y_test=(stored.true + 1) % 3)  # fmt: skip
    with pytest.raises(InputError, match="changed since the run"):
        _drain(explain_run.cell_job(run, "test", true, predicted, gradcam=False))


def test_class_folder_predictions_keep_the_files(tmp_path):
    folder = write_class_folder(tmp_path / "shapes", per_class=8)
    run = tmp_path / "run"
    job.train(run_config(folder, run, epochs=1))
    assert preds.available_splits(run) == ["validation"]  # a folder's test set is its val
    stored = preds.load_predictions(run, "validation")
    dataset = datasets.load_dataset(folder, image_size=(28, 28), channels=1)
    assert stored.paths == dataset.test_paths and len(stored.paths) == len(dataset.y_test)
    for path, label in zip(stored.paths, dataset.y_test, strict=True):
        assert path.split("/")[0] == "abc"[label]  # the file is of its true class
    true, predicted = _cell_with_images(stored)
    row = stored.cell(true, predicted)[0]
    (folder / stored.paths[row]).unlink()  # a file moved away since the run
    events, _ = _drain(explain_run.cell_job(run, "validation", true, predicted, count=1))
    (missing,) = [e for e in events if isinstance(e, preds.CellPicture)]
    assert missing.image is None and missing.path.endswith(stored.paths[row])
    assert missing.note


def test_damaged_predictions_are_refused_in_words(tmp_path):
    good = preds.Predictions(
        "test", ("a", "b"), np.arange(3), np.array([0, 1, 1]), np.array([0, 0, 1]),
        np.array([0.9, 0.6, 0.8], np.float32), 3, "a model",
    )  # fmt: skip
    preds.save_predictions(tmp_path, good)
    back = preds.load_predictions(tmp_path, "test")
    assert back.confusion().tolist() == [[1, 0], [1, 1]] and back.misclassified == 1
    assert back.cell(1, 1).tolist() == [2] and back.paths == ()
    assert preds.load_predictions(tmp_path, "validation") is None
    path = preds.predictions_path(tmp_path, "test")
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(InputError, match="predictions predictions-test.npz: cannot be read"):
        preds.load_predictions(tmp_path, "test")
    bad = preds.Predictions("test", ("a",), np.arange(2), np.array([0, 5]), np.array([0, 0]),
                            np.ones(2, np.float32), 2, "m")  # fmt: skip
    preds.save_predictions(tmp_path, bad)
    with pytest.raises(InputError, match="out of range"):
        preds.load_predictions(tmp_path, "test")
