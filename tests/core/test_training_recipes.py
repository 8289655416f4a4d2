"""The recipes' models (reference parameter counts, frozen and fine-tuned bases), the
recipes' defaults in a config, and the distribution strategy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cnnstudio.core.errors import InputError
from cnnstudio.core.training import recipes, trainer
from cnnstudio.core.training.params import Augment, TrainConfig


def test_recipes_build_with_reference_parameter_counts():
    lenet = recipes.build_model("lenet5", num_classes=10)
    assert recipes.trainable_params(lenet) == 61_706
    assert lenet.input_shape == (None, 28, 28, 1)
    summary = recipes.model_summary(lenet)
    assert "c1" in summary and "61,706" in summary
    cnn = recipes.build_model("cifar-cnn", num_classes=10)
    names = [layer.name for layer in cnn.layers]
    assert "block3_conv2" in names and cnn.get_layer("block3_conv2").filters == 128
    assert not any(type(layer).__name__ == "Lambda" for layer in cnn.layers)
    with pytest.raises(InputError, match="unknown recipe"):
        recipes.build_model("resnet", num_classes=2)


def test_transfer_freezes_the_base_and_fine_tunes_the_top():
    frozen = recipes.build_model(
        "transfer",
        num_classes=3,
        input_size=(32, 32),
        backbone="mobilenet_v2",
        weights="random",
    )
    base = frozen.get_layer(index=1)
    assert not base.trainable
    head = sum(int(np.prod(w.shape)) for w in frozen.trainable_weights)
    assert head == recipes.trainable_params(frozen) > 0
    assert all(not w.name.startswith("Conv1") for w in frozen.trainable_weights)
    tuned = recipes.build_model(
        "transfer",
        num_classes=3,
        input_size=(32, 32),
        backbone="mobilenet_v2",
        weights="random",
        fine_tune=6,
    )
    assert recipes.trainable_params(tuned) > head
    assert recipes.preprocessing_for("transfer", "mobilenet_v2") == "mobilenet_v2"
    assert recipes.preprocessing_for("lenet5", "mobilenet_v2") == "none"
    with pytest.raises(InputError, match="at least 75x75"):
        recipes.build_model("transfer", num_classes=3, input_size=(32, 32), weights="random")


def test_strategy_choice_depends_on_gpu_count():
    assert trainer.strategy_kind([]) == "default"
    assert trainer.strategy_kind(["/gpu:0"]) == "default"
    assert trainer.strategy_kind(["/gpu:0", "/gpu:1"]) == "mirrored"
    import tensorflow as tf

    assert trainer.make_strategy([]) is tf.distribute.get_strategy()


def test_config_takes_the_recipe_defaults_and_names_bad_values():
    config = TrainConfig(recipe="cifar-cnn").resolved()
    assert (config.data, config.epochs, config.batch_size) == ("cifar10", 20, 128)
    assert (config.image_size, config.augment) == (32, True)
    assert config.augment_options() == Augment(contrast=(0.5, 0.8))
    assert TrainConfig(augment=False).resolved().augment_options() is None
    for bad, param in [({"epochs": -1}, "epochs"), ({"schedule": "weird"}, "schedule")]:
        with pytest.raises(InputError) as caught:
            TrainConfig(**bad).resolved()
        assert caught.value.param == param
    # config.json may hold keys of other versions (num_classes): they are left out
    stored = {**config.to_dict(), "num_classes": 10}
    assert TrainConfig.from_dict(stored) == config


def test_params_events_runs_and_the_job_import_without_tensorflow():
    """The Train tab imports these at start-up; the job imports TensorFlow when it runs."""
    modules = ["job", "params", "events", "runs", "datasets", "data_files", "image_folders"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module('cnnstudio.core.training.' + name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
