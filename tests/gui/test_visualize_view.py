"""The feature visualisation view used as a person would: opened from Classify's explain
panel with the layer and the clicked channel filled in, the grid growing live, Stop, Save
with the parameters, a channel's dataset examples with their regions, Send to Dream, and
the messages for a layer, channels or files that do not fit.

The models are the hand-made ones of the core tests (tests/core/visualize_models.py): a
convolution whose seven channels look for red, green, blue, edges, dark and bright."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cnnstudio.core import image_saving, images, library
from cnnstudio.core.visualize.pictures import OUTLINE
from cnnstudio.gui.tabs.base import ChannelRef

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from visualize_models import designed, transfer  # noqa: E402

TIMEOUT_MS = 120_000
#: a quick recipe: tiles of 32 px, a few steps
QUICK = {"size_spin": 32, "steps_spin": 6}


@pytest.fixture(scope="module")
def models():
    return designed(), transfer()


@pytest.fixture
def entries(models):
    meta = {"class_names": ["red", "green", "blue"], "input_size": [32, 32], "channels": 3}
    return (
        library.save_to_library(models[0], "colours", meta),
        library.save_to_library(models[1], "transfer", {"input_size": [32, 32]}),
    )


@pytest.fixture
def view(qtbot, window, entries):
    """The view as View > Feature visualisation... opens it, on the colours model."""
    view = window.visualize.ensure_view()
    choose(view, str(entries[0].path), "detect", **QUICK)
    window.visualize_action.trigger()
    assert view.isVisible()
    qtbot.waitUntil(lambda: "7 channels" in view.form.layers.info.text(), timeout=TIMEOUT_MS)
    return view


def choose(view, model: str, layer: str, channels: str = "", **spins) -> None:
    form = view.form
    assert form.set_model_spec(model)
    form.layer_edit.setText(layer)
    form.channels_edit.setText(channels)
    for name, value in spins.items():
        getattr(form, name).setValue(value)


def run(qtbot, view, button: bool = True) -> None:
    with qtbot.waitSignal(view.runner.done, timeout=TIMEOUT_MS):
        view.run_button.click() if button else view.run_job()


def errors_of(view) -> list[str]:
    shown: list[str] = []
    view.show_error = lambda message, details="": shown.append(message)
    return shown


def save_png(path: Path, array: np.ndarray) -> Path:
    image_saving.save_image(path, array.astype(np.uint8))
    return path


# ----------------------------------------------------------------------------- Classify


def test_classify_explain_panel_opens_the_view_on_the_clicked_channel(
    qtbot, window, entries, tmp_path
):
    classify = window.tab_by_key("classify")
    window.tabs.setCurrentWidget(classify)
    classify.form.refresh_models()
    classify.form.set_model_spec(str(entries[0].path))
    picture = save_png(tmp_path / "red.png", np.tile([230, 20, 20], (32, 32, 1)))
    with qtbot.waitSignal(classify.runner.done, timeout=TIMEOUT_MS):
        classify.classify_paths([str(picture)])
    details = classify.details
    if details.explain_runner.running:
        qtbot.waitSignal(details.explain_runner.done, timeout=TIMEOUT_MS).wait()
    details.feature_layer.setCurrentIndex(details.feature_layer.findData("detect"))
    with qtbot.waitSignal(details.explain_runner.finished, timeout=TIMEOUT_MS):
        details.detail_tabs.setCurrentIndex(1)
    maps = details.feature_view
    assert len(maps.tiles()) == 7  # the seven channels of "detect", one tile each
    assert maps.labels() == [str(i) for i in range(7)]
    qtbot.mouseClick(maps.viewport(), Qt.MouseButton.LeftButton, pos=maps.tile_center(2))
    assert maps.chosen() == 2 and "channel 2 chosen" in details.feature_info.text()
    assert details.look_button.text() == "What does #2 look for?"

    quick = window.visualize.ensure_view()  # a quick recipe before it runs
    quick.form.size_spin.setValue(32)
    quick.form.steps_spin.setValue(4)
    with qtbot.waitSignal(quick.runner.done, timeout=TIMEOUT_MS):
        details.look_button.click()
    view = window.visualize.view
    assert view.isVisible() and view.form.model_spec() == str(entries[0].path)
    assert view.form.layer() == "detect" and view.form.channels_edit.text() == "2"
    assert [r.channel for r in view.panel.records] == [2]
    assert view.panel.chosen_record().channel == 2  # the channel asked about is shown
    assert view.panel.image_view.image() is not None
    # the layer list comes from the model: its layers and channel counts
    qtbot.waitUntil(lambda: view.form.layers.list.count() == 2, timeout=TIMEOUT_MS)
    assert view.form.layers.list.item(0).text() == "detect  (7 channels)"
    assert view.form.layers.info.text() == "7 channels (0-6)"


def test_dream_layer_list_opens_the_view_on_a_layer(qtbot, active_window, entries):
    """Issue 14 asks for the view "from the layer list" too: a right-click on a layer of
    Dream's list, "What does LAYER look for?" (review item 14)."""
    from PySide6.QtWidgets import QMenu

    window = active_window
    dream = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(dream)
    with qtbot.waitSignal(dream.form.library.runner.done, timeout=TIMEOUT_MS):
        assert dream.form.select_library_model("colours")  # its layers, read on a worker
    table = dream.form.layer_table
    row = table.names().index("detect")
    quick = window.visualize.ensure_view()  # a quick recipe before it runs
    quick.form.size_spin.setValue(32)
    quick.form.steps_spin.setValue(4)
    table.scrollToItem(table.item(row, 0))
    cell = table.visualItemRect(table.item(row, 0)).center()
    # through the window, as the platform delivers it: Qt makes the context menu event
    where = table.viewport().mapTo(window, cell)
    qtbot.mouseClick(window.windowHandle(), Qt.MouseButton.RightButton, pos=where)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=5000)
    menu = QApplication.activePopupWidget()
    assert [a.text() for a in menu.actions()] == ["What does detect look for?"]
    with qtbot.waitSignal(quick.runner.done, timeout=TIMEOUT_MS):
        qtbot.keyClick(menu, Qt.Key.Key_Down)
        qtbot.keyClick(menu, Qt.Key.Key_Return)
    view = window.visualize.view
    assert view.isVisible() and view.form.model_spec() == str(entries[0].path)
    assert view.form.layer() == "detect" and view.form.channels_edit.text() == ""
    assert len(view.panel.records) == 7  # every channel of the layer

    # a backbone: its name and the weights chosen in Dream
    refs = []
    dream.show_channels.disconnect()
    dream.show_channels.connect(refs.append)
    dream.form.select_backbone("vgg19")
    dream.form.weights_picker.set_value("random")
    dream.form.layer_table.look_requested.emit("block3_conv2")
    assert refs == [ChannelRef("vgg19", "block3_conv2", None, "random", "VGG19")]


