"""View > Mixed precision: offered only on a GPU of compute capability 7.0 or newer (a
stored "on" is not applied elsewhere), and applied between jobs only: networks a running
job has built keep their precision, so the switch waits until every tab is idle."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu

from cnnstudio.core.device import DeviceInfo
from cnnstudio.gui.main_window import MainWindow
from cnnstudio.gui.settings import app_settings, read_bool

CPU = DeviceInfo("CPU", "Some CPU", False, threads=2)
TURING = DeviceInfo("GPU", "RTX 2080", False, gpu_count=1, mixed_precision_capable=True)


def test_mixed_precision_is_not_offered_on_a_cpu(qtbot):
    settings = app_settings()
    settings.setValue("device/mixed_precision", True)  # ticked once on another machine
    settings.sync()
    window = MainWindow(detect_device=False)
    qtbot.addWidget(window)
    action = window.mixed_precision_action
    assert not action.isEnabled()  # unknown until the device is detected
    assert "detected" in action.toolTip()

    window._on_device_detected(CPU)
    assert not action.isEnabled() and not action.isChecked()
    assert "compute capability 7.0" in action.toolTip() and "Some CPU" in action.toolTip()
    window.findChild(QMenu, "viewMenu").aboutToShow.emit()
    assert not action.isEnabled()  # opening the menu does not bring it back
    window.close()
    assert read_bool(app_settings(), "device/mixed_precision", True) is False


def test_mixed_precision_waits_for_running_jobs(qtbot, window, monkeypatch):
    dream = window.tab_by_key("dream")
    busy = {"dream": True}
    monkeypatch.setattr(dream, "is_busy", lambda: busy["dream"])
    applied = []
    monkeypatch.setattr(
        window, "detect_device", lambda: applied.append(window.mixed_precision_action.isChecked())
    )
    window._on_device_detected(TURING)
    window._device_started = True  # as after the window showed and detected the device

    menu = window.findChild(QMenu, "viewMenu")
    menu.aboutToShow.emit()
    assert not window.mixed_precision_action.isEnabled()  # greyed out during a job

    window.mixed_precision_action.setChecked(True)  # e.g. restored settings, a shortcut
    assert applied == []  # not under the running job's feet
    assert "when the running job ends" in window.status_label.text()
    busy["dream"] = False
    qtbot.waitUntil(lambda: applied == [True], timeout=5000)
    menu.aboutToShow.emit()
    assert window.mixed_precision_action.isEnabled()

    window.mixed_precision_action.setChecked(False)  # idle: at once
    assert applied == [True, False]
