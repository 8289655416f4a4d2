"""Hostile input to the window (issue 10): a settings file of overflowing numbers, pictures
whose embedded parameters lie, and a library whose sidecars are a FIFO and garbage. The
window opens, says what it ignored, and a restore is all or nothing."""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from PySide6.QtCore import QSettings

from cnnstudio.core import images, paths
from cnnstudio.core.dream import params as dream_core
from cnnstudio.core.image_saving import save_image
from cnnstudio.core.style import params as style_core
from cnnstudio.gui.main_window import MainWindow
from cnnstudio.gui.settings import settings_path

pytestmark = pytest.mark.faults

BIG = 2**31  # one more than a Qt spin box (and TensorFlow's int32) can hold


def _write_settings(values: dict[str, object]) -> None:
    settings = QSettings(str(settings_path()), QSettings.Format.IniFormat)
    for key, value in values.items():
        settings.setValue(key, value)
    settings.sync()


def test_overflowing_settings_are_ignored_with_a_notice(qtbot):
    """The reported crash: OverflowError inside MainWindow(), the window never opened."""
    dream = dream_core.params_to_dict(dream_core.DreamParams(steps=BIG, seed=BIG, octaves=3))
    style = {"size": BIG, "seed": BIG, "steps": 40}
    _write_settings(
        {
            "dream/params": json.dumps(dream),
            "dream/noise_height": BIG,
            "dream/noise_width": "1e999",
            "style/params": json.dumps(style),
            "style/snapshot_every": BIG,
            "train/config": json.dumps({"epochs": BIG, "seed": 2**40, "batch_size": 32}),
            "classify/top_k": BIG,
        }
    )
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    dream_form = window.tab_by_key("dream").form
    defaults = dream_core.DreamParams()
    assert dream_form.steps_spin.value() == defaults.steps and dream_form.seed_spin.value() == -1
    assert dream_form.octaves_spin.value() == 3  # the good values of the same setting stay
    assert dream_form.noise_height.value() == 300 and dream_form.noise_width.value() == 400
    style_form = window.tab_by_key("style").form
    assert style_form.size_spin.value() == 512 and style_form.steps_spin.value() == 40
    assert style_form.snapshot_spin.value() == 25
    train_form = window.tab_by_key("train").form
    assert train_form.batch_size.value() == 32 and train_form.seed.value() == 0
    assert window.tab_by_key("classify").form.top_k.value() == 5
    notice = window.status_label.text()
    assert notice.startswith("Some settings were not restored")
    assert "dream/params steps, seed" in notice and "dream/noise_height" in notice
    assert "style/params size, seed" in notice and "classify/top_k" in notice
    assert "train/config epochs, seed" in notice and "\n" not in notice
    assert (
        "steps 2147483648 must be a whole number from 1 to 10000" in window.status_label.toolTip()
    )
    window.close()


_NESTED = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize("value", [{"size": BIG, "steps": 300}, _NESTED])
def test_fast_style_settings_that_overflow_or_nest_are_named(qtbot, value):
    """``style/fast_train_params`` of size 2^31 (OverflowError) or nested 50,000 levels
    deep (RecursionError) stopped MainWindow(); both were only logged."""
    from cnnstudio.core.faststyle.params import FastStyleParams

    text = value if isinstance(value, str) else json.dumps(value)
    _write_settings({"style/fast_train_params": text})
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    form = window.tab_by_key("style").train_panel.form
    assert form.size_spin.value() == FastStyleParams().size
    notice = window.status_label.text()
    assert notice.startswith("Some settings were not restored: style/fast_train_params")
    if isinstance(value, dict):  # the good value of the same setting stays
        assert form.steps_spin.value() == 300
        assert "training size 2147483648 must be" in window.status_label.toolTip()
    else:
        assert "is nested more than 8 levels deep" in window.status_label.toolTip()
    window.close()