# ------------------------------------------------------------------ live, Stop and Save


def test_the_grid_grows_live_and_stop_keeps_it_for_saving(
    qtbot, window, view, tmp_path, unsaved_questions
):
    choose(view, view.form.model_spec(), "detect", "0-6", steps_spin=4096)
    view.form.per_channel_spin.setValue(4)
    grids = []
    view.runner.preview.connect(lambda preview: grids.append(preview.image.copy()))
    with qtbot.waitSignal(view.runner.done, timeout=TIMEOUT_MS):
        view.run_button.click()
        assert view.stop_button.isEnabled() and not view.run_button.isEnabled()
        qtbot.waitUntil(lambda: len(grids) >= 2, timeout=TIMEOUT_MS)
        assert not np.array_equal(grids[0], grids[-1])  # the images change while optimised
        assert np.array_equal(view.grid_view.image(), grids[-1])
        view.stop_button.click()
    assert view.progress.format() == "Stopped"
    assert "Stopped" in view.status_line.text() and view.run_button.isEnabled()
    assert view.grid_view.image() is not None and view.unsaved_work()
    asked = unsaved_questions
    assert window.confirm_close()  # Quit asks about the grid; the answer here: Discard
    assert "Feature visualisation: the grid is not saved" in asked[-1][0] and asked[-1][1]
    asked.answers.append("cancel")
    assert not window.confirm_close()

    out = tmp_path / "stopped.png"
    view.ask_save_path = lambda: str(out)
    view.save_button.click()
    meta = images.read_params(out)
    assert meta["job"] == "visualize" and meta["params"]["layer"] == "detect"
    assert meta["params"]["channels"] == list(range(7)) and meta["params"]["steps"] == 4096
    assert view.unsaved_work() is None


