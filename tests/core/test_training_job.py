"""The training job: events, stop (mid-epoch, during validation, during the weights
download), resume, class folders, and the library round trip of a trained model."""

from __future__ import annotations

import numpy as np
import pytest
from training_samples import (
    band_images,
    first_batch_loss,
    run_config,
    write_class_folder,
    write_npz,
)

from cnnstudio.core import library
from cnnstudio.core.events import Notice
from cnnstudio.core.training import events as run_events
from cnnstudio.core.training import job
from cnnstudio.core.training.events import BatchEnd, EpochEnd, RunStarted, TrainingDone
from cnnstudio.core.training.params import TrainConfig
from cnnstudio.core.training.runs import best_so_far, completed_epochs


def test_short_fit_lowers_the_loss_then_resumes_and_saves(tmp_path):
    npz = write_npz(tmp_path / "bands.npz")
    events: list[object] = []
    result = job.train(run_config(npz, tmp_path / "run"), on_event=events.append)

    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.initial_epoch == 0 and started.steps_per_epoch == 9  # 180 / 20
    assert "Total params" in started.summary
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert len(batches) == 18 and batches[-1].global_step == 18
    assert batches[-1].loss < batches[0].loss
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[1].loss < epochs[0].loss and epochs[1].val_accuracy is not None
    assert all(e.images_per_second > 0 for e in epochs)
    done = events[-1]
    assert isinstance(done, TrainingDone) and done is result.done
    assert done.confusion.shape == (3, 3) and done.confusion.sum() == 40
    assert done.test_accuracy == pytest.approx(np.trace(done.confusion) / 40)
    assert len(done.samples) == 6 and done.samples[0].image.shape == (28, 28, 3)
    assert len(done.misclassified) == 40 - np.trace(done.confusion)
    run = tmp_path / "run"
    best = library.load_model_file(run / "checkpoints" / "best.keras")
    assert best.output_shape == (None, 3)
    assert (run / "backup" / "training_metadata.json").exists()
    assert (run / "history.csv").read_text().count("\n") == 3
    assert completed_epochs(run) == 2

    # resume the finished run for one more epoch: it continues at epoch 3
    more: list[object] = []
    job.resume(run, epochs=3, on_event=more.append)
    assert next(e for e in more if isinstance(e, RunStarted)).initial_epoch == 2
    assert [e.epoch for e in more if isinstance(e, EpochEnd)] == [3]
    assert any(isinstance(e, Notice) and "resuming" in e.text for e in more)
    # ... with the trained weights: its first batch starts where the run left off, far
    # below the first batch of a fresh model (same seed, so a fresh start would match it)
    assert first_batch_loss(more) < 0.5 * first_batch_loss(events)

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
        batches = [e for e in seen if isinstance(e, BatchEnd)]
        return len(batches) >= 12  # in the middle of epoch 2 (9 batches per epoch)

    result = job.train(
        run_config(npz, run, epochs=4), on_event=seen.append, should_stop=should_stop
    )
    epochs = [e for e in seen if isinstance(e, EpochEnd)]
    assert [(e.epoch, e.partial) for e in epochs] == [(1, False), (2, True)]
    # the cut epoch is not validated on the whole validation set (one batch, not shown)
    assert epochs[0].val_loss is not None and epochs[1].val_loss is None
    assert epochs[1].val_accuracy is None
    assert result.done.stopped
    assert completed_epochs(run) == 1  # the cut epoch is not recorded as done
    assert len([e for e in seen if isinstance(e, BatchEnd)]) == 13
    assert result.meta["metrics"]["epochs"] == 1
    # nor logged: history.csv has epoch 1 only, so its re-run gets no second row and
    # its val_accuracy sets no bar for the best-model checkpoint
    assert (run / "history.csv").read_text().splitlines()[1:2][0].startswith("0,")
    assert len((run / "history.csv").read_text().splitlines()) == 2
    testing = [e for e in seen if isinstance(e, run_events.Testing)]
    assert testing and testing[-1].images == testing[-1].total_images == 40

    again: list[object] = []
    job.resume(run, epochs=2, on_event=again.append)
    assert [e.epoch for e in again if isinstance(e, EpochEnd)] == [2]
    rows = (run / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1"]
    # the weights of epoch 1 came back: far below a fresh model's first batch
    assert first_batch_loss(again) < 0.5 * first_batch_loss(seen)


def test_stop_during_validation_ends_it_and_keeps_the_epoch(tmp_path):
    npz = write_npz(tmp_path / "bands.npz")
    run = tmp_path / "run"
    seen: list[object] = []

    def should_stop() -> bool:
        # true from the validation that follows epoch 1's last batch (9 per epoch)
        return any(isinstance(e, BatchEnd) and e.batch == 9 for e in seen)

    result = job.train(
        run_config(npz, run, epochs=3), on_event=seen.append, should_stop=should_stop
    )
    epochs = [e for e in seen if isinstance(e, EpochEnd)]
    assert [(e.epoch, e.partial, e.val_loss) for e in epochs] == [(1, False, None)]
    assert result.done.stopped and completed_epochs(run) == 1  # training kept
    rows = (run / "history.csv").read_text().splitlines()
    assert len(rows) == 2 and "val_accuracy" in rows[0] and rows[1].endswith("NA")
    assert not (run / "checkpoints" / "best.keras").exists()  # no half-validated best

    again: list[object] = []
    job.resume(run, epochs=2, on_event=again.append)
    assert [e.epoch for e in again if isinstance(e, EpochEnd)] == [2]
    assert (run / "checkpoints" / "best.keras").exists()
    assert best_so_far(run, "val_accuracy") is not None


def test_class_folder_training_reports_skipped_files(tmp_path):
    root = write_class_folder(tmp_path / "shapes")
    events: list[object] = []
    result = job.train(
        TrainConfig(
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
    config = run_config(
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
        result = job.train(config, on_event=events.append)
        info = backbones.get_backbone("mobilenet_v2")
        assert requested == [info.weights_url(False)]
        downloads = [i for i, e in enumerate(events) if isinstance(e, DownloadProgress)]
        started = next(i for i, e in enumerate(events) if isinstance(e, RunStarted))
        # every download event comes first, in order, and the run goes on after them
        assert len(downloads) >= 2 and downloads == list(range(len(downloads)))
        assert downloads[-1] < started
        received = [events[i].received for i in downloads]
        assert received == sorted(received) and received[-1] == len(payload)
        assert events[downloads[-1]].file_name == info.weights_file(False)
        assert isinstance(events[-1], TrainingDone) and result is not None
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
    config = run_config(npz, run, recipe="transfer", backbone="mobilenet_v2", image_size=32)
    events: list[object] = []
    result = job.train(config, on_event=events.append, should_stop=lambda: len(events) >= 1)
    assert result is None
    assert isinstance(events[0], DownloadProgress) and events[0].received == 1 << 20
    assert not any(isinstance(e, DownloadProgress) for e in events[1:])
    assert isinstance(events[-1], Notice) and "weights download" in events[-1].text
    assert not run.exists()  # nothing was started, so no run folder either
    assert list((paths.keras_cache_dir() / "models").iterdir()) == []  # no partial file
