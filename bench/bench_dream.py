"""Dream step vs the TF2 recipe's eager GradientTape loop (DESIGN.md, Dream reference).

Same InceptionV3 (random weights: nothing can be downloaded here), same 500x750 image, same
number of steps, same arithmetic (loss = sum of the mean activations of mixed3 and mixed5,
gradient / (std + 1e-8), step 0.01, clip to [-1, 1]), in one process; reference and app
rounds alternate and the medians of wall and CPU time (process_time) give the ratios: the
machine is shared, and CPU time is the steadier of the two.
Then peak memory (ru_maxrss) of a tiled dream at 1000 px and 3000 px, each in a fresh
subprocess, with an untiled 1000 px run for contrast.

    python -m bench dream
    python -m bench.bench_dream --memory 3000 512     # one memory probe (used internally)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from bench.common import peak_rss_mb, record

STEPS = 10
HEIGHT, WIDTH = 500, 750
ROUNDS = 3  # the machine is shared: alternate reference and app rounds, report medians


def _reference_steps(dream_model, img, steps: int):
    """The TF2 cookbook / tutorial loop, written out as published (eager)."""
    import tensorflow as tf

    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(img)
            layer_activations = dream_model(tf.expand_dims(img, axis=0))
            losses = [tf.math.reduce_mean(act) for act in layer_activations]
            loss = tf.reduce_sum(losses)
        gradients = tape.gradient(loss, img)
        gradients /= tf.math.reduce_std(gradients) + 1e-8
        img = img + gradients * 0.01
        img = tf.clip_by_value(img, -1, 1)
    return img.numpy()


def _app_steps(stepper, img, steps: int, tile_size: int, jitter: int):
    """The app's compiled step, driven as dream() drives it (one sync per step)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    args = (
        tf.constant(0.01),
        tf.constant(tile_size, tf.int32),
    )
    rest = (
        tf.constant(0.0),
        tf.constant([1.0, 1.0]),
        tf.constant([-1.0, -1.0, -1.0]),
        tf.constant([1.0, 1.0, 1.0]),
        tf.constant(0, tf.int32),  # channel index (unused: no channel mode)
    )
    for _ in range(steps):
        shift = tf.constant(rng.integers(-jitter, jitter + 1, 2) if jitter else [0, 0], tf.int32)
        img, terms = stepper.step(img, *args, shift, *rest)
        terms.numpy()
    return img.numpy()


