"""The Train tab used as a person would: pick a recipe, drop data, Start, watch the plots
and the progress move, Stop, Resume, see the results, save to the library."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QComboBox, QLineEdit, QProgressBar, QPushButton

from cnnstudio.core import library
from cnnstudio.core.training import trainer
from cnnstudio.gui.tabs.train_tab import TrainTab
from cnnstudio.gui.widgets.plots import LossPlot


def _bands(count: int, size: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, count)
    x = rng.integers(0, 60, (count, size, size)).astype(np.uint8)
    for i, c in enumerate(y):
        x[i, c * (size // 3) : (c + 1) * (size // 3)] = 230
    return x, y


@pytest.fixture
def npz(tmp_path):
    x, y = _bands(300, 28, 0)
    path = tmp_path / "bands.npz"
    np.savez(path, x_train=x[:240], y_train=y[:240], x_test=x[240:], y_test=y[240:])
    return path


@pytest.fixture
def tab(qtbot):
    tab = TrainTab()
    qtbot.addWidget(tab)
    yield tab
    tab.shutdown()
    assert not tab.runner.running


def _idle(tab: TrainTab) -> bool:
    start = tab.findChild(QPushButton, "trainStartButton")
    stop = tab.findChild(QPushButton, "trainStopButton")
    return start.isEnabled() and not stop.isEnabled()


def test_start_watch_stop_resume(qtbot, tab, npz, drop_files):
    assert tab.objectName() == "trainTab"
    recipe = tab.findChild(QComboBox, "trainRecipe")
    dataset = tab.findChild(QLineEdit, "trainDataset")
    loss_plot = tab.findChild(LossPlot, "trainLossPlot")
    accuracy_plot = tab.findChild(LossPlot, "trainAccuracyPlot")
    progress = tab.findChild(QProgressBar, "trainProgress")
    recipe.setCurrentIndex(recipe.findData("lenet5"))
    assert drop_files(dataset, [npz]).isAccepted()
    assert dataset.text() == str(npz)
    tab.epochs.setValue(500)  # far more than the test waits for: it is stopped
    tab.batch_size.setValue(8)
    assert _idle(tab)

    tab.findChild(QPushButton, "trainStartButton").click()
    assert not _idle(tab) and not recipe.isEnabled()
    qtbot.waitUntil(lambda: len(loss_plot.data("loss (batch)")[0]) >= 3, timeout=60000)
    qtbot.waitUntil(lambda: progress.value() > 0 and progress.maximum() > 1, timeout=30000)
    assert len(accuracy_plot.data("accuracy (batch)")[0]) >= 1
    assert "images/s" in tab.speed_label.text()
    assert "Total params" in tab.summary_text.toPlainText()
    with qtbot.waitSignal(tab.runner.done, timeout=60000):
        tab.findChild(QPushButton, "trainStopButton").click()
    assert _idle(tab)
    assert progress.format() == "Stopped"
    # a stopped run is still evaluated and can be saved
    assert tab.result() is not None and tab.save_button.isEnabled()
    assert tab.confusion.rowCount() == 3 and tab.confusion.columnCount() == 4
    assert tab.samples.count() == 6
    run_dir = tab._last_run_dir
    assert run_dir and "Run folder" in tab.run_label.text()

    # Resume continues the same run folder, up to the Epochs box: one more epoch
    finished = trainer.completed_epochs(run_dir)
    tab.epochs.setValue(finished + 1)
    with qtbot.waitSignal(tab.runner.finished, timeout=60000):
        tab.findChild(QPushButton, "trainResumeButton").click()
    qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
    assert tab._last_run_dir == run_dir
    assert trainer.completed_epochs(run_dir) == finished + 1
    assert tab.loss_plot.data("loss")[0].tolist() == [finished + 1.0]


def test_class_folder_run_to_the_end_and_save(qtbot, tab, tmp_path, drop_files, monkeypatch):
    root = tmp_path / "shapes"
    x, y = _bands(36, 32, 1)
    for name in "abc":
        (root / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        Image.fromarray(image).convert("RGB").save(root / "abc"[label] / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"nope")

    tab.set_recipe("cifar-cnn")
    assert tab.augment.isChecked()  # the CIFAR recipe augments by default
    dataset = tab.findChild(QLineEdit, "trainDataset")
    assert drop_files(dataset, [root]).isAccepted()
    tab.epochs.setValue(2)
    tab.batch_size.setValue(8)
    tab.image_size.setValue(32)
    notices: list[str] = []
    tab.runner.notice.connect(notices.append)
    with qtbot.waitSignal(tab.runner.finished, timeout=120000):
        tab.start_training()
    qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
    assert any("broken.png" in text for text in notices)  # listed, not fatal
    assert len(tab.loss_plot.data("val_loss")[0]) == 2
    assert "Validation accuracy" in tab.result_label.text()
    assert tab.confusion.item(0, 3) is not None

    monkeypatch.setattr(tab, "ask_model_name", lambda suggested: "my shapes")
    tab.save_button.click()
    entries = library.list_models()
    assert [e.name for e in entries] == ["my shapes"]
    assert entries[0].meta["class_names"] == ["a", "b", "c"]
    assert entries[0].meta["recipe"] == "cifar-cnn"


def test_missing_dataset_is_a_readable_error(qtbot, tab, monkeypatch):
    shown = []
    monkeypatch.setattr(tab, "show_error", lambda message, details="": shown.append(message))
    tab.set_recipe("lenet5")
    tab.dataset_edit.setText("mnist")
    with qtbot.waitSignal(tab.runner.failed, timeout=60000):
        tab.start_training()
    qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
    assert shown and "mnist.npz" in shown[0] and "Import dataset file" in shown[0]
    assert tab.progress.format() == "Failed"


def test_settings_round_trip(qtbot, tab, tmp_path):
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    tab.set_recipe("cifar-cnn")
    tab.epochs.setValue(7)
    tab.learning_rate.setValue(0.005)
    tab.dataset_edit.setText("/data/my.npz")
    tab.save_settings(settings)
    other = TrainTab()
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.recipe() == "cifar-cnn" and other.epochs.value() == 7
    assert other.learning_rate.value() == pytest.approx(0.005)
    assert other.dataset_edit.text() == "/data/my.npz"


def test_import_dataset_file_installs_mnist(qtbot, tab, tmp_path, monkeypatch):
    fake = tmp_path / "mnist.npz"
    zeros = np.zeros((60000, 28, 28), np.uint8)
    labels = np.arange(60000) % 10
    np.savez_compressed(fake, x_train=zeros, y_train=labels, x_test=zeros[:10], y_test=labels[:10])
    monkeypatch.setattr(tab, "ask_dataset_file", lambda: str(fake))
    tab.dataset_edit.setText("")
    with qtbot.waitSignal(tab.import_runner.finished, timeout=30000):
        tab.import_action.trigger()
    qtbot.waitUntil(lambda: not tab.import_runner.running, timeout=10000)
    assert tab.dataset_edit.text() == "mnist"
    from cnnstudio.core.training import datasets

    assert datasets.find_dataset_file("mnist") is not None
