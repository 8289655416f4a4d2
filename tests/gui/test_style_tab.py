"""The Style tab used as a person would: drop pictures, pick untrained weights, Run, watch
previews and progress, Stop, Save; snapshots; settings. VGG19 random weights, tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QProgressBar, QPushButton

from cnnstudio.core import image_saving, images
from cnnstudio.gui.tabs.style.tab import StyleTab
from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.plots import LossPlot


@pytest.fixture
def picture_files(tmp_path):
    rng = np.random.default_rng(0)
    x = np.linspace(0, 255, 80)[None, :, None]
    content = np.clip(x * [1.0, 0.4, 0.7] + rng.normal(0, 10, (64, 80, 3)), 0, 255)
    stripes = ((np.arange(48) // 6) % 2 * 180)[:, None, None] + np.zeros((48, 48, 3)) + 40
    paths = tmp_path / "content.png", tmp_path / "style.png"
    Image.fromarray(content.astype(np.uint8)).save(paths[0])
    Image.fromarray(stripes.astype(np.uint8)).save(paths[1])
    return paths


@pytest.fixture
def tab(qtbot):
    widget = StyleTab()
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.shutdown()


def _use_random_weights(tab: StyleTab) -> None:
    combo = tab.findChild(QComboBox, "styleWeights")
    index = next(i for i in range(combo.count()) if "random" in combo.itemText(i).lower())
    combo.setCurrentIndex(index)
    assert tab.form.params().weights == "random"


def _loaded_tab(tab, picture_files, drop_files, steps: int) -> StyleTab:
    content, style_file = picture_files
    assert drop_files(
        tab.findChild(ImageView, "styleContentSlot").viewport(), [content]
    ).isAccepted()
    assert drop_files(
        tab.findChild(ImageView, "styleStyleSlot").viewport(), [style_file]
    ).isAccepted()
    assert tab.findChild(ImageView, "styleContentSlot").image() is not None
    assert tab.findChild(ImageView, "styleStyleSlot").image().shape == (48, 48, 3)
    _use_random_weights(tab)
    tab.form.size_spin.setValue(64)
    tab.form.steps_spin.setValue(steps)
    tab.form.snapshot_spin.setValue(2)
    tab.form.seed_spin.setValue(3)
    return tab


def test_object_names_are_there(tab):
    assert tab.objectName() == "styleTab"
    for cls, name in [
        (QComboBox, "styleWeights"),
        (QPushButton, "styleRunButton"),
        (QPushButton, "styleStopButton"),
        (QPushButton, "styleSaveButton"),
        (ImageView, "styleContentSlot"),
        (ImageView, "styleStyleSlot"),
        (ImageView, "stylePreview"),
        (QProgressBar, "styleProgress"),
        (LossPlot, "styleLossPlot"),
    ]:
        assert tab.findChild(cls, name) is not None, name


def test_drop_run_previews_stop_then_save(tab, qtbot, picture_files, drop_files, tmp_path):
    _loaded_tab(tab, picture_files, drop_files, steps=500)
    preview = tab.findChild(ImageView, "stylePreview")
    progress = tab.findChild(QProgressBar, "styleProgress")
    frames = []
    tab.runner.preview.connect(lambda event: frames.append(event.image))
    qtbot.mouseClick(tab.findChild(QPushButton, "styleRunButton"), Qt.MouseButton.LeftButton)
    assert tab.runner.running and not tab.run_button.isEnabled()
    qtbot.waitUntil(lambda: len(frames) >= 2 and progress.value() >= 3, timeout=120_000)
    assert preview.image().shape == (51, 64, 3)  # the live picture, not the content
    assert progress.maximum() == 500
    assert set(tab.findChild(LossPlot, "styleLossPlot").series_names()) >= {"content", "tv"}
    with qtbot.waitSignal(tab.runner.done, timeout=60_000):
        qtbot.mouseClick(tab.findChild(QPushButton, "styleStopButton"), Qt.MouseButton.LeftButton)
    assert 3 <= tab._last_step < 500 and progress.format() == "Stopped"
    assert tab.has_result() and tab.save_button.isEnabled()

    out = tmp_path / "styled.png"
    tab.ask_save_path = lambda: str(out)
    qtbot.mouseClick(tab.findChild(QPushButton, "styleSaveButton"), Qt.MouseButton.LeftButton)
    saved = images.load_image(out)
    np.testing.assert_array_equal(saved, tab.result_image())
    meta = images.read_params(out)
    assert meta["job"] == "style" and meta["untrained"] is True
    assert meta["content"] == "content.png" and meta["styles"] == ["style.png"]
    # the picture kept at a Stop is the last preview, which may be a step or two behind
    # the progress bar on a busy machine (previews are throttled, steps are not)
    assert meta["size"] == 64 and 1 <= meta["stopped_at_step"] <= tab._last_step
    assert meta["stopped_at_step"] == tab.snapshots[-1][0]


def test_finished_run_keeps_snapshots_to_step_back_through_and_save(
    tab, qtbot, picture_files, drop_files, tmp_path, unsaved_questions
):
    _loaded_tab(tab, picture_files, drop_files, steps=6)
    tab.form.snapshot_spin.setValue(1)
    tab.form.colors_combo.setCurrentIndex(tab.form.colors_combo.findData("luminance"))
    finished = []
    tab.runner.finished.connect(finished.append)
    with qtbot.waitSignal(tab.runner.done, timeout=120_000):
        tab.run_button.click()
    assert finished and tab.progress.format() == "Done"
    steps = [step for step, _ in tab.snapshots]
    assert steps[0] >= 1 and steps[-1] == 6 and steps == sorted(steps) and len(steps) >= 2
    np.testing.assert_array_equal(tab.preview.image(), tab.result_image())
    tab.select_snapshot(0)
    np.testing.assert_array_equal(tab.preview.image(), tab.snapshots[0][1])
    assert "iteration" in tab.snapshot_label.text()
    out = tmp_path / "early.png"
    tab.ask_save_path = lambda: str(out)
    tab.save_result()
    assert images.read_params(out)["snapshot_step"] == steps[0]
    early = tab.snapshots[0][1]
    np.testing.assert_array_equal(images.load_image(out), early)

    # Opening the saved picture offers its parameters back; the final result was not
    # saved (only a snapshot), so opening another content asks first.
    tab.form.colors_combo.setCurrentIndex(tab.form.colors_combo.findData("none"))
    tab.form.steps_spin.setValue(99)
    asked = []
    tab.ask_restore_params = lambda path: asked.append(path) or True
    tab.open_image(str(out))
    assert asked == [str(out)]
    assert tab.form.params().preserve_colors == "luminance" and tab.form.params().steps == 6
    np.testing.assert_array_equal(tab.pictures.content_slot.image(), early)
    assert [message for message, _ in unsaved_questions] == [
        "The styled picture is not saved. Save it before opening early.png?"
    ]
    assert tab.snapshots == [] and tab.loss_plot.series_names() == []  # the old run's


def test_settings_round_trip_and_presets(tab, qtbot, tmp_path):
    tab.form.preset_combo.setCurrentIndex(tab.form.preset_combo.findData("johnson"))
    tab.form._preset_chosen(tab.form.preset_combo.currentIndex())
    assert tab.form.params().layers == "johnson" and tab.form.params().content_layers is None
    tab.form.optimizer_combo.setCurrentIndex(tab.form.optimizer_combo.findData("lbfgs"))
    assert tab.form.steps_spin.value() == 20 and not tab.form.lr_spin.isEnabled()
    tab.form.size_spin.setValue(300)
    tab.form.multi_scale_check.setChecked(True)
    tab.form.layer_table.spins[("style", "block3_conv1")].setValue(2.5)  # now a custom layer set
    assert tab.form.preset_combo.currentData() == "custom"
    params = tab.form.params()
    assert params.style_layers["block3_conv1"] == 2.5
    settings = QSettings(str(tmp_path / "style.ini"), QSettings.Format.IniFormat)
    tab.save_settings(settings)
    other = StyleTab()
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.form.params() == params
    other.shutdown()


def test_run_without_pictures_says_what_to_do(tab, monkeypatch):
    shown = []
    monkeypatch.setattr(tab, "show_error", lambda message, details="": shown.append(message))
    tab.run_job()
    assert shown and "content" in shown[0] and not tab.runner.running


def test_dropping_several_style_pictures_adds_each_and_the_dialog_takes_several(
    tab, picture_files, drop_files, tmp_path
):
    content, style_file = picture_files
    second = tmp_path / "second.png"
    Image.fromarray(np.full((40, 56, 3), 90, np.uint8)).save(second)
    single = []
    tab.pictures.style_slot.image_dropped.connect(single.append)  # kept for one-picture owners
    assert drop_files(tab.pictures.style_slot.viewport(), [style_file, second]).isAccepted()
    assert single == [str(style_file)]
    assert [s.name for s in tab.pictures.styles] == ["style.png", "second.png"]
    assert tab.pictures.style_table.rowCount() == 2 and tab.pictures.style_blend() == [1.0, 1.0]
    # "Add style..." asks for several files at once.
    tab.ask_open_paths = lambda title="": [str(second), str(style_file)]
    tab.pictures.add_style_button.click()
    assert [s.name for s in tab.pictures.styles][2:] == ["second.png", "style.png"]


def test_lbfgs_progress_and_stop_respond_within_an_iteration(tab, qtbot, picture_files, drop_files):
    _loaded_tab(tab, picture_files, drop_files, steps=3)
    tab.form.optimizer_combo.setCurrentIndex(tab.form.optimizer_combo.findData("lbfgs"))
    tab.form.steps_spin.setValue(3)
    tab.form.evaluations_spin.setValue(1000)  # one iteration would take ages
    tab.run_button.click()
    qtbot.waitUntil(lambda: "evaluation 3" in tab.progress.format(), timeout=120_000)
    # one count: the iteration being worked on, as the form names it ("Iterations")
    assert tab.progress.format().startswith("Iteration 1/3: evaluation ")
    assert "step" not in tab.progress.format()
    with qtbot.waitSignal(tab.runner.done, timeout=60_000):
        tab.stop_button.click()
    assert tab.progress.format() == "Stopped" and tab._last_step == 0  # still in iteration 1
    assert tab.has_result()  # the mid-iteration preview is kept


def test_too_large_offers_a_size_that_fits_as_a_button(
    tab, qtbot, picture_files, drop_files, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    from cnnstudio.core.style import memory

    _loaded_tab(tab, picture_files, drop_files, steps=3)
    monkeypatch.setattr(memory, "available_memory", lambda: 1 * 2**30)
    tab.form.size_spin.setValue(6000)
    assert "too large" in tab.form.memory_label.text()
    tab.run_job()
    boxes = [b for b in tab.findChildren(QMessageBox) if b.isVisible()]
    assert not tab.runner.running and len(boxes) == 1
    box = boxes[0]
    assert "--" not in box.text() and "6000 px" in box.text()
    button = box.findChild(QPushButton, "styleUseSuggestedSize")
    suggested = int(button.text().split()[1])
    assert button.text() == f"Use {suggested} px" and 32 <= suggested < 6000
    assert f"{suggested} px fits" in tab.form.memory_label.text()
    button.click()
    assert tab.form.size_spin.value() == suggested
    assert memory.estimate_memory(tab.form.params(), tab.pictures.content.shape) <= 2**30
    assert "too large" not in tab.form.memory_label.text()
    box.close()


def test_restoring_a_picture_made_with_a_weights_file(tab, tmp_path):
    from cnnstudio.core.style.params import StyleParams, style_metadata

    weights = tmp_path / "my-vgg19.weights.h5"
    weights.write_bytes(b"not really weights")
    picture = np.full((40, 40, 3), 128, np.uint8)
    made = tmp_path / "made.png"
    meta = style_metadata(StyleParams(weights=str(weights), size=96))
    image_saving.save_image(made, picture, params=meta)
    messages = []
    tab.status.connect(messages.append)
    tab.ask_restore_params = lambda path: True
    tab.open_image(str(made))
    assert tab.form.params().weights == str(weights.resolve()) and tab.form.params().size == 96
    # The file gone: the restore message says so instead of skipping it silently.
    weights.unlink()
    tab.form.weights_picker.set_value("random")
    tab.open_image(str(made))
    assert "no longer exists" in messages[-1] and str(weights.resolve()) in messages[-1]
    assert tab.form.params().weights == "random"


def test_weights_download_shows_in_the_progress_bar(
    tab, qtbot, picture_files, drop_files, monkeypatch
):
    from cnnstudio.core import weights
    from cnnstudio.core.errors import ResourceMissingError
    from cnnstudio.core.events import DownloadProgress

    size = 80_134_624

    def fake_ensure(network, include_top=False, allow_download=True, on_download=None):
        for received in (12 << 20, 40 << 20):
            on_download(received, size)
        raise ResourceMissingError("download failed: connection reset")

    monkeypatch.setattr(weights, "ensure_imagenet_weights", fake_ensure)
    _loaded_tab(tab, picture_files, drop_files, steps=2)
    tab.form.weights_picker.set_value("imagenet")
    bar = tab.findChild(QProgressBar, "styleProgress")
    shown = []

    def record(event):
        if isinstance(event, DownloadProgress):
            shown.append((bar.format(), bar.value(), bar.maximum()))

    tab.runner.progress.connect(record)
    with qtbot.waitSignal(tab.runner.done, timeout=120_000):
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    name = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert [text for text, _, _ in shown] == [
        f"downloading {name}: 12/76 MB",
        f"downloading {name}: 40/76 MB",
    ]
    assert shown[-1][1] == (40 << 20) // 1024 and shown[-1][2] == size // 1024
    assert "connection reset" in tab.runner.error_message


def test_the_bar_is_the_one_eta_and_weighs_the_full_size_scale(tab, picture_files, drop_files):
    """A multi-scale run's later scales cost more per step: the job says so in
    Progress.fraction, and the bar's ETA (the only one the tab shows) follows it."""
    from cnnstudio.core.eta import Eta, format_duration, staged_fraction
    from cnnstudio.core.events import Progress

    _loaded_tab(tab, picture_files, drop_files, steps=10)
    tab.form.multi_scale_check.setChecked(True)
    costs = [1 / 16, 1 / 4, 1.0]  # the pixels of the 1/4, 1/2 and full-size scale
    clock = [0.0]
    tab.progress.eta = Eta(lambda: clock[0])
    for step in range(1, 11):  # the 1/4 scale: each step takes 1/16 s
        clock[0] = step * costs[0]
        fraction = staged_fraction(step, 10, costs)
        tab._on_progress(Progress(step, 30, 1.0, stage=1, stages=3, fraction=fraction))
    left = 10 * costs[1] + 10 * costs[2]  # not 20 more steps of 1/16 s
    assert tab.progress.format() == f"Scale 1/3 - iteration 10/30 - ETA {format_duration(left)}"


