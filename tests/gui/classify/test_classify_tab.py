"""The Classify tab used as a person would: pick a library model, drop files and a folder,
read and sort the table, export it, turn on Grad-CAM, look at feature maps, paste from the
clipboard, hand a picture to Dream/Style, and be refused a malicious model."""

from __future__ import annotations

import csv

import numpy as np
from classify_helpers import TIMEOUT_MS, child, column, run_and_wait
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QMessageBox,
    QPushButton,
    QTableWidget,
)

from cnnstudio.gui.tabs.classify.results import (
    COL_ERROR,
    COL_FILE,
    COL_LABEL,
    COL_PROB,
)
from cnnstudio.gui.widgets.image_view import ImageView


def test_drop_files_then_a_folder_and_read_the_results(qtbot, tab, pictures, drop_files, tmp_path):
    table = child(tab, QTableWidget, "classifyResults")
    area = tab.findChild(object, "classifyDropArea")
    assert area is not None and area.acceptDrops()

    run_and_wait(
        qtbot,
        tab,
        lambda: drop_files(area, [pictures / "black.png", pictures / "white.png"]),
    )
    assert column(table, COL_FILE) == ["black.png", "white.png"]
    assert column(table, COL_LABEL) == ["dark", "light"]

    # a whole folder: its images, the one in a subfolder and the broken one
    run_and_wait(qtbot, tab, lambda: drop_files(area, [pictures]))
    assert table.rowCount() == 6
    names = column(table, COL_FILE)
    assert names[2:] == ["black.png", "broken.png", "grey.png", "white.png"]
    broken = names.index("broken.png")
    error = table.item(broken, COL_ERROR)
    assert "truncated" in error.text() and "broken.png" in error.toolTip()
    assert table.item(broken, COL_LABEL).text() == ""
    assert table.item(names.index("grey.png"), COL_LABEL).text() == "light"

    # sortable: by probability, highest first, the broken file last
    table.sortItems(COL_PROB, Qt.SortOrder.DescendingOrder)
    probabilities = [table.item(r, COL_PROB).data(Qt.ItemDataRole.DisplayRole) for r in range(6)]
    assert probabilities == sorted(probabilities, reverse=True)
    assert table.item(5, COL_FILE).text() == "broken.png"
    assert [r.file.endswith("broken.png") for r in tab.results()][-1]

    out = tmp_path / "export.csv"
    tab.ask_csv_path = lambda: str(out)
    child(tab, QPushButton, "classifyExportButton").click()
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert len(rows) == 7 and rows[-1][0].endswith("broken.png") and rows[-1][-1]


def test_gradcam_feature_maps_and_hand_over(qtbot, tab, pictures):
    run_and_wait(qtbot, tab, lambda: tab.classify_paths([str(pictures / "inner")]))
    view = child(tab, ImageView, "classifyImage")
    table = child(tab, QTableWidget, "classifyResults")
    with qtbot.waitSignal(tab.details.explain_runner.done, timeout=TIMEOUT_MS):
        table.selectRow(0)
    plain = view.image().copy()
    assert plain.shape == (40, 40, 3) and (plain == 200).all()

    toggle = child(tab, QCheckBox, "classifyGradCam")
    with qtbot.waitSignal(tab.details.explain_runner.finished, timeout=TIMEOUT_MS):
        toggle.setChecked(True)
    overlay = view.image()
    assert overlay.shape == plain.shape and not np.array_equal(overlay, plain)
    layers = child(tab, QComboBox, "classifyCamLayer")
    assert "conv2" in layers.itemText(0)  # automatic: the last convolution
    toggle.setChecked(False)
    assert np.array_equal(view.image(), plain)

    features = child(tab, QComboBox, "classifyFeatureLayer")
    assert [features.itemData(i) for i in range(features.count())] == ["conv1", "conv2"]
    with qtbot.waitSignal(tab.details.explain_runner.finished, timeout=TIMEOUT_MS):
        tab.details.detail_tabs.setCurrentIndex(1)
    grid = child(tab, ImageView, "classifyFeatureMaps").image()
    assert grid is not None and grid.shape[0] > 64 and grid.shape[1] > 64

    sent = []
    tab.send_image.connect(lambda key, image, role: sent.append((key, image, role)))
    child(tab, QPushButton, "classifyDreamButton").click()
    child(tab, QPushButton, "classifyContentButton").click()
    child(tab, QPushButton, "classifyStyleButton").click()
    path = str(pictures / "inner" / "grey.png")
    assert sent == [("dream", path, "image"), ("style", path, "content"), ("style", path, "style")]


