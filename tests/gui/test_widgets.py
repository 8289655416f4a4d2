"""The shared widgets: ImageView, LossPlot, WeightsPicker, JobProgress."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnnstudio.core.eta import format_duration
from cnnstudio.core.events import Progress
from cnnstudio.gui.widgets.image_view import ImageView, array_to_qimage
from cnnstudio.gui.widgets.plots import LossPlot
from cnnstudio.gui.widgets.progress import JobProgress
from cnnstudio.gui.widgets.weights_picker import WeightsPicker


def gradient(height=40, width=60):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4, y * 6, (x + y) * 2], axis=-1).astype(np.uint8)


def test_array_to_qimage_keeps_pixels():
    image = gradient()
    qimage = array_to_qimage(image)
    assert (qimage.width(), qimage.height()) == (60, 40)
    colour = qimage.pixelColor(7, 5)
    assert (colour.red(), colour.green(), colour.blue()) == tuple(image[5, 7])


def test_qimage_to_array_round_trip_and_alpha_over_white():
    from PySide6.QtGui import QColor, QImage

    from cnnstudio.gui.clipboard import qimage_to_array

    image = gradient(13, 17)  # odd width: rows are padded in the QImage
    assert np.array_equal(qimage_to_array(array_to_qimage(image)), image)
    transparent = QImage(5, 4, QImage.Format.Format_ARGB32)
    transparent.fill(QColor(0, 0, 0, 0))
    assert (qimage_to_array(transparent) == 255).all()


def test_image_view_shows_zooms_and_fits(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    assert view.image() is None
    assert "Ctrl+O" in view.placeholder_text()
    view.set_image(gradient())
    assert view.image().shape == (40, 60, 3)
    fitted = view.zoom_factor()
    assert fitted > 2  # a 60x40 image is blown up to fill a 400x300 view
    view.zoom_in()
    assert view.zoom_factor() > fitted
    view.zoom_out()
    view.zoom_out()
    assert view.zoom_factor() < fitted
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert abs(view.zoom_factor() - fitted) < 1e-6
    one_to_one = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    qtbot.keyClick(view, Qt.Key.Key_0, one_to_one)
    assert view.zoom_factor() == 1.0  # one image pixel per screen pixel
    view.fit()
    # a new frame of the same size keeps the user's zoom
    view.zoom_in()
    zoomed = view.zoom_factor()
    view.set_image(gradient()[::-1].copy())
    assert view.zoom_factor() == zoomed
    view.set_image(None)
    assert view.image() is None


def test_image_view_compare_shows_the_reference(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    after = np.zeros((30, 30, 3), np.uint8)
    before = np.full((60, 60, 3), 255, np.uint8)
    view.set_image(after)
    view.set_reference(before)
    assert view.shown_pixmap().toImage().pixelColor(5, 5).red() == 0
    view.set_comparing(True)
    shown = view.shown_pixmap()
    assert shown.toImage().pixelColor(5, 5).red() == 255
    assert (shown.width(), shown.height()) == (30, 30)  # scaled to the result's footprint
    view.set_comparing(False)
    assert view.shown_pixmap().toImage().pixelColor(5, 5).red() == 0


def test_image_view_drop_announces_image_files_only(qtbot, tmp_path, drop_files):
    view = ImageView()
    qtbot.addWidget(view)
    image_file = tmp_path / "photo.png"
    image_file.write_bytes(b"not checked here")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("x")
    with qtbot.waitSignal(view.image_dropped, timeout=2000) as blocker:
        drop_files(view.viewport(), [text_file, image_file])
    assert blocker.args == [str(image_file)]
    with qtbot.assertNotEmitted(view.image_dropped):
        event = drop_files(view.viewport(), [text_file])
    assert not event.isAccepted()


def test_loss_plot_buffers_and_redraws(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    for step in range(1, 1001):
        plot.add_point("loss", step, 1.0 / step)
        if step % 2 == 0:
            plot.add_point("tv", step, 0.5)
    plot.add_point("loss", 1001, float("nan"))  # skipped, never breaks the curve
    x, y = plot.data("loss")
    assert len(x) == 1000 and y[0] == 1.0 and x[-1] == 1000
    assert plot.series_names() == ["loss", "tv"]
    # the curve itself is only updated by the timer, at most ~10 times a second
    assert plot.drawn_points("loss") == 0
    qtbot.waitUntil(lambda: plot.drawn_points("loss") == 1000, timeout=3000)
    assert len(plot.data("tv")[0]) == 500
    # a curve of a thousand steps is a line, not a thousand circles; a symbol on request
    assert plot._series["loss"].curve.opts["symbol"] is None
    assert plot.add_series("checks", symbol="o").curve.opts["symbol"] == "o"
    plot.clear()
    assert plot.series_names() == []
    assert len(plot.data("loss")[0]) == 0


def test_weights_picker_values_and_file_choice(qtbot, tmp_path):
    picker = WeightsPicker()
    qtbot.addWidget(picker)
    texts = [picker.itemText(i) for i in range(picker.count())]
    assert texts == ["ImageNet (pretrained)", "Untrained (random weights)", "Weights file..."]
    assert picker.value() == "imagenet"
    picker.set_value("random")
    assert picker.value() == "random"

    weights = tmp_path / "inception.weights.h5"
    weights.write_bytes(b"\x89HDF")
    picker.ask_weights_file = lambda: str(weights)
    with qtbot.waitSignal(picker.value_changed, timeout=2000) as blocker:
        picker.activated.emit(picker.count() - 1)  # the user picks "Weights file..."
    assert blocker.args == [str(weights)]
    assert picker.value() == str(weights)

    # remembered for the next picker (another tab, next run)
    other = WeightsPicker()
    qtbot.addWidget(other)
    assert any(other.itemData(i) == str(weights) for i in range(other.count()))

    # a cancelled dialog goes back to the previous choice
    picker.set_value("random")
    picker.ask_weights_file = lambda: None
    picker.setCurrentIndex(picker.count() - 1)
    picker.activated.emit(picker.count() - 1)
    assert picker.value() == "random"


def test_job_progress_text_and_eta():
    from cnnstudio.core.eta import Eta

    clock = [100.0]
    bar = JobProgress(stage_name="Octave", clock=lambda: clock[0])
    assert isinstance(bar.eta, Eta)  # the one ETA helper, not a window of its own
    bar.start()
    assert bar.maximum() == 0  # busy until the first step
    bar.update_progress(Progress(step=10, total=61, loss=1.0))
    assert bar.format() == "Step 10/61 - ETA --:--"  # one report: no rate yet
    clock[0] = 110.0  # 1 s per step measured so far
    bar.update_progress(Progress(step=20, total=61, loss=1.0))
    assert bar.format() == "Step 20/61 - ETA 0:41"
    # the work done, not the step count, drives it: a job whose later steps cost more
    clock[0] = 120.0
    bar.update_progress(Progress(step=30, total=61, loss=1.0, fraction=0.25))
    assert bar.eta.seconds_left == pytest.approx((120 - 100) / (0.25 - 10 / 61) * 0.75)
    bar.start()  # a new run: the set-up before its first step does not count
    assert bar.eta.seconds_left is None
    assert bar.describe(63, 250, 2, 5, 41) == "Octave 2/5 - step 63/250 - ETA 0:41"
    bar.steps_per_stage = True  # dreams: every octave has total/stages steps
    assert bar.describe(63, 250, 2, 5, 41) == "Octave 2/5 - step 13/50 - ETA 0:41"
    assert bar.describe(63, 250, 2, 5, None) == "Octave 2/5 - step 13/50 - ETA --:--"
    bar.update_progress(Progress(step=5, total=10, loss=1.0, stage=1, stages=1))
    assert bar.value() == 5 and bar.maximum() == 10
    assert bar.format().startswith("Step 5/10 - ETA")
    bar.finish("Stopped")
    assert bar.format() == "Stopped" and bar.value() == 5
    assert format_duration(3700) == "1:01:40"


def test_loss_plot_clear_points_keeps_the_named_series_and_drops_the_rest(qtbot):
    """A new run empties the curves it will draw again without re-creating them (that
    cost the GUI thread ~40 ms at every Start); a series it will not draw goes."""
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add_point("loss", 1, 0.5)
    plot.add_series("val_loss", symbol="o")
    plot.add_point("val_loss", 1, 0.6)
    plot.add_point("loss (partial epoch)", 1.5, 0.4)
    plot.redraw()
    kept_curve = plot._series["loss"].curve
    plot.clear_points(keep=("loss", "val_loss"))
    assert plot.series_names() == ["loss", "val_loss"]
    assert plot._series["loss"].curve is kept_curve  # the same curve, style and colour
    assert len(plot.data("loss")[0]) == 0 and len(plot.data("val_loss")[0]) == 0
    plot.redraw()
    assert plot.drawn_points("loss") == 0 and plot.drawn_points("val_loss") == 0
    plot.add_point("loss", 1, 0.3)
    plot.redraw()
    assert plot.data("loss")[1].tolist() == [0.3] and plot.drawn_points("loss") == 1
