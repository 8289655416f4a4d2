"""Training core: loaders on generated data, recipes, the trainer's events, stop, resume
(also after SIGKILL), and the library round trip of a trained model."""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnstudio.core import library
from cnnstudio.core.errors import InputError, ResourceMissingError
from cnnstudio.core.events import Notice
from cnnstudio.core.training import datasets, recipes, trainer


def band_images(count: int, size: int = 28, classes: int = 3, seed: int = 0, colour=False):
    """Learnable toy data: class c is a bright horizontal band at height c."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, count)
    x = rng.integers(0, 60, (count, size, size)).astype(np.uint8)
    band = size // classes
    for i, c in enumerate(y):
        x[i, c * band : (c + 1) * band, :] = rng.integers(190, 255)
    if colour:
        x = np.repeat(x[..., None], 3, axis=-1)
    return x, y


def write_npz(path: Path, train: int = 200, test: int = 40, **kwargs) -> Path:
    x_train, y_train = band_images(train, seed=1, **kwargs)
    x_test, y_test = band_images(test, seed=2, **kwargs)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def write_class_folder(root: Path, per_class: int = 10) -> Path:
    """3 class subfolders of 32x32 PNGs plus one broken file."""
    x, y = band_images(per_class * 3, size=32, colour=True, seed=3)
    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        Image.fromarray(image).save(root / "abc"[label] / f"{i}.png")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


# ----------------------------------------------------------------------------- data


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
    assert str(datasets.dataset_dirs()[1]) in message and "Import dataset file" in message
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
    name, installed = datasets.import_dataset_file(fake)
    assert name == "mnist" and installed.exists()
    data = datasets.load_dataset("mnist", limit=50)
    assert data.x_train.shape == (50, 28, 28, 1) and data.class_names[9] == "9"

    with pytest.raises(InputError, match="not MNIST"):
        datasets.import_dataset_file(write_npz(tmp_path / "other.npz"))


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
        datasets.import_dataset_file(archive)
    # pretend it is the official file: it converts to a pickle-free .npz
    official = datasets.DATASET_FILES["cifar10"]
    monkeypatch.setitem(
        datasets.DATASET_FILES,
        "cifar10",
        datasets.DatasetFile(
            "cifar10",
            official.file_name,
            official.size_bytes,
            datasets._sha256(archive),
            official.url,
            official.keras_names,
        ),
    )
    name, installed = datasets.import_dataset_file(archive)
    assert name == "cifar10" and installed.name == "cifar10.npz"
    data = datasets.load_dataset("cifar10", val_split=0.25)
    assert data.x_train.shape == (15, 32, 32, 3) and len(data.x_test) == 4
    assert data.class_names[0] == "airplane"


def test_pipeline_batches_resizes_and_augments():
    x, y = band_images(20, size=16, colour=True)
    plain = datasets.make_pipeline(x, y, batch_size=8, image_size=(24, 24))
    images, labels = next(iter(plain))
    assert images.shape == (8, 24, 24, 3) and images.dtype.name == "float32"
    assert labels.dtype.name == "int32"
    first = next(iter(plain))[0].numpy()
    np.testing.assert_array_equal(first, images.numpy())  # no augmentation: stable

    flip_only = datasets.Augment(crop=False, brightness=0.0, contrast=None)
    augmented = datasets.make_pipeline(
        x, y, batch_size=20, training=True, augment=flip_only, seed=1
    )
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
    full = datasets.make_pipeline(
        x, y, batch_size=20, training=True, augment=datasets.Augment(), seed=2
    )
    values = next(iter(full))[0].numpy()
    assert values.min() >= 0.0 and values.max() <= 255.0
    assert flipped > 0


# ----------------------------------------------------------------------------- recipes


def test_recipes_build_with_reference_parameter_counts():
    lenet = recipes.build_model("lenet5", num_classes=10)
    assert recipes.trainable_params(lenet) == 61_706
    assert lenet.input_shape == (None, 28, 28, 1)
    summary = recipes.model_summary(lenet)
    assert "c1" in summary and "61,706" in summary
    cnn = recipes.build_model("cifar-cnn", num_classes=10)
    names = [layer.name for layer in cnn.layers]
    assert "block3_conv2" in names and cnn.get_layer("block3_conv2").filters == 128
    assert not any(type(layer).__name__ == "Lambda" for layer in cnn.layers)
    with pytest.raises(InputError, match="unknown recipe"):
        recipes.build_model("resnet", num_classes=2)


def test_transfer_freezes_the_base_and_fine_tunes_the_top():
    frozen = recipes.build_model(
        "transfer",
        num_classes=3,
        input_size=(32, 32),
        backbone="mobilenet_v2",
        weights="random",
    )
    base = frozen.get_layer(index=1)
    assert not base.trainable
    head = sum(int(np.prod(w.shape)) for w in frozen.trainable_weights)
    assert head == recipes.trainable_params(frozen) > 0
    assert all(not w.name.startswith("Conv1") for w in frozen.trainable_weights)
    tuned = recipes.build_model(
        "transfer",
        num_classes=3,
        input_size=(32, 32),
        backbone="mobilenet_v2",
        weights="random",
        fine_tune=6,
    )
    assert recipes.trainable_params(tuned) > head
    assert recipes.preprocessing_for("transfer", "mobilenet_v2") == "mobilenet_v2"
    assert recipes.preprocessing_for("lenet5", "mobilenet_v2") == "none"
    with pytest.raises(InputError, match="at least 75x75"):
        recipes.build_model("transfer", num_classes=3, input_size=(32, 32), weights="random")


def test_strategy_choice_depends_on_gpu_count():
    assert trainer.strategy_kind([]) == "default"
    assert trainer.strategy_kind(["/gpu:0"]) == "default"
    assert trainer.strategy_kind(["/gpu:0", "/gpu:1"]) == "mirrored"
    import tensorflow as tf

    assert trainer.make_strategy([]) is tf.distribute.get_strategy()


# ----------------------------------------------------------------------------- trainer


def _config(npz: Path, run_dir: Path, **kwargs) -> trainer.TrainConfig:
    values = dict(
        recipe="lenet5",
        data=str(npz),
        epochs=2,
        batch_size=20,
        run_dir=str(run_dir),
        throttle_seconds=0.0,
    )
    values.update(kwargs)
    return trainer.TrainConfig(**values)


def _first_batch_loss(events: list[object]) -> float:
    return next(e.loss for e in events if isinstance(e, trainer.BatchEnd))


def test_short_fit_lowers_the_loss_then_resumes_and_saves(tmp_path):
    npz = write_npz(tmp_path / "bands.npz")
    events: list[object] = []
    result = trainer.train(_config(npz, tmp_path / "run"), on_event=events.append)

    started = next(e for e in events if isinstance(e, trainer.RunStarted))
    assert started.initial_epoch == 0 and started.steps_per_epoch == 9  # 180 / 20
    assert "Total params" in started.summary
    batches = [e for e in events if isinstance(e, trainer.BatchEnd)]
    assert len(batches) == 18 and batches[-1].global_step == 18
    assert batches[-1].loss < batches[0].loss
    epochs = [e for e in events if isinstance(e, trainer.EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[1].loss < epochs[0].loss and epochs[1].val_accuracy is not None
    assert all(e.images_per_second > 0 for e in epochs)
    done = events[-1]
    assert isinstance(done, trainer.TrainingDone) and done is result.done
    assert done.confusion.shape == (3, 3) and done.confusion.sum() == 40
    assert done.test_accuracy == pytest.approx(np.trace(done.confusion) / 40)
    assert len(done.samples) == 6 and done.samples[0].image.shape == (28, 28, 3)
    assert len(done.misclassified) == 40 - np.trace(done.confusion)
    run = tmp_path / "run"
    best = library.load_model_file(run / "checkpoints" / "best.keras")
    assert best.output_shape == (None, 3)
    assert (run / "backup" / "training_metadata.json").exists()
    assert (run / "history.csv").read_text().count("\n") == 3
    assert trainer.completed_epochs(run) == 2

    # resume the finished run for one more epoch: it continues at epoch 3
    more: list[object] = []
    trainer.resume(run, epochs=3, on_event=more.append)
    assert next(e for e in more if isinstance(e, trainer.RunStarted)).initial_epoch == 2
    assert [e.epoch for e in more if isinstance(e, trainer.EpochEnd)] == [3]
    assert any(isinstance(e, Notice) and "resuming" in e.text for e in more)
    # ... with the trained weights: its first batch starts where the run left off, far
    # below the first batch of a fresh model (same seed, so a fresh start would match it)
    assert _first_batch_loss(more) < 0.5 * _first_batch_loss(events)

    # the trained model round-trips through the library and predicts the same
    entry = library.save_to_library(result.model, "bands", result.meta)
    assert entry.meta["preprocessing"] == "none" and entry.meta["channels"] == 1
    assert entry.meta["input_size"] == [28, 28]
    x = np.asarray(band_images(4, seed=9)[0][..., None], np.float32)
    np.testing.assert_allclose(
        library.load_entry(entry).predict(x, verbose=0),
        result.model.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


def test_stop_mid_epoch_keeps_the_last_full_epoch(tmp_path):
    npz = write_npz(tmp_path / "bands.npz")
    run = tmp_path / "run"
    seen: list[object] = []

    def should_stop() -> bool:
        batches = [e for e in seen if isinstance(e, trainer.BatchEnd)]
        return len(batches) >= 12  # in the middle of epoch 2 (9 batches per epoch)

    result = trainer.train(
        _config(npz, run, epochs=4), on_event=seen.append, should_stop=should_stop
    )
    epochs = [e for e in seen if isinstance(e, trainer.EpochEnd)]
    assert [(e.epoch, e.partial) for e in epochs] == [(1, False), (2, True)]
    # the cut epoch is not validated on the whole validation set (one batch, not shown)
    assert epochs[0].val_loss is not None and epochs[1].val_loss is None
    assert epochs[1].val_accuracy is None
    assert result.done.stopped
    assert trainer.completed_epochs(run) == 1  # the cut epoch is not recorded as done
    assert len([e for e in seen if isinstance(e, trainer.BatchEnd)]) == 13
    assert result.meta["metrics"]["epochs"] == 1
    # nor logged: history.csv has epoch 1 only, so its re-run gets no second row and
    # its val_accuracy sets no bar for the best-model checkpoint
    assert (run / "history.csv").read_text().splitlines()[1:2][0].startswith("0,")
    assert len((run / "history.csv").read_text().splitlines()) == 2
    testing = [e for e in seen if isinstance(e, trainer.Testing)]
    assert testing and testing[-1].images == testing[-1].total_images == 40

    again: list[object] = []
    trainer.resume(run, epochs=2, on_event=again.append)
    assert [e.epoch for e in again if isinstance(e, trainer.EpochEnd)] == [2]
    rows = (run / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1"]
    # the weights of epoch 1 came back: far below a fresh model's first batch
    assert _first_batch_loss(again) < 0.5 * _first_batch_loss(seen)


def test_stop_during_validation_ends_it_and_keeps_the_epoch(tmp_path):
    npz = write_npz(tmp_path / "bands.npz")
    run = tmp_path / "run"
    seen: list[object] = []

    def should_stop() -> bool:
        # true from the validation that follows epoch 1's last batch (9 per epoch)
        return any(isinstance(e, trainer.BatchEnd) and e.batch == 9 for e in seen)

    result = trainer.train(
        _config(npz, run, epochs=3), on_event=seen.append, should_stop=should_stop
    )
    epochs = [e for e in seen if isinstance(e, trainer.EpochEnd)]
    assert [(e.epoch, e.partial, e.val_loss) for e in epochs] == [(1, False, None)]
    assert result.done.stopped and trainer.completed_epochs(run) == 1  # training kept
    rows = (run / "history.csv").read_text().splitlines()
    assert len(rows) == 2 and "val_accuracy" in rows[0] and rows[1].endswith("NA")
    assert not (run / "checkpoints" / "best.keras").exists()  # no half-validated best

    again: list[object] = []
    trainer.resume(run, epochs=2, on_event=again.append)
    assert [e.epoch for e in again if isinstance(e, trainer.EpochEnd)] == [2]
    assert (run / "checkpoints" / "best.keras").exists()
    assert trainer._best_so_far(run, "val_accuracy") is not None


def test_stopped_run_tests_a_capped_subset_with_progress(tmp_path, monkeypatch):
    npz = write_npz(tmp_path / "bands.npz", test=40)
    monkeypatch.setattr(trainer, "STOPPED_TEST_LIMIT", 15)
    seen: list[object] = []
    result = trainer.train(
        _config(npz, tmp_path / "run", epochs=3),
        on_event=seen.append,
        should_stop=lambda: any(isinstance(e, trainer.BatchEnd) for e in seen),
    )
    done = result.done
    assert done.stopped and done.test_examples == 15 and done.test_total == 40
    assert done.confusion.sum() == 15
    testing = [e for e in seen if isinstance(e, trainer.Testing)]
    assert testing and testing[-1].images == testing[-1].total_images == 15
    assert any(isinstance(e, Notice) and "first 15 of 40" in e.text for e in seen)


def test_evaluation_reports_progress_and_can_be_cancelled():
    x, y = band_images(40, seed=4)
    images = x[..., None]
    dataset = datasets.Dataset("bands", ["0", "1", "2"], images, y, x[:0], y[:0], images, y)
    model = recipes.build_model("lenet5", num_classes=3)
    pipeline = datasets.make_pipeline(dataset.x_test, dataset.y_test, batch_size=10)
    seen: list[object] = []
    done = trainer.evaluate(
        model,
        dataset,
        pipeline,
        False,
        1,
        Path("run"),
        on_event=seen.append,
        should_stop=lambda: bool(seen),  # cancelled once the first batch was reported
        throttle_seconds=0.0,
    )
    testing = [e for e in seen if isinstance(e, trainer.Testing)]
    assert [(e.batch, e.batches, e.images) for e in testing] == [(1, 4, 10), (2, 4, 20)]
    assert done.test_examples == 20 and done.test_total == 40
    assert done.confusion.sum() == 20
    full = trainer.evaluate(model, dataset, pipeline, False, 1, Path("run"))
    assert full.test_examples == 40 and full.confusion.sum() == 40


def test_reused_run_folder_with_other_settings_is_refused_untouched(tmp_path, monkeypatch):
    npz = write_npz(tmp_path / "bands.npz", train=60, test=20)
    run = tmp_path / "run"
    trainer.train(_config(npz, run, epochs=1))
    config_before = (run / "config.json").read_bytes()
    assert json.loads(config_before)["num_classes"] == 3

    with pytest.raises(InputError, match=r"was made for lenet5 on bands.npz at 28 px") as caught:
        trainer.train(_config(npz, run, recipe="cifar-cnn", epochs=1))
    assert "\n" not in str(caught.value) and "--run-dir" in str(caught.value)
    with pytest.raises(InputError, match="was made for lenet5"):
        trainer.train(_config(npz, run, image_size=32, epochs=1))
    assert (run / "config.json").read_bytes() == config_before

    # same settings, but the data now has 4 classes: refused after loading it
    x, y = band_images(60, classes=4, seed=1)
    np.savez(npz, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    with pytest.raises(InputError, match="3 classes"):
        trainer.train(_config(npz, run, epochs=2))
    # a folder from before the class count was recorded: the backup itself does not fit
    legacy = json.loads(config_before)
    del legacy["num_classes"]
    (run / "config.json").write_text(json.dumps(legacy))
    with pytest.raises(InputError, match="does not fit this model") as caught:
        trainer.train(_config(npz, run, epochs=2))
    assert "\n" not in str(caught.value)
    assert json.loads((run / "config.json").read_text()) == legacy  # not rewritten

    # the same settings resume as before (relative and absolute data paths are the same)
    write_npz(npz, train=60, test=20)
    monkeypatch.chdir(tmp_path)
    result = trainer.train(_config(Path("bands.npz"), run, epochs=2))
    assert result.done.epochs_completed == 2
    assert json.loads((run / "config.json").read_text())["epochs"] == 2


def test_killed_process_resumes_from_its_run_folder(tmp_path):
    """SIGKILL after the first epoch's checkpoint; the rerun starts at epoch 2, not 1."""
    npz = write_npz(tmp_path / "bands.npz")
    run = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [
        sys.executable,
        "-m",
        "cnnstudio",
        "train",
        "lenet5",
        "--data",
        str(npz),
        "--epochs",
        "200",
        "--batch-size",
        "20",
        "--run-dir",
        str(run),
        "-o",
        str(tmp_path / "never.keras"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    # a child that hangs before its first line must not hang the test run
    watchdog = threading.Timer(240, process.kill)
    watchdog.start()
    try:
        line = process.stdout.readline()  # blocks until the first epoch line
        assert line.startswith("epoch 1/200"), line
        # the epoch line is printed after BackupAndRestore wrote the epoch
        process.send_signal(signal.SIGKILL)
    finally:
        watchdog.cancel()
        watchdog.join()
        process.kill()
        process.wait(timeout=60)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    done_before = trainer.completed_epochs(run)
    assert 1 <= done_before < 200
    assert not (tmp_path / "never.keras").exists()

    events: list[object] = []
    trainer.resume(run, epochs=done_before + 1, on_event=events.append)
    started = next(e for e in events if isinstance(e, trainer.RunStarted))
    assert started.initial_epoch == done_before
    assert [e.epoch for e in events if isinstance(e, trainer.EpochEnd)] == [done_before + 1]
    # the killed run's weights came back, not a fresh model's: a fresh run (same seed)
    # starts from a much higher first-batch loss
    fresh: list[object] = []
    trainer.train(
        _config(npz, tmp_path / "fresh", epochs=1),
        on_event=fresh.append,
        should_stop=lambda: any(isinstance(e, trainer.BatchEnd) for e in fresh),
    )
    assert _first_batch_loss(events) < 0.5 * _first_batch_loss(fresh)
    assert json.loads((run / "config.json").read_text())["recipe"] == "lenet5"


def test_class_folder_training_reports_skipped_files(tmp_path):
    root = write_class_folder(tmp_path / "shapes")
    events: list[object] = []
    result = trainer.train(
        trainer.TrainConfig(
            recipe="cifar-cnn",
            data=str(root),
            epochs=1,
            batch_size=8,
            image_size=32,
            run_dir=str(tmp_path / "run"),
            augment=True,
        ),
        on_event=events.append,
    )
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any("broken.png" in text for text in notices)
    assert result.meta["class_names"] == ["a", "b", "c"]
    assert result.meta["input_size"] == [32, 32] and result.meta["channels"] == 3
    assert result.done.test_is_validation


# ------------------------------------------------------------- transfer: weights download


def test_transfer_run_downloads_the_weights_as_events_then_trains(tmp_path, fake_weights_download):
    from cnnstudio.core import backbones, paths
    from cnnstudio.core.events import DownloadProgress

    # stands in for the official notop file: the convolution weights fit any input size
    original = backbones.build_backbone_uncached(
        "mobilenet_v2", "random", include_top=False, input_shape=(32, 32, 3)
    )
    original.save_weights(tmp_path / "notop.weights.h5")
    payload = (tmp_path / "notop.weights.h5").read_bytes()
    requested = fake_weights_download(payload)
    npz = write_npz(tmp_path / "bands.npz", train=40, test=10, size=32, colour=True)
    config = _config(
        npz,
        tmp_path / "run",
        recipe="transfer",
        backbone="mobilenet_v2",
        weights="imagenet",
        image_size=32,
        epochs=1,
        augment=False,
    )
    events: list[object] = []
    try:
        result = trainer.train(config, on_event=events.append)
        info = backbones.get_backbone("mobilenet_v2")
        assert requested == [info.weights_url(False)]
        downloads = [i for i, e in enumerate(events) if isinstance(e, DownloadProgress)]
        started = next(i for i, e in enumerate(events) if isinstance(e, trainer.RunStarted))
        # every download event comes first, in order, and the run goes on after them
        assert len(downloads) >= 2 and downloads == list(range(len(downloads)))
        assert downloads[-1] < started
        received = [events[i].received for i in downloads]
        assert received == sorted(received) and received[-1] == len(payload)
        assert events[downloads[-1]].file_name == info.weights_file(False)
        assert isinstance(events[-1], trainer.TrainingDone) and result is not None
        assert result.done.epochs_completed == 1 and result.meta["weights"] == "ImageNet"
        # the trained model's frozen base holds the downloaded weights
        base = result.model.get_layer(index=1)
        assert all(
            np.array_equal(a, b)
            for a, b in zip(base.get_weights(), original.get_weights(), strict=True)
        )
        cached = paths.keras_cache_dir() / "models" / info.weights_file(False)
        assert cached.read_bytes() == payload
    finally:
        backbones.clear_model_cache()


def test_stop_during_the_weights_download_ends_the_run_at_once(tmp_path, fake_weights_download):
    from cnnstudio.core import paths
    from cnnstudio.core.events import DownloadProgress

    fake_weights_download(bytes(range(256)) * (4 * 4096))  # 4 chunks
    npz = write_npz(tmp_path / "bands.npz", train=40, test=10, size=32, colour=True)
    run = tmp_path / "run"
    config = _config(npz, run, recipe="transfer", backbone="mobilenet_v2", image_size=32)
    events: list[object] = []
    result = trainer.train(config, on_event=events.append, should_stop=lambda: len(events) >= 1)
    assert result is None
    assert isinstance(events[0], DownloadProgress) and events[0].received == 1 << 20
    assert not any(isinstance(e, DownloadProgress) for e in events[1:])
    assert isinstance(events[-1], Notice) and "weights download" in events[-1].text
    assert not run.exists()  # nothing was started, so no run folder either
    assert list((paths.keras_cache_dir() / "models").iterdir()) == []  # no partial file
