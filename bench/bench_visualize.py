"""Feature visualisation: seconds per channel at 128 px, and the compiled, batched step
against a plain eager loop (DESIGN.md, "Next recipes: the numbers").

Same InceptionV3 (random weights: nothing can be downloaded here), layer mixed4, 128 px
images, the same channels, the same number of steps, the same random transformations
and the same arithmetic (the recipe's own ``Recipe.step``, Fourier parameterisation,
decorrelated colours, Adam 0.05):

- ``eager_loop``: the plain recipe, eagerly, one channel after the other;
- ``compiled_one_by_one``: the compiled step, one channel after the other;
- ``compiled_batched``: the compiled step, all channels as one batch (what the job does).

Reference and app rounds alternate and the medians of wall and CPU time give the ratios
(the machine is shared; CPU time is the steadier). Seconds per channel are extrapolated
to the default 256 steps.

    python -m bench visualize
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench.common import record

LAYER = "mixed4"
SIZE = 128
CHANNELS = 8
STEPS = 8
ROUNDS = 3
DEFAULT_STEPS = 256


def _inputs(count: int, seed: int):
    """Start parameters, moments and the transformations of every step for ``count``
    images, from one seed (the runs being compared get the same numbers)."""
    from cnnstudio.core.visualize import parameterization, transforms

    rng = np.random.default_rng(seed)
    params = parameterization.init_params(count, SIZE, SIZE, True, rng)
    shifts = [transforms.random_transforms(rng, count, 16, 0.1, 5.0) for _ in range(STEPS)]
    return params, shifts


def _run(step_fn, params, shifts, channels, scale, steps: int = STEPS):
    """``steps`` steps of a batch, one sync per step (as the job does)."""
    import tensorflow as tf

    values = tf.constant(params)
    moment1 = tf.zeros_like(values)
    moment2 = tf.zeros_like(values)
    size = tf.constant([SIZE, SIZE], tf.int32)
    channels = tf.constant(channels, tf.int32)
    for index in range(steps):
        values, moment1, moment2, objective, _ = step_fn(
            values, moment1, moment2, tf.constant(float(index + 1)), channels,
            tf.constant(shifts[index]), size, scale, tf.constant(0.05), tf.constant(0.0),
            tf.constant(1, tf.int32),
        )  # fmt: skip
        objective.numpy()
    return values.numpy()


def _gradient(loss_fn, params, shifts, channels, scale) -> np.ndarray:
    """The gradient of the recipe's loss with respect to the parameters."""
    import tensorflow as tf

    params = tf.constant(params)
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss, _, _ = loss_fn(
            params, tf.constant(channels, tf.int32), tf.constant(shifts),
            tf.constant([SIZE, SIZE], tf.int32), scale, tf.constant(0.0), tf.constant(1, tf.int32),
        )  # fmt: skip
    return tape.gradient(loss, params).numpy()


