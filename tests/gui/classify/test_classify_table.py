"""The Classify tab's table: a bar for each top-k label, columns that fit a 1024 px window,
and the error column only when a file failed."""

from __future__ import annotations

import numpy as np
from classify_helpers import TIMEOUT_MS, child, run_and_wait
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QTableWidget,
)

from cnnstudio.gui.tabs.classify.results import (
    COL_ERROR,
    COL_FILE,
    COL_LABEL,
    COL_PROB,
    COL_TOPK,
)
from cnnstudio.gui.widgets.delegates import TOPK_ROLE, TopKDelegate


def _bar_lengths(table: QTableWidget, row: int, width: int = 200, height: int = 48) -> list[int]:
    """The top-k cell of ``row`` painted by its delegate: the length of each bar."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    delegate = table.itemDelegateForColumn(COL_TOPK)
    assert isinstance(delegate, TopKDelegate)
    canvas = QImage(width, height, QImage.Format.Format_RGB888)
    canvas.fill(Qt.GlobalColor.white)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, width, height)
    option.palette = table.palette()
    painter = QPainter(canvas)
    delegate.paint(painter, option, table.model().index(row, COL_TOPK))
    painter.end()
    pixels = np.frombuffer(canvas.constBits(), np.uint8).reshape(height, canvas.bytesPerLine())
    rgb = pixels[:, : width * 3].reshape(height, width, 3).astype(int)
    blue = (np.abs(rgb - [70, 130, 220]).sum(axis=-1) < 30).sum(axis=1)  # bar pixels per line
    bands, previous = [], 0
    for count in blue:  # consecutive lines with bar pixels form one bar
        if count and not previous:
            bands.append(int(count))
        elif count:
            bands[-1] = max(bands[-1], int(count))
        previous = count
    return bands


def test_table_shows_a_bar_for_each_top_k_label(qtbot, tab, pictures):
    table = child(tab, QTableWidget, "classifyResults")
    run_and_wait(qtbot, tab, lambda: tab.classify_paths([str(pictures / "inner" / "grey.png")]))
    result = tab.results()[0]
    item = table.item(0, COL_TOPK)
    assert item.data(TOPK_ROLE) == [(p.label, p.probability) for p in result.predictions]
    assert "light" in item.text()  # the text stays for sorting and copying
    assert len(result.predictions) == 2 and result.top.probability > 0.99
    assert _bar_lengths(table, 0)[0] >= 180  # the 'light' bar: (almost) full width

    # k labels with their own probabilities: k bars as long as each (best first)
    shares = [("cat", 0.6), ("dog", 0.3), ("bird", 0.1)]
    item.setData(TOPK_ROLE, shares)
    lengths = _bar_lengths(table, 0)
    assert len(lengths) == 3
    for length, (_, probability) in zip(lengths, shares, strict=True):
        # the label is written over the bar and may hide a few of its pixels
        assert abs(length - 194 * probability) <= 12


def test_pasted_pictures_do_not_become_the_last_folder(qtbot, tab, pictures):
    from cnnstudio.gui.settings import last_folder

    run_and_wait(qtbot, tab, lambda: tab.classify_paths([str(pictures / "white.png")]))
    assert last_folder() == str(pictures)
    run_and_wait(qtbot, tab, lambda: tab.classify_array(np.zeros((20, 20, 3), np.uint8)))
    run_and_wait(qtbot, tab, lambda: tab.receive_image(np.zeros((20, 20, 3), np.uint8), "image"))
    assert tab.table.rowCount() == 3
    assert last_folder() == str(pictures)  # not the session's temporary paste folder


def test_imagenet_weights_download_shows_in_the_bar_and_stop_abandons_it(
    qtbot, tab, pictures, fake_weights_download
):
    import threading

    from PySide6.QtWidgets import QProgressBar

    from cnnstudio.core import backbones, paths

    payload = bytes(range(256)) * (4 * 4096)  # 4 MB: four chunks
    gate = threading.Event()  # holds the download after its first chunk

    fake_weights_download(payload, hold=gate)
    tab.form.set_model_spec("mobilenet_v2")
    tab.form.weights.set_value("imagenet")
    bar = child(tab, QProgressBar, "classifyProgress")
    statuses: list[str] = []
    tab.status.connect(statuses.append)
    name = backbones.get_backbone("mobilenet_v2").weights_file(True)
    try:
        tab.classify_paths([str(pictures / "black.png")])
        qtbot.waitUntil(lambda: bar.format().startswith("downloading"), timeout=TIMEOUT_MS)
        assert bar.format() == f"downloading {name}: 1/4 MB"
        assert (bar.value(), bar.maximum()) == (1024, 4096)  # kilobytes
        assert f"Classify: downloading {name}: 1/4 MB" in statuses
        with qtbot.waitSignal(tab.runner.done, timeout=TIMEOUT_MS):
            tab.stop_job()
            gate.set()
    finally:
        gate.set()
    assert bar.format() == "Stopped" and tab.runner.error_message == ""
    assert list((paths.keras_cache_dir() / "models").iterdir()) == []  # no partial file


# ------------------------------------------------------------------ rough edges (issue 9)


def test_table_is_usable_in_a_1024x700_window(qtbot, entry, pictures):
    """Columns sized to their content: in a 1024x700 window the probability and error
    columns are in view, the top labels column is wide enough for its header and its
    bars, and two files of the same name differ by their folder."""
    from cnnstudio.core.classify.params import ClassifyResult, Prediction
    from cnnstudio.gui.main_window import MainWindow
    from cnnstudio.gui.widgets.delegates import FOLDER_ROLE

    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    window.resize(1024, 700)
    tab = window.tab_by_key("classify")
    window.tabs.setCurrentWidget(tab)
    window.show()
    qtbot.waitExposed(window)
    try:
        table = tab.table
        predictions = tuple(
            Prediction(label=label, probability=p, index=i)
            for i, (label, p) in enumerate(
                [("golden retriever", 0.62), ("Labrador retriever", 0.2), ("tennis ball", 0.1)]
            )
        )
        thumb = np.full((30, 40, 3), 90, np.uint8)
        same_name = ["/photos/holiday-2024/IMG_0001.jpg", "/photos/garden/IMG_0001.jpg"]
        for file in same_name:
            table.add_result(ClassifyResult(file=file, predictions=predictions, thumbnail=thumb))
        broken = "/photos/a-rather-long-file-name-that-was-cut-short.png"
        message = "a-rather-long-file-name-that-was-cut-short.png: the file ends too early"
        table.add_result(ClassifyResult(file=broken, error=message))
        qtbot.waitUntil(lambda: table.viewport().width() > 300)
        qtbot.waitUntil(lambda: tab.splitter.sizes()[1] > 500)  # the panes got their widths

        viewport = table.viewport().rect()
        for col in (COL_FILE, COL_LABEL, COL_PROB, COL_ERROR):
            rect = table.visualRect(table.model().index(2, col))
            assert not table.isColumnHidden(col)
            assert viewport.contains(rect), f"column {col} is out of view at 1024 px"
        assert table.columnWidth(COL_ERROR) >= 120  # the message wraps over the row, readable
        header = table.horizontalHeader()
        title = table.horizontalHeaderItem(COL_TOPK).text()
        assert header.sectionSize(COL_TOPK) > header.fontMetrics().horizontalAdvance(title) + 10
        needed = table.fontMetrics().horizontalAdvance("Labrador retriever 20.0%")
        assert table.columnWidth(COL_TOPK) >= needed  # labelled bars, not 25 px of blue

        names = [table.item(r, COL_FILE) for r in range(2)]
        assert [n.text() for n in names] == ["IMG_0001.jpg", "IMG_0001.jpg"]
        assert [n.data(FOLDER_ROLE) for n in names] == ["holiday-2024", "garden"]
        assert [n.toolTip() for n in names] == same_name
        assert table.textElideMode() == Qt.TextElideMode.ElideMiddle
        error = table.item(2, COL_ERROR)
        assert error.text() == "The file ends too early" and error.toolTip() == message
    finally:
        for each in window.tab_widgets():
            each.shutdown()
        window.close()


def test_error_column_shows_only_when_a_file_failed(qtbot, tab, pictures):
    table = child(tab, QTableWidget, "classifyResults")
    run_and_wait(qtbot, tab, lambda: tab.classify_paths([str(pictures / "white.png")]))
    assert table.isColumnHidden(COL_ERROR)
    run_and_wait(qtbot, tab, lambda: tab.classify_paths([str(pictures / "broken.png")]))
    assert not table.isColumnHidden(COL_ERROR)
    tab.clear_results()
    assert table.isColumnHidden(COL_ERROR)