def _speed() -> dict:
    import tensorflow as tf

    from cnnstudio.core import backbones, layers
    from cnnstudio.core.dream import tiled_step

    model = backbones.build_backbone("inception_v3", "random", include_top=False)
    names = ["mixed3", "mixed5"]
    dream_model = layers.layer_outputs_model(model, names)
    stepper = tiled_step.get_tiled_step(model, names, "mean", False, None, False, 75)
    start = np.random.default_rng(0).uniform(-1, 1, (HEIGHT, WIDTH, 3)).astype(np.float32)
    img = tf.constant(start)

    variants = {
        "reference_eager": lambda: _reference_steps(dream_model, img, STEPS),
        "app_tiled_512_roll": lambda: _app_steps(stepper, img, STEPS, 512, 512),
        "app_one_tile": lambda: _app_steps(stepper, img, STEPS, 1024, 0),
    }
    # warm-up: trace the compiled step, let eager kernels initialise
    _reference_steps(dream_model, img, 1)
    _app_steps(stepper, img, 1, 512, 512)
    _app_steps(stepper, img, 1, 1024, 0)

    # same arithmetic: one untiled app step equals one reference step
    ref_one = _reference_steps(dream_model, img, 1)
    app_one = _app_steps(stepper, img, 1, 1024, 0)
    max_diff = float(np.abs(ref_one - app_one).max())

    # Wall time on a shared 2-core machine swings with the neighbours' load; CPU time
    # (process_time: every thread of this process) is steadier. Both are medians.
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(ROUNDS):
        for name, fn in variants.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            elapsed, used = time.perf_counter() - t0, time.process_time() - c0
            walls[name].append(elapsed)
            cpus[name].append(used)
            print(
                f"  round {round_index + 1} {name}: {elapsed / STEPS:.3f} s/step wall, "
                f"{used / STEPS:.3f} s/step CPU (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    wall = {name: float(np.median(values)) for name, values in walls.items()}
    cpu = {name: float(np.median(values)) for name, values in cpus.items()}
    return {
        "steps": STEPS,
        "rounds": ROUNDS,
        "statistic": "median",
        "size": [HEIGHT, WIDTH],
        "s_per_step": {k: round(v / STEPS, 4) for k, v in wall.items()},
        "cpu_s_per_step": {k: round(v / STEPS, 4) for k, v in cpu.items()},
        "ratio_tiled": round(wall["reference_eager"] / wall["app_tiled_512_roll"], 2),
        "ratio_one_tile": round(wall["reference_eager"] / wall["app_one_tile"], 2),
        "cpu_ratio_tiled": round(cpu["reference_eager"] / cpu["app_tiled_512_roll"], 2),
        "cpu_ratio_one_tile": round(cpu["reference_eager"] / cpu["app_one_tile"], 2),
        "max_abs_diff_one_step": max_diff,
        "load_average": os.getloadavg()[0],
    }


def _proc_status_mb(field: str) -> float:
    """A memory line of /proc/self/status (Linux) in MB. VmHWM is this process image's peak
    resident set; unlike ru_maxrss it does not inherit the parent's peak across exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _memory_probe(side: int, tile: int) -> dict:
    """One dream at ``side`` px (3:2), 2 steps, one octave. Reports the process peak and
    the dream's own peak above the resident size it started from (sampled every 10 ms)."""
    import threading

    from cnnstudio.core import backbones
    from cnnstudio.core.dream import job
    from cnnstudio.core.dream.params import DreamParams

    backbones.build_backbone("inception_v3", "random", include_top=False)
    image = np.random.default_rng(0).integers(0, 256, (side * 2 // 3, side, 3), dtype=np.uint8)
    params = DreamParams(
        weights="random", steps=2, octaves=1, tile_size=tile, jitter=tile, max_size=None, seed=0
    )
    start_rss = _proc_status_mb("VmRSS")
    highest = [start_rss]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            highest[0] = max(highest[0], _proc_status_mb("VmRSS"))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        for _ in job.dream(image, params):
            pass
    finally:
        running.clear()
        sampler.join()
    return {
        "side": side,
        "tile": tile,
        "rss_before_dream_mb": round(start_rss, 1),
        "dream_peak_above_start_mb": round(highest[0] - start_rss, 1),
        "process_peak_mb": round(_proc_status_mb("VmHWM"), 1),
        "ru_maxrss_mb": round(peak_rss_mb(), 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _memory(side: int, tile: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_dream", "--memory", str(side), str(tile)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"side": side, "tile": tile, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def main() -> None:
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    # memory first, while this process is small (a child's ru_maxrss starts at the parent's)
    memory = []
    for side, tile in ((1000, 512), (3000, 512), (1000, 1000), (2000, 2000)):
        probe = _memory(side, tile)
        memory.append(probe)
        print(f"memory {side} px, tile {tile}: {probe}", flush=True)
    print(
        f"dream step, InceptionV3 random weights, {HEIGHT}x{WIDTH}, {STEPS} steps, "
        f"median of {ROUNDS} alternating rounds",
        flush=True,
    )
    speed = _speed()
    per = speed["s_per_step"]
    print(
        f"reference eager {per['reference_eager']:.3f} s/step | app tiled (512, roll) "
        f"{per['app_tiled_512_roll']:.3f} s/step -> {speed['ratio_tiled']}x | app one tile "
        f"{per['app_one_tile']:.3f} s/step -> {speed['ratio_one_tile']}x "
        f"(one-step max |diff| {speed['max_abs_diff_one_step']:.2e})",
        flush=True,
    )
    print(
        f"CPU time per step: reference {speed['cpu_s_per_step']['reference_eager']:.3f} s, "
        f"app tiled {speed['cpu_s_per_step']['app_tiled_512_roll']:.3f} s -> "
        f"{speed['cpu_ratio_tiled']}x",
        flush=True,
    )
    path = record("dream", {**speed, "memory": memory})
    print(f"saved {path}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        print(json.dumps(_memory_probe(int(sys.argv[2]), int(sys.argv[3]))), flush=True)
    else:
        main()