def _speed() -> dict:
    import tensorflow as tf

    from cnnstudio.core.visualize import network, parameterization
    from cnnstudio.core.visualize.params import VisualizeParams
    from cnnstudio.core.visualize.step import CompiledStep, Recipe

    params = VisualizeParams(model="inception_v3", weights="random", layer=LAYER, size=SIZE)
    net = network.load_network(params)
    recipe = Recipe(net, LAYER, "channel", True, True)
    compiled = CompiledStep(recipe)
    scale = tf.constant(parameterization.spectrum_scale(SIZE, SIZE))
    start, shifts = _inputs(CHANNELS, 0)
    channels = list(range(CHANNELS))

    def one_by_one(step_fn, steps: int = STEPS) -> np.ndarray:
        return np.concatenate(
            [
                _run(step_fn, start[i : i + 1], [s[i : i + 1] for s in shifts], [c], scale, steps)
                for i, c in enumerate(channels)
            ]
        )

    variants = {
        "eager_loop": lambda: one_by_one(recipe.step),
        "compiled_one_by_one": lambda: one_by_one(compiled._step),
        "compiled_batched": lambda: _run(compiled._step, start, shifts, channels, scale),
    }
    # warm-up: trace the compiled step, let the eager kernels initialise
    _run(compiled._step, start, shifts, channels, scale, 1)
    _run(recipe.step, start[:1], [s[:1] for s in shifts], [0], scale, 1)

    # The same arithmetic. Batching changes nothing: the batched gradient equals the
    # per-channel ones. Compiling changes the rounding (graph-mode kernel fusions), which
    # ReLUs near 0 amplify a little. Gradients are compared, not parameters after steps:
    # Adam's first steps move by about the gradient's sign, so coefficients whose
    # gradient is ~0 differ by round-off alone.
    compiled_loss = tf.function(recipe.loss)

    def gradients(loss_fn) -> tuple[np.ndarray, np.ndarray]:
        batched = _gradient(loss_fn, start, shifts[0], channels, scale)
        single = [
            _gradient(loss_fn, start[i : i + 1], shifts[0][i : i + 1], [c], scale)
            for i, c in enumerate(channels)
        ]
        return batched, np.concatenate(single)

    compiled_batched, compiled_single = gradients(compiled_loss)
    _, eager_single = gradients(recipe.loss)

    def relative(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    batching_diff = relative(compiled_batched, compiled_single)
    compiling_diff = relative(compiled_batched, eager_single)

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
                f"  round {round_index + 1} {name}: {elapsed:.2f} s wall, {used:.2f} s CPU "
                f"for {CHANNELS} channels x {STEPS} steps (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    wall = {name: float(np.median(v)) for name, v in walls.items()}
    cpu = {name: float(np.median(v)) for name, v in cpus.items()}
    per_channel = {k: v / CHANNELS / STEPS * DEFAULT_STEPS for k, v in wall.items()}
    return {
        "model": "inception_v3 (random weights)",
        "layer": LAYER,
        "size": SIZE,
        "channels": CHANNELS,
        "steps": STEPS,
        "rounds": ROUNDS,
        "statistic": "median",
        "s_per_channel_at_256_steps": {k: round(v, 2) for k, v in per_channel.items()},
        "s_per_image_step": {k: round(v / CHANNELS / STEPS, 4) for k, v in wall.items()},
        "cpu_s_per_image_step": {k: round(v / CHANNELS / STEPS, 4) for k, v in cpu.items()},
        "speedup_batched": round(wall["eager_loop"] / wall["compiled_batched"], 2),
        "speedup_compiled_only": round(wall["eager_loop"] / wall["compiled_one_by_one"], 2),
        "cpu_speedup_batched": round(cpu["eager_loop"] / cpu["compiled_batched"], 2),
        "gradient_diff_batched_vs_one_by_one": batching_diff,
        "gradient_diff_compiled_vs_eager": compiling_diff,
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    print(
        f"feature visualisation, InceptionV3 random weights, {LAYER}, {SIZE} px, "
        f"{CHANNELS} channels x {STEPS} steps, median of {ROUNDS} alternating rounds",
        flush=True,
    )
    speed = _speed()
    per = speed["s_per_channel_at_256_steps"]
    print(
        f"seconds per channel (256 steps): eager loop {per['eager_loop']:.1f} s | compiled "
        f"one by one {per['compiled_one_by_one']:.1f} s | compiled batched "
        f"{per['compiled_batched']:.1f} s -> {speed['speedup_batched']}x "
        f"(compiling alone {speed['speedup_compiled_only']}x; CPU time "
        f"{speed['cpu_speedup_batched']}x)",
        flush=True,
    )
    print(
        "gradients, relative difference: batched vs one by one "
        f"{speed['gradient_diff_batched_vs_one_by_one']:.1e}, compiled vs eager "
        f"{speed['gradient_diff_compiled_vs_eager']:.1e}",
        flush=True,
    )
    path = record("visualize", speed)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
