"""``stylize``: neural style transfer as a generator of job events, with its two loops.

The picture being optimised lives in RGB floats 0..1 (as in the TensorFlow tutorial). For
each scale (one, or 1/4, 1/2 and full size in multi-scale mode) the content features and
the style Gram targets are computed once, then the picture is optimised with Adam (one
compiled step per iteration) or L-BFGS (scipy, asking for one loss and gradient at a
time). The compiled side is :mod:`.program`, imported when a run starts: this module
loads no TensorFlow, so the window can import it at start.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cnnstudio.core import backbones, images
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import staged_fraction
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.style import memory
from cnnstudio.core.style.colors import luminance_image, match_colors, transfer_luminance
from cnnstudio.core.style.params import (
    BACKBONE,
    VGG19_MIN_SIZE,
    StyleParams,
    output_size,
    stage_sizes,
)
from cnnstudio.core.weights import ensure_weights_events, is_untrained


@dataclass(frozen=True)
class LbfgsEvaluation:
    """One loss evaluation inside an L-BFGS iteration. Yielded between the Progress events
    (which come once per iteration) so that Stop, the progress text and the preview
    respond within one evaluation rather than one batch of them."""

    iteration: int  # the iteration being worked on, 1..total over the whole job
    total: int  # iterations in the whole job
    evaluation: int  # loss evaluations spent in this iteration so far
    evaluations: int  # loss evaluations spent in the whole job so far
    loss: float  # the lowest loss of this iteration so far
    stage: int = 1
    stages: int = 1

    @property
    def text(self) -> str:
        """``iteration 3/20: evaluation 7 (47 in all)``."""
        return (
            f"iteration {self.iteration}/{self.total}: evaluation {self.evaluation} "
            f"({self.evaluations} in all)"
        )


def stylize(
    content: np.ndarray,
    styles: np.ndarray | Sequence[np.ndarray],
    params: StyleParams | None = None,
    *,
    style_weights: Sequence[float] | None = None,
    model=None,
    start: np.ndarray | None = None,
    temporal: tuple[np.ndarray, np.ndarray] | None = None,
) -> Generator[Progress | Preview | Notice, None, np.ndarray]:
    """Paint ``content`` in the style of ``styles`` (uint8 RGB arrays, e.g. from
    ``images.load_image``); yields Progress every iteration (``fraction``: the work done,
    each scale's iterations weighed by its pixels), Preview at most every
    ``params.preview_interval`` seconds, Notice at stage changes; returns uint8 RGB.

    ``style_weights`` blends several styles (their Gram targets are averaged with these
    weights). ``model`` is a VGG19 without top to use instead of building one.

    A video frame (:mod:`cnnstudio.core.style.motion`): ``start`` is the picture to start
    from instead of ``params.init`` (the previous output warped by the optical flow), and
    ``temporal`` = (that warped output, uint8 RGB; the consistency mask, float HxW, 1
    where the flow is reliable) adds the temporal term of Ruder et al. 2016,
    ``params.temporal_weight`` x mean(mask x (picture - warped)^2), to the loss (its
    value is the Progress term "temporal").
    """
    params = params or StyleParams()
    params.validate()
    content = _check_image("content image", content)
    if isinstance(styles, np.ndarray):
        styles = [styles]
    styles = [_check_image(f"style image {i + 1}", s) for i, s in enumerate(styles)]
    if not styles:
        raise InputError("give at least one style image")
    blend = _blend_weights(len(styles), style_weights)
    memory.check_memory(params, content.shape)

    from cnnstudio.core.style import program as compiled  # TensorFlow: loaded here

    if model is None:
        # fetch missing ImageNet weights first, as events: the window and the terminal
        # show the download, and Stop abandons it between chunks
        yield from ensure_weights_events(backbones.get_backbone(BACKBONE), params.weights)
        model = backbones.build_backbone(BACKBONE, params.weights, include_top=False)
    if is_untrained(params.weights):
        yield Notice("VGG19 has random weights (untrained): expect texture noise, not style")

    content_w, style_w = params.layer_weights()
    program = compiled.program_for(model, list(content_w), list(style_w))
    # every weight a tensor-to-be (float32 arrays), so new values never retrace
    content_w_t = np.asarray(list(content_w.values()), np.float32)
    style_w_t = np.asarray(list(style_w.values()), np.float32)
    loss_w_t = np.asarray(
        [params.content_weight, params.style_weight, params.tv_weight], np.float32
    )

    height, width = output_size(content.shape, params.size)
    full_content = images.resize_to(content, width, height)
    if params.preserve_colors == "match":
        styles = [match_colors(s, full_content) for s in styles]
    colour_content = content
    if params.preserve_colors == "luminance":
        # Luminance-only transfer (Gatys et al. 2016): optimise on grey versions of the
        # content and the styles (each style's luminance matched to the content's), so the
        # style's colours never enter the Gram targets; the content's chroma goes back on
        # the result's luminance in every preview and in the result.
        styles = [luminance_image(s, content) for s in styles]
        content = luminance_image(content)
        if start is not None:  # a video frame's start and temporal target: grey too
            start = luminance_image(start)
        if temporal is not None:
            temporal = (luminance_image(temporal[0]), temporal[1])
    stages = stage_sizes(height, width, params.multi_scale)
    steps = params.total_steps()
    total = steps * len(stages)
    # VGG19's work per iteration grows with the pixels: the full size costs 16x a quarter
    stage_costs = [h * w for h, w in stages]
    rng = np.random.default_rng(params.seed)
    image = None
    step = 0
    evaluations = [0]  # L-BFGS loss evaluations over the whole job (all scales)
    last_preview = -math.inf

    def preview_of(current, colour: np.ndarray | None) -> np.ndarray:
        picture = _to_uint8(current)
        if colour is not None:
            picture = transfer_luminance(picture, colour)
        return picture

    for stage, (h, w) in enumerate(stages, start=1):
        if len(stages) > 1:
            yield Notice(f"scale {stage}/{len(stages)}: {w}x{h} px")
        stage_content = images.resize_to(content, w, h)
        stage_colour = (
            images.resize_to(colour_content, w, h)
            if params.preserve_colors == "luminance"
            else None
        )
        content_targets, _ = program.targets(_to_float(stage_content))
        gram_targets = None
        for weight, style in zip(blend, styles, strict=True):
            _, grams = program.targets(_to_float(_style_at(style, h, w, params.style_scale)))
            weighted = [g * float(weight) for g in grams]
            gram_targets = (
                weighted
                if gram_targets is None
                else [a + b for a, b in zip(gram_targets, weighted, strict=True)]
            )

        if image is not None:
            image = compiled.resize(image, h, w)
        elif start is not None:
            image = _to_float(images.resize_to(_check_image("start picture", start), w, h))
        elif params.init == "content":
            image = _to_float(stage_content)
        elif params.init == "style":
            main_style = styles[int(np.argmax(blend))]
            image = _to_float(images.resize_to(main_style, w, h))
        else:
            image = rng.uniform(0.0, 1.0, (1, h, w, 3)).astype(np.float32)

        args = (content_targets, gram_targets, content_w_t, style_w_t, loss_w_t)
        if temporal is not None:
            step_fns = (program.adam_step_temporal, program.loss_and_grad_temporal)
            extra = _temporal_args(temporal, h, w, params.temporal_weight)
        else:
            step_fns, extra = (program.adam_step, program.loss_and_grad), ()
        if params.optimizer == "adam":
            updates = _adam(step_fns[0], image, args, extra, params, steps)
        else:
            updates = _lbfgs(step_fns[1], image, args, extra, params, steps, evaluations)
        for kind, current, terms, message in updates:
            now = time.monotonic()
            if kind == "evaluation":
                # inside an L-BFGS iteration: a yield per loss evaluation, so Stop and
                # the progress text respond within one evaluation
                yield LbfgsEvaluation(
                    iteration=step + 1,
                    total=total,
                    evaluation=int(message),
                    evaluations=evaluations[0],
                    loss=float(terms[0]),
                    stage=stage,
                    stages=len(stages),
                )
                if now - last_preview >= params.preview_interval:
                    last_preview = now
                    yield Preview(preview_of(current, stage_colour), step, total)
                continue
            image = current
            step += 1
            yield Progress(
                step=step,
                total=total,
                loss=float(terms[0]),
                terms=_term_values(terms),
                stage=stage,
                stages=len(stages),
                message=message,
                fraction=staged_fraction(step, steps, stage_costs),
            )
            if step == total or now - last_preview >= params.preview_interval:
                last_preview = now
                yield Preview(preview_of(image, stage_colour), step, total)

    return preview_of(image, stage_colour)


def _term_values(terms) -> dict[str, float]:
    """The weighted loss terms by name ("temporal" too for a video frame)."""
    names = ("content", "style", "tv", "temporal")
    return {name: float(value) for name, value in zip(names, terms[1:], strict=False)}


def _temporal_args(temporal, height: int, width: int, weight: float) -> tuple:
    """The warped previous output (1, h, w, 3) in 0..1, the mask (1, h, w, 1) and the
    weight, at the scale being optimised."""
    warped, mask = temporal
    warped = _to_float(images.resize_to(_check_image("warped frame", warped), width, height))
    mask = np.asarray(mask, np.float32)
    if mask.shape != (height, width):
        resized = Image.fromarray(mask, mode="F").resize((width, height), Image.BILINEAR)
        mask = np.asarray(resized, np.float32)
    return warped, mask[None, ..., None], np.float32(weight)


def _adam(step_fn, image, args, extra, params: StyleParams, steps: int):
    """Yield ("step", image, loss terms, message) after each Adam step."""
    m = np.zeros(tuple(image.shape), np.float32)
    v = np.zeros(tuple(image.shape), np.float32)
    for t in range(1, steps + 1):
        hp = np.asarray(
            [params.learning_rate, params.beta_1, params.beta_2, params.epsilon, t], np.float32
        )
        image, m, v, terms = step_fn(image, *args, m, v, hp, *extra)
        yield "step", image, terms.numpy(), ""


class _CutShort(Exception):
    """Raised inside scipy's loss callback to end an L-BFGS run: its evaluation budget is
    spent or the job was closed. scipy does not catch it."""


def _lbfgs(loss_fn, image, args, extra, params: StyleParams, steps: int, evaluations: list[int]):
    """Yield ("evaluation", best pixels so far, their terms, evaluations this iteration)
    after each loss evaluation and ("step", image, terms, message) after each outer
    iteration: one run of scipy's L-BFGS-B with ``lbfgs_evaluations`` loss evaluations
    (more only while no point below the start has been found), pixels bounded to 0..1
    (Practical ML with Python's loop). ``evaluations[0]`` keeps the running total over the
    whole job.

    scipy's minimize only returns after its whole run, so it runs in a helper thread and
    asks this generator for each loss and gradient through a queue: TensorFlow stays in
    the job's thread, the generator can yield between evaluations, and closing it ends
    scipy at its next request without losing the curvature history in between."""
    # only L-BFGS runs need scipy.optimize; importing it would slow every window start
    from scipy.optimize import Bounds, minimize

    shape = tuple(int(d) for d in image.shape)
    x = np.asarray(image, dtype=np.float64).ravel()
    budget = params.lbfgs_evaluations

    for _ in range(steps):
        requests: queue.Queue = queue.Queue()
        replies: queue.Queue = queue.Queue()

        def objective(flat: np.ndarray, requests=requests, replies=replies):
            requests.put(("evaluate", flat))
            reply = replies.get()
            if reply is None:
                raise _CutShort
            return reply

        def solve(start: np.ndarray = x, requests=requests) -> None:
            try:
                minimize(
                    objective,
                    start,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=Bounds(0.0, 1.0),
                    # the budget is enforced by _CutShort; these only bound scipy. The
                    # normalised loss is a mean over pixels, so a pixel's gradient is
                    # tiny at large sizes: scipy's default gradient tolerance (1e-5)
                    # would end the run at once
                    options={"maxfun": 2 * budget + 10, "maxiter": budget, "gtol": 1e-14},
                )
                requests.put(("done", None))
            except _CutShort:
                requests.put(("done", None))
            except BaseException as error:  # handed to the job's thread, raised there
                requests.put(("error", error))

        solver = threading.Thread(target=solve, name="style-lbfgs", daemon=True)
        solver.start()
        best_terms, best_x, spent, first_loss = None, x, 0, math.inf
        try:
            while True:
                kind, payload = requests.get()
                if kind == "done":
                    break
                if kind == "error":
                    raise payload
                if spent >= budget and best_terms[0] < first_loss:
                    # budget spent and the loss has fallen: end the run here, even mid
                    # line search, so an iteration costs exactly the budget. A run that
                    # has not found a lower point yet may finish its line search (within
                    # scipy's maxfun), else a small budget would never move the picture.
                    replies.put(None)
                    continue
                terms, grad = loss_fn(payload.reshape(shape).astype(np.float32), *args, *extra)
                terms = terms.numpy()
                spent += 1
                evaluations[0] += 1
                if spent == 1:
                    first_loss = terms[0]  # scipy evaluates the starting point first
                if best_terms is None or terms[0] < best_terms[0]:
                    best_terms, best_x = terms, np.array(payload, dtype=np.float64)
                replies.put((float(terms[0]), grad.numpy().astype(np.float64).ravel()))
                yield "evaluation", best_x.reshape(shape), best_terms, spent
        finally:
            if solver.is_alive():  # closed mid-run: end scipy at its next request
                replies.put(None)
                solver.join()
        x = best_x
        yield (
            "step",
            x.reshape(shape).astype(np.float32),
            best_terms,
            f"{evaluations[0]} loss evaluations",
        )


# ---------------------------------------------------------------------------------- inputs


def _to_float(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (1, H, W, 3) in 0..1."""
    return np.asarray(image, dtype=np.float32)[None] / 255.0


def _to_uint8(image) -> np.ndarray:
    array = np.asarray(image)[0]
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


def _check_image(label: str, image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise InputError(
            f"{label} must be a uint8 RGB image (H, W, 3); got {array.dtype} {array.shape}"
        )
    return array


def _blend_weights(n_styles: int, style_weights: Sequence[float] | None) -> np.ndarray:
    if style_weights is None:
        return np.full(n_styles, 1.0 / n_styles)
    weights = np.asarray(list(style_weights), dtype=np.float64)
    if weights.shape != (n_styles,):
        raise InputError(
            f"{weights.size} blend weights for {n_styles} style image(s): "
            "give one weight per style image"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise InputError(f"style blend weights {list(style_weights)} must be 0 or more, not all 0")
    return weights / weights.sum()


def _style_at(style: np.ndarray, height: int, width: int, scale: float) -> np.ndarray:
    """The style image resized so its longest side is the output's times ``scale``."""
    side = max(VGG19_MIN_SIZE, round(max(height, width) * scale))
    sh, sw = output_size(style.shape, side)
    if min(sh, sw) < VGG19_MIN_SIZE:  # a very long thin style image
        grow = VGG19_MIN_SIZE / min(sh, sw)
        sh, sw = math.ceil(sh * grow), math.ceil(sw * grow)
    return images.resize_to(style, sw, sh)