def test_presets_quick_look_and_a_box_that_never_lies(tab):
    from cnnstudio.core.style.params import StyleParams

    box = tab.form.recipe_combo
    assert box.current_preset() == "cpu"  # where the window starts without a GPU
    assert (tab.form.size_spin.value(), tab.form.steps_spin.value()) == (384, 150)
    box.activated.emit(box.findData("quick"))
    params = tab.form.params()
    assert (params.size, params.steps, params.learning_rate) == (256, 50, 0.05)
    assert box.currentText().startswith("Quick look")
    tab.form.size_spin.setValue(300)
    assert box.currentText() == "Custom"
    box.activated.emit(box.findData("quick"))  # chosen again: applied again
    assert tab.form.size_spin.value() == 256
    tab.form.set_params(StyleParams())  # restored settings: the tutorial's recipe
    assert box.current_preset() == "tutorial"
    tab.form.layer_table.set_layer_weights({"block4_conv2": 1.0}, {"block1_conv1": 1.0})
    tab.form.layer_table.edited.emit()
    assert box.current_preset() == "tutorial"  # the recipe does not name the layers
    box.activated.emit(box.findData("gatys"))
    assert tab.form.params().optimizer == "lbfgs" and box.current_preset() == "gatys"


def test_a_gpu_gets_the_tutorial_recipe_unless_the_user_chose(tab):
    from cnnstudio.core.device import DeviceInfo

    gpu = DeviceInfo("GPU", "RTX", False, gpu_count=1, mixed_precision_capable=True)
    tab.device_changed(DeviceInfo("CPU", "cpu", False))
    assert tab.form.params().size == 384
    tab.device_changed(gpu)
    assert (tab.form.params().size, tab.form.params().steps) == (512, 300)
    tab.form.set_params(tab.form.start_params(gpu=False))
    tab.form.steps_spin.setValue(120)  # the user's own choice
    tab.device_changed(gpu)
    assert tab.form.params().steps == 120


