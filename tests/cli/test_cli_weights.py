"""``cnnstudio import-weights``: installs a weights file where "imagenet" finds it."""

from __future__ import annotations

import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import backbones, paths
from cnnstudio.core.weights import find_imagenet_weights


@pytest.fixture(autouse=True)
def fresh_cache():
    backbones.clear_model_cache()
    yield
    backbones.clear_model_cache()


@pytest.fixture
def mobilenet_file(tmp_path):
    model = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=(32, 32, 3))
    path = tmp_path / "mobilenet_download.weights.h5"
    model.save_weights(path)
    return path


@pytest.fixture
def trained_mobilenet_file(tmp_path):
    """Weights whose batch-norm statistics were learned, as the official file's are."""
    import numpy as np

    model = backbones.build_backbone_uncached("mobilenet_v2", "random", input_shape=(32, 32, 3))
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.25, "float32"))
    path = tmp_path / "mobilenet_download.weights.h5"
    model.save_weights(path)
    return path


def test_import_weights_installs_the_official_file_as_imagenet(
    trained_mobilenet_file, capsys, monkeypatch
):
    import dataclasses

    mobilenet_file = trained_mobilenet_file
    info = backbones.get_backbone("mobilenet_v2")
    # Keras publishes no checksum for MobileNetV2: the official file's exact size (and
    # learned batch-norm statistics) decide
    size = mobilenet_file.stat().st_size
    monkeypatch.setitem(  # noqa: SLF001 - the file plays the official one
        backbones._BACKBONES, "mobilenet_v2", dataclasses.replace(info, weights_size_notop=size)
    )
    assert main(["import-weights", str(mobilenet_file)]) == 0
    out = capsys.readouterr().out
    installed = find_imagenet_weights(info)
    assert installed is not None and installed.parent == paths.weights_dir()
    assert installed.read_bytes() == mobilenet_file.read_bytes()
    assert "MobileNetV2" in out and "without the classifier top" in out and str(installed) in out
    assert "ImageNet weights" in out and "exact size" in out
    assert info.weights_file(False)[: -len(".h5")] in installed.name


def test_import_weights_installs_any_other_file_as_custom(mobilenet_file, capsys):
    from cnnstudio.core.weights_import import custom_weights_dir

    assert main(["import-weights", str(mobilenet_file)]) == 0
    out = capsys.readouterr().out
    assert find_imagenet_weights(backbones.get_backbone("mobilenet_v2")) is None
    installed = custom_weights_dir() / mobilenet_file.name
    assert installed.read_bytes() == mobilenet_file.read_bytes()
    assert "as custom weights" in out and f"--weights {installed}" in out


def test_import_weights_wrong_architecture_exits_2(mobilenet_file, capsys):
    assert main(["import-weights", str(mobilenet_file), "--name", "vgg19"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cnnstudio: ") and len(err.splitlines()) == 1
    assert "mobilenet_download.weights.h5" in err and "VGG19" in err
    assert list(paths.weights_dir().iterdir()) == []


def test_import_weights_missing_file_exits_2(tmp_path, capsys):
    assert main(["import-weights", str(tmp_path / "nothing.h5")]) == 2
    err = capsys.readouterr().err
    assert "nothing.h5 does not exist" in err


def test_import_weights_bad_name_flag(mobilenet_file, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["import-weights", str(mobilenet_file), "--name", "resnet50"])
    assert caught.value.code == 2
    assert "resnet50" in capsys.readouterr().err