@pytest.mark.parametrize("value", [{"size": 96, "steps": BIG}, _NESTED, "not json"])
def test_visualisation_settings_that_overflow_or_nest_are_named(qtbot, value):
    """View > Feature visualisation... raised RecursionError on nested ``visualize/params``."""
    from cnnstudio.core.visualize.params import VisualizeParams

    text = value if isinstance(value, str) else json.dumps(value)
    _write_settings({"visualize/params": text})
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    assert "not restored" not in window.status_label.text()  # the view is made later
    window.visualize_action.trigger()
    view = window.visualize.view
    assert view.form.steps_spin.value() == VisualizeParams().steps
    assert view.status_line.text().startswith("Some settings were not restored: visualize/params")
    if isinstance(value, dict):
        assert view.form.size_spin.value() == 96
        assert "steps 2147483648 must be" in view.status_line.toolTip()
    window.close()


def _png_with_text(path, text: str) -> str:
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", images.SOFTWARE)
    info.add_itxt(images.PARAMS_KEY, text)
    Image.new("RGB", (40, 30), "gray").save(path, pnginfo=info)
    return str(path)


_HOSTILE_VALUES = [BIG, 2**64, -1, 1e308, "12", [3], {"a": 1}, None, True]
_DREAM_FIELDS = ["steps", "seed", "octaves", "octave_scale", "tile_size", "jitter",
                 "max_size", "top_octave", "step_size", "tv_weight", "max_loss", "layers",
                 "channel", "backbone", "weights", "objective", "reinject_detail"]  # fmt: skip


def _hostile_dream_pictures(folder):
    good = dream_core.dream_metadata(dream_core.DreamParams(steps=7, octaves=2, seed=5))
    pictures = []
    for name in _DREAM_FIELDS:
        for value in _HOSTILE_VALUES:
            meta = copy.deepcopy(good)
            meta["params"][name] = value
            pictures.append(
                _png_with_text(folder / f"{name}-{len(pictures)}.png", json.dumps(meta))
            )
    extra = [
        {"channel": ["mixed3", BIG]},
        {"layers": {"mixed3": 1e308}},
        {"layers": {"mixed3": float("inf")}},
        {"octave_scale": 1e6},
    ]
    for change in extra:
        meta = copy.deepcopy(good)
        meta["params"].update(change)
        pictures.append(_png_with_text(folder / f"extra-{len(pictures)}.png", json.dumps(meta)))
    nested = '{"job": "dream", "params": ' + "[" * 50_000 + "]" * 50_000 + "}"
    pictures.append(_png_with_text(folder / "nested.png", nested))
    return good, pictures


def test_hostile_dream_pictures_restore_all_or_nothing(qtbot, tmp_path):
    from cnnstudio.gui.tabs.dream.tab import DreamTab

    tab = DreamTab()
    qtbot.addWidget(tab)
    tab.ask_restore_params = lambda path: True
    statuses = []
    tab.status.connect(statuses.append)
    good, pictures = _hostile_dream_pictures(tmp_path)
    restored = refused = 0
    for path in pictures:
        tab.form.set_params(dream_core.DreamParams())  # a known state before each picture
        before = tab.form.params()
        statuses.clear()
        tab.open_image(path)  # must not raise, whatever the picture holds
        after = tab.form.params()
        meta = images.read_params(path) if "nested" not in path else None
        try:
            expected = dream_core.params_from_metadata(meta)
        except Exception:  # noqa: BLE001 - refused: the form must be as it was
            expected = None
        if expected is None:
            assert after == before, path
            assert any("not usable" in s for s in statuses), (path, statuses)
            refused += 1
        else:
            assert after.steps == expected.steps and after.seed == expected.seed, path
            restored += 1
    assert refused > 100 and restored > 5  # both paths were taken
    tab.shutdown()


