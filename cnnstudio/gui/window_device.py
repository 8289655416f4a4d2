"""The window's device line and what depends on it (a mixin of MainWindow): the device is
detected on a worker once the window shows (TensorFlow is imported there, not in the GUI
thread), and View > Mixed precision is offered only where the device supports it, and
changed only between jobs."""

from __future__ import annotations

from PySide6.QtCore import QTimer

from cnnstudio.gui.workers import JobRunner


def _configure_devices(mixed_precision: bool):
    """Worker job: imports TensorFlow (slow, first time) and describes the device."""
    from cnnstudio.core.device import configure_devices

    return configure_devices(mixed_precision=mixed_precision)


class DeviceMixin:
    """Device detection and mixed precision, for MainWindow."""

    def _init_device(self, detect_device: bool) -> None:
        self._detect_device = detect_device
        self._device_started = False
        #: whether the device can use mixed precision (None: not detected yet)
        self._mixed_precision_capable: bool | None = None
        # a mixed precision change waits for the running jobs (they keep their networks)
        self._precision_timer = QTimer(self)
        self._precision_timer.setInterval(250)
        self._precision_timer.timeout.connect(self._apply_mixed_precision)
        self.device_text = "detecting..."
        self._device_runner = JobRunner("device detection", self)
        self._device_runner.finished.connect(self._on_device_detected)
        self._device_runner.failed.connect(self._on_device_failed)

    def detect_device(self) -> None:
        """Describe the device on a worker (imports TensorFlow there, not here)."""
        if self._device_runner.running or self._closed:
            return
        self.device_label.setText("Device: detecting...")
        self._device_runner.run_function(
            _configure_devices, self.mixed_precision_action.isChecked()
        )

    def _on_device_detected(self, info) -> None:
        summary = info.summary() if hasattr(info, "summary") else str(info)
        self.device_text = summary
        self.device_label.setText(f"Device: {summary}")
        note = getattr(info, "note", "")
        self.device_label.setToolTip(note or summary)
        self._mixed_precision_capable = bool(getattr(info, "mixed_precision_capable", False))
        if not self._mixed_precision_capable and self.mixed_precision_action.isChecked():
            # a stored "on" from another machine: not applied here, and not shown as on
            self.mixed_precision_action.blockSignals(True)
            self.mixed_precision_action.setChecked(False)
            self.mixed_precision_action.blockSignals(False)
        self.update_mixed_precision_action()
        for tab in self.tab_widgets():
            tab.device_changed(info)

    def _on_device_failed(self, message: str) -> None:
        self.device_text = f"unknown ({message})"
        self.device_label.setText("Device: unknown")
        self.device_label.setToolTip(message)

    def update_mixed_precision_action(self) -> None:
        """Mixed precision is offered only on a GPU of compute capability 7.0 or newer
        (unknown until the device is detected) and switched between jobs only: greyed
        out otherwise, with a tooltip that says why."""
        capable = self._mixed_precision_capable
        busy = self.any_tab_busy()
        self.mixed_precision_action.setEnabled(bool(capable) and not busy)
        if capable is None:
            tip = "Offered once the device is known (it is being detected)"
        elif not capable:
            tip = (
                "Needs an NVIDIA GPU of compute capability 7.0 or newer; this machine has "
                f"none ({self.device_text}), so everything runs in float32"
            )
        elif busy:
            tip = "Changes between jobs: wait for the running job to end"
        else:
            tip = "float16 compute with float32 losses: faster on this GPU, same results"
        self.mixed_precision_action.setToolTip(tip)
        self.mixed_precision_action.setStatusTip(tip)

    def on_mixed_precision_toggled(self, _checked: bool) -> None:
        if self._device_started:
            self._apply_mixed_precision()

    def _apply_mixed_precision(self) -> None:
        """Set the dtype policy now, or once no job runs: a job half-way through keeps the
        networks it built in the old precision (new ones are built for the new policy)."""
        if self._closed:
            self._precision_timer.stop()
            return
        if self.any_tab_busy() or self._device_runner.running:
            if not self._precision_timer.isActive():
                self._precision_timer.start()
                self.show_status("Mixed precision changes when the running job ends")
            return
        self._precision_timer.stop()
        self.detect_device()
