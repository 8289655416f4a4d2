"""The compute device: GPU memory growth, mixed precision, a one-line description.

Call :func:`configure_devices` before any other TensorFlow use: memory growth can only be
set before the GPUs are initialised, and a desktop shares its GPU with the screen, so
TensorFlow must not grab all its memory up front. TensorFlow is imported inside functions.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass

#: compute capability from which float16 tensor cores make mixed precision worthwhile
MIN_MIXED_PRECISION_CAPABILITY = (7, 0)

_lock = threading.Lock()
#: set once TensorFlow and Keras are imported and the GPUs configured
_runtime_ready = False
#: set once memory growth has been applied (it can only be applied once per process)
_memory_growth_done = False
_memory_growth_notes: list[str] = []
#: True while we have switched the Keras policy to mixed_float16
_mixed_policy_set = False


@dataclass(frozen=True)
class DeviceInfo:
    """The device jobs run on."""

    kind: str  # "GPU" or "CPU"
    name: str  # GPU name or CPU model
    mixed_precision: bool
    gpu_count: int = 0
    threads: int | None = None
    #: why something asked for could not be done (mixed precision, memory growth), or ""
    note: str = ""
    #: a GPU of compute capability 7.0 or newer is there: mixed precision can be offered
    mixed_precision_capable: bool = False

    def summary(self) -> str:
        """E.g. "GPU: NVIDIA RTX 3060 (mixed precision)" or "CPU: AMD EPYC (2 threads)"."""
        extras: list[str] = []
        if self.kind == "GPU":
            if self.gpu_count > 1:
                extras.append(f"+{self.gpu_count - 1} more")
            if self.mixed_precision:
                extras.append("mixed precision")
        elif self.threads:
            extras.append(f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        suffix = f" ({', '.join(extras)})" if extras else ""
        return f"{self.kind}: {self.name}{suffix}"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux) or platform, else the machine type."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_threads() -> int | None:
    """CPU threads this process may use (respects affinity / container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _capability(details: dict) -> tuple[int, int] | None:
    value = details.get("compute_capability")
    if not value:
        return None
    try:
        major, minor = value
        return int(major), int(minor)
    except (TypeError, ValueError):
        return None


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[tempfile.SpooledTemporaryFile]:
    """Send what C++ code writes to file descriptor 2 into a temporary file.

    TensorFlow's native start-up lines (oneDNN notes, "could not find cuda drivers",
    "failed call to cuInit" on a machine without a GPU) are written before absl logging is
    initialised, so TF_CPP_MIN_LOG_LEVEL cannot hide them; they would bury the one-line
    messages of the CLI. The caller decides whether to show the captured text."""
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow() -> None:
    """Import TensorFlow and Keras once per process, quietly, and set GPU memory growth
    before anything else can touch a GPU. Every job calls this first (the CLI before it
    runs a job, the GUI's workers before a job starts); later calls return at once.

    One thread at a time: two jobs importing TensorFlow at the same moment see
    half-initialised modules ("dataset_ops has no attribute 'DatasetV2'")."""
    global _runtime_ready
    if _runtime_ready:
        return
    with _lock:
        if _runtime_ready:
            return
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        quiet = not os.environ.get("CNNSTUDIO_DEBUG")
        with _native_stderr_captured() if quiet else contextlib.nullcontext() as captured:
            try:
                import keras  # noqa: F401
                import tensorflow as tf

                _apply_memory_growth(tf)
            except BaseException:
                if captured is not None:  # the native lines may explain the failure
                    captured.seek(0)
                    sys.stderr.write(captured.read().decode(errors="replace"))
                raise
        _runtime_ready = True


def _apply_memory_growth(tf) -> None:
    """Memory growth on every GPU, once: it can only be set before a GPU is initialised."""
    global _memory_growth_done
    if _memory_growth_done:
        return
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError) as error:
            # "Physical devices cannot be modified after being initialized": some TF use
            # came first; jobs still run, only without memory growth.
            _memory_growth_notes.append(f"memory growth not set on {gpu.name}: {error}")
    _memory_growth_done = True


def configure_devices(mixed_precision: bool = False) -> DeviceInfo:
    """Set memory growth on every GPU (first call only), switch the Keras dtype policy to
    mixed_float16 when asked and a GPU with compute capability >= 7.0 exists (back to
    float32 when not asked), and describe the device. Safe to call again."""
    start_tensorflow()
    import tensorflow as tf

    with _lock:
        gpus = tf.config.list_physical_devices("GPU")
        _apply_memory_growth(tf)

        details = []
        for gpu in gpus:
            try:
                details.append(tf.config.experimental.get_device_details(gpu) or {})
            except (RuntimeError, ValueError):
                details.append({})

        notes = list(_memory_growth_notes)
        capable = any((_capability(d) or (0, 0)) >= MIN_MIXED_PRECISION_CAPABILITY for d in details)
        use_mixed = bool(mixed_precision and capable)
        if mixed_precision and not capable:
            notes.append(
                "mixed precision needs a GPU with compute capability 7.0 or newer; "
                "running in float32"
            )
        _set_policy(use_mixed)

        if gpus:
            first = details[0] if details else {}
            name = first.get("device_name") or gpus[0].name
            return DeviceInfo(
                "GPU",
                str(name),
                use_mixed,
                gpu_count=len(gpus),
                note="; ".join(notes),
                mixed_precision_capable=capable,
            )
        return DeviceInfo("CPU", cpu_model(), False, threads=cpu_threads(), note="; ".join(notes))


def _set_policy(mixed: bool) -> None:
    """Switch Keras' global dtype policy; only touch it back if we changed it, so a policy
    set by someone else (a test, a user script) is left alone."""
    global _mixed_policy_set
    import keras

    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
        _mixed_policy_set = True
    elif _mixed_policy_set:
        keras.mixed_precision.set_global_policy("float32")
        _mixed_policy_set = False