def test_hostile_style_pictures_restore_all_or_nothing(qtbot, tmp_path):
    from cnnstudio.gui.tabs.style.tab import StyleTab

    tab = StyleTab()
    qtbot.addWidget(tab)
    tab.ask_restore_params = lambda path: True
    good = style_core.style_metadata(style_core.StyleParams(steps=33, size=300, seed=4))
    fields = ["size", "seed", "steps", "content_weight", "learning_rate", "style_layers",
              "content_layers", "beta_1", "multi_scale", "preview_interval", "optimizer",
              "lbfgs_evaluations", "style_scale", "weights"]  # fmt: skip
    refused = 0
    for index, name in enumerate(fields):
        for value in _HOSTILE_VALUES:
            meta = copy.deepcopy(good)
            meta[name] = value
            path = _png_with_text(tmp_path / f"{index}-{name}.png", json.dumps(meta))
            tab.form.set_params(style_core.StyleParams())
            before = tab.form.params()
            tab.open_image(path)
            try:
                style_core.params_from_metadata(meta)
            except Exception:  # noqa: BLE001
                assert tab.form.params() == before, (name, value)
                refused += 1
    assert refused > 60
    tab.shutdown()


def test_hostile_fast_style_pictures_restore_all_or_nothing(qtbot, tmp_path):
    """A picture of "size": 2^31 raised OverflowError with "Preserve colours" already
    ticked and the mode not switched (review of issue 10, item 4)."""
    from cnnstudio.core.faststyle import models
    from cnnstudio.core.faststyle.network import build_style_network
    from cnnstudio.core.faststyle.params import FastStyleParams
    from cnnstudio.gui.tabs.style.modes import OPTIMISE, USE
    from cnnstudio.gui.tabs.style.tab import StyleTab

    params = FastStyleParams(styles=["swirls.png"], data="photos", size=32)
    styles = [np.full((32, 32, 3), (200, 60, 20), np.uint8)]
    meta = models.style_model_meta(params, styles, steps=1, best_step=1, held_out_loss=1.0,
                                   photos=9)  # fmt: skip
    models.save_style_model(build_style_network(seed=1), "swirls", meta)
    tab = StyleTab()
    qtbot.addWidget(tab)
    tab.ask_restore_params = lambda path: True
    statuses = []
    tab.status.connect(statuses.append)
    use = tab.use_panel
    good = {"job": "style", "mode": "fast style model", "model": "swirls", "size": 64,
            "preserve_colors": True}  # fmt: skip
    hostile = [("size", v) for v in (BIG, 2**64, -1, 1e308, "12", [3], True)]
    hostile += [("preserve_colors", v) for v in ("yes", 1, None, [True])]
    hostile += [("model", v) for v in (5, ["swirls"], {"a": 1}, None, "x" * 5000)]
    for name, value in hostile:
        tab.set_mode(OPTIMISE)
        use.colors_check.setChecked(False)
        use.size_spin.setValue(0)
        statuses.clear()
        path = _png_with_text(tmp_path / f"{name}.png", json.dumps({**good, name: value}))
        tab.open_image(path)  # must not raise
        assert tab.mode == OPTIMISE and not use.colors_check.isChecked(), (name, value)
        assert use.size_spin.value() == 0, (name, value)
        assert any("its saved parameters are not usable" in s for s in statuses), statuses
    # the good picture, and one the CLI wrote without --size, are restored in full
    for size, shown in ((64, 64), (None, 0)):
        tab.set_mode(OPTIMISE)
        use.size_spin.setValue(300)
        path = _png_with_text(tmp_path / "good.png", json.dumps({**good, "size": size}))
        tab.open_image(path)
        assert tab.mode == USE and use.colors_check.isChecked() and use.size_spin.value() == shown
        assert use.model_list.model_name() == "swirls"
    tab.shutdown()


