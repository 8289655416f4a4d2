"""Style params, memory estimate and colours: no TensorFlow needed (the GUI's side)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.style import colors, memory
from cnnstudio.core.style.params import (
    StyleParams,
    output_size,
    params_from_metadata,
    stage_sizes,
    style_metadata,
)


def _params(**overrides) -> StyleParams:
    values = {"weights": "random", "size": 64, "steps": 4, "seed": 0}
    values.update(overrides)
    return StyleParams(**values)


def _picture(height: int, width: int, colours: tuple, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, width)[None, :, None]
    a, b = np.array(colours[0], float), np.array(colours[1], float)
    image = a * (1 - t) + b * t + np.zeros((height, 1, 1)) + rng.normal(0, 12, (height, 1, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_the_gui_side_imports_no_tensorflow():
    code = (
        "import sys\n"
        "import cnnstudio.core.style.params, cnnstudio.core.style.memory\n"
        "import cnnstudio.core.style.colors, cnnstudio.core.style.job\n"
        "import cnnstudio.core.faststyle.params, cnnstudio.core.faststyle.job\n"
        "import cnnstudio.core.faststyle.models, cnnstudio.core.faststyle.runs\n"
        "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("overrides", "param", "message"),
    [
        ({"layers": "picasso"}, "layers", "picasso"),
        ({"optimizer": "sgd"}, "optimizer", "sgd"),
        ({"style_layers": {"block9_conv1": 1.0}}, "style_layers", "block9_conv1"),
        ({"content_layers": {"block4_conv2": -1.0}}, "content_layers", "-1.0"),
        ({"size": 8}, "size", "size 8"),
        ({"steps": 0}, "steps", "steps 0"),
        ({"tv_weight": float("nan")}, "tv_weight", "total-variation weight nan"),
        ({"style_scale": 5.0}, "style_scale", "style scale 5.0"),
        ({"content_layers": {"block4_conv2": 0.0}}, "content_layers", "every content layer"),
        (
            {"style_layers": {"block1_conv1": 0.0, "block2_conv1": 0.0}},
            "style_layers",
            "every style layer weight is 0 \\(block1_conv1, block2_conv1\\)",
        ),
    ],
)
def test_validation_names_the_value_and_its_param_but_no_flag(overrides, param, message):
    with pytest.raises(InputError, match=message) as caught:
        _params(**overrides).validate()
    assert caught.value.param == param
    assert "--" not in str(caught.value)


def test_layer_weights_come_from_the_preset_unless_given():
    content, style = StyleParams(layers="gatys").layer_weights()
    assert content == {"block5_conv2": 1.0} and len(style) == 5
    own = StyleParams(layers="gatys", content_layers={"block2_conv2": 3.0})
    assert own.layer_weights()[0] == {"block2_conv2": 3.0}


def test_output_and_stage_sizes():
    assert output_size((72, 60), 160) == (160, 133)
    assert stage_sizes(160, 133, multi_scale=False) == [(160, 133)]
    assert stage_sizes(160, 133, multi_scale=True) == [(40, 33), (80, 66), (160, 133)]
    # a scale below VGG19's minimum side is left out
    assert stage_sizes(64, 53, multi_scale=True) == [(64, 53)]


# -------------------------------------------------------------------------------- metadata


def test_metadata_keeps_the_full_path_of_a_weights_file(tmp_path):
    weights = tmp_path / "vgg19.weights.h5"
    meta = style_metadata(_params(weights=str(weights)))
    assert meta["weights"] == str(weights.resolve())
    assert params_from_metadata(meta).weights == str(weights.resolve())


def test_metadata_says_untrained_and_round_trips():
    params = _params(optimizer="lbfgs", preserve_colors="luminance")
    meta = style_metadata(params, content="cat.png")
    assert meta["untrained"] is True and "random" in meta["weights_label"].lower()
    assert meta["job"] == "style" and meta["content"] == "cat.png" and meta["steps"] == 4
    assert params_from_metadata(meta) == params
    assert style_metadata(StyleParams())["untrained"] is False


def test_weights_saved_before_the_terms_were_normalised_are_not_reused():
    """A picture or settings saved with the raw-sum loss (content 1e4, style 1e-2, TV 30,
    Adam epsilon 0.1) would mean content ten million times the style now: those values
    fall back to today's defaults; the rest is restored."""
    old = {"job": "style", "content_weight": 1e4, "style_weight": 1e-2, "tv_weight": 30.0}
    old.update({"beta_1": 0.99, "epsilon": 0.1, "steps": 50, "size": 256})
    params = params_from_metadata(old)
    defaults = StyleParams()
    assert (params.steps, params.size) == (50, 256)
    assert (params.content_weight, params.style_weight, params.tv_weight) == (
        defaults.content_weight,
        defaults.style_weight,
        defaults.tv_weight,
    )
    assert (params.beta_1, params.epsilon) == (defaults.beta_1, defaults.epsilon)
    mine = _params(content_weight=2.0, style_weight=5.0, tv_weight=0.0)
    assert params_from_metadata(style_metadata(mine)) == mine


