"""Weights: the three sources, weights files (inspect, fit, load), the ImageNet files
(found, downloaded, or said to be missing), downloads as job events, and import.

Random weights and small inputs only; nothing here touches the network.
"""

from __future__ import annotations

import os
import threading
import urllib.error

import numpy as np
import pytest

from cnnstudio.core import backbones, paths, weights, weights_files, weights_import
from cnnstudio.core.errors import InputError, Remedy, ResourceMissingError

SMALL_SHAPES = {"inception_v3": (75, 75, 3), "vgg19": (32, 32, 3), "mobilenet_v2": (32, 32, 3)}
MOBILENET = backbones.get_backbone("mobilenet_v2")


@pytest.fixture(autouse=True)
def fresh_cache():
    backbones.clear_model_cache()
    yield
    backbones.clear_model_cache()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to go online fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(weights, "_is_online", forbidden)
    monkeypatch.setattr(weights, "_download", forbidden)
    monkeypatch.setattr(weights.urllib.request, "urlopen", forbidden)
    import keras

    monkeypatch.setattr(keras.utils, "get_file", forbidden)  # nor may Keras download


def _weights_equal(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


def _saved_random(tmp_path, name: str, file_name: str | None = None, include_top=False):
    model = backbones.build_backbone_uncached(
        name,
        "random",
        include_top=include_top,
        input_shape=None if include_top else SMALL_SHAPES[name],
    )
    path = tmp_path / (file_name or f"{name}.weights.h5")
    model.save_weights(path)
    return model, path


# ------------------------------------------------------------------------------- sources


def test_weights_label_and_untrained():
    assert weights.weights_label("imagenet") == "ImageNet"
    assert weights.weights_label("random") == "untrained (random)"
    assert weights.weights_label("/x/y/my.weights.h5") == "custom weights my.weights.h5"
    assert weights.is_untrained("random") and weights.is_untrained("Untrained")
    assert not weights.is_untrained("imagenet")


# ---------------------------------------------------------------------------- path weights


def test_weights_by_path_load_the_values(tmp_path):
    original, path = _saved_random(tmp_path, "vgg19")
    loaded = backbones.build_backbone("vgg19", str(path), input_shape=(40, 40, 3))
    assert _weights_equal(original, loaded)
    # another untrained network (the default one is the same in every build)
    fresh = backbones.build_backbone("vgg19", "random", input_shape=(40, 40, 3), seed=1)
    assert not _weights_equal(original, fresh)


def test_mismatched_file_names_file_and_architecture(tmp_path):
    _, path = _saved_random(tmp_path, "mobilenet_v2", "mine.weights.h5")
    with pytest.raises(InputError) as caught:
        backbones.build_backbone("vgg19", path, input_shape=(32, 32, 3))
    message = str(caught.value)
    assert "mine.weights.h5" in message and "does not fit VGG19" in message
    assert "MobileNetV2" in message  # it says what the file looks like
    assert "\n" not in message


def test_notop_file_for_a_top_model_says_so(tmp_path):
    _, path = _saved_random(tmp_path, "mobilenet_v2", "base.weights.h5")
    with pytest.raises(InputError, match="base.weights.h5 is without the classifier top"):
        backbones.build_backbone("mobilenet_v2", path, include_top=True)


def test_not_a_weights_file(tmp_path):
    bogus = tmp_path / "bogus.h5"
    bogus.write_text("not hdf5")
    with pytest.raises(InputError, match="bogus.h5 is not a readable HDF5") as caught:
        backbones.build_backbone("vgg19", bogus)
    # no h5py traceback rides along: its frames hold the open file, and a window that
    # keeps the error (to show details) crashed at exit when they were freed after it
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    with pytest.raises(InputError, match="missing.h5 does not exist"):
        backbones.build_backbone("vgg19", tmp_path / "missing.h5")
    wrong = tmp_path / "model.keras"
    wrong.write_bytes(b"PK")
    with pytest.raises(InputError, match="model.keras is not a .weights.h5 or .h5"):
        backbones.build_backbone("vgg19", wrong)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_or_a_folder_named_like_weights_is_refused_without_blocking(tmp_path):
    # nobody ever writes into the pipe: opening it for reading the usual way would hang
    pipe = tmp_path / "pipe.weights.h5"
    os.mkfifo(pipe)
    with pytest.raises(InputError, match=r"pipe.weights.h5: is a named pipe \(FIFO\)"):
        backbones.build_backbone("vgg19", pipe)
    with pytest.raises(InputError, match=r"pipe.weights.h5: is a named pipe \(FIFO\)"):
        weights_import.import_weights(pipe)
    folder = tmp_path / "folder.h5"
    folder.mkdir()
    with pytest.raises(InputError, match="folder.h5: is a folder, not a file"):
        backbones.build_backbone("vgg19", folder)
    assert list(paths.weights_dir().iterdir()) == []


def test_the_guessed_networks_are_named_as_the_registry_names_them():
    assert weights_files.GUESS_LABELS == {
        info.name: info.label for info in backbones.all_backbones()
    }


def test_legacy_h5_with_misleading_suffix_loads(tmp_path):
    import keras

    original = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    legacy = tmp_path / "vgg_full.h5"
    original.save(legacy)  # a whole legacy-format model: weights under model_weights/
    facts = weights_files.inspect_weights_file(legacy)
    assert (facts.keras3, facts.has_top, facts.guess) == (False, False, "vgg19")
    renamed = tmp_path / "vgg_legacy.weights.h5"  # legacy content, Keras 3 suffix
    renamed.write_bytes(legacy.read_bytes())
    loaded = backbones.build_backbone("vgg19", renamed, input_shape=(32, 32, 3))
    assert _weights_equal(original, loaded)


# ------------------------------------------------------------------------- imagenet weights


def test_missing_imagenet_offline_message(no_network):
    with pytest.raises(ResourceMissingError) as caught:
        backbones.build_backbone("inception_v3", "imagenet", allow_download=False)
    message = str(caught.value)
    first, second = weights.weights_search_dirs()
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 (84 MB)" in message
    assert str(first) in message and str(second) in message
    assert str(second) == str(paths.keras_cache_dir() / "models")
    assert "https://" in message
    # what to do is the front ends' to word (flags, menus), from the error's data
    error = caught.value
    assert error.remedy == Remedy.SUPPLY_WEIGHTS
    info = backbones.get_backbone("inception_v3")
    assert error.details == {
        "backbone": "inception_v3",
        "file_name": info.weights_file(False),
        "size": info.weights_size(False),
        "url": info.weights_url(False),
        "searched": [str(first), str(second)],
    }
    assert "--" not in message and "File >" not in message and "import-weights" not in message


def test_each_front_end_says_how_to_supply_missing_weights(no_network):
    from cnnstudio.cli import messages as cli_messages
    from cnnstudio.gui import messages as gui_messages

    with pytest.raises(ResourceMissingError) as caught:
        backbones.build_backbone("vgg19", "imagenet", allow_download=False)
    cli = cli_messages.describe(caught.value)
    gui = gui_messages.describe(caught.value)
    assert cli.startswith("VGG19 ImageNet weights are not on this machine")
    assert "cnnstudio import-weights FILE" in cli and "--weights PATH" in cli
    assert gui.startswith("VGG19 ImageNet weights are not on this machine")
    assert "File > Import weights..." in gui and "--" not in gui
    for text in (cli, gui):
        assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (76 MB)" in text
        assert "\n" not in text


def test_offline_env_never_downloads(no_network, monkeypatch):
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    with pytest.raises(
        ResourceMissingError, match="vgg19_weights_tf_dim_ordering_tf_kernels.h5 \\(548 MB\\)"
    ):
        backbones.build_backbone("vgg19", "imagenet", include_top=True)


def test_no_connection_and_failed_download(monkeypatch):
    monkeypatch.setattr(weights, "_is_online", lambda host: False)
    with pytest.raises(ResourceMissingError, match="no connection to storage.googleapis.com"):
        backbones.build_backbone("mobilenet_v2", "imagenet")

    def refused(*args, **kwargs):
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(weights, "_is_online", lambda host: True)
    monkeypatch.setattr(weights.urllib.request, "urlopen", refused)
    with pytest.raises(ResourceMissingError, match="download failed.*connection refused"):
        backbones.build_backbone("mobilenet_v2", "imagenet")
    assert list((paths.keras_cache_dir() / "models").iterdir()) == []  # no partial file


def test_download_reports_progress_and_installs(tmp_path, fake_weights_download):
    original, path = _saved_random(tmp_path, "mobilenet_v2")
    payload = path.read_bytes()
    info = backbones.get_backbone("mobilenet_v2")

    requested = fake_weights_download(payload)
    progress = []
    model = backbones.build_backbone(
        "mobilenet_v2",
        "imagenet",
        input_shape=(32, 32, 3),
        on_download=lambda got, total: progress.append((got, total)),
    )
    assert requested == [info.weights_url(False)]
    assert progress and progress[-1] == (len(payload), len(payload))
    assert [got for got, _ in progress] == sorted(got for got, _ in progress)
    installed = paths.keras_cache_dir() / "models" / info.weights_file(False)
    assert installed.read_bytes() == payload
    assert _weights_equal(original, model)


# ------------------------------------------------------------------------------------ import


def _as_official(monkeypatch, path, name: str, include_top: bool = False) -> None:
    """Make the registry publish ``path``'s md5 for ``name``: the file plays the official
    Keras file (the real ones are not on this machine, and random weights are not them)."""
    import dataclasses

    digest = weights_import.file_md5(path)
    field = "weights_md5_top" if include_top else "weights_md5_notop"
    info = dataclasses.replace(backbones.get_backbone(name), **{field: digest})
    monkeypatch.setitem(backbones._BACKBONES, name, info)  # noqa: SLF001 - the registry


def test_the_published_checksums_are_keras_own():
    """The md5s Keras checks its downloads against (keras/src/applications file_hash)."""
    import inspect

    from keras.src.applications import inception_v3, mobilenet_v2, vgg19

    for name, module in (("inception_v3", inception_v3), ("vgg19", vgg19)):
        source = inspect.getsource(module)
        info = backbones.get_backbone(name)
        for top in (True, False):
            assert f'file_hash="{info.weights_md5(top)}"' in source
    assert "file_hash" not in inspect.getsource(mobilenet_v2)  # Keras publishes none
    assert MOBILENET.weights_md5(True) is None and MOBILENET.weights_md5(False) is None


def test_import_of_random_weights_is_custom_never_imagenet(tmp_path, no_network):
    """A file that fits but is not the official one (random weights here) is installed as
    custom weights: "imagenet" does not find it, and results say "custom weights FILE"."""
    for name in ("vgg19", "mobilenet_v2"):
        original, path = _saved_random(tmp_path, name, f"{name}-download.weights.h5")
        imported = weights_import.import_weights_detailed(path)
        assert imported.kind == "custom" and not imported.is_imagenet
        assert imported.path.parent == weights_import.custom_weights_dir()
        assert imported.path.name == path.name
        assert weights.find_imagenet_weights(backbones.get_backbone(name)) is None
        assert "custom weights" in imported.describe()
        model = backbones.build_backbone(name, str(imported.path), input_shape=(32, 32, 3))
        assert _weights_equal(original, model)
        assert weights.weights_label(imported.path) == f"custom weights {path.name}"
    assert [p.name for p in weights_import.custom_weights_files()] == [
        "mobilenet_v2-download.weights.h5",
        "vgg19-download.weights.h5",
    ]
    # under the official name, still not the official file: it is renamed among the custom
    info = backbones.get_backbone("vgg19")
    official_name = weights.candidate_names(info.weights_file(False))[1]  # Keras 3 suffix
    _, named = _saved_random(tmp_path, "vgg19", official_name)
    imported = weights_import.import_weights_detailed(named)
    assert imported.path.name == "custom-" + official_name
    assert weights.find_imagenet_weights(info) is None


def test_mobilenet_without_a_published_checksum_is_known_by_its_exact_size(tmp_path, monkeypatch):
    """Keras publishes no checksum for MobileNetV2: the official file's exact size and
    learned batch-norm statistics stand in. Random weights saved in the same layout have
    the same size, but moving means of exactly 0: they stay custom weights."""
    import dataclasses

    model, untrained = _saved_random(tmp_path, "mobilenet_v2", "mn.weights.h5")
    size = untrained.stat().st_size
    info = dataclasses.replace(MOBILENET, weights_size_notop=size)
    monkeypatch.setitem(backbones._BACKBONES, "mobilenet_v2", info)  # noqa: SLF001
    imported = weights_import.import_weights_detailed(untrained)
    assert not imported.is_imagenet
    assert weights.find_imagenet_weights(info) is None

    rng = np.random.default_rng(0)
    for layer in model.layers:  # what seeing data leaves in the statistics
        if type(layer).__name__ == "BatchNormalization":
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape).astype("float32"))
    trained = tmp_path / "trained.weights.h5"
    model.save_weights(trained)
    assert trained.stat().st_size == size
    imported = weights_import.import_weights_detailed(trained)
    assert imported.is_imagenet and imported.matched_by == "size"
    assert weights.find_imagenet_weights(info) == imported.path


