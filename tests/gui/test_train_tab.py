"""The Train tab used as a person would: pick a recipe, drop data, Start, watch the plots
and the progress move, Stop, Resume, see the results, save to the library."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QProgressBar, QPushButton

from cnnstudio.core import library
from cnnstudio.core.training.runs import completed_epochs, read_history
from cnnstudio.gui.main_window import MainWindow
from cnnstudio.gui.tabs.train.tab import TrainTab
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


def train_in_this_process(tab: TrainTab, monkeypatch) -> None:
    """The tab trains in a process of its own; a test whose stand-ins live in this process
    (a fake download, a job defined in the test) runs the job on the tab's thread instead.
    Events, Stop and results cross the process boundary the same way
    (tests/core/test_child_process.py, tests/gui/test_train_process.py)."""
    runner = tab.runner

    def on_a_thread(fn, *args, pack=None, **kwargs):
        runner.run_callbacks(fn, *args, **kwargs)

    monkeypatch.setattr(runner, "run_callbacks_in_process", on_a_thread)


def _idle(tab: TrainTab) -> bool:
    start = tab.findChild(QPushButton, "trainStartButton")
    stop = tab.findChild(QPushButton, "trainStopButton")
    return start.isEnabled() and not stop.isEnabled()


def test_start_watch_stop_resume(qtbot, tab, npz, drop_files, tmp_path, monkeypatch):
    assert tab.objectName() == "trainTab"
    recipe = tab.findChild(QComboBox, "trainRecipe")
    dataset = tab.findChild(QLineEdit, "trainDataset")
    loss_plot = tab.findChild(LossPlot, "trainLossPlot")
    accuracy_plot = tab.findChild(LossPlot, "trainAccuracyPlot")
    progress = tab.findChild(QProgressBar, "trainProgress")
    recipe.setCurrentIndex(recipe.findData("lenet5"))
    assert drop_files(dataset, [npz]).isAccepted()
    assert dataset.text() == str(npz)
    tab.form.epochs.setValue(500)  # far more than the test waits for: it is stopped
    tab.form.batch_size.setValue(8)
    assert _idle(tab)

    tab.findChild(QPushButton, "trainStartButton").click()
    assert not _idle(tab) and not recipe.isEnabled()
    qtbot.waitUntil(lambda: len(loss_plot.data("loss (batch)")[0]) >= 3, timeout=60000)
    qtbot.waitUntil(lambda: progress.value() > 0 and progress.maximum() > 1, timeout=30000)
    assert len(accuracy_plot.data("accuracy (batch)")[0]) >= 1
    assert "images/s" in tab.speed_label.text()
    # one ETA for the run: the bar's (core.eta from the share of the batches done)
    assert "ETA" in progress.format() and "ETA" not in tab.speed_label.text()
    assert "Total params" in tab.pages.summary_text.toPlainText()
    with qtbot.waitSignal(tab.runner.done, timeout=60000):
        tab.stop_job()  # Esc
    assert _idle(tab)
    assert progress.format() == "Stopped"
    # a stopped run is still evaluated and can be saved
    assert tab.result() is not None and tab.save_button.isEnabled()
    assert tab.pages.confusion.rowCount() == 3 and tab.pages.confusion.columnCount() == 4
    assert tab.pages.samples.count() == 6
    run_dir = tab._last_run_dir
    assert run_dir and "Run folder" in tab.run_label.text()

    # Resume continues the same run folder, up to the Epochs box: one more epoch
    finished = completed_epochs(run_dir)
    tab.form.epochs.setValue(finished + 1)
    with qtbot.waitSignal(tab.runner.finished, timeout=60000):
        tab.findChild(QPushButton, "trainResumeButton").click()
        # the last run's results are gone at once: none is taken for this run's
        pages = tab.pages
        assert pages.samples.count() == 0 and pages.misclassified.count() == 0
        assert pages.confusion.rowCount() == 0 and pages.result_label.text().startswith("Results")
        assert pages.tabText(pages.indexOf(pages.misclassified)) == "Misclassified"
        assert pages.currentWidget() is pages.curves_page
    qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
    assert tab._last_run_dir == run_dir
    assert completed_epochs(run_dir) == finished + 1
    epochs = [float(e) for e in range(1, finished + 2)]
    assert tab.pages.loss_plot.data("loss")[0].tolist() == epochs

    # Resume from folder...: another run folder although a last run is known; its
    # finished epochs come back into the plots from history.csv before it goes on
    other = tmp_path / "copied-run"
    shutil.copytree(run_dir, other)
    history = read_history(other, finished + 1)
    assert history["epoch"] == epochs
    monkeypatch.setattr(tab, "ask_folder", lambda title="": str(other))
    tab.form.recipe_combo.setCurrentIndex(tab.form.recipe_combo.findData("cifar-cnn"))
    tab.form.epochs.setValue(finished + 2)
    with qtbot.waitSignal(tab.runner.started, timeout=10000):
        tab.findChild(QPushButton, "trainResumeFromButton").click()
    assert tab.form.recipe() == "lenet5"  # the controls show the run's own settings
    assert tab.pages.loss_plot.data("loss")[1].tolist() == pytest.approx(history["loss"])
    # an epoch cut by Stop may have no validation ("NA" in the CSV): left out of the plot
    val = [(e, v) for e, v in zip(epochs, history["val_accuracy"], strict=True) if v == v]
    assert tab.pages.accuracy_plot.data("val_accuracy")[0].tolist() == [e for e, _ in val]
    assert tab.pages.accuracy_plot.data("val_accuracy")[1].tolist() == pytest.approx(
        [v for _, v in val]
    )
    qtbot.waitUntil(lambda: _idle(tab), timeout=60000)
    assert tab._last_run_dir == str(other)
    assert completed_epochs(other) == finished + 2
    assert completed_epochs(run_dir) == finished + 1  # the first run is untouched
    assert tab.pages.loss_plot.data("loss")[0].tolist() == [*epochs, finished + 2.0]


def test_class_folder_run_to_the_end_and_save(qtbot, tab, tmp_path, drop_files, monkeypatch):
    root = tmp_path / "shapes"
    x, y = _bands(36, 32, 1)
    for name in "abc":
        (root / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        Image.fromarray(image).convert("RGB").save(root / "abc"[label] / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"nope")
    (root / "c" / "cut.jpg").write_bytes(b"\xff\xd8 truncated")

    tab.form.set_recipe("cifar-cnn")
    assert tab.form.augment.isChecked()  # the CIFAR recipe augments by default
    dataset = tab.findChild(QLineEdit, "trainDataset")
    assert drop_files(dataset, [root]).isAccepted()
    tab.form.epochs.setValue(2)
    tab.form.batch_size.setValue(8)
    tab.form.image_size.setValue(32)
    notices: list[str] = []
    tab.runner.notice.connect(notices.append)
    with qtbot.waitSignal(tab.runner.finished, timeout=120000):
        tab.start_training()
    qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
    assert any("broken.png" in text for text in notices)  # listed, not fatal
    # every skipped file stays listed (Model page), not only the last notice
    skipped = tab.skipped_files()
    assert len(skipped) == 2 and tab.pages.skipped_list.count() == 2
    assert {s.split(":")[0].rsplit("/", 1)[-1] for s in skipped} == {"broken.png", "cut.jpg"}
    assert tab.findChild(QLabel, "trainSkippedLabel").text().endswith(": 2")
    assert "2 unreadable" in tab.notice_label.text()
    assert len(tab.pages.loss_plot.data("val_loss")[0]) == 2
    assert "Validation accuracy" in tab.pages.result_label.text()
    assert tab.pages.confusion.item(0, 3) is not None

    monkeypatch.setattr(tab, "ask_model_name", lambda suggested: "my shapes")
    assert tab.has_result()
    tab.save_result()  # File > Save result
    tab.save_button.click()
    entries = library.list_models()
    assert [e.name for e in entries] == ["my shapes", "my shapes-2"]
    assert entries[0].meta["class_names"] == ["a", "b", "c"]
    assert entries[0].meta["recipe"] == "cifar-cnn"
    # trained in a process of its own: what was saved is the model that run left behind
    saved = library.load_entry(entries[0])
    assert saved.output_shape == (None, 3)
    unsaved = Path(tab.result().model_path)
    assert tab.result().model is None and unsaved.parent.name == "unsaved-models"
    assert unsaved.name.startswith(f"{os.getpid()}@")  # the window's, for its clean-up
    tab.shutdown()  # the window closes: the unsaved model goes with it
    assert not unsaved.exists() and list(unsaved.parent.iterdir()) == []


def _buttons(box) -> dict:
    return {b.text(): b for b in box.buttons()}


def test_missing_dataset_offers_import(qtbot, tab, monkeypatch):
    shown = []
    original = tab.show_missing
    monkeypatch.setattr(tab, "show_missing", lambda message: shown.append(original(message)))
    tab.form.set_recipe("lenet5")
    tab.form.dataset_edit.setText("mnist")
    with qtbot.waitSignal(tab.runner.failed, timeout=60000) as blocker:
        tab.start_training()
    qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
    assert "mnist.npz" in blocker.args[0] and "Import dataset file" in blocker.args[0]
    assert tab.progress.format() == "Failed"
    (box,) = shown
    assert box.windowTitle() == "Dataset missing" and "mnist.npz" in box.text()
    asked = []
    monkeypatch.setattr(tab.form, "ask_dataset_file", lambda: asked.append(True) or None)
    _buttons(box)["Import dataset file..."].click()
    assert asked == [True]


def test_missing_transfer_weights_offer_import_and_untrained(qtbot, npz, monkeypatch):
    monkeypatch.setenv("CNNSTUDIO_OFFLINE", "1")
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    tab = window.tab_by_key("train")
    window.tabs.setCurrentWidget(tab)
    shown = []
    original = tab.show_missing
    monkeypatch.setattr(tab, "show_missing", lambda message: shown.append(original(message)))
    tab.form.set_recipe("transfer")
    tab.form.backbone_combo.setCurrentIndex(tab.form.backbone_combo.findData("mobilenet_v2"))
    tab.form.weights_picker.set_value("imagenet")
    tab.form.dataset_edit.setText(str(npz))
    tab.form.image_size.setValue(32)
    try:
        with qtbot.waitSignal(tab.runner.failed, timeout=60000) as blocker:
            window.findChild(QAction, "runAction").trigger()  # F5
        qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
        assert "MobileNetV2" in blocker.args[0]
        (box,) = shown
        buttons = _buttons(box)
        assert box.windowTitle() == "Weights missing" and "Import weights..." in buttons
        buttons["Use untrained"].click()
        assert tab.form.weights_picker.value() == "random"
    finally:
        window.close()


def test_settings_round_trip(qtbot, tab, tmp_path):
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    tab.form.set_recipe("cifar-cnn")
    tab.form.epochs.setValue(7)
    tab.form.learning_rate.setValue(0.005)
    tab.form.dataset_edit.setText("/data/my.npz")
    tab.save_settings(settings)
    other = TrainTab()
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.form.recipe() == "cifar-cnn" and other.form.epochs.value() == 7
    assert other.form.learning_rate.value() == pytest.approx(0.005)
    assert other.form.dataset_edit.text() == "/data/my.npz"


def test_import_dataset_file_installs_mnist(qtbot, tab, tmp_path, monkeypatch):
    fake = tmp_path / "mnist.npz"
    zeros = np.zeros((60000, 28, 28), np.uint8)
    labels = np.arange(60000) % 10
    np.savez_compressed(fake, x_train=zeros, y_train=labels, x_test=zeros[:10], y_test=labels[:10])
    monkeypatch.setattr(tab.form, "ask_dataset_file", lambda: str(fake))
    tab.form.dataset_edit.setText("")
    with qtbot.waitSignal(tab.form.import_runner.finished, timeout=30000):
        tab.form.import_action.trigger()
    qtbot.waitUntil(lambda: not tab.form.import_runner.running, timeout=10000)
    assert tab.form.dataset_edit.text() == "mnist"
    from cnnstudio.core.training.data_files import find_dataset_file

    assert find_dataset_file("mnist") is not None


def test_window_keys_reach_the_train_tab(qtbot, monkeypatch):
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    tab = window.tab_by_key("train")
    window.tabs.setCurrentWidget(tab)
    calls = []
    for name in ("start_training", "stop_training", "save_to_library"):
        monkeypatch.setattr(tab, name, lambda name=name: calls.append(name))
    try:
        window.findChild(QAction, "runAction").trigger()  # F5 / Ctrl+R
        window.findChild(QAction, "stopAction").trigger()  # Esc
        window.findChild(QAction, "saveAction").trigger()  # no result yet: nothing
        tab._result = object()
        window.findChild(QAction, "saveAction").trigger()  # Ctrl+S: Save to library
        assert calls == ["start_training", "stop_training", "save_to_library"]
    finally:
        tab._result = None
        window.close()


def test_folder_or_npz_dropped_anywhere_on_the_tab(tab, npz, tmp_path, drop_files):
    folder = tmp_path / "classes"
    (folder / "a").mkdir(parents=True)
    picture = tmp_path / "cat.png"
    Image.new("RGB", (8, 8)).save(picture)
    # the drag goes up from the widget under the cursor to the tab, which takes it
    assert drop_files(tab.pages.result_label, [npz]).isAccepted()
    assert tab.form.dataset_edit.text() == str(npz)
    assert drop_files(tab.pages.confusion.viewport(), [folder]).isAccepted()
    assert tab.form.dataset_edit.text() == str(folder)
    assert not drop_files(tab.speed_label, [picture]).isAccepted()  # one image: no dataset
    assert tab.form.dataset_edit.text() == str(folder)
    tab.open_image(str(npz))  # File > Open with a .npz
    assert tab.form.dataset_edit.text() == str(npz)


def test_resume_from_a_folder_that_is_no_run(tab, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr(tab, "show_error", lambda message, details="": errors.append(message))
    monkeypatch.setattr(tab, "ask_folder", lambda title="": str(tmp_path))
    tab._last_run_dir = "/somewhere/else"
    tab.resume_from_button.click()
    assert errors and "not a training run folder" in errors[0]
    assert not tab.runner.running and tab._last_run_dir == "/somewhere/else"


def test_transfer_weights_download_shows_in_the_bar_and_stop_abandons_it(
    qtbot, tab, npz, fake_weights_download, monkeypatch
):
    import threading

    from cnnstudio.core import backbones, paths

    payload = bytes(range(256)) * (4 * 4096)  # 4 MB: four chunks
    gate = threading.Event()  # holds the download after its first chunk

    fake_weights_download(payload, hold=gate)
    train_in_this_process(tab, monkeypatch)  # the fake download is this process's
    tab.form.set_recipe("transfer")
    tab.form.backbone_combo.setCurrentIndex(tab.form.backbone_combo.findData("mobilenet_v2"))
    tab.form.weights_picker.set_value("imagenet")
    tab.form.dataset_edit.setText(str(npz))
    tab.form.image_size.setValue(32)
    bar = tab.findChild(QProgressBar, "trainProgress")
    statuses: list[str] = []
    tab.status.connect(statuses.append)
    name = backbones.get_backbone("mobilenet_v2").weights_file(False)
    fixed = (tab.form.backbone_combo, tab.form.weights_picker, tab.form.fine_tune)
    fixed += (tab.form.epochs, tab.form.image_size, tab.form.dataset_edit, tab.form.recipe_combo)
    assert all(widget.isEnabled() for widget in fixed)
    try:
        tab.start_training()
        qtbot.waitUntil(lambda: bar.format().startswith("downloading"), timeout=60000)
        # nothing the run reads can change under it: base network and weights included
        assert not any(widget.isEnabled() for widget in fixed)
        assert bar.format() == f"downloading {name}: 1/4 MB"
        assert (bar.value(), bar.maximum()) == (1024, 4096)  # kilobytes
        assert f"Train: downloading {name}: 1/4 MB" in statuses
        with qtbot.waitSignal(tab.runner.stopped, timeout=60000):
            tab.stop_training()
            gate.set()
    finally:
        gate.set()
    qtbot.waitUntil(lambda: _idle(tab), timeout=10000)
    assert all(widget.isEnabled() for widget in fixed)  # back after the run
    assert bar.format() == "Stopped" and tab.result() is None
    assert "nothing was trained" in tab.notice_label.text()
    assert list((paths.keras_cache_dir() / "models").iterdir()) == []  # no partial file


# ------------------------------------------------------------------ rough edges (issue 9)


def test_untrained_frozen_base_is_questioned_before_the_run(tab, npz, monkeypatch):
    """A transfer run on a base with random weights ended at 7%: ask first (Cancel: no run)."""
    asked: list[str] = []
    started: list[object] = []
    monkeypatch.setattr(tab, "ask_continue", lambda message: asked.append(message) or False)
    monkeypatch.setattr(
        tab.runner, "run_callbacks_in_process", lambda *args, **kw: started.append(args)
    )
    tab.form.set_recipe("transfer")
    tab.form.dataset_edit.setText(str(npz))
    tab.form.weights_picker.set_value("random")
    tab.start_training()
    assert len(asked) == 1 and started == []
    assert "InceptionV3 has random weights" in asked[0] and "frozen" in asked[0]
    assert asked[0][0].isupper() and asked[0].endswith(".")
    monkeypatch.setattr(tab, "ask_continue", lambda message: asked.append(message) or True)
    tab.start_training()  # Continue: the run starts
    assert len(asked) == 2 and len(started) == 1
    tab.form.weights_picker.set_value("imagenet")
    tab.start_training()  # pretrained weights: nothing to ask
    assert len(asked) == 2 and len(started) == 2


def test_failed_dataset_import_says_so_in_the_status(qtbot, tab, tmp_path, monkeypatch):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not a zip file")
    statuses: list[str] = []
    tab.status.connect(statuses.append)
    monkeypatch.setattr(tab, "show_error", lambda message, details="": None)
    monkeypatch.setattr(tab.form, "ask_dataset_file", lambda: str(bad))
    with qtbot.waitSignal(tab.form.import_runner.failed, timeout=30000):
        tab.form.import_action.trigger()
    qtbot.waitUntil(lambda: not tab.form.import_runner.running, timeout=10000)
    assert statuses[0] == "Importing mnist.npz..."
    assert statuses[-1].startswith("Import failed: ") and "mnist.npz" in statuses[-1]


def test_dataset_page_counts_samples_and_lists_unreadable_files(qtbot, tab, tmp_path, npz):
    root = tmp_path / "flowers"
    for name, count in (("daisy", 6), ("rose", 2)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (20, 10), (200, 20 * i, 30)).save(root / name / f"{i}.png")
    (root / "rose" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    page = tab.pages.dataset_page
    with qtbot.waitSignal(page.runner.done, timeout=30000):
        tab.form.dataset_edit.setText(str(root))  # the page follows the field
    found = page.survey_result()
    assert found.class_names == ["daisy", "rose"] and found.counts == [6, 3]
    assert [len(s) for s in found.samples] == [6, 2]
    assert [path for path, _ in found.unreadable] == [str(root / "rose" / "cut.png")]
    table = page.classes
    assert [table.item(r, 0).text() for r in range(2)] == ["daisy", "rose"]
    assert table.item(0, 1).text().startswith("6 ") and not table.item(1, 2).icon().isNull()
    assert "50%" in page.summary_label.text()  # the balance, in words
    assert page.unreadable.count() == 1 and page.unreadable.isVisibleTo(page)

    with qtbot.waitSignal(page.runner.done, timeout=30000):
        tab.form.dataset_edit.setText(str(npz))  # arrays: counted from their labels
    found = page.survey_result()
    assert found.total == 240 and len(found.counts) == 3 and found.test_counts is not None
    assert page.unreadable.isHidden()


def test_every_train_control_has_a_tooltip_in_the_windows_words(tab):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QHeaderView,
        QPlainTextEdit,
        QTabBar,
    )

    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QProgressBar)
    kinds += (QAbstractItemView, QPlainTextEdit, LossPlot)
    controls = [
        w
        for kind in kinds
        for w in tab.findChildren(kind)
        if not isinstance(w.parent(), (QTabBar, QLineEdit))  # tabs; a clear button
        and not w.objectName().startswith("qt_")
        and w.window() is tab.window()  # not a combo box's popup list
        and not isinstance(w, QHeaderView)
    ]
    assert len(controls) > 30
    missing = [f"{type(w).__name__} {w.objectName()}" for w in controls if not w.toolTip()]
    assert missing == []
    for w in controls:  # sentences with a capital, no command-line flags
        tip = w.toolTip()
        assert tip[0].isupper() and " --" not in tip, f"{w.objectName()}: {tip}"


def test_the_base_network_its_weights_and_fine_tune_are_locked_while_a_run_goes_on(
    qtbot, tab, npz, monkeypatch
):
    """A transfer run reads the base network, its weights and the fine-tune depth when it
    starts: none of them can change under it (Run pressed for real; the job is a stand-in
    that waits, so that the test looks while it runs)."""
    import threading

    from cnnstudio.gui.tabs.train import tab as tab_module

    release = threading.Event()

    def waiting_train(config, on_event, should_stop):
        release.wait(30)

    monkeypatch.setattr(tab_module.job, "train", waiting_train)
    train_in_this_process(tab, monkeypatch)
    form = tab.form
    form.recipe_combo.setCurrentIndex(form.recipe_combo.findData("transfer"))
    form.dataset_edit.setText(str(npz))
    form.weights_picker.set_value("random")
    monkeypatch.setattr(tab, "ask_continue", lambda text: True)  # the untrained-base question
    base = (form.backbone_combo, form.weights_picker, form.fine_tune)
    assert all(widget.isEnabled() for widget in base)
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.runner.running)
    assert not any(widget.isEnabled() for widget in base)
    release.set()
    qtbot.waitUntil(lambda: not tab.runner.running, timeout=10_000)
    assert all(widget.isEnabled() for widget in base)
