"""Fast style in the window: how long "Use a fast style model" takes to show the 512 px
preview of a 1024x768 content picture once the model is loaded, measured where the user
sees it (the model chosen in the list -> the styled preview in the view: the request
timer, the worker, the forward pass, the signal back), and whether a bfloat16 forward
pass would be worth having for that preview.

1. The first choice of the model (load from the library, trace the pass, preview), then
   choices of the same model again (it stays loaded): rounds alternate between two
   contents so that every choice styles anew. Median and worst of the rounds.
2. The forward pass alone at 512x384, float32 against the same network computing in
   bfloat16 (mixed_bfloat16 policy, weights copied): CPU and wall medians, and the
   largest difference of the two pictures in levels of 255.

Random weights (the cost does not depend on them).

    python -m bench faststyle_window   (BENCH_FAST_WINDOW_ROUNDS)
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from bench.common import record

ROUNDS = int(os.environ.get("BENCH_FAST_WINDOW_ROUNDS", "6"))
CONTENT = (768, 1024)
TARGET_S = 0.5


def _photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    height, width = CONTENT
    t = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    picture = 255 * (0.5 * t + 0.5 * y) * rng.uniform(0.3, 1.0, 3)
    return np.clip(picture + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)


def _window_rounds() -> tuple[float, list[float], bool]:
    """(first choice: load + trace + preview, [later choices]) in seconds, in the window,
    and whether the bfloat16 preview pass was chosen."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from cnnstudio.core.faststyle import models, network
    from cnnstudio.gui.tabs.style.fast_models import StyledPicture
    from cnnstudio.gui.tabs.style.tab import StyleTab

    app = QApplication.instance() or QApplication([])
    entry = models.save_style_model(
        network.build_style_network(seed=0), "bench", {"kind": "style", "styles": ["random"]}
    )
    tab = StyleTab()
    tab.set_mode("use")
    panel = tab.use_panel
    arrived: list[float] = []
    panel.runner.progress.connect(
        lambda event: (
            isinstance(event, StyledPicture)
            and not event.full
            and arrived.append(time.perf_counter())
        )
    )

    # the loop sleeps until an event comes, as the window's does (a Python loop polling
    # the events would hold the GIL the worker needs); a timer wakes it now and then
    ticker = QTimer()
    ticker.start(20)

    def wait(condition) -> None:
        deadline = QDeadlineTimer(120_000)
        while not condition() and not deadline.hasExpired():
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)

    times = []
    contents = [_photo(1), _photo(2)]
    for index in range(ROUNDS + 1):
        panel.model_list.setCurrentRow(-1)
        wait(lambda: not panel.runner.running)
        tab.set_content(contents[index % 2], "bench.png")
        arrived.clear()
        start = time.perf_counter()
        panel.model_list.setCurrentRow(0)  # the user's click
        wait(lambda: bool(arrived))
        times.append(arrived[0] - start)
        wait(lambda: not panel.runner.running)  # the full-size picture follows
    from cnnstudio.core.faststyle import apply

    chosen = apply.load_style_model(entry)._quick is not None
    ticker.stop()
    tab.shutdown()
    QCoreApplication.processEvents()
    return times[0], times[1:], chosen


def _precision_rounds() -> dict[str, float]:
    """float32 against bfloat16 for the forward pass of a 512x384 picture."""
    import keras
    import tensorflow as tf

    from cnnstudio.core.faststyle import network

    float32 = network.build_style_network(seed=0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        bf16 = network.build_style_network(seed=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    bf16.set_weights(float32.get_weights())
    spec = [tf.TensorSpec([1, None, None, 3], tf.float32)]
    passes = {
        "float32": tf.function(lambda x: float32(x, training=False), input_signature=spec),
        "bfloat16": tf.function(
            lambda x: tf.cast(bf16(x, training=False), tf.float32), input_signature=spec
        ),
    }
    picture = _photo(3)[:384, :512][None].astype(np.float32)
    outputs = {name: np.asarray(fn(picture)) for name, fn in passes.items()}  # traced
    timing: dict[str, list[tuple[float, float]]] = {name: [] for name in passes}
    for _ in range(ROUNDS):
        for name, fn in passes.items():
            wall, cpu = time.perf_counter(), time.process_time()
            np.asarray(fn(picture))
            timing[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    result = {}
    for name, values in timing.items():
        result[f"{name}_wall_s"] = float(np.median([v[0] for v in values]))
        result[f"{name}_cpu_s"] = float(np.median([v[1] for v in values]))
    levels = np.abs(
        np.clip(np.rint(outputs["float32"]), 0, 255) - np.clip(np.rint(outputs["bfloat16"]), 0, 255)
    )
    result["max_levels_apart"] = float(levels.max())
    result["mean_levels_apart"] = float(levels.mean())
    return result


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["CNNSTUDIO_HOME"] = tempfile.mkdtemp(prefix="bench-faststyle-window-")
    first, later, bfloat16 = _window_rounds()
    median, worst = float(np.median(later)), float(max(later))
    print(
        f"window: first choice (load, trace, 512 px preview) {first:.2f} s; the model "
        f"loaded: preview in {median:.2f} s median, {worst:.2f} s worst of {len(later)} "
        f"(target < {TARGET_S} s); preview pass: {'bfloat16' if bfloat16 else 'float32'}"
    )
    precision = _precision_rounds()
    print(
        f"forward pass 512x384: float32 {precision['float32_cpu_s']:.2f} s CPU "
        f"{precision['float32_wall_s']:.2f} s wall; bfloat16 "
        f"{precision['bfloat16_cpu_s']:.2f} s CPU {precision['bfloat16_wall_s']:.2f} s wall; "
        f"up to {precision['max_levels_apart']:.0f} levels apart "
        f"(mean {precision['mean_levels_apart']:.2f})"
    )
    path = record(
        "faststyle_window",
        {
            "first_choice_s": first,
            "preview_median_s": median,
            "preview_worst_s": worst,
            "preview_rounds_s": later,
            "target_s": TARGET_S,
            "bfloat16_preview": bfloat16,
            **precision,
        },
    )
    print(f"recorded {path}")
