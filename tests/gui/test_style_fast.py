"""Fast style in the Style tab, used as a person would: the mode switch; training from
the tab on a small generated photo folder (32 px squares, VGG19 random weights) with the
held-out preview and the curves moving, Stop keeping the best model, the close question,
Save to library; the style model listed with its thumbnail in "Use" and styling the
content picture at once; Resume from a run folder; style models kept out of Classify and
Dream."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QListWidget, QPushButton, QStackedWidget

from cnnstudio.core import images, library
from cnnstudio.core.faststyle import job, models
from cnnstudio.core.faststyle.params import FastStyleParams
from cnnstudio.gui.tabs.style.fast_models import StyledPicture
from cnnstudio.gui.tabs.style.modes import OPTIMISE, TRAIN, USE
from cnnstudio.gui.tabs.style.tab import StyleTab
from cnnstudio.gui.widgets import dialogs
from cnnstudio.gui.widgets.drop_area import PathDropArea


def _photo(rng, height: int, width: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    picture = a * (1 - t) + b * t + np.zeros((height, 1, 1)) + rng.normal(0, 10, (height, width, 3))
    return np.clip(picture, 0, 255).astype(np.uint8)


@pytest.fixture
def inputs(tmp_path):
    """Ten photos (one unreadable file too) and a striped style picture."""
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(10):
        Image.fromarray(_photo(rng, 40 + 3 * i, 60 - 2 * i)).save(photos / f"photo{i}.png")
    (photos / "broken.jpg").write_bytes(b"not a JPEG at all")
    stripes = ((np.arange(48) // 6) % 2)[:, None, None] * np.array([200.0, 120.0, 40.0]) + 30
    style = tmp_path / "stripes.png"
    Image.fromarray(np.clip(stripes + np.zeros((1, 48, 1)), 0, 255).astype(np.uint8)).save(style)
    return {"photos": photos, "style": style, "root": tmp_path}


@pytest.fixture
def tab(qtbot):
    widget = StyleTab()
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.shutdown()


@pytest.fixture(scope="module")
def style_network():
    from cnnstudio.core.faststyle.network import build_style_network

    return build_style_network(seed=1)


def _save_style_model(network, name: str = "swirls", **meta_overrides):
    styles = [np.full((32, 32, 3), (200, 60, 20), np.uint8)]
    params = FastStyleParams(styles=["swirls.png"], data="photos", size=32)
    meta = models.style_model_meta(
        params, styles, steps=10, best_step=10, held_out_loss=1.0, photos=9
    )
    meta.update(meta_overrides)
    return models.save_style_model(network, name, meta)


def _set_up_training(tab, qtbot, inputs, drop_files, steps: int) -> None:
    qtbot.mouseClick(tab.findChild(QPushButton, "styleModeTrain"), Qt.MouseButton.LeftButton)
    panel = tab.train_panel
    assert drop_files(panel.form.style_list.viewport(), [inputs["style"]]).isAccepted()
    assert drop_files(tab.findChild(PathDropArea, "fastPhotoDrop"), [inputs["photos"]]).isAccepted()
    qtbot.waitUntil(lambda: panel.form.photos.found == 11, timeout=10_000)
    form = panel.form
    form.weights_picker.set_value("random")
    form.size_spin.setValue(32)
    form.steps_spin.setValue(steps)
    form.batch_spin.setValue(2)
    form.preview_spin.setValue(2)
    form.checkpoint_spin.setValue(3)


def test_the_mode_switch_shows_each_mode_and_is_remembered(tab, qtbot, tmp_path):
    stack = tab.findChild(QStackedWidget, "styleModeStack")
    assert tab.mode == OPTIMISE and stack.currentWidget() is tab.splitter
    for key, name, page in [
        (TRAIN, "styleModeTrain", tab.train_panel),
        (USE, "styleModeUse", tab.use_panel),
        (OPTIMISE, "styleModeOptimise", tab.splitter),
    ]:
        button = tab.findChild(QPushButton, name)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert tab.mode == key and button.isChecked() and stack.currentWidget() is page
    tab.set_mode(USE)
    assert tab.findChild(QListWidget, "fastModelList").count() == 0
    assert tab.use_panel.empty_label.isVisibleTo(tab)  # "No style models yet: train one..."
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    tab.train_panel.form.steps_spin.setValue(123)
    tab.save_settings(settings)
    other = StyleTab()
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.mode == USE and other.train_panel.form.steps_spin.value() == 123
    other.shutdown()


def test_train_watch_stop_keeps_the_best_close_question_save_and_use(
    window, qtbot, inputs, drop_files, unsaved_questions, tmp_path
):
    tab = window.tab_by_key("style")
    window.tabs.setCurrentWidget(tab)
    _set_up_training(tab, qtbot, inputs, drop_files, steps=2000)
    panel = tab.train_panel
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.runner.running and not panel.run_button.isEnabled()
    plot, progress = panel.loss_plot, panel.progress
    qtbot.waitUntil(
        lambda: len(plot.data("held-out")[0]) >= 2 and "images/s" in progress.format(),
        timeout=120_000,
    )
    assert panel.preview.image().shape == (32, 32, 3)  # the held-out photo, styled
    assert all(len(plot.data(name)[0]) >= 2 for name in ("content", "style", "tv"))
    assert "ETA" in progress.format() and progress.maximum() == 2000
    assert "broken.jpg" in panel.form.photos.skipped_list.item(0).text()
    assert "9 photos for training, 1 held out" in panel.form.photos.summary.text()
    assert "training" in tab.unsaved_work() and tab.is_busy()

    with qtbot.waitSignal(panel.runner.done, timeout=60_000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    result = panel.result
    assert result is not None and result.stopped and 4 <= result.steps_done < 2000
    assert result.best_step <= result.steps_done and result.meta["kind"] == "style"
    assert panel.save_button.isEnabled() and progress.format() == "Stopped"

    # closing now would lose the trained model: the window asks (Cancel keeps it open)
    unsaved_questions.answers.append(dialogs.CANCEL)
    assert not window.close()
    message, can_save = unsaved_questions[-1]
    assert "trained style model is not in the library" in message and can_save

    panel.ask_model_name = lambda suggested: f"{suggested}-model"
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    entry = library.resolve_model("stripes-model")
    assert entry is not None and entry.meta["kind"] == "style"
    assert tab.unsaved_work() is None

    # the model is listed in "Use" with its style's thumbnail; the content is styled at once
    qtbot.mouseClick(tab.findChild(QPushButton, "styleModeUse"), Qt.MouseButton.LeftButton)
    use = tab.use_panel
    item = use.model_list.item(0)
    assert item.text().startswith("stripes-model") and not item.icon().isNull()
    content = _photo(np.random.default_rng(3), 45, 70)
    with qtbot.waitSignal(use.runner.finished, timeout=60_000):
        tab.set_content(content, "photo.png")  # the model was chosen when it was saved
    assert use.result.image.shape == content.shape and use.result.full
    assert not np.array_equal(use.preview.image(), content)


def test_use_styles_a_preview_then_full_size_saves_and_reopens(tab, qtbot, style_network, tmp_path):
    _save_style_model(style_network, "swirls")
    tab.set_mode(USE)
    use = tab.use_panel
    assert [
        use.model_list.item(i).text().split("\n")[0] for i in range(use.model_list.count())
    ] == ["swirls"]
    content = _photo(np.random.default_rng(4), 400, 600)
    tab.set_content(content, "wide.png")
    pictures: list[StyledPicture] = []
    use.runner.progress.connect(lambda e: isinstance(e, StyledPicture) and pictures.append(e))
    with qtbot.waitSignal(use.runner.finished, timeout=60_000):
        use.model_list.setCurrentRow(0)  # choosing it styles the picture
    preview, full = pictures[0], use.result
    assert preview.image.shape == (341, 512, 3) and not preview.full  # the quick preview
    assert full.image.shape == content.shape and full.full
    assert "in" in use.info_label.text() and use.preview.image().shape == content.shape

    with qtbot.waitSignal(use.runner.finished, timeout=60_000):
        use.colors_check.setChecked(True)
    coloured = use.result.image
    assert not np.array_equal(coloured, full.image)
    out = tmp_path / "styled.png"
    use.ask_save_path = lambda: str(out)
    qtbot.mouseClick(use.save_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(images.load_image(out), coloured)
    meta = images.read_params(out)
    assert meta["mode"] == "fast style model" and meta["model"] == "swirls"
    assert meta["preserve_colors"] is True and meta["output_size"] == [600, 400]

    # any size: a smaller result; Save pressed while it is being made writes it once made
    use.size_spin.setValue(128)
    small = tmp_path / "small.png"
    use.ask_save_path = lambda: str(small)
    with qtbot.waitSignal(use.runner.finished, timeout=60_000):
        assert use.save() and not small.exists()
    assert use.result.image.shape == (85, 128, 3)
    np.testing.assert_array_equal(images.load_image(small), use.result.image)

    # the saved picture, opened again: the same model and options come back
    use.colors_check.setChecked(False)
    tab.set_mode(OPTIMISE)
    tab.ask_restore_params = lambda path: True
    tab.open_image(str(out))
    assert tab.mode == USE and use.colors_check.isChecked()
    assert use.model_list.model_name() == "swirls"


def test_fewer_than_eight_photos_is_said_clearly_with_the_unreadable_files(
    tab, qtbot, inputs, drop_files
):
    for path in sorted(inputs["photos"].glob("photo*.png"))[3:]:
        path.unlink()
    errors = []
    tab.show_error = lambda message, details="": errors.append(message)
    qtbot.mouseClick(tab.findChild(QPushButton, "styleModeTrain"), Qt.MouseButton.LeftButton)
    panel = tab.train_panel
    assert drop_files(panel.form.style_list.viewport(), [inputs["style"]]).isAccepted()
    drop_files(tab.findChild(PathDropArea, "fastPhotoDrop"), [inputs["photos"]])
    qtbot.waitUntil(lambda: panel.form.photos.found == 4, timeout=10_000)
    assert "training needs at least 8" in panel.form.photos.summary.text()
    panel.form.weights_picker.set_value("random")
    with qtbot.waitSignal(panel.runner.done, timeout=60_000):
        tab.run_job()  # F5 in this mode trains
    assert errors and "3 readable picture(s); training needs at least 8" in errors[-1]
    assert "broken.jpg" in panel.form.photos.skipped_list.item(0).text()
    assert panel.result is None and panel.progress.format() == "Failed"


def test_resume_from_a_run_folder_goes_on_from_its_checkpoint(tab, qtbot, inputs):
    run_dir = inputs["root"] / "run"
    params = FastStyleParams(
        styles=[str(inputs["style"])], data=str(inputs["photos"]), size=32, steps=4,
        batch_size=2, weights="random", preview_every=2, checkpoint_every=2,
        run_dir=str(run_dir),
    )  # fmt: skip
    first = job.train(params)  # a run that ended (as a killed one: from its folder alone)
    assert first.steps_done == 4
    tab.set_mode(TRAIN)
    panel = tab.train_panel
    panel.form.steps_spin.setValue(6)
    panel.ask_folder = lambda title, start="": str(run_dir)
    with qtbot.waitSignal(panel.runner.done, timeout=120_000):
        qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert panel.result is not None and panel.result.steps_done == 6
    assert panel.form.size_spin.value() == 32 and len(panel.form.style_list.styles) == 1
    steps = list(panel.loss_plot.data("content")[0])
    assert steps == [1, 2, 3, 4, 5, 6]  # the curves so far from the folder, then the new steps
    assert str(run_dir) in panel.run_label.text()


def test_style_models_are_not_classifiers_or_dream_networks(window, style_network):
    import keras

    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(features)
    )
    classifier = library.save_to_library(
        keras.Model(inputs, outputs),
        "tiny",
        {"recipe": "tiny", "class_names": ["a", "b"], "input_size": [8, 8], "channels": 3},
    )
    style = _save_style_model(style_network, "swirls")
    window.refresh_library_models()
    classify = window.tab_by_key("classify").form.model_combo
    listed = [classify.itemData(i) for i in range(classify.count())]
    assert str(classifier.path) in listed and str(style.path) not in listed
    dream = window.tab_by_key("dream").form.backbone_combo
    listed = [dream.itemText(i) for i in range(dream.count())]
    assert "Library: tiny" in listed and not any("swirls" in text for text in listed)
    from cnnstudio.core.dream.network import find_library_model
    from cnnstudio.core.errors import InputError

    with pytest.raises(InputError, match="is a style model"):
        find_library_model("swirls")
    tab = window.tab_by_key("style")
    tab.set_mode(USE)
    assert tab.use_panel.model_list.names == {str(style.path): "swirls"}  # not the classifier