def test_a_finished_grid_has_objectives_per_channel_and_saves_its_records(qtbot, view, tmp_path):
    choose(view, view.form.model_spec(), "detect", "0-6")
    run(qtbot, view)
    records = view.panel.records
    assert [r.channel for r in records] == list(range(7))
    table = view.panel.table
    assert table.rowCount() == 7
    rows = [
        [table.item(row, c).data(Qt.ItemDataRole.DisplayRole) for c in (0, 1)] for row in range(7)
    ]
    assert rows == [[r.channel, round(r.objective, 4)] for r in records]
    assert min(value for _, value in rows) > 0  # every designed channel responds
    table.sortItems(1, Qt.SortOrder.DescendingOrder)  # the most excited channel first
    best = max(records, key=lambda r: r.objective).channel
    assert table.item(0, 0).data(Qt.ItemDataRole.DisplayRole) == best
    assert view.grid_view.tiles() == [r.box for r in records]
    assert view.grid_view.labels() == [str(c) for c in range(7)]
    assert view.progress.format() == "Done" and "Done: 7 channels" in view.status_line.text()

    # a click on a tile chooses its channel
    grid = view.grid_view
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.tile_center(4))
    assert view.panel.chosen_record().channel == 4
    assert table.selectedItems()[0].data(Qt.ItemDataRole.DisplayRole) == 4
    x, y, w, h = records[4].box
    assert np.array_equal(
        view.panel.image_view.image(), view.grid_view.image()[y : y + h, x : x + w]
    )

    out = tmp_path / "grid.png"
    view.ask_save_path = lambda: str(out)
    with qtbot.waitSignal(view.runner.done, timeout=TIMEOUT_MS):
        QApplication.processEvents()
        view.ask_unsaved = lambda message: "save"  # a new run asks first: Save
        view.run_job()
    meta = images.read_params(out)
    assert [c["channel"] for c in meta["channels"]] == list(range(7))
    assert meta["channels"][4]["box"] == list(records[4].box)
    assert meta["tile_size"] == [32, 32] and meta["model_label"] == "colours"


# ----------------------------------------------------------------------- dataset examples


def test_examples_of_a_channel_show_their_regions_and_skipped_files_are_listed(
    qtbot, view, tmp_path
):
    folder = tmp_path / "photos"
    folder.mkdir()
    half = np.full((40, 60, 3), 128, np.uint8)
    half[:, 30:] = (240, 10, 10)  # red on the right: the region is there
    save_png(folder / "half-red.png", half)
    save_png(folder / "green.png", np.tile([10, 240, 10], (40, 40, 1)))
    (folder / "notes.txt").write_text("not a picture")
    view.form.examples_edit.setText(str(folder))
    view.form.top_spin.setValue(2)
    choose(view, view.form.model_spec(), "detect", "0,1")
    run(qtbot, view)
    assert "notes.txt" in view.panel.examples_note.text()
    assert "Skipped 1 file" in view.status_line.text()

    red = view.panel.records[0]
    assert [Path(e.file).name for e in red.examples] == ["half-red.png", "green.png"]
    x, y, w, h = red.examples[0].region
    assert x + w / 2 >= 30  # around where the red half starts exciting the channel
    qtbot.waitUntil(lambda: view.panel.examples_list.count() == 2, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: view.panel.example_picture(0) is not None, timeout=TIMEOUT_MS)
    picture = view.panel.example_picture(0)
    outlined = np.all(picture == OUTLINE, axis=-1)
    assert picture.shape == (40, 60, 3)
    assert outlined[y : y + h, x].all() and not outlined[:, :x].any()
    assert "half-red.png" in view.panel.examples_list.item(0).text()

    view.panel.table.selectRow(1)  # the green channel: its own examples
    assert view.panel.chosen_record().channel == 1
    qtbot.waitUntil(lambda: view.panel.example_picture(0) is not None, timeout=TIMEOUT_MS)
    assert "green.png" in view.panel.examples_list.item(0).text()
    view.panel.examples_runner.wait()


# -------------------------------------------------------------------------- Send to Dream