def test_the_run_time_shows_next_to_run_before_a_run(tab, qtbot, monkeypatch):
    from cnnstudio.core.device import DeviceInfo
    from cnnstudio.core.style import timing
    from cnnstudio.gui.tabs.style import estimate

    monkeypatch.setattr(estimate, "_session_rate", None)
    measured = []
    monkeypatch.setattr(estimate, "_measure", lambda: measured.append(1) or timing.StepRate(10.0))
    label = tab.estimate.label
    assert label.text() == "Run time: shown once a content picture is open"
    tab.set_content(np.zeros((768, 1024, 3), np.uint8), "photo.png")
    assert "known once this computer's speed is measured" in label.text()
    with qtbot.waitSignal(tab.estimate.runner.done, timeout=10_000):
        tab.device_changed(DeviceInfo("CPU", "cpu", False))  # the tab is shown already
    assert measured == [1]
    params = tab.form.params()  # 384 px, 150 Adam iterations: 384x288 px
    seconds = 10.0 * 384 * 288 / 1e6 * 150 * timing.LOOP_OVERHEAD
    from cnnstudio.core.eta import format_duration

    assert label.text() == f"Run time: about {format_duration(seconds)} on this computer"
    assert params.size == 384 and label.text() in tab.run_button.toolTip()
    tab.form.size_spin.setValue(1024)  # the form changes: the line follows
    tab.form.steps_spin.setValue(1000)
    assert "long: Quick look (Presets) takes about" in label.text()
    tab.device_changed(DeviceInfo("CPU", "cpu", False))
    assert measured == [1]  # once per session
