"""Fast style: styling with a trained network against a Gatys run, the 512 px preview, and
a training step against plain Keras ``fit`` on the same network.

1. Styling a 1024x768 photo: the app's path (``faststyle.apply.stylize`` with a style
   network loaded from the library: padding, one forward pass, back to uint8) against a
   300-step Gatys run at the same size (``core.style``'s compiled Adam step, cookbook
   layers). The Gatys run is not run in full: one step is timed (median of a few, after
   a warm-up) and multiplied by 300, which keeps the benchmark short; the real run costs
   at least that (its first step also traces, and it computes its targets).
2. A 512 px picture (512x384 and 512x512) styled after the model is loaded: the time a
   window's preview waits.
3. A training step at 256 px, batch 4 (Johnson et al.): the app's loop (``Trainer.step``
   fed the way ``job.train`` feeds it: batch chosen and mirrored in numpy, loss terms
   fetched every step) against plain Keras: a ``keras.Model`` whose ``train_step`` computes
   the same loss, ``compile(Adam(1e-3))`` and ``fit`` on a shuffled, mirrored ``tf.data``
   pipeline. Same style network architecture and seed, same VGG19, same photos; the two
   alternate in rounds and the medians are compared.

Network weights are random (VGG19 and the style network): the cost does not depend on
the values.

    python -m bench faststyle   (BENCH_FAST_ROUNDS, BENCH_FAST_TRAIN_STEPS, BENCH_FAST_GATYS)
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from bench.common import peak_rss_mb, record

ROUNDS = int(os.environ.get("BENCH_FAST_ROUNDS", "3"))
TRAIN_STEPS = int(os.environ.get("BENCH_FAST_TRAIN_STEPS", "3"))  # per round and side
GATYS_TIMED = int(os.environ.get("BENCH_FAST_GATYS", "3"))  # Gatys steps timed
GATYS_STEPS = 300
APPLY_SIZE = (768, 1024)  # height, width
TRAIN_SIZE, BATCH = 256, 4
TARGET_SPEEDUP, TARGET_PREVIEW_S, TARGET_TRAIN_RATIO = 100.0, 0.5, 0.9


def _photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    t = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    picture = 255 * (0.5 * t + 0.5 * y) * rng.uniform(0.3, 1.0, 3) + rng.normal(
        0, 12, (height, width, 3)
    )
    return np.clip(picture, 0, 255).astype(np.uint8)


def _clock(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _median(values) -> float:
    return float(np.median(values))


def _gatys_step_seconds(vgg, content: np.ndarray, style: np.ndarray) -> tuple[float, float]:
    from cnnstudio.core.style import job, program
    from cnnstudio.core.style.params import StyleParams

    params = StyleParams(weights="random", size=max(content.shape[:2]))
    content_w, style_w = params.layer_weights()
    compiled = program.program_for(vgg, list(content_w), list(style_w))
    content_targets, _ = compiled.targets(content[None].astype(np.float32) / 255.0)
    _, grams = compiled.targets(style[None].astype(np.float32) / 255.0)
    args = (
        content_targets,
        grams,
        np.ones(len(content_w), np.float32),
        np.ones(len(style_w), np.float32),
        np.array([params.content_weight, params.style_weight, params.tv_weight], np.float32),
    )
    steps = job._adam(
        compiled.adam_step, content[None].astype(np.float32) / 255.0, args, (), params, 10**6
    )
    next(steps)  # warm-up: the trace
    times = [_clock(lambda: next(steps)) for _ in range(GATYS_TIMED)]
    return _median([t[0] for t in times]), _median([t[1] for t in times])


def _style_model():
    """A random-weight style network saved into a temporary library and loaded the way
    the app loads one (safe mode)."""
    from cnnstudio.core.faststyle import apply, models, network

    entry = models.save_style_model(
        network.build_style_network(seed=0), "bench", {"kind": "style", "styles": ["random"]}
    )
    return apply.load_style_model(entry)


def _apply_seconds(style_model, picture: np.ndarray, repeats: int) -> tuple[float, float]:
    from cnnstudio.core.faststyle import apply

    apply.stylize(style_model, picture)  # warm-up
    times = [_clock(lambda: apply.stylize(style_model, picture)) for _ in range(repeats)]
    return _median([t[0] for t in times]), _median([t[1] for t in times])


def _plain_fit(trainer, photos: np.ndarray, seed: int):
    """The reference: a Keras model with the same loss in its train_step, and fit."""
    import keras
    import tensorflow as tf

    from cnnstudio.core import backbones, layers
    from cnnstudio.core.faststyle.network import build_style_network
    from cnnstudio.core.perceptual import perceptual_loss

    params = trainer.params
    content_names, style_names = list(params.content_layers), list(params.style_layers)
    unique = list(dict.fromkeys(style_names + content_names))
    extractor = layers.layer_outputs_model(trainer.loss_model, unique)
    grams = trainer.gram_targets
    weights = (
        tf.constant(list(params.content_layers.values()), tf.float32),
        tf.constant(list(params.style_layers.values()), tf.float32),
        tf.constant([params.content_weight, params.style_weight, params.tv_weight], tf.float32),
    )

    def features(pixels):
        outputs = extractor(backbones.preprocess("vgg19", pixels), training=False)
        named = dict(zip(unique, outputs, strict=True))
        return [named[n] for n in content_names], [named[n] for n in style_names]

    class StyleTrainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.network = build_style_network(seed=seed)

        def call(self, x):
            return self.network(x)

        def train_step(self, data):
            photos = tf.cast(data, tf.float32)
            with tf.GradientTape() as tape:
                styled = self.network(photos, training=True)
                targets, _ = features(photos)
                content, style = features(styled)
                terms = perceptual_loss(styled / 255.0, content, style, targets, grams, *weights)
                total = terms[0]  # sliced inside the tape, so that it is recorded
            variables = self.network.trainable_variables
            gradients = tape.gradient(total, variables)
            self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
            return {"loss": terms[0]}

    model = StyleTrainer()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    dataset = (
        tf.data.Dataset.from_tensor_slices(photos)
        .shuffle(len(photos), seed=seed)
        .repeat()
        .map(tf.image.random_flip_left_right)
        .batch(BATCH)
        .prefetch(2)
    )
    return model, dataset


def _train_rounds(trainer, photos: np.ndarray) -> dict[str, list[tuple[float, float]]]:
    from cnnstudio.core.faststyle.job import batch_indices

    fit_model, dataset = _plain_fit(trainer, photos, seed=0)
    step = [0]

    def app(steps: int) -> None:
        for _ in range(steps):  # as job.train feeds the step, with its Progress terms
            step[0] += 1
            chosen, mirrored = batch_indices(0, step[0], len(photos), BATCH)
            batch = photos[chosen]
            batch[mirrored] = batch[mirrored, :, ::-1]
            terms = trainer.step(batch)
            _ = {"content": float(terms[1]), "style": float(terms[2]), "tv": float(terms[3])}

    def fit(steps: int) -> None:
        fit_model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)

    app(1)  # warm-ups: the traces
    fit(1)
    times: dict[str, list[tuple[float, float]]] = {"app": [], "fit": []}
    for _ in range(ROUNDS):
        times["app"].append(_clock(lambda: app(TRAIN_STEPS)))
        times["fit"].append(_clock(lambda: fit(TRAIN_STEPS)))
    return times


def main() -> None:
    os.environ.setdefault("CNNSTUDIO_HOME", tempfile.mkdtemp(prefix="bench-faststyle-"))
    from cnnstudio.core import backbones
    from cnnstudio.core.faststyle.params import FastStyleParams
    from cnnstudio.core.faststyle.training import Trainer

    rng = np.random.default_rng(0)
    vgg = backbones.build_backbone("vgg19", "random", include_top=False)
    height, width = APPLY_SIZE
    photo, style = _photo(rng, height, width), _photo(rng, 512, 512)

    print(f"1. styling a {width}x{height} photo (random weights)", flush=True)
    style_model = _style_model()
    apply_wall, apply_cpu = _apply_seconds(style_model, photo, ROUNDS)
    gatys_wall, gatys_cpu = _gatys_step_seconds(vgg, photo, style)
    gatys_run = gatys_wall * GATYS_STEPS
    speedup = gatys_run / apply_wall
    speedup_cpu = gatys_cpu * GATYS_STEPS / apply_cpu
    print(f"  fast style network : {apply_wall:.2f} s wall, {apply_cpu:.2f} s CPU")
    print(
        f"  Gatys step         : {gatys_wall:.2f} s wall, {gatys_cpu:.2f} s CPU (median of "
        f"{GATYS_TIMED}); x{GATYS_STEPS} = {gatys_run:.0f} s (extrapolated, not run)"
    )
    verdict = "MET" if speedup >= TARGET_SPEEDUP else "NOT MET"
    print(
        f"  {speedup:.0f}x faster wall ({speedup_cpu:.0f}x CPU); target {TARGET_SPEEDUP:.0f}x: {verdict}"
    )

    print("2. a 512 px picture, model loaded", flush=True)
    preview = {}
    for h, w in ((384, 512), (512, 512)):
        preview[f"{w}x{h}"] = _apply_seconds(style_model, _photo(rng, h, w), 5)
        print(f"  {w}x{h}: {preview[f'{w}x{h}'][0]:.3f} s wall, {preview[f'{w}x{h}'][1]:.3f} s CPU")
    worst = max(v[0] for v in preview.values())
    verdict = "MET" if worst < TARGET_PREVIEW_S else "NOT MET"
    print(f"  target < {TARGET_PREVIEW_S} s: {verdict} ({worst:.3f} s)")

    print(f"3. a training step, {TRAIN_SIZE} px, batch {BATCH}", flush=True)
    params = FastStyleParams(styles=["random"], data="-", weights="random", size=TRAIN_SIZE)
    trainer = Trainer(params, vgg, [style])
    photos = np.stack([_photo(rng, TRAIN_SIZE, TRAIN_SIZE) for _ in range(32)])
    times = _train_rounds(trainer, photos)
    per_step = {k: _median([t[0] for t in v]) / TRAIN_STEPS for k, v in times.items()}
    cpu_step = {k: _median([t[1] for t in v]) / TRAIN_STEPS for k, v in times.items()}
    ratio = per_step["fit"] / per_step["app"]  # >= 1: the app's step is as fast or faster
    ratio_cpu = cpu_step["fit"] / cpu_step["app"]
    for key, label in (("app", "app's loop   "), ("fit", "Keras fit    ")):
        print(
            f"  {label}: {per_step[key]:.2f} s/step wall ({BATCH / per_step[key]:.2f} images/s), "
            f"{cpu_step[key]:.2f} s CPU; rounds {[round(t[0], 1) for t in times[key]]}"
        )
    verdict = "MET" if ratio >= TARGET_TRAIN_RATIO else "NOT MET"
    print(
        f"  app throughput / fit's: {ratio:.2f} wall, {ratio_cpu:.2f} CPU; target >= "
        f"{TARGET_TRAIN_RATIO}: {verdict}"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    path = record(
        "faststyle",
        {
            "apply_size": [width, height],
            "apply_seconds": apply_wall,
            "apply_cpu_seconds": apply_cpu,
            "gatys_step_seconds": gatys_wall,
            "gatys_step_cpu_seconds": gatys_cpu,
            "gatys_steps_extrapolated": GATYS_STEPS,
            "speedup": speedup,
            "speedup_cpu": speedup_cpu,
            "preview_seconds": {k: v[0] for k, v in preview.items()},
            "preview_cpu_seconds": {k: v[1] for k, v in preview.items()},
            "train_size": TRAIN_SIZE,
            "batch": BATCH,
            "train_seconds_per_step": per_step,
            "train_cpu_seconds_per_step": cpu_step,
            "train_rounds": times,
            "train_ratio": ratio,
            "train_ratio_cpu": ratio_cpu,
            "peak_rss_mb": peak_rss_mb(),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
