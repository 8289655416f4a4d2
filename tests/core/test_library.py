"""The model library: save, list, load, rename, export, import, delete; unsafe files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import payloads
import pytest

from cnnstudio.core import library, model_check, paths
from cnnstudio.core.errors import InputError, UnsafeModelError


def _tiny_model():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(2, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


META = {
    "recipe": "cifar-cnn",
    "dataset": "shapes.npz",
    "class_names": ["a", "b", "c"],
    "input_size": [8, 8],
    "channels": 3,
    "preprocessing": "none",
    "metrics": {"test_accuracy": np.float32(0.5)},
}


def test_round_trip_save_list_load_rename_export_import_delete(tmp_path):
    model = _tiny_model()
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = model.predict(x, verbose=0)

    entry = library.save_to_library(model, "my model/v1?", META)
    assert entry.path.parent == paths.library_dir()
    assert entry.name == "my model_v1"
    assert entry.meta["class_names"] == ["a", "b", "c"]
    assert entry.meta["metrics"]["test_accuracy"] == pytest.approx(0.5)
    assert "created" in entry.meta
    assert entry.input_size == (8, 8) and entry.channels == 3

    # same name again: a suffix, never an overwrite
    second = library.save_to_library(model, "my model/v1?", META)
    assert second.name == "my model_v1-2"
    assert [e.name for e in library.list_models()] == ["my model_v1", "my model_v1-2"]

    loaded = library.load_entry(entry)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)

    renamed = library.rename_model(second, "renamed")
    assert renamed.name == "renamed" and renamed.path.exists() and renamed.sidecar_path.exists()
    assert not second.path.exists() and not second.sidecar_path.exists()
    assert renamed.meta["recipe"] == "cifar-cnn"
    taken = library.rename_model(renamed, "my model_v1")
    assert taken.name == "my model_v1-2"

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    exported = library.export_model(entry, out_dir)
    assert exported.exists() and library.read_sidecar(exported)["class_names"] == ["a", "b", "c"]
    with pytest.raises(InputError, match="exists already"):
        library.export_model(entry, out_dir)

    library.delete_model(entry)
    assert not entry.path.exists() and not entry.sidecar_path.exists()
    imported = library.import_model(exported)
    assert imported.name == "my model_v1"
    assert imported.meta["dataset"] == "shapes.npz"
    np.testing.assert_allclose(
        library.load_entry(imported).predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6
    )
    library.delete_model(imported)
    library.delete_model(taken)
    assert library.list_models() == []


def test_import_without_sidecar_infers_meta(tmp_path):
    path = tmp_path / "bare.keras"
    _tiny_model().save(path)
    entry = library.import_model(path)
    assert entry.meta["input_size"] == [8, 8]
    assert entry.meta["channels"] == 3
    assert entry.meta["class_names"] == ["0", "1", "2"]
    assert library.read_sidecar(tmp_path / "none.keras") == {}


def test_lambda_model_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    marker = tmp_path / "ran.txt"
    path = payloads.model_with_code(monkeypatch, tmp_path, marker, input_shape=(4,))
    with pytest.raises(UnsafeModelError, match="contains code.*nothing was run"):
        library.load_model_file(path)
    with pytest.raises(UnsafeModelError):
        library.import_model(path)
    assert library.list_models() == []
    assert not marker.exists()
    # the payload is real: loading the file unsafely (never done by the app) runs it
    payloads.run_unsafely(path)
    assert marker.read_text() == "pwned"


def test_keras_safe_mode_backs_up_the_scan(tmp_path, monkeypatch):
    """Even if the pre-scan missed a payload, Keras' own safe mode refuses it, and the
    payload does not run."""
    marker = tmp_path / "ran.txt"
    path = payloads.model_with_code(monkeypatch, tmp_path, marker, input_shape=(4,))
    monkeypatch.setattr(model_check, "code_in_config", lambda config: None)
    with pytest.raises(UnsafeModelError, match="contains code"):
        library.load_model_file(path)
    assert not marker.exists()
    payloads.run_unsafely(path)
    assert marker.read_text() == "pwned"


def test_legacy_and_bogus_files_are_refused(tmp_path):
    h5 = tmp_path / "old.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(UnsafeModelError, match="legacy"):
        library.load_model_file(h5)
    disguised = tmp_path / "disguised.keras"
    disguised.write_bytes(h5.read_bytes())
    with pytest.raises(UnsafeModelError, match="legacy"):
        library.load_model_file(disguised)
    saved_model = tmp_path / "sm"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"x")
    with pytest.raises(UnsafeModelError, match="SavedModel"):
        library.load_model_file(saved_model)
    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a valid .keras"):
        library.load_model_file(text)
    empty_zip = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("other.txt", "x")
    with pytest.raises(InputError, match="no config.json"):
        library.load_model_file(empty_zip)
    with pytest.raises(InputError, match="not found"):
        library.load_model_file(tmp_path / "missing.keras")


def test_broken_sidecar_reads_as_empty():
    entry = library.save_to_library(_tiny_model(), "x", {"recipe": "r"})
    entry.sidecar_path.write_text("{not json")
    assert library.list_models()[0].meta == {}
    entry.sidecar_path.write_text(json.dumps([1, 2]))
    assert library.read_sidecar(entry.path) == {}


def _with_conv_activation(source, target, activation) -> None:
    """A copy of the .keras file ``source`` whose Conv2D activation is ``activation``."""
    with zipfile.ZipFile(source) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Conv2D":
            layer["config"]["activation"] = activation
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("activation", "named"),
    [
        ({"module": "os", "class_name": "function", "config": "system"}, "os.system"),
        ({"module": "os", "config": "system"}, "os.system"),
        ({"module": "builtins", "class_name": "function", "config": "exec"}, "exec"),
    ],
    ids=["os.system", "no-class-name", "builtins.exec"],
)
def test_function_payloads_are_refused_in_one_line(tmp_path, monkeypatch, activation, named):
    good = tmp_path / "good.keras"
    _tiny_model().save(good)
    evil = tmp_path / "evil_fn.keras"
    _with_conv_activation(good, evil, activation)
    with pytest.raises(UnsafeModelError) as refused:
        library.load_model_file(evil)
    message = str(refused.value)
    assert "evil_fn.keras was refused" in message and named in message
    assert "\n" not in message and len(message) < 300

    # without the scan, Keras' own error (kilobytes of nested configs) is still one line
    monkeypatch.setattr(model_check, "code_in_config", lambda config: None)
    with pytest.raises(InputError) as failed:
        library.load_model_file(evil)
    message = str(failed.value)
    assert message.startswith("evil_fn.keras could not be loaded: Could not")
    assert "\n" not in message and len(message) <= 260


def test_keras_safe_mode_refusal_names_the_file_in_one_line(tmp_path, monkeypatch):
    """A Lambda the scan missed, nested in a functional model: Keras' safe-mode error
    (wrapped in the model's) becomes a one-line 'refused'."""
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3)(inputs)
    outputs = keras.layers.Lambda(lambda t: t * 3.0)(x)
    path = tmp_path / "nested_lambda.keras"
    keras.Model(inputs, outputs).save(path)
    monkeypatch.setattr(model_check, "code_in_config", lambda config: None)
    with pytest.raises(UnsafeModelError) as refused:
        library.load_model_file(path)
    message = str(refused.value)
    assert "nested_lambda.keras was refused" in message and "nothing was run" in message
    assert "safe mode" in message
    assert "\n" not in message and len(message) < 400


def test_strings_that_merely_read_lambda_are_harmless(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 3), name="__lambda__")
    x = keras.layers.Conv2D(2, 3, name="Lambda")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="function_type")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    path = tmp_path / "harmless.keras"
    keras.Model(inputs, outputs, name="Lambda").save(path)
    model = library.load_model_file(path)
    assert model.get_layer("Lambda").filters == 2
