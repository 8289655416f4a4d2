"""The style job: both optimisers, colours, blending, compiled-once steps, Stop, progress
by work done, the weights download first. VGG19 with random weights on 48-160 px."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import staged_fraction
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.style import colors, job, program
from cnnstudio.core.style.job import LbfgsEvaluation
from cnnstudio.core.style.params import StyleParams


def _gradient_image(height: int, width: int, colours: tuple, seed: int = 0) -> np.ndarray:
    """A smooth two-colour picture with a little texture (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    a, b = np.array(colours[0], float), np.array(colours[1], float)
    image = a * (1 - t) + b * t + np.zeros((height, 1, 1))
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


CONTENT = _gradient_image(72, 60, ((200, 40, 40), (40, 60, 210)), seed=1)
STYLE = _gradient_image(64, 64, ((20, 200, 30), (250, 230, 20)), seed=2)


def _run(gen):
    """Drain a job: (events, result)."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def _progress(events) -> list[Progress]:
    return [e for e in events if isinstance(e, Progress)]


def _params(**overrides) -> StyleParams:
    values = {"weights": "random", "size": 64, "steps": 4, "seed": 0}
    values.update(overrides)
    return StyleParams(**values)


def _count_compiled_calls(monkeypatch) -> list[str]:
    """Record every call of the compiled Adam step and L-BFGS loss-and-gradient."""
    calls: list[str] = []
    original = program.program_for

    def counting_program(*args):
        compiled = original(*args)
        for name in ("adam_step", "loss_and_grad"):
            real = getattr(compiled, name)
            monkeypatch.setattr(
                compiled,
                name,
                lambda *a, real=real, name=name: calls.append(name) or real(*a),
                raising=False,
            )
        return compiled

    monkeypatch.setattr(program, "program_for", counting_program)
    return calls


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_loss_falls_and_the_job_streams_progress_and_previews(optimizer):
    params = _params(optimizer=optimizer, steps=5, lbfgs_evaluations=3, preview_interval=0.0)
    events, result = _run(job.stylize(CONTENT, STYLE, params))
    progress = _progress(events)
    assert [p.step for p in progress] == [1, 2, 3, 4, 5]
    assert all(p.total == 5 and set(p.terms) == {"content", "style", "tv"} for p in progress)
    assert progress[-1].loss < 0.9 * progress[0].loss
    previews = [e for e in events if isinstance(e, Preview)]
    assert previews and previews[-1].step == 5
    assert previews[-1].image.dtype == np.uint8 and previews[-1].image.shape == (64, 53, 3)
    assert result.dtype == np.uint8 and result.shape == (64, 53, 3)  # longest side = size
    assert any(isinstance(e, Notice) and "untrained" in e.text for e in events)
    if optimizer == "lbfgs":
        evaluations = [int(p.message.split()[0]) for p in progress]
        assert "loss evaluations" in progress[-1].message
        assert evaluations == sorted(evaluations) and evaluations[-1] >= 5 * 3


def test_progress_says_the_work_done_weighing_each_scale_by_its_pixels():
    events, _ = _run(job.stylize(CONTENT, STYLE, _params(steps=2, size=160, multi_scale=True)))
    progress = _progress(events)
    costs = [40 * 33, 80 * 66, 160 * 133]  # the three scales' pixels
    assert [p.fraction for p in progress] == pytest.approx(
        [staged_fraction(step, 2, costs) for step in range(1, 7)]
    )
    assert progress[1].done == pytest.approx(2 * 40 * 33 / (2 * sum(costs)))  # 1/4 scale: 5%
    assert progress[1].done < 0.1 < progress[1].step / progress[1].total
    assert progress[-1].done == 1.0


def test_luminance_mode_keeps_the_content_chroma():
    params = _params(init="style", steps=3)
    _, plain = _run(job.stylize(CONTENT, STYLE, params))
    params.preserve_colors = "luminance"
    _, kept = _run(job.stylize(CONTENT, STYLE, params))
    from cnnstudio.core import images

    content = images.resize_to(CONTENT, kept.shape[1], kept.shape[0])
    chroma = colors.rgb_to_ycbcr(content)[..., 1:]
    kept_error = np.abs(colors.rgb_to_ycbcr(kept)[..., 1:] - chroma)
    plain_error = np.abs(colors.rgb_to_ycbcr(plain)[..., 1:] - chroma)
    # Exact up to uint8 rounding, except where a bright style luminance with the content's
    # saturated chroma leaves the RGB gamut and gets clipped.
    assert np.median(kept_error) < 0.5
    assert plain_error.mean() > 10 * kept_error.mean()  # started from the style's colours


def test_luminance_mode_optimises_on_the_grey_content_and_grey_style():
    """Gatys et al. 2016: the Gram targets come from the style's luminance (matched to the
    content's), not from its colours, so the run equals a colour-free run on grey inputs."""
    params = _params(steps=2, preserve_colors="luminance")
    lum, lum_result = _run(job.stylize(CONTENT, STYLE, params))
    grey_content = colors.luminance_image(CONTENT)
    grey_style = colors.luminance_image(STYLE, CONTENT)
    assert np.all(grey_style[..., 0] == grey_style[..., 2])
    grey, grey_result = _run(
        job.stylize(grey_content, grey_style, _params(steps=2, preserve_colors="none"))
    )
    colour, _ = _run(job.stylize(CONTENT, STYLE, _params(steps=2, preserve_colors="none")))
    first_lum, first_grey = _progress(lum)[0], _progress(grey)[0]
    assert first_lum.terms["style"] == pytest.approx(first_grey.terms["style"], rel=1e-4)
    assert first_lum.loss == pytest.approx(first_grey.loss, rel=1e-4)
    assert _progress(colour)[0].terms["style"] != pytest.approx(first_lum.terms["style"], rel=1e-2)
    # The result is the grey run's luminance with the content's chroma.
    from cnnstudio.core import images

    content = images.resize_to(CONTENT, lum_result.shape[1], lum_result.shape[0])
    expected = colors.transfer_luminance(grey_result, content)
    assert np.abs(lum_result.astype(int) - expected.astype(int)).max() <= 2


def test_blending_two_identical_styles_equals_one_style():
    params = _params(steps=2)
    one, one_result = _run(job.stylize(CONTENT, STYLE, params))
    two, two_result = _run(
        job.stylize(CONTENT, [STYLE, STYLE.copy()], params, style_weights=[0.3, 0.7])
    )
    first_one, first_two = _progress(one)[0], _progress(two)[0]
    assert first_two.terms["style"] == pytest.approx(first_one.terms["style"], rel=1e-5)
    assert first_two.loss == pytest.approx(first_one.loss, rel=1e-5)
    assert np.abs(one_result.astype(int) - two_result.astype(int)).max() <= 1
    # ... and a different second style does change the target.
    other = _gradient_image(64, 64, ((10, 10, 10), (250, 250, 250)), seed=5)
    mixed, _ = _run(job.stylize(CONTENT, [STYLE, other], _params(steps=1)))
    assert _progress(mixed)[0].terms["style"] != pytest.approx(first_one.terms["style"], rel=1e-3)


def test_compiled_once_across_runs_sizes_weights_and_scales():
    _run(job.stylize(CONTENT, STYLE, _params(steps=1)))
    _run(job.stylize(CONTENT, STYLE, _params(steps=1, optimizer="lbfgs", lbfgs_evaluations=2)))
    before = program.trace_counts()
    assert before["adam"] >= 1 and before["lbfgs"] >= 1
    events, result = _run(
        job.stylize(
            CONTENT,
            STYLE,
            _params(
                steps=1,
                size=160,
                multi_scale=True,
                content_weight=3.0,
                style_weight=9.0,
                tv_weight=0.5,
                learning_rate=0.1,
                init="noise",
            ),
        )
    )
    _run(
        job.stylize(
            CONTENT, STYLE, _params(steps=1, size=80, optimizer="lbfgs", lbfgs_evaluations=2)
        )
    )
    assert program.trace_counts() == before
    progress = _progress(events)
    assert [(p.stage, p.stages) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert result.shape == (160, 133, 3)


@pytest.mark.parametrize(
    ("overrides", "styles", "blend", "message"),
    [
        ({"layers": "picasso"}, [STYLE], None, "picasso"),
        ({"size": 8}, [STYLE], None, "size 8"),
        ({}, [STYLE, STYLE], [1.0], "2 style image"),
        ({}, [STYLE], [-1.0], "blend"),
        ({}, [], None, "at least one style"),
        ({}, [STYLE.astype(np.float32)], None, "style image 1 must be a uint8 RGB image"),
    ],
)
def test_bad_values_are_refused_before_any_work(overrides, styles, blend, message):
    with pytest.raises(InputError, match=message):
        next(job.stylize(CONTENT, styles, _params(**overrides), style_weights=blend))


def test_a_run_that_cannot_fit_in_memory_is_refused_before_any_work(monkeypatch):
    from cnnstudio.core.style import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    calls = _count_compiled_calls(monkeypatch)
    with pytest.raises(memory.MemoryTooLargeError):
        next(job.stylize(CONTENT, STYLE, _params(size=4000)))
    assert calls == []


def test_lbfgs_yields_between_evaluations_and_stops_within_one(monkeypatch):
    """Stop, progress and preview must not wait for a whole batch of evaluations."""
    calls = _count_compiled_calls(monkeypatch)
    params = _params(optimizer="lbfgs", steps=3, lbfgs_evaluations=50, preview_interval=0.0)
    gen = job.stylize(CONTENT, STYLE, params)
    seen = []
    while sum(isinstance(e, LbfgsEvaluation) for e in seen) < 3:
        seen.append(next(gen))
    evaluations = [e for e in seen if isinstance(e, LbfgsEvaluation)]
    assert [e.evaluation for e in evaluations] == [1, 2, 3]
    assert evaluations[-1].iteration == 1 and evaluations[-1].total == 3
    assert "iteration 1/3: evaluation 3" in evaluations[-1].text
    assert any(isinstance(e, Preview) for e in seen)  # the picture moves mid-iteration too
    assert not any(isinstance(e, Progress) for e in seen)  # still inside iteration 1 of 50
    gen.close()
    assert calls == ["loss_and_grad"] * 3  # no evaluation ran after the close
    assert not [t for t in threading.enumerate() if t.name == "style-lbfgs"]  # scipy ended


def test_lbfgs_counts_evaluations_over_all_scales_exactly():
    params = _params(optimizer="lbfgs", steps=2, lbfgs_evaluations=6, size=160, multi_scale=True)
    events, _ = _run(job.stylize(CONTENT, STYLE, params))
    counts = [int(p.message.split()[0]) for p in _progress(events)]
    assert len(counts) == 6 and counts == sorted(counts) and len(set(counts)) == 6
    assert counts[-1] == 6 * 6  # the budget, per iteration, at every scale
    evaluations = [e for e in events if isinstance(e, LbfgsEvaluation)]
    assert evaluations[-1].evaluations == counts[-1] and evaluations[-1].stage == 3


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_stop_leaves_no_work_running_and_the_next_run_as_good_as_new(optimizer, monkeypatch):
    """Closing the job (Stop) mid-iteration ends its work there (no compiled call after
    it, no scipy thread left), and leaves nothing behind in the shared network and
    compiled program: the next run computes exactly what an undisturbed run computes."""
    params = _params(optimizer=optimizer, steps=3, lbfgs_evaluations=4, preview_interval=0.0)
    undisturbed = [p.loss for p in _progress(_run(job.stylize(CONTENT, STYLE, params))[0])]
    calls = _count_compiled_calls(monkeypatch)
    gen = job.stylize(CONTENT, STYLE, params)
    # Adam: stop after its first step; L-BFGS: in the middle of its first iteration
    stop_at = LbfgsEvaluation if optimizer == "lbfgs" else Progress
    while not isinstance(next(gen), stop_at):
        pass
    calls_at_stop = len(calls)
    gen.close()
    assert calls_at_stop >= 1 and len(calls) == calls_at_stop
    assert not [t for t in threading.enumerate() if t.name == "style-lbfgs"]
    again = [p.loss for p in _progress(_run(job.stylize(CONTENT, STYLE, params))[0])]
    assert len(again) == 3 and again == pytest.approx(undisturbed, rel=1e-5)


def test_the_weights_download_is_reported_before_the_network_is_built(monkeypatch):
    from cnnstudio.core import backbones, weights
    from cnnstudio.core.errors import ResourceMissingError
    from cnnstudio.core.events import DownloadProgress

    size = 80_134_624

    def fake_ensure(network, include_top=False, allow_download=True, on_download=None):
        assert network.name == "vgg19" and not include_top
        for received in (1 << 20, 2 << 20, 3 << 20):
            on_download(received, size)
        raise ResourceMissingError("download failed: connection reset")

    def no_build(*args, **kwargs):
        raise AssertionError("built before the weights were there")

    monkeypatch.setattr(weights, "ensure_imagenet_weights", fake_ensure)
    monkeypatch.setattr(backbones, "build_backbone", no_build)
    events = []
    with pytest.raises(ResourceMissingError, match="connection reset"):
        for event in job.stylize(CONTENT, STYLE, _params(weights="imagenet")):
            events.append(event)
    assert [e.received for e in events] == [1 << 20, 2 << 20, 3 << 20]
    assert all(isinstance(e, DownloadProgress) and e.total == size for e in events)
    assert (
        events[-1].text == "downloading vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5: 3/76 MB"
    )
