"""The test after training: progress, cancelling, and the capped test of a stopped run."""

from __future__ import annotations

from pathlib import Path

from training_samples import band_images, run_config, write_npz

from cnnstudio.core.events import Notice
from cnnstudio.core.training import datasets, evaluation, job, params, predictions, recipes
from cnnstudio.core.training import events as run_events
from cnnstudio.core.training.events import BatchEnd
from cnnstudio.core.training.pipeline import make_pipeline


def test_evaluation_reports_progress_and_can_be_cancelled():
    x, y = band_images(40, seed=4)
    images = x[..., None]
    dataset = datasets.Dataset("bands", ["0", "1", "2"], images, y, x[:0], y[:0], images, y)
    model = recipes.build_model("lenet5", num_classes=3)
    pipeline = make_pipeline(dataset.x_test, dataset.y_test, batch_size=10)
    seen: list[object] = []
    done = evaluation.evaluate(
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
    testing = [e for e in seen if isinstance(e, run_events.Testing)]
    assert [(e.batch, e.batches, e.images) for e in testing] == [(1, 4, 10), (2, 4, 20)]
    assert done.test_examples == 20 and done.test_total == 40
    assert done.confusion.sum() == 20
    full = evaluation.evaluate(model, dataset, pipeline, False, 1, Path("run"))
    assert full.test_examples == 40 and full.confusion.sum() == 40


def test_stopped_run_tests_a_capped_subset_with_progress(tmp_path, monkeypatch):
    npz = write_npz(tmp_path / "bands.npz", test=40)
    monkeypatch.setattr(params, "STOPPED_TEST_LIMIT", 15)
    seen: list[object] = []
    result = job.train(
        run_config(npz, tmp_path / "run", epochs=3),
        on_event=seen.append,
        should_stop=lambda: any(isinstance(e, BatchEnd) for e in seen),
    )
    done = result.done
    assert done.stopped and done.test_examples == 15 and done.test_total == 40
    assert done.confusion.sum() == 15
    testing = [e for e in seen if isinstance(e, run_events.Testing)]
    assert testing and testing[-1].images == testing[-1].total_images == 15
    assert any(isinstance(e, Notice) and "first 15 of 40" in e.text for e in seen)
    # every prediction is kept in the run folder: the real counts, not a capped list
    stored = predictions.load_predictions(tmp_path / "run", "test")
    assert len(stored) == 15 and stored.total == 40 and "stopped" in stored.model
    assert (stored.confusion() == done.confusion).all()