def test_import_detects_architecture_then_imagenet_finds_it(tmp_path, no_network, monkeypatch):
    original, path = _saved_random(tmp_path, "vgg19", "downloaded.weights.h5")
    _as_official(monkeypatch, path, "vgg19")
    imported = weights_import.import_weights_detailed(path)
    assert imported.is_imagenet and imported.matched_by == "checksum"
    destination = imported.path
    info = backbones.get_backbone("vgg19")
    assert destination.parent == paths.weights_dir()
    assert destination.name == info.weights_file(False)[: -len(".h5")] + ".weights.h5"
    assert weights.find_imagenet_weights(backbones.get_backbone("vgg19")) == destination
    model = backbones.build_backbone(
        "vgg19", "imagenet", input_shape=(40, 40, 3), allow_download=False
    )
    assert _weights_equal(original, model)


def test_import_replaces_and_refreshes_cached_imagenet(tmp_path, no_network, monkeypatch):
    first, first_path = _saved_random(tmp_path, "vgg19", "a.weights.h5")
    _as_official(monkeypatch, first_path, "vgg19")
    weights_import.import_weights(first_path, "vgg19")
    cached = backbones.build_backbone("vgg19", "imagenet", input_shape=(32, 32, 3))
    assert _weights_equal(first, cached)
    second, second_path = _saved_random(tmp_path, "vgg19", "b.weights.h5")
    _as_official(monkeypatch, second_path, "vgg19")
    weights_import.import_weights(second_path)
    rebuilt = backbones.build_backbone("vgg19", "imagenet", input_shape=(32, 32, 3))
    assert rebuilt is not cached and _weights_equal(second, rebuilt)


