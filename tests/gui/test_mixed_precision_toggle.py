"""View > Mixed precision applies between jobs only: networks a running job has built keep
their precision, so the switch waits until every tab is idle."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu


def test_mixed_precision_waits_for_running_jobs(qtbot, window, monkeypatch):
    dream = window.tab_by_key("dream")
    busy = {"dream": True}
    monkeypatch.setattr(dream, "is_busy", lambda: busy["dream"])
    applied = []
    monkeypatch.setattr(
        window, "detect_device", lambda: applied.append(window.mixed_precision_action.isChecked())
    )
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
