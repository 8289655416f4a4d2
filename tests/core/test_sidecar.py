"""Sidecars are untrusted input: a hostile one damages its own entry, named with the reason,
and nothing else; a model and its sidecar are one pair (issue 10, bug 1 and 2)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import library, paths, sidecar
from cnnstudio.core.errors import InputError

GOOD = {"class_names": ["a", "b", "c"], "input_size": [8, 8], "channels": 3}

# (sidecar text, a fragment of the reason)
HOSTILE = {
    "metrics-list": ('{"metrics": ["x"]}', "metrics is a list of 1"),
    "class-names-number": ('{"class_names": 5}', "class_names is a number"),
    "class-name-object": ('{"class_names": [{"x": 1}]}', "class_names[0] is an object"),
    "input-size-text": ('{"input_size": ["a", "b"]}', "input_size is ['a', 'b']"),
    "input-size-number": ('{"input_size": 7}', "input_size is a number"),
    "input-size-huge": ('{"input_size": [12000, 12000]}', "of 1 to 2048 pixels"),
    "input-size-float": ('{"input_size": [8.5, 8]}', "not [height, width]"),
    "channels-text": ('{"channels": "three"}', "channels is 'three', not 1 or 3"),
    "channels-4": ('{"channels": 4}', "not 1 or 3"),
    "preprocessing": ('{"preprocessing": "os.system"}', "preprocessing is 'os.system'"),
    "metric-text": ('{"metrics": {"test_accuracy": "99%"}}', "metric 'test_accuracy' is text"),
    "recipe-list": ('{"recipe": ["x"]}', "recipe is a list of 1"),
    "recipe-long": (json.dumps({"recipe": "x" * 5000}), "at most 1000 characters"),
    "lone-surrogate": ('{"class_names": ["\\ud800"]}', "not valid Unicode"),
    "top-level-list": ("[1, 2]", "is a list of 2, not a JSON object"),
    "not-json": ("{not json", "is not valid JSON"),
    "not-utf8": (b"\xff\xfe{}", "is not UTF-8"),
    "deep-600": ("[" * 600 + "]" * 600, "nested more than 8 levels"),
    "deep-100000": ("[" * 100_000 + "]" * 100_000, "nested more than 8 levels"),
    "huge-int": ('{"channels": ' + "9" * 5000 + "}", "is not valid JSON"),
}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def _library_pair(model_file, name: str, text: str | bytes | None):
    folder = paths.library_dir()
    shutil.copyfile(model_file, folder / f"{name}.keras")
    if text is not None:
        data = text.encode() if isinstance(text, str) else text
        (folder / f"{name}.json").write_bytes(data)
    return folder / f"{name}.keras"


@pytest.mark.parametrize(("text", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_sidecar_damages_its_entry_only(model_file, text, reason):
    _library_pair(model_file, "bad", text)
    _library_pair(model_file, "good", json.dumps(GOOD))
    bad, good = library.list_models()
    assert bad.name == "bad" and reason in bad.damaged and "bad.json" in bad.damaged
    assert "\n" not in bad.damaged and bad.meta == {}
    assert bad.class_names == [] and bad.input_size is None and bad.channels == 3
    assert "damaged" in bad.describe()
    assert not good.damaged and good.input_size == (8, 8) and good.class_names == ["a", "b", "c"]
    with pytest.raises(InputError, match="model 'bad' cannot be used: sidecar bad.json"):
        library.load_entry(bad)
    with pytest.raises(InputError, match="cannot be used"):
        library.load_model_file(bad.path)
    library.load_entry(good)


def test_models_list_and_classify_with_a_hostile_library(model_file, tmp_path, capsys):
    """The reported crashes: `models list` (AttributeError), `models list --json`
    (TypeError), classify with lying fields ("unexpected error", exit 1)."""
    from PIL import Image

    for key in ("metrics-list", "class-names-number", "input-size-text", "channels-text"):
        _library_pair(model_file, key, HOSTILE[key][0])
    _library_pair(model_file, "good", json.dumps(GOOD))
    assert main(["models", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.count("DAMAGED") == 4 and "good" in out
    assert "'metrics-list' is damaged: sidecar metrics-list.json: metrics is a list" in err
    assert main(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["good"]["damaged"] is None and rows["good"]["classes"] == 3
    assert "class_names is a number" in rows["class-names-number"]["damaged"]

    picture = tmp_path / "p.png"
    Image.new("RGB", (8, 8), "red").save(picture)
    for key in ("input-size-text", "channels-text"):
        assert main(["classify", key, str(picture)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"cnnstudio: model '{key}' cannot be used: sidecar {key}.json")
        assert err.count("\n") == 1 and "unexpected" not in err
    assert main(["classify", "good", str(picture)]) == 0


def test_import_refuses_a_hostile_sidecar_and_checks_a_good_one(model_file, tmp_path, capsys):
    shared = tmp_path / "shared.keras"
    shutil.copyfile(model_file, shared)
    shared.with_suffix(".json").write_text('{"input_size": [12000, 12000]}')
    assert main(["models", "import", str(shared)]) == 2
    err = capsys.readouterr().err
    assert "cannot import shared.keras: sidecar shared.json: input_size" in err
    assert library.list_models() == []
    shared.with_suffix(".json").write_text(json.dumps({**GOOD, "extra": {"kept": [1]}}))
    entry = library.import_model(shared)
    assert entry.meta["class_names"] == ["a", "b", "c"] and entry.meta["extra"] == {"kept": [1]}
    assert entry.meta["model_bytes"] == os.path.getsize(entry.path)


def test_a_sidecar_of_another_model_file_is_a_damaged_pair(model_file, tmp_path):
    """What a save cut between its two renames leaves: never read as valid."""
    entry = library.save_to_library(_model(), "pair", GOOD)
    recorded = json.loads(entry.sidecar_path.read_text())
    assert recorded["model_bytes"] == entry.path.stat().st_size
    assert len(recorded["model_sha256"]) == 64
    # another model file under the same sidecar: the size differs
    shutil.copyfile(model_file, entry.path)
    assert "was written for another version of pair.keras" in library.list_models()[0].damaged
    # same size, other bytes: another file (its stamp differs), so the list hashes it
    data = bytearray(model_file.read_bytes())
    recorded["model_bytes"] = len(data)
    entry.sidecar_path.write_text(json.dumps(recorded))
    entry.path.write_bytes(bytes(data))
    assert "written for another version" in library.list_models()[0].damaged
    with pytest.raises(InputError, match="written for another version"):
        library.load_entry(library.list_models()[0])


def _model():
    import keras

    return keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])


def test_what_is_saved_is_checked_first():
    with pytest.raises(InputError, match="cannot be saved: channels is 5"):
        library.save_to_library(_model(), "x", {"channels": 5})
    assert library.list_models() == []
    assert sidecar.validate({"input_size": [None, None], "channels": None}) == {
        "input_size": None,
        "channels": None,
    }