def test_ctrl_v_pastes_an_image_from_the_clipboard(qtbot, entry, active_window, press_paste):
    """A real Ctrl+V in the window's Classify tab (the tab used to add a shortcut of its own
    on the window's Paste key: Qt then found the key ambiguous and did nothing)."""
    tab = active_window.tab_by_key("classify")
    active_window.tabs.setCurrentWidget(tab)
    tab.form.set_model_spec(str(entry.path))
    table = child(tab, QTableWidget, "classifyResults")
    picture = QImage(24, 16, QImage.Format.Format_RGB888)
    picture.fill(Qt.GlobalColor.white)
    QApplication.clipboard().setImage(picture)
    try:
        run_and_wait(qtbot, tab, lambda: press_paste(table))
        assert table.rowCount() == 1
        assert table.item(0, COL_FILE).text().startswith("clipboard")
        assert table.item(0, COL_LABEL).text() == "light"
        assert tab.results()[0].thumbnail.shape == (16, 24, 3)
        # the Paste button takes the same path
        run_and_wait(qtbot, tab, child(tab, QPushButton, "classifyPasteButton").click)
        assert table.rowCount() == 2
    finally:
        tab.shutdown()


def test_malicious_model_is_refused_with_a_message(qtbot, tab, pictures, tmp_path, monkeypatch):
    import keras

    marker = tmp_path / "marker"
    monkeypatch.setenv("CNNSTUDIO_TEST_MARKER", str(tmp_path / "at-build"))
    payload = lambda x: (  # noqa: E731  a lambda is what a Lambda layer serialises
        __import__("pathlib").Path(__import__("os").environ["CNNSTUDIO_TEST_MARKER"]).touch(),
        x,
    )[1]
    evil = tmp_path / "evil.keras"
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Lambda(payload)]).save(evil)
    monkeypatch.setenv("CNNSTUDIO_TEST_MARKER", str(marker))

    combo = child(tab, QComboBox, "classifyModel")
    tab.form.ask_model_file = lambda: str(evil)
    tab.form._on_model_activated(combo.findData("<open .keras file>"))
    assert tab.form.model_spec() == str(evil)
    messages = []
    tab.status.connect(messages.append)
    with qtbot.waitSignal(tab.runner.failed, timeout=TIMEOUT_MS) as failed:
        tab.classify_paths([str(pictures / "black.png")])
    qtbot.waitUntil(lambda: not tab.runner.running)
    assert "evil.keras" in failed.args[0] and "refused" in failed.args[0]
    assert any("refused" in m for m in messages)
    boxes = [b for b in tab.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "refused" in boxes[0].text()
    for box in boxes:
        box.close()
    assert not marker.exists()
    assert child(tab, QTableWidget, "classifyResults").rowCount() == 0


def test_main_window_lists_classify_second_and_routes_its_pictures(qtbot, entry, pictures):
    from PySide6.QtWidgets import QTabWidget

    from cnnstudio.gui.main_window import MainWindow

    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    try:
        tabs = window.findChild(QTabWidget, "mainTabs")
        titles = [tabs.tabText(i) for i in range(tabs.count())]
        assert titles == ["Train", "Classify", "Style", "Dream"]
        tab = window.tab_by_key("classify")
        tab.form.set_model_spec(str(entry.path))
        run_and_wait(qtbot, tab, lambda: tab.classify_paths([str(pictures / "white.png")]))
        tab.table.selectRow(0)
        child(tab, QPushButton, "classifyDreamButton").click()
        dream = window.tab_by_key("dream")
        assert tabs.currentWidget() is dream
        source = dream.source_image()
        assert source is not None and source.shape == (40, 40, 3) and (source == 255).all()
    finally:
        for tab in window.tab_widgets():
            tab.shutdown()
        window.close()


def test_a_failed_run_keeps_its_files_and_offers_the_ways_out(
    qtbot, tab, entry, pictures, monkeypatch
):
    """Missing ImageNet weights: the dropped files wait (Classify again stays enabled and
    runs them), and the box offers Import weights... and Use untrained."""
    run_button = child(tab, QPushButton, "classifyRunButton")
    tab.form.set_model_spec("mobilenet_v2")
    tab.form.weights.set_value("imagenet")
    files = [str(pictures / "black.png"), str(pictures / "white.png")]
    boxes = []
    monkeypatch.setattr(
        "cnnstudio.gui.widgets.dialogs.import_weights_action",
        lambda widget: type("Action", (), {"trigger": lambda self: None})(),
    )
    with qtbot.waitSignal(tab.runner.failed, timeout=TIMEOUT_MS) as failed:
        tab.classify_paths(files)
    qtbot.waitUntil(lambda: not tab.runner.running)
    assert "MobileNetV2 ImageNet weights" in failed.args[0]
    assert tab.waiting_paths() == files
    assert run_button.isEnabled()
    boxes = [b for b in tab.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and boxes[0].windowTitle() == "Weights missing"
    buttons = {b.text(): b for b in boxes[0].buttons()}
    assert "Import weights..." in buttons and "Use untrained" in buttons

    rerun = []
    monkeypatch.setattr(tab, "run_job", lambda: rerun.append(tab.form.weights.value()))
    buttons["Use untrained"].click()
    assert rerun == ["random"]  # the untrained network, at once, on the waiting files
    monkeypatch.undo()
    for box in boxes:
        box.close()

    # another model, then Classify again: the waiting files are classified
    tab.form.set_model_spec(str(entry.path))
    run_and_wait(qtbot, tab, run_button.click)
    assert column(child(tab, QTableWidget, "classifyResults"), COL_LABEL) == ["dark", "light"]
    assert tab.waiting_paths() == []


def test_library_model_shows_its_own_name_for_the_weights(qtbot, tab, entry):
    picker = tab.form.weights
    tab.form.set_model_spec(str(entry.path))
    assert picker.currentText() == "Model's own weights: brightness"
    assert not picker.isEnabled()
    picker.setEnabled(True)  # the tab's own enabling after a run does not unlock it
    assert not picker.isEnabled()
    tab.form.set_model_spec("vgg19")
    assert picker.isEnabled() and picker.currentText() == "ImageNet (pretrained)"
    assert picker.findText("Model's own weights: brightness") < 0


def test_feature_map_caption_follows_the_selection(qtbot, tab, pictures):
    run_and_wait(
        qtbot,
        tab,
        lambda: tab.classify_paths([str(pictures / "black.png"), str(pictures / "white.png")]),
    )
    details = tab.details
    with qtbot.waitSignal(details.explain_runner.finished, timeout=TIMEOUT_MS):
        details.detail_tabs.setCurrentIndex(1)
        tab.table.selectRow(0)
    qtbot.waitUntil(lambda: not details.explain_runner.running)
    assert details.feature_info.text().startswith("conv1: ")
    assert details.feature_view.image() is not None
    tab.table.selectRow(1)  # another picture: the old maps and caption go at once
    assert "making the feature maps" in details.feature_info.text()
    with qtbot.waitSignal(details.explain_runner.done, timeout=TIMEOUT_MS):
        pass
    qtbot.waitUntil(lambda: details.feature_info.text().startswith("conv1: 30x30"))
    tab.clear_results()
    assert details.feature_info.text() == "" and details.feature_view.image() is None


def test_every_classify_control_has_a_tooltip(qtbot, tab):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QProgressBar, QTabBar

    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QProgressBar, QTableWidget, ImageView)
    missing = [
        f"{type(w).__name__} {w.objectName() or getattr(w, 'text', lambda: '')()}"
        for kind in kinds
        for w in tab.findChildren(kind)
        if not w.toolTip()
        and not isinstance(w.parent(), QTabBar)  # Qt's own: tab scroll arrows,
        and not w.objectName().startswith("qt_")  # the table's corner button
    ]
    assert missing == []
