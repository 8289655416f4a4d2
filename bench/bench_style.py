"""Style step: the TF2 cookbook / TF tutorial eager loop against the app's compiled step.

Reference: the recipe's ``train_step`` run eagerly, as the cookbook runs it: a
``GradientTape`` around the extractor (VGG19 cut at the style and content layers, Gram
matrices computed inside it), Python-side loss arithmetic over dicts of outputs, a Keras
Adam (lr 0.02, beta_1 0.99, epsilon 0.1) on a ``tf.Variable`` and a clip to 0..1.
App: ``cnnstudio.core.style.job``'s Adam loop (``_adam``: the compiled step, one
``tf.function`` with an unknown-size input signature, and the loss terms fetched every
step as the job does for its Progress events). Both sides compute their style and
content targets once, outside the timed loop, as the cookbook does; only the steps are
timed. Same VGG19 with random weights, same 384x384 image, same number of steps, in this
one process; the two loops alternate so that load from other processes hits both alike,
and the verdict uses the median of the rounds.

Then: the loss after the same number of gradient evaluations for Adam and L-BFGS.

    python -m bench style        (BENCH_STYLE_SIZE, BENCH_STYLE_STEPS, BENCH_STYLE_EVALS)
"""

from __future__ import annotations

import os

import numpy as np

from bench.common import peak_rss_mb, record, timed
from cnnstudio.core.events import Progress

SIZE = int(os.environ.get("BENCH_STYLE_SIZE", "384"))
STEPS = int(os.environ.get("BENCH_STYLE_STEPS", "10"))
ROUNDS = int(os.environ.get("BENCH_STYLE_ROUNDS", "3"))  # alternating rounds of each loop
EVALS = int(os.environ.get("BENCH_STYLE_EVALS", "20"))
TARGET_RATIO = 1.8

CONTENT_LAYERS = ["block4_conv2", "block5_conv2"]  # the cookbook's choice
STYLE_LAYERS = [f"block{i}_conv1" for i in range(1, 6)]
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 1e4, 1e-2, 30.0


