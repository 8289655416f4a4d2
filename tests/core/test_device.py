"""Device set-up: memory growth on every GPU, mixed precision only where it helps.

The GPU path runs against monkeypatched tf.config functions (no GPU here)."""

from __future__ import annotations

import pytest

from cnnstudio.core import device


@pytest.fixture
def clean_device_state(monkeypatch):
    import keras

    policy = keras.mixed_precision.global_policy().name
    monkeypatch.setattr(device, "_memory_growth_done", False)
    monkeypatch.setattr(device, "_memory_growth_notes", [])
    monkeypatch.setattr(device, "_mixed_policy_set", False)
    yield
    keras.mixed_precision.set_global_policy(policy)


@pytest.fixture
def fake_gpus(monkeypatch, clean_device_state):
    """Two fake GPUs whose compute capability the test chooses; records memory growth."""
    import tensorflow as tf

    gpus = [
        tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU")
        for i in range(2)
    ]
    state = {"growth": [], "capability": (8, 6), "growth_error": None}

    def list_physical_devices(device_type=None):
        assert device_type == "GPU"
        return list(gpus)

    def set_memory_growth(gpu, enable):
        if state["growth_error"]:
            raise RuntimeError(state["growth_error"])
        state["growth"].append((gpu.name, enable))

    def get_device_details(gpu):
        return {"device_name": "Fake RTX 3060", "compute_capability": state["capability"]}

    monkeypatch.setattr(tf.config, "list_physical_devices", list_physical_devices)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_memory_growth)
    monkeypatch.setattr(tf.config.experimental, "get_device_details", get_device_details)
    return state


def test_cpu_description(clean_device_state):
    info = device.configure_devices()
    assert info.kind == "CPU" and not info.mixed_precision
    assert info.name == device.cpu_model() and info.name
    assert info.summary().startswith(f"CPU: {info.name} (")
    assert info.summary().endswith("threads)") or info.summary().endswith("thread)")


def test_cpu_refuses_mixed_precision_and_says_why(clean_device_state):
    import keras

    info = device.configure_devices(mixed_precision=True)
    assert not info.mixed_precision
    assert "compute capability 7.0" in info.note
    assert keras.mixed_precision.global_policy().name == "float32"


def test_gpu_memory_growth_and_mixed_precision(fake_gpus):
    import keras

    info = device.configure_devices(mixed_precision=True)
    assert fake_gpus["growth"] == [
        ("/physical_device:GPU:0", True),
        ("/physical_device:GPU:1", True),
    ]
    assert info.kind == "GPU" and info.mixed_precision and info.gpu_count == 2
    assert info.summary() == "GPU: Fake RTX 3060 (+1 more, mixed precision)"
    assert keras.mixed_precision.global_policy().name == "mixed_float16"

    # idempotent: memory growth is set once; mixed precision can be switched off again
    again = device.configure_devices(mixed_precision=False)
    assert len(fake_gpus["growth"]) == 2
    assert not again.mixed_precision
    assert keras.mixed_precision.global_policy().name == "float32"


def test_old_gpu_gets_no_mixed_precision(fake_gpus):
    import keras

    fake_gpus["capability"] = (6, 1)
    info = device.configure_devices(mixed_precision=True)
    assert info.kind == "GPU" and not info.mixed_precision
    assert "7.0" in info.note
    assert keras.mixed_precision.global_policy().name == "float32"
    assert info.summary() == "GPU: Fake RTX 3060 (+1 more)"


def test_memory_growth_too_late_is_reported(fake_gpus):
    fake_gpus["growth_error"] = "Physical devices cannot be modified after being initialized"
    info = device.configure_devices()
    assert info.kind == "GPU"
    assert "memory growth not set" in info.note and "after being initialized" in info.note


def test_summary_formats():
    assert device.DeviceInfo("GPU", "NVIDIA RTX 3060", True).summary() == (
        "GPU: NVIDIA RTX 3060 (mixed precision)"
    )
    assert device.DeviceInfo("CPU", "AMD EPYC", False, threads=2).summary() == (
        "CPU: AMD EPYC (2 threads)"
    )


def test_starting_tensorflow_sets_memory_growth_first(fake_gpus, monkeypatch):
    """Every job starts through start_tensorflow (CLI and GUI workers): the GPUs get memory
    growth there, before a job can build a model on them."""
    monkeypatch.setattr(device, "_runtime_ready", False)
    device.start_tensorflow()
    assert fake_gpus["growth"] == [
        ("/physical_device:GPU:0", True),
        ("/physical_device:GPU:1", True),
    ]
    device.start_tensorflow()  # later calls are free and change nothing
    assert len(fake_gpus["growth"]) == 2


def test_tensorflow_start_up_chatter_stays_off_the_terminal():
    """TensorFlow's native start-up lines (oneDNN, CUDA drivers, cuInit) bypass
    TF_CPP_MIN_LOG_LEVEL; start_tensorflow keeps them off stderr, so CLI errors stay one line."""
    import os
    import subprocess
    import sys

    code = (
        "from cnnstudio.core.device import start_tensorflow, configure_devices\n"
        "start_tensorflow()\n"
        "print(configure_devices().kind)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() in ("CPU", "GPU")
    assert result.stderr == ""
