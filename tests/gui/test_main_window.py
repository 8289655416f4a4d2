"""The main window: tabs, menus, shortcuts, settings between runs, no TensorFlow at start,
and a clean shutdown while a job runs."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QProgressBar, QPushButton, QTabWidget

from cnnstudio.core.events import Preview, Progress
from cnnstudio.gui.main_window import MainWindow
from cnnstudio.gui.settings import settings_path
from cnnstudio.gui.tabs import tab_classes


def test_window_has_the_tabs_by_object_name(window):
    tabs = window.findChild(QTabWidget, "mainTabs")
    assert tabs is not None
    assert tabs.count() == len(tab_classes()) >= 1
    dream = window.findChild(QPushButton, "dreamRunButton").parent()
    while dream is not None and dream.objectName() != "dreamTab":
        dream = dream.parent()
    assert dream is not None and tabs.indexOf(dream) >= 0
    for name in ("dreamStopButton", "dreamSaveButton"):
        assert window.findChild(QPushButton, name) is not None
    assert isinstance(window.findChild(QProgressBar, "dreamProgress"), QProgressBar)


def test_menus_and_shortcuts(window):
    menus = {m.title().replace("&", ""): m for m in window.menuBar().findChildren(QMenu)}
    assert {"File", "Edit", "Job", "View", "Help"} <= set(menus)
    file_actions = [a.text().replace("&", "") for a in menus["File"].actions() if a.text()]
    assert file_actions == [
        "Open image...",
        "Open recent",
        "Batch...",
        "Save result...",
        "Import weights...",
        "Model library...",
        "Quit",
    ]
    edit_actions = [a.text().replace("&", "") for a in menus["Edit"].actions()]
    assert edit_actions == ["Copy picture", "Paste image"]
    help_actions = [a.text().replace("&", "") for a in menus["Help"].actions() if a.text()]
    assert help_actions == ["User guide", "Keyboard shortcuts", "About CNN Studio"]

    def keys(name):
        action = window.findChild(QAction, name)
        return {s.toString() for s in action.shortcuts()}

    assert keys("openAction") == {QKeySequence(QKeySequence.StandardKey.Open).toString()}
    assert "Ctrl+S" in keys("saveAction")
    assert "Ctrl+Q" in keys("quitAction")
    assert keys("copyAction") == {QKeySequence(QKeySequence.StandardKey.Copy).toString()}
    assert {"F5", "Ctrl+R"} <= keys("runAction")
    assert "Esc" in keys("stopAction")
    assert keys("zoomFit") == {"Ctrl+0"} and keys("zoomActual") == {"Ctrl+Alt+0"}
    # no key is claimed twice: Qt would treat it as ambiguous and trigger neither
    claimed = [key.toString() for a in window.findChildren(QAction) for key in a.shortcuts()]
    assert len(claimed) == len(set(claimed)), sorted(claimed)


def test_view_menu_zooms_the_picture_one_to_one_and_fits_it(qtbot, active_window):
    dream = active_window.tab_by_key("dream")
    active_window.tabs.setCurrentWidget(dream)
    y, x = np.mgrid[0:60, 0:80]
    dream.set_source(np.stack([x * 3, y * 4, x + y], axis=-1).astype(np.uint8), "ramp")
    view = dream.preview
    fitted = view.zoom_factor()
    assert fitted > 2  # a small picture blown up to the view
    qtbot.keyClick(
        view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    )
    assert view.zoom_factor() == 1.0
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom_factor() == pytest.approx(fitted)
    active_window.findChild(QAction, "zoomActual").trigger()
    assert view.zoom_factor() == 1.0


def test_about_names_versions_and_device(window):
    box = window.show_about()
    text = box.text()
    for word in ("CNN Studio", "Python", "TensorFlow", "Keras", "Qt", "Device"):
        assert word in text
    box.close()


def test_device_line_waits_for_detection(window):
    assert window.device_label.text() == "Device: detecting..."


def test_open_image_goes_to_the_current_tab(window, tmp_path, monkeypatch):
    from cnnstudio.core.image_saving import save_image

    path = save_image(tmp_path / "pic.png", np.full((40, 50, 3), 90, np.uint8))
    tab = window.tab_by_key("dream")
    window.tabs.setCurrentWidget(tab)
    window.ask_open_image = lambda: str(path)
    window.open_action.trigger()
    assert tab.source_image().shape == (40, 50, 3)


def test_settings_round_trip_across_two_windows(qtbot):
    first = MainWindow(detect_device=False)
    qtbot.addWidget(first)
    first.resize(640, 480)
    dream = first.tab_by_key("dream")
    dream.form.steps_spin.setValue(7)
    dream.form.octave_scale_spin.setValue(1.4)
    dream.form.weights_picker.set_value("random")
    dream.form.from_noise.setChecked(True)
    dream.form.noise_width.setValue(222)
    first.close()
    assert settings_path().is_file()

    second = MainWindow(detect_device=False)
    qtbot.addWidget(second)
    again = second.tab_by_key("dream")
    assert again.form.steps_spin.value() == 7
    assert again.form.octave_scale_spin.value() == pytest.approx(1.4)
    assert again.form.weights_picker.value() == "random"
    assert again.form.from_noise.isChecked()
    assert again.form.noise_width.value() == 222
    assert (second.width(), second.height()) == (640, 480)
    second.close()


def test_gui_import_and_window_do_not_load_tensorflow():
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import pkgutil, importlib, cnnstudio.gui\n"
        "for m in pkgutil.walk_packages(cnnstudio.gui.__path__, 'cnnstudio.gui.'):\n"
        "    importlib.import_module(m.name)\n"
        "from cnnstudio.gui.main_window import MainWindow\n"
        "w = MainWindow(detect_device=False); w.show(); app.processEvents()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "w.close()\n"
        "print('LOADED:' + ','.join(bad[:5]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LOADED:\n" in result.stdout or result.stdout.strip().endswith("LOADED:"), result.stdout


def test_closing_mid_job_stops_and_waits(qtbot):
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    window.show()
    tab = window.current_tab()
    told_to_stop = threading.Event()
    stepping = threading.Event()

    def long_job():
        try:
            step = 0
            while True:
                step += 1
                stepping.set()
                yield Progress(step, 10**9, 0.0)
                if step % 10 == 0:
                    yield Preview(np.zeros((8, 8, 3), np.uint8), step, 10**9)
        except GeneratorExit:
            told_to_stop.set()
            raise

    tab.runner.run_generator(long_job)
    assert stepping.wait(10)
    assert tab.runner.running
    window.close()
    assert told_to_stop.is_set()
    assert not tab.runner.running
    assert tab.runner._pool.activeThreadCount() == 0
    assert QThreadPool.globalInstance().activeThreadCount() == 0


def digit_key(digit: int) -> Qt.Key:
    return Qt.Key(Qt.Key.Key_0.value + digit)


def test_keyboard_runs_stops_and_switches_tabs(qtbot, window):
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    dream = window.tab_by_key("dream")
    calls = []
    dream.run_job = lambda: calls.append("run")
    dream.stop_job = lambda: calls.append("stop")
    index = window.tabs.indexOf(dream)
    qtbot.keyClick(window, digit_key(index + 1), Qt.KeyboardModifier.ControlModifier)
    assert window.current_tab() is dream
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert calls == ["run", "run", "stop"]
    if window.tabs.count() > 1:
        other = (index + 1) % window.tabs.count()
        qtbot.keyClick(window, digit_key(other + 1), Qt.KeyboardModifier.ControlModifier)
        assert window.tabs.currentIndex() == other


def test_import_weights_reports_a_bad_file(qtbot, window, tmp_path, monkeypatch):
    from cnnstudio.gui.widgets import dialogs

    bogus = tmp_path / "not-weights.h5"
    bogus.write_bytes(b"this is not HDF5")
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda *args, **kw: shown.append(args))
    window.ask_weights_file = lambda: str(bogus)
    with qtbot.waitSignal(window._import_runner.done, timeout=120000):
        window.import_weights_action.trigger()
    assert len(shown) == 1
    message = shown[0][1]
    assert "not-weights.h5" in message and "Unexpected" not in message
    assert "not-weights.h5" in window.status_label.text()


def test_device_line_fills_in_after_the_window_shows(qtbot):
    window = MainWindow(detect_device=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: "detecting" not in window.device_label.text(), timeout=120000)
    assert (
        window.device_label.text().startswith("Device: CPU") or "GPU" in window.device_label.text()
    )
    assert window.device_text in window.about_text()
    window.close()


def test_dream_result_can_be_sent_to_another_tab(qtbot, window):
    dream = window.tab_by_key("dream")
    style = window.tab_by_key("style")
    assert not dream.send_button.isEnabled()
    picture = np.zeros((48, 64, 3), np.uint8)
    picture[:, :32] = (200, 30, 90)
    dream._run_params = dream.form.params()
    dream._keep_result(picture, stopped_at=None)
    dream._update_buttons()
    assert dream.send_button.isEnabled()
    actions = {a.text(): a for a in dream.send_button.menu().actions()}

    actions["Style: use as content"].trigger()
    assert window.current_tab() is style
    assert np.array_equal(style.pictures.content, picture)
    assert style.pictures.content_name == "content"
    assert np.array_equal(style.preview.reference(), picture)  # Hold to compare shows it

    actions["Style: use as a style"].trigger()
    assert [s.name for s in style.pictures.styles] == ["style"]
    assert np.array_equal(style.pictures.styles[0].image, picture)


def test_the_train_controls_fit_a_1024_px_window(qtbot, window):
    """The Train tab's column of controls is as wide as they need: a narrower one hid the
    Resume button and the Dataset "..." behind a horizontal scroll bar."""
    from PySide6.QtWidgets import QScrollArea

    tab = window.tab_by_key("train")
    window.tabs.setCurrentWidget(tab)
    window.resize(1024, 760)
    window.show()
    qtbot.waitExposed(window)
    column = tab.findChild(QScrollArea)
    qtbot.waitUntil(lambda: column.width() > 0)
    # never squeezed below what the controls need, whatever the pages beside it want
    # (a run's results widened them, and the column shrank to 300 px)
    assert column.minimumWidth() > column.widget().sizeHint().width()
    assert not column.horizontalScrollBar().isVisible()
    for button in (tab.start_button, tab.stop_button, tab.resume_button):
        right = button.mapTo(column.viewport(), button.rect().topRight()).x()
        assert right <= column.viewport().width()


def test_the_app_gives_the_gui_thread_the_interpreter_within_a_millisecond():
    """A worker tracing a network gave the GIL back only every 5 ms (Python's default),
    and each of a paint's dozens of returns from Qt waited for it (issue 15)."""
    from cnnstudio.gui import app

    sys.setswitchinterval(0.005)
    app.create_app([])
    assert sys.getswitchinterval() == pytest.approx(0.001)