def _pictures(size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, size)[None, :, None]
    y = np.linspace(0, 1, size)[:, None, None]
    content = 255 * (0.6 * x + 0.4 * y) * np.array([1.0, 0.5, 0.8]) + rng.normal(
        0, 8, (size, size, 3)
    )
    stripes = ((np.arange(size) // 12) % 2)[:, None, None] * np.array([200.0, 120.0, 40.0])
    style = stripes + rng.normal(0, 20, (size, size, 3)) + 30
    return (np.clip(content, 0, 255).astype(np.uint8), np.clip(style, 0, 255).astype(np.uint8))


def _cookbook_loop(model, content: np.ndarray, style_image: np.ndarray):
    """The recipe's objects, built once; returns a function running N eager steps."""
    import keras
    import tensorflow as tf

    def gram_matrix(input_tensor):
        result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
        input_shape = tf.shape(input_tensor)
        num_locations = tf.cast(input_shape[1] * input_shape[2], tf.float32)
        return result / num_locations

    class StyleContentModel(keras.Model):
        def __init__(self, style_layers, content_layers):
            super().__init__()
            outputs = [model.get_layer(name).output for name in style_layers + content_layers]
            self.vgg = keras.Model(model.inputs, outputs)
            self.vgg.trainable = False
            self.style_layers = style_layers
            self.content_layers = content_layers
            self.num_style_layers = len(style_layers)

        def call(self, inputs):
            inputs = inputs * 255.0
            preprocessed = keras.applications.vgg19.preprocess_input(inputs)
            outputs = self.vgg([preprocessed])
            style_outputs = outputs[: self.num_style_layers]
            content_outputs = outputs[self.num_style_layers :]
            style_outputs = [gram_matrix(o) for o in style_outputs]
            return {
                "content": dict(zip(self.content_layers, content_outputs, strict=True)),
                "style": dict(zip(self.style_layers, style_outputs, strict=True)),
            }

    extractor = StyleContentModel(STYLE_LAYERS, CONTENT_LAYERS)
    style_targets = extractor(tf.constant(style_image[None] / 255.0, tf.float32))["style"]
    content_targets = extractor(tf.constant(content[None] / 255.0, tf.float32))["content"]
    image = tf.Variable(tf.constant(content[None] / 255.0, tf.float32))
    opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)

    def style_content_loss(outputs):
        style_outputs, content_outputs = outputs["style"], outputs["content"]
        style_loss = tf.add_n(
            [tf.reduce_mean((style_outputs[n] - style_targets[n]) ** 2) for n in style_outputs]
        )
        style_loss *= STYLE_WEIGHT / len(STYLE_LAYERS)
        content_loss = tf.add_n(
            [
                tf.reduce_mean((content_outputs[n] - content_targets[n]) ** 2)
                for n in content_outputs
            ]
        )
        content_loss *= CONTENT_WEIGHT / len(CONTENT_LAYERS)
        return style_loss + content_loss

    def train_step():
        with tf.GradientTape() as tape:
            outputs = extractor(image)
            loss = style_content_loss(outputs)
            loss += TV_WEIGHT * tf.image.total_variation(image)
        grad = tape.gradient(loss, image)
        opt.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return loss

    def run(steps: int) -> float:
        loss = None
        for _ in range(steps):
            loss = train_step()
        return float(np.asarray(loss).reshape(-1)[0])

    return run


def _app_loop(model, content: np.ndarray, style_image: np.ndarray):
    """The app's Adam loop with the same settings, targets computed once here (as the
    cookbook's are); returns a function running N steps from the current picture."""
    import tensorflow as tf

    from cnnstudio.core.style import job, program
    from cnnstudio.core.style.params import StyleParams

    params = StyleParams(
        weights="random",
        layers="cookbook",
        size=SIZE,
        content_weight=CONTENT_WEIGHT,
        style_weight=STYLE_WEIGHT,
        tv_weight=TV_WEIGHT,
    )
    compiled = program.program_for(model, CONTENT_LAYERS, STYLE_LAYERS)
    content_targets, _ = compiled.targets(tf.constant(content[None] / 255.0, tf.float32))
    _, gram_targets = compiled.targets(tf.constant(style_image[None] / 255.0, tf.float32))
    args = (
        content_targets,
        gram_targets,
        tf.ones([len(CONTENT_LAYERS)], tf.float32),
        tf.ones([len(STYLE_LAYERS)], tf.float32),
        tf.constant([CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT], tf.float32),
    )
    state = {"image": tf.constant(content[None] / 255.0, tf.float32)}

    def run(steps: int) -> float:
        loss = None
        for _, image, terms, _ in job._adam(
            compiled.adam_step, state["image"], args, (), params, steps
        ):
            state["image"], loss = image, float(terms[0])
        return loss

    return run


def _final_loss(model, content, style_image, optimizer: str) -> tuple[float, float, int]:
    """(first loss, loss after EVALS gradient evaluations, evaluations spent)."""
    from cnnstudio.core.style import job
    from cnnstudio.core.style.params import StyleParams

    params = StyleParams(weights="random", size=SIZE, optimizer=optimizer, preview_interval=1e9)
    if optimizer == "adam":  # one gradient evaluation per step
        params.steps = EVALS
    else:  # one scipy run with the whole budget keeps L-BFGS's curvature history
        params.steps, params.lbfgs_evaluations = 1, EVALS
    gen = job.stylize(content, style_image, params, model=model)
    progress = []
    while True:
        try:
            event = next(gen)
        except StopIteration:
            break
        if isinstance(event, Progress):
            progress.append(event)
    evaluations = len(progress) if optimizer == "adam" else int(progress[-1].message.split()[0])
    return progress[0].loss, progress[-1].loss, evaluations


def main() -> None:
    from cnnstudio.core import backbones
    from cnnstudio.core.style import program

    model = backbones.build_backbone("vgg19", "random", include_top=False)
    content, style_image = _pictures(SIZE)

    cookbook = _cookbook_loop(model, content, style_image)
    app = _app_loop(model, content, style_image)
    cookbook(1)  # warm-up: first-call allocations
    app(1)  # warm-up: the one trace of the compiled step
    traces = program.trace_counts()
    times = {"cookbook": [], "app": []}
    for _ in range(ROUNDS):
        seconds, _ = timed(lambda: cookbook(STEPS))
        times["cookbook"].append(seconds)
        seconds, _ = timed(lambda: app(STEPS))
        times["app"].append(seconds)
    assert program.trace_counts() == traces, "the compiled step retraced during the benchmark"
    # medians: on a shared machine the load changes between rounds
    per_step = {k: float(np.median(v)) / STEPS for k, v in times.items()}
    ratio = per_step["cookbook"] / per_step["app"]
    round_ratios = [c / a for c, a in zip(times["cookbook"], times["app"], strict=True)]
    median_ratio = float(np.median(round_ratios))
    met = ratio >= TARGET_RATIO
    print(f"VGG19 random weights, {SIZE}x{SIZE}, {STEPS} Adam steps, median of {ROUNDS} rounds")
    print("  (both sides compute their targets once, outside the timed loop)")
    print(
        f"  cookbook eager loop : {per_step['cookbook']:.3f} s/step  (rounds {times['cookbook']})"
    )
    print(f"  app compiled step   : {per_step['app']:.3f} s/step  (rounds {times['app']})")
    print(
        f"  ratio {ratio:.2f}x (median times); per-round ratios "
        f"{[round(r, 2) for r in round_ratios]}, median {median_ratio:.2f}x"
    )
    verdict = "MET" if met else "NOT MET"
    print(f"  target {TARGET_RATIO}x faster than the cookbook: {verdict} ({ratio:.2f}x)")

    adam_first, adam_last, adam_evals = _final_loss(model, content, style_image, "adam")
    lbfgs_first, lbfgs_last, lbfgs_evals = _final_loss(model, content, style_image, "lbfgs")
    print(f"loss after {EVALS} gradient evaluations (start {adam_first:.4g}):")
    print(f"  Adam   : {adam_last:.4g}  ({adam_evals} evaluations)")
    print(f"  L-BFGS : {lbfgs_last:.4g}  ({lbfgs_evals} evaluations)")
    if adam_evals != lbfgs_evals:
        print(f"  note: the evaluation counts differ ({adam_evals} vs {lbfgs_evals})")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    path = record(
        "style",
        {
            "size": SIZE,
            "steps": STEPS,
            "seconds_per_step": per_step,
            "rounds": times,
            "ratio": ratio,
            "round_ratios": round_ratios,
            "median_ratio": median_ratio,
            "target_ratio": TARGET_RATIO,
            "target_met": met,
            "evaluations": EVALS,
            "loss_start": adam_first,
            "loss_adam": adam_last,
            "loss_lbfgs": lbfgs_last,
            "evaluations_adam": adam_evals,
            "evaluations_lbfgs": lbfgs_evals,
            "peak_rss_mb": peak_rss_mb(),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