def test_send_to_dream_sets_the_dream_channel_on_the_nested_model(qtbot, window, view, entries):
    window.show()  # the Dream tab reads a library model's layers when it shows
    choose(view, str(entries[1].path), "designed/detect", "2-3")
    run(qtbot, view)
    view.choose(1)
    dream = window.tab_by_key("dream")
    view.panel.send_button.click()
    assert window.tabs.currentWidget() is dream
    form = dream.form
    qtbot.waitUntil(form.channel_check.isChecked, timeout=TIMEOUT_MS)
    assert form.library_path() == str(entries[1].path)
    assert form.channel_layer.currentText() == "designed/detect"
    assert form.channel_index.value() == 3
    assert dream.form.params().channel == ("designed/detect", 3)
    form.library.runner.wait()


def test_a_backbone_channel_arrives_in_dream_with_its_weights(qtbot, window):
    dream = window.tab_by_key("dream")
    assert dream.receive_channel(ChannelRef("vgg19", "block3_conv2", 17, "random", "VGG19"))
    params = dream.form.params()
    assert params.backbone == "vgg19" and params.weights == "random"
    assert params.channel == ("block3_conv2", 17)
    classify = window.tab_by_key("classify")
    assert not classify.receive_channel(ChannelRef("vgg19", "block3_conv2", 17))


# ---------------------------------------------------------------------------- bad input


def test_bad_layer_channels_and_folder_are_refused_in_the_windows_words(qtbot, view, tmp_path):
    shown = errors_of(view)
    choose(view, view.form.model_spec(), "nowhere", "0")
    run(qtbot, view)
    assert "No layer 'nowhere'" in shown[-1] and "detect" in shown[-1]
    assert "Pick a layer in the layer list" in shown[-1]

    choose(view, view.form.model_spec(), "detect", "5-9")
    run(qtbot, view)
    assert "7 channels" in shown[-1] and "from 0 to 6" in shown[-1]

    view.form.channels_edit.setText("3-x")
    view.run_button.click()  # refused before any job
    assert not view.runner.running and "'3-x'" in shown[-1] and "In Channels" in shown[-1]

    view.form.channels_edit.setText("0")
    view.form.examples_edit.setText(str(tmp_path / "missing"))
    run(qtbot, view)
    assert "missing: no such folder; check the path" in shown[-1]
    assert "Dataset examples" in shown[-1] and "no such folder" in view.status_line.text()
    assert view.grid_view.image() is None


def test_every_control_of_the_view_has_a_tooltip(view):
    from test_tooltips import controls_without_tooltip

    assert controls_without_tooltip(view) == []


def test_the_view_remembers_its_settings(qtbot, view, tmp_path):
    from cnnstudio.gui.visualize.view import VisualizeWindow

    choose(view, view.form.model_spec(), "detect", "1,3-5", steps_spin=77)
    view.form.examples_edit.setText(str(tmp_path))
    view.close()  # hides it, keeping the settings
    again = VisualizeWindow()
    qtbot.addWidget(again)
    again.restore_settings()
    form = again.form
    assert form.model_spec() == view.form.model_spec() and form.layer() == "detect"
    assert form.channels_edit.text() == "1,3-5" and form.steps_spin.value() == 77
    assert form.examples_edit.text() == str(tmp_path) and form.size_spin.value() == 32
    again.shutdown()


def test_a_backbone_without_its_imagenet_weights_offers_the_ways_out(qtbot, view, monkeypatch):
    from cnnstudio.gui.widgets import dialogs

    offered = []
    monkeypatch.setattr(
        dialogs, "show_missing_weights", lambda parent, message, use: offered.append((message, use))
    )
    form = view.form
    choose(view, "mobilenet_v2", "block_3_expand_relu", "0-3")
    form.weights.set_value("imagenet")
    assert form.weights.isEnabled()  # a backbone: its weights are a choice
    run(qtbot, view)  # offline (tests never download): the file is missing
    assert offered and "mobilenet" in offered[0][0].lower() and "Import weights" in offered[0][0]
    assert view.progress.format() == "Failed"

    with qtbot.waitSignal(view.runner.done, timeout=TIMEOUT_MS):
        offered[0][1]()  # "Use untrained": the same grid on random weights
    assert form.weights.value() == "random"
    assert [r.channel for r in view.panel.records] == [0, 1, 2, 3]
    assert "untrained" in view.status_line.text()
    view.layers_runner.wait()
