"""Dream parameters: validation, presets, octave sizes, step sizes, metadata; no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from dreams import SMALL

from cnnstudio.core.dream.params import (
    DreamParams,
    default_step_size,
    dream_metadata,
    library_backbone,
    library_step_size,
    model_default_layers,
    octave_exponents,
    octave_sizes,
    params_from_metadata,
    preset_params,
    validate_params,
)
from cnnstudio.core.errors import InputError


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"objective": "max"}, "objective 'max'"),
        ({"steps": 0}, "steps 0"),
        ({"step_size": -1.0}, "step size -1.0"),
        ({"octaves": 0}, "octaves 0"),
        ({"octave_scale": 0.5}, "octave scale 0.5"),
        ({"layers": {"mixed3": 0.0}}, "every layer weight is 0"),
        ({"layers": {}}, "no dream layers"),
        ({"jitter": -3}, "jitter -3"),
        ({"backbone": "resnet"}, "unknown backbone 'resnet'"),
        ({"channel": ("mixed4", -1)}, "channel index -1"),
    ],
)
def test_bad_values_are_named(change, message):
    with pytest.raises(InputError, match=message):
        validate_params(DreamParams(**{**vars(DreamParams()), **change}))


def test_octaves_follow_the_recipes():
    recipe = DreamParams()
    assert octave_exponents(recipe) == [-2, -1, 0, 1, 2]
    assert octave_sizes(500, 750, recipe)[2] == (500, 750)
    assert octave_sizes(500, 750, recipe)[4] == (845, 1268)
    assert octave_sizes(300, 400, recipe.replace(octaves=1)) == [(300, 400)]
    dlwp = preset_params("dlwp")
    assert octave_exponents(dlwp) == [-2, -1, 0]
    assert dlwp.layers == {"mixed4": 0.0, "mixed5": 3.0, "mixed6": 2.0, "mixed7": 1.5}
    assert (dlwp.objective, dlwp.octave_scale, dlwp.max_loss) == ("l2", 1.4, 10.0)


def test_smallest_octave_is_enlarged_to_the_network_minimum():
    sizes = octave_sizes(120, 160, SMALL.replace(octaves=5, steps=1), min_size=75)
    assert min(min(s) for s in sizes) == 75


def test_metadata_says_untrained_and_round_trips():
    params = SMALL.replace(channel=("mixed4", 139))
    meta = json.loads(json.dumps(dream_metadata(params, source="noise", size=(96, 80))))
    assert meta["untrained"] is True
    assert meta["weights_label"] == "untrained (random)"
    assert meta["size"] == [96, 80]
    assert params_from_metadata(meta) == params
    assert params_from_metadata({"job": "style"}) is None
    assert dream_metadata(DreamParams())["untrained"] is False


def test_metadata_of_a_library_model_names_it():
    params = DreamParams(layers={"base/conv_a": 2.0})
    meta = json.loads(json.dumps(dream_metadata(params, model_name="tiny")))
    assert meta["model"] == "tiny" and meta["weights_label"] == "model tiny"
    assert meta["untrained"] is False
    assert params_from_metadata(meta).layers == {"base/conv_a": 2.0}


def test_step_size_default_follows_the_network():
    assert DreamParams().step_size is None
    assert DreamParams().effective_step_size() == pytest.approx(0.01)
    assert default_step_size("inception_v3") == pytest.approx(0.01)
    assert default_step_size("mobilenet_v2") == pytest.approx(0.01)
    assert default_step_size("vgg19") == pytest.approx(1.275)  # caffe units
    assert default_step_size(None) == pytest.approx(1.275)  # 0..255 pixels
    assert DreamParams(backbone="vgg19").effective_step_size() == pytest.approx(1.275)
    assert DreamParams(step_size=0.3).effective_step_size() == 0.3
    validate_params(DreamParams(step_size=None))
    # presets give [-1, 1] steps: scaled for VGG19
    assert preset_params("quick", DreamParams(backbone="vgg19")).step_size == pytest.approx(2.55)
    assert preset_params("quick").step_size == pytest.approx(0.02)


def test_library_models_params_follow_their_preprocessing():
    # a model that rescales itself takes pixels; one on a backbone takes its units
    assert library_backbone("none") == "inception_v3"
    assert library_backbone("vgg19") == "vgg19"
    assert library_step_size("none") == pytest.approx(1.275)
    assert library_step_size("mobilenet_v2") == pytest.approx(0.01)
    assert library_step_size("vgg19") == pytest.approx(1.275)
    assert model_default_layers(["conv_a", "base/conv_b", "conv_c"]) == {"conv_c": 1.0}
    assert model_default_layers([]) == {}


def test_params_modules_load_without_tensorflow():
    """The GUI imports these at start-up: they must not pull in TensorFlow or Keras."""
    modules = [
        "cnnstudio.core.dream.params",
        "cnnstudio.core.classify.params",
        "cnnstudio.core.classify.batch",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
