"""Every file the app saves gets the mode the user's umask gives (issue 9: pictures came
out 0600 from mkstemp + rename while the CSV and library files were 0644): a picture, a
CSV, a library model and its sidecar, a model the CLI writes and a downloaded weights
file, under umask 022 and 027."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from cnnstudio.core import backbones, files, image_saving, library, weights
from cnnstudio.core.classify import batch
from cnnstudio.core.classify.params import ClassifyResult, Prediction


@pytest.fixture(params=[0o022, 0o027], ids=["umask022", "umask027"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_saved_files_get_the_umask_mode(umask, tmp_path, fake_weights_download):
    import keras

    expected = 0o666 & ~umask
    assert files.new_file_mode() == expected  # the umask now, not the one at import

    picture = image_saving.save_image(tmp_path / "dream.png", np.zeros((8, 8, 3), np.uint8))
    prediction = Prediction(label="cat", probability=0.9, index=0)
    table = batch.write_csv([ClassifyResult("a.png", (prediction,))], tmp_path / "r.csv")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    entry = library.save_to_library(model, "modes", {"class_names": ["a", "b"]})
    with files.atomic_path(tmp_path / "cli.keras") as temp:  # `cnnstudio train -o`
        model.save(temp)
    fake_weights_download(b"weights" * 1000)
    info = backbones.get_backbone("mobilenet_v2")
    downloaded = weights.ensure_imagenet_weights(info)
    written = [picture, table, entry.path, library.sidecar_path(entry.path)]
    written += [tmp_path / "cli.keras", downloaded]
    assert {str(path): oct(_mode(path)) for path in written} == {
        str(path): oct(expected) for path in written
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.keras", "dream.png", "r.csv"]


def test_a_training_backup_gets_the_umask_mode(umask, tmp_path):
    """A run's backup (the weights and training_metadata.json) is the user's file too; the
    metadata came out 0600 from mkstemp."""
    from cnnstudio.core.training import checkpoints

    point = checkpoints.write_backup(
        tmp_path, 1, lambda path: path.write_bytes(b"weights"), [[1, 2, 3]]
    )
    folder = checkpoints.backup_dir(tmp_path)
    written = sorted(folder.iterdir())
    assert point.weights in written and len(written) == 2
    assert {p.name: oct(_mode(p)) for p in written} == {
        p.name: oct(0o666 & ~umask) for p in written
    }