def test_import_refuses_wrong_or_unknown_files(tmp_path):
    _, path = _saved_random(tmp_path, "mobilenet_v2", "mn.weights.h5")
    with pytest.raises(InputError, match="mn.weights.h5 does not fit InceptionV3"):
        weights_import.import_weights(path, "inception_v3")
    assert list(paths.weights_dir().iterdir()) == []

    import keras

    other = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    odd = tmp_path / "odd.weights.h5"
    other.save_weights(odd)
    with pytest.raises(InputError, match="odd.weights.h5 fits none of"):
        weights_import.import_weights(odd)
    assert list(paths.weights_dir().iterdir()) == []


def test_same_count_different_shapes_refused_by_the_loader(tmp_path):
    import keras

    # alpha 0.5 has as many weight arrays as alpha 1.0, so only loading can tell them apart
    half = keras.applications.MobileNetV2(
        alpha=0.5, weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    path = tmp_path / "half.weights.h5"
    half.save_weights(path)
    with pytest.raises(InputError, match="half.weights.h5 does not fit MobileNetV2"):
        backbones.build_backbone("mobilenet_v2", path, input_shape=(32, 32, 3))


# ------------------------------------------------------------------- download as job events


def test_download_as_events_then_build_finds_the_file(tmp_path, fake_weights_download):
    from cnnstudio.core.events import DownloadProgress

    original, path = _saved_random(tmp_path, "mobilenet_v2")
    payload = path.read_bytes()
    info = backbones.get_backbone("mobilenet_v2")
    requested = fake_weights_download(payload)
    events = []
    generator = weights.ensure_weights_events(MOBILENET, "imagenet")
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            installed = stop.value
            break
    assert requested == [info.weights_url(False)]
    assert events and all(isinstance(e, DownloadProgress) for e in events)
    assert events[-1].received == events[-1].total == len(payload)
    assert events[-1].file_name == info.weights_file(False)
    assert events[-1].text.startswith(f"downloading {info.weights_file(False)}: ")
    assert installed.read_bytes() == payload
    # now on disk: no second download, no events, and the build loads it
    assert list(weights.ensure_weights_events(MOBILENET, "imagenet")) == []
    model = backbones.build_backbone("mobilenet_v2", "imagenet", input_shape=(32, 32, 3))
    assert len(requested) == 1 and _weights_equal(original, model)
    assert list(weights.ensure_weights_events(MOBILENET, "random")) == []


def test_closing_the_events_abandons_the_download(fake_weights_download):
    payload = bytes(range(256)) * (4 * 4096)  # 4 MB: four chunks
    fake_weights_download(payload)
    generator = weights.ensure_weights_events(MOBILENET, "imagenet")
    first = next(generator)
    assert first.received == 1 << 20 and first.total == len(payload)
    generator.close()  # Stop in the window
    folder = paths.keras_cache_dir() / "models"
    assert list(folder.iterdir()) == []  # neither the file nor a partial one
    assert not [t for t in threading.enumerate() if t.name.startswith("cnnstudio-download")]


def test_download_error_reaches_the_job(monkeypatch):
    def refused(*args, **kwargs):
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(weights, "_is_online", lambda host: True)
    monkeypatch.setattr(weights.urllib.request, "urlopen", refused)
    with pytest.raises(ResourceMissingError, match="download failed.*connection refused"):
        list(weights.ensure_weights_events(MOBILENET, "imagenet"))