# ---------------------------------------------------------------------------------- memory


def test_memory_estimate_grows_with_size_and_refuses_what_cannot_fit():
    small = memory.estimate_memory(StyleParams(size=256), (600, 800))
    large = memory.estimate_memory(StyleParams(size=1024), (600, 800))
    shallow = memory.estimate_memory(
        StyleParams(
            size=1024, content_layers={"block1_conv2": 1}, style_layers={"block1_conv1": 1}
        ),
        (600, 800),
    )
    assert small < large and shallow < large
    assert large > 1024 * 768 * 64 * 4  # at least one full-size activation of block1
    assert memory.check_memory(StyleParams(size=256), (600, 800), available=2**40) == small
    with pytest.raises(InputError, match=r"size 8000 px needs about .* GB of memory but 2.0 GB"):
        memory.check_memory(StyleParams(size=8000), (600, 800), available=2 * 2**30)


def test_too_large_carries_a_suggested_size_that_fits_and_no_flag_wording():
    from cnnstudio.cli import messages as cli_messages
    from cnnstudio.gui import messages as gui_messages

    available = 2 * 2**30
    with pytest.raises(memory.MemoryTooLargeError) as error:
        memory.check_memory(StyleParams(size=8000), (600, 800), available=available)
    suggested = error.value.suggested_size
    assert isinstance(error.value, InputError) and error.value.size == 8000
    assert error.value.param == "size" and error.value.remedy == Remedy.SMALLER_SIZE
    assert error.value.details["size"] == suggested and "--" not in str(error.value)
    assert cli_messages.describe(error.value).endswith(f"pass --size {suggested} or less")
    assert gui_messages.describe(error.value).endswith(f"{suggested} px or less.")
    assert 256 <= suggested < 8000 and suggested % 16 == 0
    assert memory.estimate_memory(StyleParams(size=suggested), (600, 800)) <= available
    bigger = StyleParams(size=suggested + 64)
    assert memory.estimate_memory(bigger, (600, 800)) > available  # not needlessly small
    # Multi-scale ends at the full size: it needs as much, so it is not offered as a way out.
    assert memory.estimate_memory(
        StyleParams(size=8000, multi_scale=True), (600, 800)
    ) == memory.estimate_memory(StyleParams(size=8000), (600, 800))
    assert "multi" not in str(error.value).lower()


def test_available_memory_reads_meminfo_and_falls_back(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 8000 kB\nMemFree: 100 kB\nMemAvailable: 1234 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    assert memory.available_memory() == 1234 * 1024
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "missing")
    assert memory.available_memory() == 4 * 2**30
    # what the check uses when not told: the (here: fake) figure
    meminfo.write_text("MemAvailable: 1048576 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    with pytest.raises(memory.MemoryTooLargeError, match="1.0 GB is available"):
        memory.check_memory(StyleParams(size=4000), (600, 800))


# --------------------------------------------------------------------------------- colours

CONTENT = _picture(72, 60, ((200, 40, 40), (40, 60, 210)), seed=1)
STYLE = _picture(64, 64, ((20, 200, 30), (250, 230, 20)), seed=2)


def test_colour_matching_gives_the_style_the_content_palette():
    matched = colors.match_colors(STYLE, CONTENT)
    pixels = matched.reshape(-1, 3).astype(float)
    reference = CONTENT.reshape(-1, 3).astype(float)
    np.testing.assert_allclose(pixels.mean(0), reference.mean(0), atol=2.0)
    np.testing.assert_allclose(np.cov(pixels.T), np.cov(reference.T), rtol=0.1, atol=20)
    assert matched.shape == STYLE.shape and matched.dtype == np.uint8


def test_luminance_helpers_keep_chroma_and_match_the_spread():
    grey = colors.luminance_image(STYLE, CONTENT)
    assert np.all(grey[..., 0] == grey[..., 1]) and np.all(grey[..., 1] == grey[..., 2])
    y_content = colors.rgb_to_ycbcr(CONTENT)[..., 0]
    assert abs(grey[..., 0].mean() - y_content.mean()) < 1.0
    assert abs(grey[..., 0].std() - y_content.std()) < 1.0
    same_size = colors.luminance_image(CONTENT)
    back = colors.transfer_luminance(same_size, CONTENT)
    assert np.abs(back.astype(int) - CONTENT.astype(int)).max() <= 3  # Y kept, chroma back
