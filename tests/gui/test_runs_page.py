"""The runs browser as a person uses it: every run folder listed (broken ones with the
reason), sorted and filtered, renamed and deleted after a question, followed live while
another process writes, curves overlaid in stable colours with a read-out, exported; and
the Train tab's curves that read right."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from cnnstudio.core import paths
from cnnstudio.core.training import events
from cnnstudio.core.training import predictions as preds
from cnnstudio.core.training.params import TrainConfig
from cnnstudio.core.training.status import now_text
from cnnstudio.gui.tabs.train import run_results
from cnnstudio.gui.tabs.train.run_colours import ColourBook
from cnnstudio.gui.tabs.train.runs_model import STATUS, STATUS_COLOURS
from cnnstudio.gui.tabs.train.runs_page import RunsPage
from cnnstudio.gui.tabs.train.tab import TrainTab


def write_run(root, name, *, state="finished", done=3, epochs=3, val=0.4, data="mnist", **extra):
    """A run folder as a trainer leaves it: config.json, status.json, history.csv."""
    folder = root / name
    folder.mkdir(parents=True)
    config = TrainConfig(recipe="lenet5", data=data, epochs=epochs, **extra).resolved()
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    status = {
        "state": state, "recipe": "lenet5", "dataset": data, "epochs": epochs,
        "epochs_completed": done, "started": "2026-01-02T03:04:05+00:00",
        "updated": now_text(), "train_seconds": 12.5, "test_accuracy": 0.97,
        "host": "elsewhere", "pid": 1, "steps_per_epoch": 10,
    }  # fmt: skip
    (folder / "status.json").write_text(json.dumps(status))
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss,wall_time"]
    rows += [
        f"{e},{0.5 + e / 10},{1.0 - e / 10},{val + e / 10},{1.1 - e / 10},{1.7e9 + 60 * e}"
        for e in range(done)
    ]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture
def root():
    folder = paths.runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(qtbot):
    page = RunsPage()
    qtbot.addWidget(page)
    page.resize(1100, 800)
    yield page
    page.shutdown()


def _names(page) -> list[str]:
    proxy = page.proxy
    return [proxy.index(row, 0).data() for row in range(proxy.rowCount())]


def _show(qtbot, page, count: int) -> None:
    page.show()  # following starts when the page shows
    qtbot.waitUntil(lambda: page.model.rowCount() == count, timeout=5000)


def test_every_run_is_listed_sorted_and_filtered_broken_ones_with_the_reason(qtbot, root, page):
    write_run(root, "adam-lr1e-3", val=0.5)
    write_run(root, "sgd-slow", state="stopped", done=2, learning_rate=0.01)
    write_run(root, "live", state="running", done=1, epochs=5)
    write_run(root, "garbled")
    (root / "garbled" / "status.json").write_text('{"state": ')
    (root / "notes").mkdir()
    _show(qtbot, page, 5)
    model = page.model
    row = model.row_of("adam-lr1e-3")
    texts = [model.index(row, c).data() for c in range(model.columnCount())]
    assert texts[:10] == ["adam-lr1e-3", "finished", "lenet5", "mnist", "2026-01-02 03:04",
                          "3/3", "70.0%", "97.0%", "0:12", "0.001"]  # fmt: skip
    live = model.index(model.row_of("live"), STATUS)
    assert live.data() == "running" and "5" in model.index(model.row_of("live"), 5).data()
    assert live.data(Qt.ItemDataRole.ForegroundRole).color() == QColor(STATUS_COLOURS["running"])
    garbled = model.index(model.row_of("garbled"), STATUS)
    assert garbled.data() == "unreadable"
    assert "not valid JSON" in garbled.data(Qt.ItemDataRole.ToolTipRole)
    assert "not a run folder" in model.index(model.row_of("notes"), 0).data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert page.count_label.text() == "5 runs, 1 running"

    page.table.sortByColumn(6, Qt.SortOrder.DescendingOrder)  # best validation accuracy
    assert _names(page)[:3] == ["adam-lr1e-3", "sgd-slow", "live"]  # 70%, 50%, 40%
    page.table.sortByColumn(9, Qt.SortOrder.AscendingOrder)  # learning rate, as numbers
    assert _names(page)[:3] == ["adam-lr1e-3", "live", "sgd-slow"]
    page.filter_edit.setFocus()
    qtbot.keyClicks(page.filter_edit, "lenet STOP")  # every word, any column, any case
    assert _names(page) == ["sgd-slow"]
    page.filter_edit.clear()
    qtbot.keyClicks(page.filter_edit, "unreadable")
    assert sorted(_names(page)) == ["garbled", "notes"]
    page.filter_edit.clear()
    assert len(_names(page)) == 5


def test_rename_and_delete_ask_first_and_spare_a_running_run(qtbot, root, page, monkeypatch):
    write_run(root, "first")
    write_run(root, "second")
    write_run(root, "live", state="running", done=1)
    _show(qtbot, page, 3)
    page.select_runs(["first"])
    monkeypatch.setattr(page, "ask_name", lambda current: "first-renamed")
    with qtbot.waitSignal(page.files.done, timeout=10_000):  # on the worker
        page.findChild(type(page.buttons["runsRename"]), "runsRenameButton").click()
    assert not (root / "first").exists() and (root / "first-renamed").is_dir()
    assert [i.name for i in page.selected_runs()] == ["first-renamed"]

    questions: list[str] = []
    answer = {"yes": False}
    monkeypatch.setattr(page, "ask_confirm", lambda q: questions.append(q) or answer["yes"])
    page.select_runs(["second"])
    page.activateWindow()  # shortcuts reach an active window only
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=5000)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)  # the key, as in a file manager
    assert len(questions) == 1 and "second" in questions[0] and "cannot be undone" in questions[0]
    assert (root / "second").is_dir()  # answered No
    answer["yes"] = True
    with qtbot.waitSignal(page.files.done, timeout=10_000):
        page.buttons["runsDelete"].click()
    assert not (root / "second").exists() and page.model.row_of("second") == -1

    errors: list[str] = []
    monkeypatch.setattr(page, "show_error", errors.append)
    page.select_runs(["live"])
    assert not page.buttons["runsDelete"].isEnabled() and not page.buttons["runsResume"].isEnabled()
    page.delete_selected()
    assert errors and "is training" in errors[0] and (root / "live").is_dir()
    assert len(questions) == 2  # not even asked


def test_delete_and_rename_run_off_the_window_thread_and_a_fifo_lock_is_no_hang(
    qtbot, root, page, monkeypatch
):
    """Delete and Rename ran monitor.delete_run / rename_run on the GUI thread: a run
    whose lock was a FIFO froze the window for ever (review of issue 10, item 5)."""
    import os
    import threading

    from cnnstudio.core.training import monitor

    write_run(root, "piped")
    write_run(root, "other")
    os.mkfifo(root / "piped" / "lock")
    _show(qtbot, page, 2)
    threads = []
    real_delete, real_rename = monitor.delete_run, monitor.rename_run

    def delete_run(path):
        threads.append(threading.current_thread())
        return real_delete(path)

    def rename_run(path, name):
        threads.append(threading.current_thread())
        return real_rename(path, name)

    monkeypatch.setattr(monitor, "delete_run", delete_run)
    monkeypatch.setattr(monitor, "rename_run", rename_run)
    errors: list[str] = []
    monkeypatch.setattr(page, "show_error", errors.append)
    monkeypatch.setattr(page, "ask_name", lambda current: "renamed")
    page.select_runs(["piped"])
    with qtbot.waitSignal(page.files.done, timeout=10_000):
        qtbot.mouseClick(page.buttons["runsRename"], Qt.MouseButton.LeftButton)
        assert not page.buttons["runsDelete"].isEnabled()  # one change at a time
    assert errors and "its lock is a named pipe (FIFO), not a file; remove it" in errors[0]
    monkeypatch.setattr(page, "ask_confirm", lambda question: True)
    with qtbot.waitSignal(page.files.done, timeout=10_000):
        qtbot.mouseClick(page.buttons["runsDelete"], Qt.MouseButton.LeftButton)
    assert not (root / "piped").exists() and page.model.row_of("piped") == -1
    assert (root / "other").is_dir() and len(errors) == 1
    assert len(threads) == 2 and threading.main_thread() not in threads


def test_live_follow_picks_up_rows_another_process_appends(qtbot, root, page):
    folder = write_run(root, "live", state="running", done=2, epochs=5)
    _show(qtbot, page, 1)
    page.select_runs(["live"])
    assert page.curves.curve_values(page.curves._runs["live"], "loss")[0].tolist() == [1, 2]
    with qtbot.waitSignal(page.follower.changed, timeout=5000):  # the 1 s poll
        with open(folder / "history.csv", "a") as handle:  # "another process" writes
            handle.write(f"2,0.8,0.7,0.6,0.8,{1.7e9 + 180}\n")
    x, y = page.curves.curve_values(page.curves._runs["live"], "loss")
    assert x.tolist() == [1, 2, 3] and y[-1] == pytest.approx(0.7)
    status = json.loads((folder / "status.json").read_text())
    status.update(state="finished", epochs_completed=3)
    with qtbot.waitSignal(page.follower.changed, timeout=5000):
        (folder / "status.json").write_text(json.dumps(status))
    row = page.model.row_of("live")
    assert page.model.index(row, STATUS).data() == "finished"
    assert page.model.index(row, 5).data() == "3/5"
    page.hide()
    assert not page.follower.following  # nothing polls while nobody looks


def test_overlaid_curves_keep_their_colours_read_out_and_export(
    qtbot, root, page, tmp_path, monkeypatch
):
    for name in ("run-a", "run-b", "run-c"):
        write_run(root, name, done=4)
    _show(qtbot, page, 3)
    page.select_runs(["run-a", "run-b", "run-c"])
    curves = page.curves
    colours = curves.run_colours()
    assert len(set(colours.values())) == 3
    # the table shows each run's colour beside its name
    row = page.model.row_of("run-b")
    assert page.model.index(row, 0).data(Qt.ItemDataRole.DecorationRole) == QColor(colours["run-b"])
    curves.smoothing.setValue(60)
    curves.x_combo.setCurrentIndex(curves.x_combo.findData("wall"))
    page.select_runs(["run-c"])
    page.select_runs(["run-b", "run-a", "run-c"])
    assert curves.run_colours() == colours  # across redraws and new selections
    # a run's colour is its name's, the same in a new window (when no other run has it)
    fresh = ColourBook().assign(["run-a"])
    assert fresh["run-a"] == ColourBook().palette[ColourBook().home("run-a")]

    # smoothing: TensorBoard's EMA with debiasing, on every curve
    x, y = curves.curve_values(curves._runs["run-a"], "loss")
    raw = [1.0, 0.9, 0.8, 0.7]
    assert y[1] == pytest.approx((0.6 * 0.4 * 1.0 + 0.4 * 0.9) / (1 - 0.36))
    assert y[0] == pytest.approx(raw[0])
    # the x axis by step (steps_per_epoch from status.json) and by epoch
    curves.x_combo.setCurrentIndex(curves.x_combo.findData("step"))
    assert curves.curve_values(curves._runs["run-a"], "loss")[0].tolist() == [10, 20, 30, 40]
    curves.x_combo.setCurrentIndex(curves.x_combo.findData("epoch"))
    curves.smoothing.setValue(0)

    # hover: a real mouse move over the loss plot reads every curve at that epoch
    page.show()
    qtbot.waitExposed(page)
    plot = curves.loss_plot
    scene_point = plot.vb.mapViewToScene(QPointF(3.0, 0.8))
    widget_point = curves.view.mapFromScene(scene_point)
    qtbot.mouseMove(curves.view.viewport(), widget_point)
    qtbot.waitUntil(lambda: curves._labels["loss"].isVisible(), timeout=3000)
    text = curves._labels["loss"].textItem.toPlainText()
    for name in ("run-a", "run-b", "run-c"):
        assert f"{name} loss: 0.8" in text and f"{name} val_loss: 0.9" in text
    assert "epoch 3" in text
    accuracy = curves.readout(3.0)["accuracy"]
    assert ("run-a", "val_accuracy", 3.0, pytest.approx(0.6)) in accuracy

    # export: the values of the shown runs as CSV, the plot as PNG
    targets = iter([str(tmp_path / "runs"), str(tmp_path / "curves.png")])
    curves.ask_save_path = lambda title, suggested, name_filter: next(targets)
    curves.csv_button.click()
    rows = list(csv.reader(open(tmp_path / "runs.csv")))
    assert rows[0] == ["run", "epoch", "wall_time", "loss", "val_loss", "accuracy", "val_accuracy"]
    assert len(rows) == 1 + 3 * 4 and rows[1][:2] == ["run-a", "1"]
    assert float(rows[2][3]) == pytest.approx(0.9)  # raw values, not smoothed ones
    curves.png_button.click()
    with Image.open(tmp_path / "curves.png") as picture:
        assert picture.format == "PNG" and picture.width > 200

    # a name typed without its suffix names an existing file only once the suffix is
    # added: it is replaced only if the user says so
    from cnnstudio.gui.widgets import dialogs

    before = (tmp_path / "runs.csv").read_bytes()
    asked: list[str] = []
    curves.ask_save_path = lambda title, suggested, name_filter: str(tmp_path / "runs")
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda parent, q, *a: asked.append(q) or False)
    assert curves.export_csv() is None
    assert asked and "runs.csv already exists" in asked[0]
    assert (tmp_path / "runs.csv").read_bytes() == before


def test_train_tab_curves_read_right(qtbot):
    tab = TrainTab()
    qtbot.addWidget(tab)
    pages = tab.pages
    per_batch = [2.0, 1.0, 3.0, 2.0, 0.5, 0.7, 0.3, 0.5]  # two epochs of 4 batches
    for epoch in (1, 2):
        values = per_batch[(epoch - 1) * 4 : epoch * 4]
        for batch in (1, 2, 3, 4):
            mean = float(np.mean(values[:batch]))  # Keras logs the epoch's running mean
            pages.plot_batch(events.BatchEnd(epoch, 3, batch, 4, mean, min(mean / 4, 1.0),
                                             100.0, batch, 8))  # fmt: skip
        if epoch == 1:  # one validation point only so far: it must show
            pages.plot_epoch(events.EpochEnd(1, 3, 2.0, 0.4, 1.5, 0.55, 100.0, 1.0))
            pages.accuracy_plot.redraw()
            curve = pages.accuracy_plot._series["val_accuracy"].curve
            assert curve.opts["symbol"] == "o" and len(curve.getData()[0]) == 1
    # true per-batch values: no cliff where Keras' running mean starts again
    assert pages.loss_plot.data("loss (batch)")[1].tolist() == pytest.approx(per_batch)
    pages.plot_batch(events.BatchEnd(3, 3, 2, 4, 0.4, 0.9, 100.0, 10, 12))  # then Stop
    pages.plot_epoch(events.EpochEnd(3, 3, 0.4, 0.9, None, None, 100.0, 1.0, partial=True))
    x, y = pages.loss_plot.data("loss (partial epoch)")
    assert x.tolist() == [2.5] and y.tolist() == [0.4]  # where it stopped, marked apart
    assert pages.loss_plot.data("loss")[0].tolist() == [1.0]  # not a whole epoch
    # accuracy in its own units: no SI prefix "(x0.001)" with ticks 100-900
    plot = pages.accuracy_plot
    for value in (0.1, 0.5, 0.9):
        plot.add_point("accuracy", 1.0, value)
    plot.redraw()
    plot.getPlotItem().vb.autoRange()
    axis = plot.getPlotItem().getAxis("left")
    assert axis.autoSIPrefixScale == 1.0 and "x0.001" not in axis.labelString()
    assert max(float(t) for t in axis.tickStrings([0.2, 0.8], 1.0, 0.2)) < 1.0
    tab.shutdown()


def test_a_confusion_cell_opens_its_images(qtbot, root, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x_test = rng.integers(0, 255, (12, 28, 28), dtype=np.uint8)
    y_test = np.array([0, 1, 2] * 4)
    npz = tmp_path / "set.npz"
    np.savez(npz, x_train=x_test, y_train=y_test, x_test=x_test, y_test=y_test)
    folder = write_run(root, "done", data=str(npz))
    predicted = np.array([0, 2, 2, 0, 2, 2, 0, 1, 2, 0, 2, 2])  # true 1 -> 2: rows 1, 4, 10
    confidence = np.linspace(0.1, 0.9, 12).astype(np.float32)
    preds.save_predictions(folder, preds.Predictions(
        "test", ("zero", "one", "two"), np.arange(12), y_test, predicted, confidence, 12,
        "the model the run ended with"))  # fmt: skip
    monkeypatch.setattr(run_results, "PAGE", 2)
    dialog = run_results.RunResultsDialog(folder)
    qtbot.addWidget(dialog)
    assert dialog.confusion.item(1, 2).text() == "3"
    assert "3 misclassified" in dialog.summary.text()  # the real count
    dialog.gradcam_box.setChecked(False)  # pictures only (no model in this folder)
    with qtbot.waitSignal(dialog.runner.done, timeout=60000):
        dialog.confusion.cellClicked.emit(1, 2)
    assert dialog.shown_indices() == [10, 4]  # most confident mistakes first, a page of 2
    assert "3 image(s)" in dialog.cell_label.text()
    with qtbot.waitSignal(dialog.runner.done, timeout=60000):
        dialog.more_button.click()
    assert dialog.shown_indices() == [10, 4, 1] and not dialog.more_button.isEnabled()
    icon = dialog.images.item(0).icon().pixmap(112, 112).toImage()
    assert icon.width() == 112  # the 28x28 picture, enlarged
    # with Grad-CAM but no best.keras: the pictures still come, with the reason
    with qtbot.waitSignal(dialog.runner.done, timeout=60000):
        dialog.gradcam_box.setChecked(True)
    assert dialog.shown_indices() == [10, 4] and "best.keras" in dialog.cell_label.text()
    # the validation set has no predictions yet: offered, not an error
    dialog.split_combo.setCurrentIndex(dialog.split_combo.findData("validation"))
    assert not dialog.compute_button.isHidden()
    assert "No stored predictions" in dialog.summary.text()
    dialog.shutdown()

    # the Train tab's own Results page: its matrix opens the same images
    tab = TrainTab()
    qtbot.addWidget(tab)
    matrix = np.zeros((3, 3), np.int64)
    np.add.at(matrix, (y_test, predicted), 1)
    done = events.TrainingDone(
        0.5, 0.75, matrix, (1.0, 0.0, 1.0), ("zero", "one", "two"), (), (), 3, False,
        str(folder), test_examples=12, test_total=12,
    )  # fmt: skip
    tab.pages.show_results(done)
    misclassified = tab.pages.indexOf(tab.pages.misclassified)
    assert tab.pages.tabText(misclassified) == "Misclassified (3)"  # all, not the shown ones
    tab.pages.confusion.cellClicked.emit(1, 2)
    opened = tab.pages.findChild(run_results.RunResultsDialog)
    assert opened.cell == (1, 2) and opened.split == "test"
    qtbot.waitUntil(lambda: not opened.runner.running, timeout=60000)
    assert opened.shown_indices() == [10, 4]
    tab.shutdown()


def test_window_shortcut_and_resume_from_the_browser(qtbot, active_window, root, monkeypatch):
    write_run(root, "old", state="stopped", done=2, epochs=6)
    write_run(root, "done")
    qtbot.keyClick(active_window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    tab = active_window.current_tab()
    assert isinstance(tab, TrainTab)
    page = tab.pages.runs_page
    assert tab.pages.currentWidget() is page
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=5000)
    resumed: list[str] = []
    monkeypatch.setattr(tab, "_resume", resumed.append)
    tab.form.epochs.setValue(3)
    page.select_runs(["old"])
    page.buttons["runsResume"].click()  # a stopped run: on to the epochs it was started for
    assert resumed == [str(root / "old")] and tab.pages.currentIndex() == 0
    assert tab.form.epochs.value() == 6
    tab.show_runs()
    tab.form.epochs.setValue(2)
    page.select_runs(["done"])  # finished its 3 epochs: the Epochs box must say more
    page.buttons["runsResume"].click()
    assert len(resumed) == 1
    tab.form.epochs.setValue(5)
    page.buttons["runsResume"].click()
    assert resumed[-1] == str(root / "done") and tab.form.epochs.value() == 5
