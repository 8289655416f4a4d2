"""The picture view as an image editor's: drop targets light up while a file is dragged
over them, the zoom shows as a percentage, a before/after divider is dragged with the
mouse; plot legends stay off the curves."""

from __future__ import annotations

import warnings

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent
from PySide6.QtWidgets import QApplication

from cnnstudio.gui.widgets.drop_area import PathDropArea
from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.plots import LossPlot


def drag_enter(widget, paths) -> QDragEnterEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        event = QDragEnterEvent(
            QPoint(5, 5),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(widget, event)
    return event


def test_drop_targets_light_up_while_a_file_is_dragged_over(qtbot, tmp_path, drop_files):
    picture = tmp_path / "a.png"
    picture.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("x")
    view = ImageView()
    qtbot.addWidget(view)
    area = PathDropArea("Drop files")
    qtbot.addWidget(area)

    assert drag_enter(view.viewport(), [text]).isAccepted() is False
    assert not view.drop_highlighted()  # nothing it would take
    assert drag_enter(view.viewport(), [picture]).isAccepted()
    assert view.drop_highlighted() and view.property("dropHighlight")
    QApplication.sendEvent(view.viewport(), QDragLeaveEvent())
    assert not view.drop_highlighted()

    drag_enter(area, [tmp_path])
    assert area.drop_highlighted() and "highlight" in area.styleSheet()
    QApplication.sendEvent(area, QDragLeaveEvent())
    assert not area.drop_highlighted() and "dashed" in area.styleSheet()

    got = []
    view.image_dropped.connect(got.append)
    drop_files(view.viewport(), [picture])
    assert got == [str(picture)] and not view.drop_highlighted()  # off after the drop


def test_a_folder_drop_is_taken_only_where_a_batch_is(qtbot, tmp_path, drop_files):
    view = ImageView()
    qtbot.addWidget(view)
    folders = []
    view.folder_dropped.connect(folders.append)
    assert not drop_files(view.viewport(), [tmp_path]).isAccepted()
    view.accept_folders = True
    assert drop_files(view.viewport(), [tmp_path]).isAccepted()
    assert folders == [str(tmp_path)]


def _pixel(view, x: int, y: int) -> tuple[int, int, int]:
    colour = view.viewport().grab().toImage().pixelColor(x, y)
    return colour.red(), colour.green(), colour.blue()


def test_zoom_percentage_and_the_split_divider(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    after = np.zeros((100, 200, 3), np.uint8)
    after[:] = (0, 0, 255)  # blue result
    before = np.zeros((100, 200, 3), np.uint8)
    before[:] = (255, 0, 0)  # red original
    view.set_image(after)
    view.set_reference(before)
    view.zoom_actual()
    assert view.zoom_percent() == 100
    view.zoom_in()
    assert view.zoom_percent() == 125

    view.zoom_actual()
    view.set_split(True)
    centre = view.mapFromScene(QPointF(100, 50))
    left = view.mapFromScene(QPointF(40, 50))
    right = view.mapFromScene(QPointF(160, 50))
    assert _pixel(view, left.x(), left.y()) == (255, 0, 0)  # before, left of the divider
    assert _pixel(view, right.x(), right.y()) == (0, 0, 255)  # after, right of it

    # drag the divider (a real press on it, a move, a release) to a quarter of the width
    port = view.viewport()
    target = view.mapFromScene(QPointF(50, 50))
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(port, target)
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=target)
    assert abs(view.split_position() - 0.25) < 0.03
    middle_left = view.mapFromScene(QPointF(80, 50))
    assert _pixel(view, middle_left.x(), middle_left.y()) == (0, 0, 255)  # now "after"
    assert view.zoom_percent() == 100  # dragging the divider did not pan or zoom

    view.set_split(False)
    assert _pixel(view, left.x(), left.y()) == (0, 0, 255)


def test_plot_legend_sits_outside_the_curves(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(600, 200)
    plot.show()
    qtbot.waitExposed(plot)
    for name in ("loss", "mixed3", "mixed5", "mixed7"):
        for x in range(1, 30):
            plot.add_point(name, x, x * 2.0)
    plot.redraw()
    QApplication.processEvents()
    assert plot.legend_rect().height() > 0
    assert not plot.legend_rect().intersects(plot.plot_area_rect())
    plot.clear()
    assert plot.series_names() == []