@pytest.mark.timeout(60)
def test_window_starts_with_a_fifo_and_garbage_in_the_library(qtbot, tmp_path):
    """A FIFO sidecar hung the window's start-up; a garbage one stopped it with a
    traceback. Both entries are listed as damaged, with the reason."""
    import keras

    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    model.save(tmp_path / "m.keras")
    folder = paths.library_dir()
    for name in ("piped", "garbage", "fine"):
        shutil.copyfile(tmp_path / "m.keras", folder / f"{name}.keras")
    os.mkfifo(folder / "piped.json")
    (folder / "garbage.json").write_text('{"metrics": ["x"], "class_names": 5}')
    (folder / "fine.json").write_text('{"class_names": ["a", "b"]}')

    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    classify = window.tab_by_key("classify").form.model_combo
    labels = [classify.itemText(i) for i in range(classify.count())]
    assert any(
        "piped (damaged: sidecar piped.json: is a named pipe (FIFO), not a file)" in t
        for t in labels
    )
    assert (
        "Library: garbage (damaged: sidecar garbage.json: class_names is a number, not a "
        "list of at most 100000 names)" in labels
    )
    assert "Library: fine" in labels
    dream_form = window.tab_by_key("dream").form
    dream_form.refresh_library()
    texts = [dream_form.library.combo.itemText(i) for i in range(dream_form.library.combo.count())]
    assert "Library: piped (damaged)" in texts and "Library: fine" in texts
    window.close()


@pytest.mark.timeout(60, method="thread")  # a blocked open() in Qt ignores signals
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_a_settings_file_that_is_not_a_file_is_moved_aside(qtbot, kind):
    """QSettings blocked for ever on a FIFO: the window never opened (review item 6)."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    assert window.status_label.text() == "Some settings were not restored: cnnstudio.ini"
    says = {"fifo": "a named pipe (FIFO)", "dev-zero": "a device", "folder": "a folder"}[kind]
    assert f"cnnstudio.ini: was {says}, not a file: moved aside to " in (
        window.status_label.toolTip()
    )
    aside = [p for p in path.parent.iterdir() if p.name.startswith("cnnstudio.ini.not-a-file-")]
    assert len(aside) == 1  # kept, not deleted
    window.close()
    assert path.is_file() and not path.is_symlink()  # the settings are kept again
    # as root, QSettings saving through the link replaced /dev/zero with the ini file
    assert stat.S_ISCHR(os.stat("/dev/zero").st_mode)


def test_library_dialog_lists_damaged_entries(qtbot, tmp_path):
    import keras

    from cnnstudio.gui.widgets.library_dialog import LibraryDialog

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(paths.library_dir() / "bad.keras")
    (paths.library_dir() / "bad.json").write_text('{"input_size": [12000, 12000]}')
    dialog = LibraryDialog()
    qtbot.addWidget(dialog)
    dialog.refresh()
    assert dialog.table.item(0, 1).text() == "Damaged"
    dialog.select("bad")
    assert "damaged: sidecar bad.json: input_size" in dialog.details.text()
    np.testing.assert_equal(len(dialog.entries()), 1)
    dialog.shutdown()


def test_saved_picture_keeps_parameters_within_bounds(tmp_path):
    """What the app writes, it can restore: a default dream's parameters round-trip."""
    meta = dream_core.dream_metadata(dream_core.DreamParams())
    path = save_image(tmp_path / "d.png", np.zeros((8, 8, 3), np.uint8), meta)
    assert dream_core.params_from_metadata(images.read_params(path)) == dream_core.DreamParams()


def test_window_with_a_home_that_is_a_file_says_so(qtbot, tmp_path, monkeypatch, capsys):
    from PySide6.QtWidgets import QMessageBox

    from cnnstudio.gui import app

    home = tmp_path / "home"
    home.write_text("a file")
    monkeypatch.setenv("CNNSTUDIO_HOME", str(home))
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(app, "create_app", lambda argv: None)
    monkeypatch.setattr(app, "install_error_hook", lambda: None)
    monkeypatch.setattr(app.logging, "basicConfig", lambda **kwargs: None)
    monkeypatch.setattr(app.logging, "captureWarnings", lambda capture: None)
    assert app.main([]) == 2
    assert len(shown) == 1 and "is inside a file, not a folder" in shown[0]
    assert capsys.readouterr().err.count("\n") == 1
