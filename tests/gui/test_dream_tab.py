"""The Dream tab used as a person would: drop a picture, pick untrained weights, set a small
dream, Run, watch it, Stop, Save, reopen the PNG and get the parameters back."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QProgressBar, QPushButton, QSpinBox

from cnnstudio.core.image_saving import save_image
from cnnstudio.core.images import read_params
from cnnstudio.gui.tabs.dream.tab import DreamTab
from cnnstudio.gui.widgets.image_view import ImageView
from cnnstudio.gui.widgets.plots import LossPlot

RUN_TIMEOUT_MS = 180_000  # the first run builds InceptionV3 and traces its step


@pytest.fixture
def tab(qtbot):
    widget = DreamTab()
    qtbot.addWidget(widget)
    widget.resize(1100, 750)
    widget.show()
    yield widget
    widget.shutdown()


@pytest.fixture
def photo(tmp_path):
    y, x = np.mgrid[0:72, 0:96]
    image = np.stack([x * 2, y * 3, 255 - x - y], axis=-1).astype(np.uint8)
    return save_image(tmp_path / "photo.png", image)


def child(tab, kind, name):
    widget = tab.findChild(kind, name)
    assert widget is not None, f"no {kind.__name__} named {name}"
    return widget


def choose_random_weights(tab):
    weights = child(tab, QComboBox, "dreamWeights")
    index = next(i for i in range(weights.count()) if "random" in weights.itemText(i).lower())
    weights.setCurrentIndex(index)
    assert tab.form.weights_picker.value() == "random"


def small_dream(tab, steps: int, octaves: int):
    child(tab, QSpinBox, "dreamSteps").setValue(steps)
    child(tab, QSpinBox, "dreamOctaves").setValue(octaves)
    child(tab, QSpinBox, "dreamMaxSize").setValue(96)
    child(tab, QSpinBox, "dreamSeed").setValue(3)


def test_drop_run_save_reopen(qtbot, tab, photo, tmp_path, drop_files):
    assert tab.objectName() == "dreamTab"
    preview = child(tab, ImageView, "dreamPreview")
    run = child(tab, QPushButton, "dreamRunButton")
    stop = child(tab, QPushButton, "dreamStopButton")
    save = child(tab, QPushButton, "dreamSaveButton")
    progress = child(tab, QProgressBar, "dreamProgress")
    plot = child(tab, LossPlot, "dreamLossPlot")
    assert run.isEnabled() and not stop.isEnabled() and not save.isEnabled()

    assert drop_files(preview.viewport(), [photo]).isAccepted()
    assert tab.source_image().shape == (72, 96, 3)
    assert preview.image() is not None
    choose_random_weights(tab)
    small_dream(tab, steps=3, octaves=2)

    previews = []
    tab.runner.preview.connect(lambda event: previews.append(event.step))
    with qtbot.waitSignal(tab.runner.done, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
        assert not run.isEnabled() and stop.isEnabled() and not save.isEnabled()
    assert tab.runner.error_message == ""
    assert previews, "no live preview arrived"
    assert progress.maximum() == 6 and progress.value() == 6 and progress.format() == "Done"
    assert list(plot.data("loss")[0]) == [1, 2, 3, 4, 5, 6]
    result = tab.result_image()
    assert result.shape == (72, 96, 3)
    assert not np.array_equal(result, tab.source_image())  # it did dream
    assert np.array_equal(preview.image(), result)
    assert run.isEnabled() and not stop.isEnabled() and save.isEnabled()

    # before/after compare shows the original while the button is held
    compare = child(tab, QPushButton, "dreamCompareButton")
    qtbot.mousePress(compare, Qt.MouseButton.LeftButton)
    assert preview.is_comparing()
    qtbot.mouseRelease(compare, Qt.MouseButton.LeftButton)
    assert not preview.is_comparing()

    out = tmp_path / "dreamed.png"
    tab.ask_save_path = lambda: str(out)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    meta = read_params(out)
    assert meta["job"] == "dream" and meta["untrained"] is True
    assert meta["params"]["steps"] == 3 and meta["params"]["weights"] == "random"
    assert meta["source"] == "photo.png" and meta["size"] == [96, 72]

    # reopening the PNG offers the parameters back
    child(tab, QSpinBox, "dreamSteps").setValue(40)
    tab.form.weights_picker.set_value("imagenet")
    asked = []
    tab.ask_restore_params = lambda path: asked.append(path) or True
    drop_files(preview.viewport(), [out])
    assert asked == [str(out)]
    assert child(tab, QSpinBox, "dreamSteps").value() == 3
    assert tab.form.weights_picker.value() == "random"
    assert tab.source_image().shape == (72, 96, 3)


def test_stop_mid_run_keeps_the_picture_so_far(qtbot, tab, photo, drop_files):
    drop_files(child(tab, ImageView, "dreamPreview").viewport(), [photo])
    choose_random_weights(tab)
    small_dream(tab, steps=400, octaves=1)
    run = child(tab, QPushButton, "dreamRunButton")
    stop = child(tab, QPushButton, "dreamStopButton")
    progress = child(tab, QProgressBar, "dreamProgress")
    qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: progress.value() >= 3 and tab._last_preview is not None, timeout=RUN_TIMEOUT_MS
    )
    with qtbot.waitSignal(tab.runner.stopped, timeout=30000):
        qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    assert progress.format() == "Stopped"
    assert progress.value() < 400
    assert run.isEnabled() and not stop.isEnabled()
    assert tab.has_result() and tab.save_button.isEnabled()
    assert np.array_equal(tab.result_image(), tab._last_preview.image)
    assert tab._stopped_at == tab._last_preview.step <= progress.value()


def test_dream_from_noise(qtbot, tab):
    choose_random_weights(tab)
    small_dream(tab, steps=2, octaves=1)
    tab.form.from_noise.setChecked(True)
    child(tab, QSpinBox, "dreamNoiseWidth").setValue(80)
    child(tab, QSpinBox, "dreamNoiseHeight").setValue(64)
    with qtbot.waitSignal(tab.runner.finished, timeout=RUN_TIMEOUT_MS):
        tab.run_job()
    assert tab.result_image().shape == (64, 80, 3)


def test_a_broken_image_is_reported_not_fatal(qtbot, tab, tmp_path, drop_files):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    errors = []
    tab.show_error = lambda message, details="": errors.append(message)
    drop_files(child(tab, ImageView, "dreamPreview").viewport(), [broken])
    assert len(errors) == 1 and "broken.png" in errors[0]
    assert tab.source_image() is None
    assert not tab.runner.running


def test_missing_weights_offer_a_way_out(qtbot, tab, photo, drop_files, monkeypatch):
    monkeypatch.setenv("CNNSTUDIO_OFFLINE", "1")
    drop_files(child(tab, ImageView, "dreamPreview").viewport(), [photo])
    tab.form.weights_picker.set_value("imagenet")
    small_dream(tab, steps=1, octaves=1)
    shown = []
    original = tab.show_missing_weights
    tab.show_missing_weights = lambda message: shown.append(original(message))
    with qtbot.waitSignal(tab.runner.failed, timeout=RUN_TIMEOUT_MS) as blocker:
        tab.run_job()
    assert "InceptionV3" in blocker.args[0] and "Import weights" in blocker.args[0]
    (box,) = shown
    use_random = next(b for b in box.buttons() if b.text() == "Use untrained")
    use_random.click()
    assert tab.form.weights_picker.value() == "random"
    box.close()


def test_presets_and_channel_map_to_params(tab):
    preset = child(tab, QComboBox, "dreamPreset")
    preset.setCurrentIndex(preset.findData("dlwp"))
    preset.activated.emit(preset.currentIndex())
    params = tab.form.params()
    assert params.layers == {"mixed4": 0.0, "mixed5": 3.0, "mixed6": 2.0, "mixed7": 1.5}
    assert (params.objective, params.octaves, params.octave_scale) == ("l2", 3, 1.4)
    assert params.top_octave == 0 and params.max_loss == 10.0
    tab.form.channel_check.setChecked(True)
    tab.form.channel_layer.setCurrentText("mixed4")
    tab.form.channel_index.setValue(139)
    assert tab.form.params().channel == ("mixed4", 139)


def test_set_params_puts_every_field_in_its_control(tab):
    """Params that differ from the defaults in every field: set_params shows each one in
    its control, and params() reads back the same (a set_params that did nothing, or
    forgot a field, fails here)."""
    import dataclasses

    from cnnstudio.core.dream.params import DreamParams

    params = DreamParams(
        backbone="vgg19",
        weights="random",
        layers={"block4_conv3": 2.5, "block5_conv1": 0.5},
        channel=("block5_conv1", 7),
        objective="l2",
        steps=17,
        step_size=2.5,
        octaves=3,
        octave_scale=1.45,
        top_octave=1,
        reinject_detail=False,
        max_loss=12.5,
        tv_weight=0.25,
        tile_size=256,
        jitter=64,
        max_size=320,
        seed=1234,
    )
    defaults = DreamParams()
    for field in dataclasses.fields(DreamParams):
        if field.name == "guide":
            continue  # it comes with the guide objective: test_motion_tabs covers it
        assert getattr(params, field.name) != getattr(defaults, field.name), field.name
    form = tab.form
    form.set_params(params)
    assert form.backbone_combo.currentData() == "vgg19"
    assert form.weights_picker.value() == "random"
    assert form.layer_table.weights() == {"block4_conv3": 2.5, "block5_conv1": 0.5}
    assert form.channel_check.isChecked() and not form.layer_table.isEnabled()
    assert (form.channel_layer.currentText(), form.channel_index.value()) == ("block5_conv1", 7)
    assert form.objective_combo.currentData() == "l2"
    assert form.steps_spin.value() == 17
    assert form.step_size_spin.value() == pytest.approx(2.5)
    assert form.octaves_spin.value() == 3
    assert form.octave_scale_spin.value() == pytest.approx(1.45)
    assert form.end_at_base.isChecked()
    assert not form.reinject_check.isChecked()
    assert form.max_loss_spin.value() == pytest.approx(12.5)
    assert form.tv_spin.value() == pytest.approx(0.25)
    assert form.tile_spin.value() == 256 and form.jitter_spin.value() == 64
    assert form.max_size_spin.value() == 320 and form.seed_spin.value() == 1234
    assert form.params() == params
    # and back to the defaults: every control follows
    form.set_params(defaults.replace(step_size=0.01))
    assert form.params() == defaults.replace(step_size=0.01)


def test_dream_with_a_model_from_the_library(qtbot, tab, photo, tmp_path, drop_files):
    """A model trained in Train (here: a tiny random CNN saved to the library) appears in
    the network list, its layers fill the table, and it dreams."""
    import keras

    from cnnstudio.core.library import save_to_library

    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv_a"),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_b"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    meta = {
        "preprocessing": "none",
        "input_size": [32, 32],
        "channels": 3,
        "class_names": ["a", "b", "c"],
    }
    save_to_library(model, "tiny", meta)

    backbone = child(tab, QComboBox, "dreamBackbone")
    tab.refresh_library()
    index = backbone.findText("Library: tiny")
    assert index >= 0
    with qtbot.waitSignal(tab.form.library.runner.done, timeout=RUN_TIMEOUT_MS):
        backbone.setCurrentIndex(index)
        assert not tab.run_button.isEnabled()  # no Run before the layers are known
    assert "conv_a" in tab.form.layer_table.names() and "conv_b" in tab.form.layer_table.names()
    assert list(tab.form.layer_table.weights()) == ["conv_b"]  # the deepest spatial layer
    assert not tab.form.weights_picker.isEnabled()
    # its own weights, by name: not a grey "Untrained (random weights)"
    assert tab.form.weights_picker.currentText() == "Model's own weights: tiny"
    assert tab.form.step_size_spin.value() > 1  # it takes 0..255 pixels: steps in pixel units

    drop_files(child(tab, ImageView, "dreamPreview").viewport(), [photo])
    small_dream(tab, steps=2, octaves=1)
    with qtbot.waitSignal(tab.runner.done, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert tab.runner.error_message == ""
    assert tab.result_image().shape == (72, 96, 3)

    out = tmp_path / "tiny-dream.png"
    tab.ask_save_path = lambda: str(out)
    tab.save_result()
    meta = read_params(out)
    assert meta["model"] == "tiny" and meta["untrained"] is False
    assert meta["params"]["layers"] == {"conv_b": 1.0}

    # back to a backbone, then reopen: the library model and its layer come back
    backbone.setCurrentIndex(backbone.findData("inception_v3"))
    assert tab.form.weights_picker.isEnabled()
    assert tab.form.weights_picker.findText("Model's own weights: tiny") < 0
    tab.ask_restore_params = lambda path: True
    with qtbot.waitSignal(tab.form.library.runner.done, timeout=RUN_TIMEOUT_MS):
        drop_files(child(tab, ImageView, "dreamPreview").viewport(), [out])
    assert backbone.currentText() == "Library: tiny"
    assert tab.form.layer_table.weights() == {"conv_b": 1.0}


def test_channel_picker_range_follows_the_library_models_layer(qtbot, tab):
    """The channel box goes up to the chosen layer's last channel once the model is known;
    the nested layers of a transfer-style model are listed as "base/layer"."""
    import keras

    from cnnstudio.core.library import save_to_library

    inner = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Conv2D(6, 3, activation="relu", name="conv_a")],
        name="base",
    )
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(10, 3, activation="relu", name="conv_b")(inner(inputs))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    save_to_library(keras.Model(inputs, outputs), "nested", {"input_size": [32, 32]})

    channel_box = child(tab, QSpinBox, "dreamChannelIndex")
    assert channel_box.maximum() == 4095  # a backbone: its layers are not read
    backbone = child(tab, QComboBox, "dreamBackbone")
    tab.refresh_library()
    with qtbot.waitSignal(tab.form.library.runner.done, timeout=RUN_TIMEOUT_MS):
        backbone.setCurrentIndex(backbone.findText("Library: nested"))
    assert tab.form.layer_table.names() == ["base/conv_a", "conv_b"]
    tab.form.channel_check.setChecked(True)
    channel_box.setValue(9)
    tab.form.channel_layer.setCurrentText("base/conv_a")
    assert channel_box.maximum() == 5 and channel_box.value() == 5
    tab.form.channel_layer.setCurrentText("conv_b")
    assert channel_box.maximum() == 9
    assert tab.form.params().channel == ("conv_b", 5)
    backbone.setCurrentIndex(backbone.findData("vgg19"))
    assert channel_box.maximum() == 4095


def test_step_size_follows_the_core_rule_per_network(tab):
    from cnnstudio.core.dream.params import DreamParams, default_step_size

    backbone = child(tab, QComboBox, "dreamBackbone")
    backbone.setCurrentIndex(backbone.findData("vgg19"))
    assert tab.form.step_size_spin.value() == pytest.approx(default_step_size("vgg19"))  # 1.275
    assert tab.form.params().step_size == pytest.approx(1.275)
    tab.form.step_size_spin.setValue(2.0)  # the user's tweak on the same scale stays
    backbone.setCurrentIndex(backbone.findData("mobilenet_v2"))
    assert tab.form.step_size_spin.value() == pytest.approx(0.01)
    tab.form.set_params(DreamParams(backbone="vgg19", layers={"block4_conv3": 1.0}, step_size=None))
    assert tab.form.step_size_spin.value() == pytest.approx(1.275)
    # a preset chosen on VGG19 switches to InceptionV3 with the preset's own step
    tab.form.preset_combo.setCurrentIndex(tab.form.preset_combo.findData("quick"))
    tab.form.preset_combo.activated.emit(tab.form.preset_combo.findData("quick"))
    assert tab.form.backbone() == "inception_v3"
    assert tab.form.step_size_spin.value() == pytest.approx(0.02)


def test_weights_download_shows_in_the_progress_bar(
    qtbot, tab, photo, drop_files, fake_weights_download, tmp_path
):
    from cnnstudio.core import backbones
    from cnnstudio.core.events import DownloadProgress

    model = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=(32, 32, 3))
    model.save_weights(tmp_path / "m.weights.h5")
    payload = (tmp_path / "m.weights.h5").read_bytes()

    fake_weights_download(payload)
    tab.form.backbone_combo.setCurrentIndex(tab.form.backbone_combo.findData("mobilenet_v2"))
    tab.form.weights_picker.set_value("imagenet")
    drop_files(child(tab, ImageView, "dreamPreview").viewport(), [photo])
    small_dream(tab, steps=1, octaves=1)
    bar = child(tab, QProgressBar, "dreamProgress")
    shown = []

    def record(event):
        if isinstance(event, DownloadProgress):
            shown.append(bar.format())

    tab.runner.progress.connect(record)  # connected after the tab's own slot: sees its text
    with qtbot.waitSignal(tab.runner.done, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(tab.run_button, Qt.MouseButton.LeftButton)
    assert tab.runner.error_message == ""
    name = backbones.get_backbone("mobilenet_v2").weights_file(False)
    assert shown and all(text.startswith(f"downloading {name}: ") for text in shown)
    assert shown[-1].endswith(f"/{round(len(payload) / 2**20)} MB")
    backbones.clear_model_cache()


def test_the_bar_eta_follows_the_work_over_octaves(tab):
    """Later octaves have more pixels, so their steps cost more: the job says so in
    Progress.fraction and the bar's ETA (the tab's only one) uses it, so it does not
    underestimate the way a step count would."""
    from cnnstudio.core.dream.params import octave_sizes
    from cnnstudio.core.eta import Eta, format_duration, staged_fraction
    from cnnstudio.core.events import Progress

    params = tab.form.params()  # the TF2 recipe: 5 octaves 1.3 apart, 50 steps each
    sizes = octave_sizes(375, 500, params, 75)
    costs = [h * w for h, w in sizes]
    seconds_per_pixel = 1e-5
    clock = [0.0]
    tab.progress.eta = Eta(lambda: clock[0])
    for step in range(1, 51):  # the first octave
        clock[0] = step * costs[0] * seconds_per_pixel
        fraction = staged_fraction(step, 50, costs)
        tab._on_progress(Progress(step, 250, 1.0, stage=1, stages=5, fraction=fraction))
    left = sum(costs[1:]) * 50 * seconds_per_pixel
    assert tab.progress.format() == f"Octave 1/5 - step 50/50 - ETA {format_duration(left)}"
    assert left > 4 * 200 * costs[0] * seconds_per_pixel  # what a step count would say


def test_switching_the_backbone_and_back_keeps_the_layer_choice(tab):
    form = tab.form
    form.layer_table.set_weights({"mixed4": 2.0, "mixed6": 0.5})
    chosen = form.layer_table.weights()
    form.backbone_combo.setCurrentIndex(form.backbone_combo.findData("vgg19"))
    assert "block4_conv3" in form.layer_table.weights()
    form.layer_table.set_weights({"block3_conv1": 1.5})
    form.backbone_combo.setCurrentIndex(form.backbone_combo.findData("inception_v3"))
    assert form.layer_table.weights() == chosen
    form.backbone_combo.setCurrentIndex(form.backbone_combo.findData("vgg19"))
    assert form.layer_table.weights() == {"block3_conv1": 1.5}


def test_send_to_is_not_clipped(qtbot, tab):
    from PySide6.QtWidgets import QStyle

    button = tab.send_button
    qtbot.waitExposed(tab)
    text = button.fontMetrics().horizontalAdvance(button.text())
    arrow = button.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator)
    assert button.width() >= text + arrow
    assert button.width() >= button.sizeHint().width()
    assert button.menu() is not None


def choose_in_list(qtbot, combo, key) -> None:
    """Choose the entry ``key`` as a person does: open the list, go to it, press Enter
    (which activates it even when it is the entry already shown)."""
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    view.setCurrentIndex(combo.model().index(combo.findData(key), 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible())


def test_the_presets_box_never_lies_and_quick_look_is_quick(qtbot, tab):
    from cnnstudio.core.dream.params import DreamParams

    form = tab.form
    box = form.preset_combo
    assert box.current_preset() == "tf2"  # the defaults are the TF2 recipe, and it says so
    choose_in_list(qtbot, box, "quick")
    assert box.current_preset() == "quick" and form.steps_spin.value() == 10

    steps = form.steps_spin  # a manual edit, typed: Custom at once
    steps.setFocus()
    steps.selectAll()
    qtbot.keyClicks(steps, "50")
    qtbot.keyClick(steps, Qt.Key.Key_Tab)
    assert steps.value() == 50 and box.currentText() == "Custom"
    form.set_params(DreamParams(steps=250))  # restored settings of a full recipe
    assert box.current_preset() == ""  # 250 steps is no preset
    form.set_params(DreamParams())
    assert box.current_preset() == "tf2"

    # the entry shown chosen again applies it: the box shows Quick look while a control
    # changed behind its back (as an older version let happen)
    choose_in_list(qtbot, box, "quick")
    form.steps_spin.blockSignals(True)
    form.steps_spin.setValue(250)
    form.steps_spin.blockSignals(False)
    assert box.current_preset() == "quick"
    choose_in_list(qtbot, box, "quick")
    assert form.steps_spin.value() == 10

    # a Quick look on a big picture really is one: its values reach the job
    tab.set_source(np.zeros((2400, 3600, 3), np.uint8), "huge.png")
    form.max_size_spin.setValue(0)  # "original" size
    form.octaves_spin.setValue(5)
    assert box.currentText() == "Custom"
    choose_in_list(qtbot, box, "quick")
    ran = []
    tab.runner.run_generator = lambda fn, image, params, **kw: ran.append(params)
    tab.run_job()
    (params,) = ran
    assert (params.steps, params.octaves, params.max_size) == (10, 3, 500)
