"""Training data: .npz files, class folders, the built-in datasets' files (offline, hash
checked, imported) and the tf.data pipeline, on generated data."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from training_samples import band_images, write_class_folder, write_npz

from cnnstudio.core.errors import InputError, Remedy, ResourceMissingError
from cnnstudio.core.training import data_files, datasets
from cnnstudio.core.training.params import Augment
from cnnstudio.core.training.pipeline import make_pipeline, training_stream


def test_npz_layouts_are_read_and_checked(tmp_path):
    grey = write_npz(tmp_path / "grey.npz")
    data = datasets.load_dataset(grey, val_split=0.25)
    assert data.x_train.shape == (150, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert len(data.x_val) == 50 and len(data.x_test) == 40
    assert data.class_names == ["0", "1", "2"]

    colour = write_npz(tmp_path / "colour.npz", colour=True)
    assert datasets.load_dataset(colour, channels=1).x_train.shape[-1] == 1
    assert datasets.load_dataset(grey, channels=3).x_test.shape == (40, 28, 28, 3)

    floats = tmp_path / "floats.npz"
    x = np.full((10, 8, 8, 1), 0.5, np.float32)
    np.savez(floats, x_train=x, y_train=np.arange(10)[:, None] % 2)
    loaded = datasets.load_dataset(floats, val_split=0)
    assert loaded.x_train.dtype == np.uint8 and int(loaded.x_train.max()) == 128
    assert len(loaded.x_test) == 1  # no test set in the file: 10% held out

    bad = tmp_path / "bad.npz"
    np.savez(bad, images=x)
    with pytest.raises(InputError, match="lacks x_train, y_train"):
        datasets.load_dataset(bad)
    np.savez(bad, x_train=np.zeros((4, 8, 8, 2)), y_train=np.zeros(4, int))
    with pytest.raises(InputError, match=r"x_train must be images of shape"):
        datasets.load_dataset(bad)
    np.savez(bad, x_train=np.zeros((4, 8, 8)), y_train=np.zeros(5, int))
    with pytest.raises(InputError, match="one label per image"):
        datasets.load_dataset(bad)
    np.savez(bad, x_train=np.zeros((4, 8, 8)), y_train=np.zeros(4, int), x_test=x)
    with pytest.raises(InputError, match="only one of x_test and y_test"):
        datasets.load_dataset(bad)
    np.savez(bad, x_train=np.zeros((2, 8, 8)), y_train=np.array([{"a": 1}, None]))
    with pytest.raises(InputError, match="pickles"):
        datasets.load_dataset(bad)
    with pytest.raises(InputError, match="not found"):
        datasets.load_dataset(tmp_path / "missing.npz")


def test_class_folder_skips_unreadable_files(tmp_path):
    root = write_class_folder(tmp_path / "shapes")
    data = datasets.load_dataset(root, image_size=(24, 20), val_split=0.2, seed=5)
    assert data.class_names == ["a", "b", "c"]
    assert data.x_train.shape[1:] == (24, 20, 3)
    assert len(data.x_train) + len(data.x_val) == 30
    assert len(data.x_val) == 6 and data.test_is_val
    assert [Path(p).name for p, _ in data.skipped] == ["broken.png"]
    assert "1 unreadable file(s) skipped" in data.summary()
    # the split is seeded: same seed, same split
    again = datasets.load_dataset(root, image_size=(24, 20), val_split=0.2, seed=5)
    np.testing.assert_array_equal(again.y_val, data.y_val)

    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(InputError, match="one subfolder per class"):
        datasets.load_dataset(tmp_path / "one", image_size=(8, 8))


def test_builtin_datasets_missing_offline_then_imported(tmp_path):
    with pytest.raises(ResourceMissingError) as caught:
        datasets.load_dataset("mnist")
    message = str(caught.value)
    assert "mnist.npz" in message and "11 MB" in message
    assert str(data_files.dataset_dirs()[1]) in message
    # what to do is the front ends' to word (a menu, a flag), from the error's data
    assert "import" not in message.lower() and "--" not in message
    assert caught.value.remedy == Remedy.SUPPLY_DATASET
    assert caught.value.details["file_name"] == "mnist.npz"
    with pytest.raises(ResourceMissingError, match=r"cifar-10-python.tar.gz \(163 MB"):
        datasets.load_dataset("cifar10")

    # an MNIST-shaped file (60000 28x28 images) installs as mnist
    fake = tmp_path / "mnist.npz"
    zeros = np.zeros((60000, 28, 28), np.uint8)
    np.savez_compressed(
        fake,
        x_train=zeros,
        y_train=np.arange(60000) % 10,
        x_test=zeros[:100],
        y_test=np.arange(100) % 10,
    )
    name, installed = data_files.import_dataset_file(fake)
    assert name == "mnist" and installed.exists()
    data = datasets.load_dataset("mnist", limit=50)
    assert data.x_train.shape == (50, 28, 28, 1) and data.class_names[9] == "9"

    with pytest.raises(InputError, match="not MNIST"):
        data_files.import_dataset_file(write_npz(tmp_path / "other.npz"))


def _fake_cifar_archive(path: Path) -> Path:
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {
                b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8),
                b"labels": list(rng.integers(0, 10, 4)),
            }
            blob = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_cifar_archive_is_hash_checked_before_unpickling(tmp_path, monkeypatch):
    archive = _fake_cifar_archive(tmp_path / "cifar-10-python.tar.gz")
    with pytest.raises(InputError, match="SHA-256 differs"):
        data_files.import_dataset_file(archive)
    # pretend it is the official file: it converts to a pickle-free .npz
    official = data_files.DATASET_FILES["cifar10"]
    monkeypatch.setitem(
        data_files.DATASET_FILES,
        "cifar10",
        data_files.DatasetFile(
            "cifar10",
            official.file_name,
            official.size_bytes,
            data_files._sha256(archive),
            official.url,
            official.keras_names,
        ),
    )
    name, installed = data_files.import_dataset_file(archive)
    assert name == "cifar10" and installed.name == "cifar10.npz"
    data = datasets.load_dataset("cifar10", val_split=0.25)
    assert data.x_train.shape == (15, 32, 32, 3) and len(data.x_test) == 4
    assert data.class_names[0] == "airplane"


def test_pipeline_batches_resizes_and_augments():
    x, y = band_images(20, size=16, colour=True)
    plain = make_pipeline(x, y, batch_size=8, image_size=(24, 24))
    images, labels = next(iter(plain))
    assert images.shape == (8, 24, 24, 3) and images.dtype.name == "float32"
    assert labels.dtype.name == "int32"
    first = next(iter(plain))[0].numpy()
    np.testing.assert_array_equal(first, images.numpy())  # no augmentation: stable

    flip_only = Augment(crop=False, brightness=0.0, contrast=None)
    augmented = training_stream(x, y, batch_size=20, epochs=1, augment=flip_only, seed=1)
    batch_x, batch_y = next(iter(augmented))
    batch_x, batch_y = batch_x.numpy(), batch_y.numpy()
    # every image is its source or its mirror image, and some were flipped
    flipped = 0
    for image, label in zip(batch_x, batch_y, strict=True):
        matches = [
            i
            for i in range(20)
            if y[i] == label
            and (np.array_equal(image, x[i]) or np.array_equal(image, x[i][:, ::-1]))
        ]
        assert matches
        flipped += not any(np.array_equal(image, x[i]) for i in matches)
    full = training_stream(x, y, batch_size=20, epochs=1, augment=Augment(), seed=2)
    values = next(iter(full))[0].numpy()
    assert values.min() >= 0.0 and values.max() <= 255.0
    assert flipped > 0
