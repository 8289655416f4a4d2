"""``cnnstudio models``: list (table and JSON), rename, delete, export, import."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import library


def _tiny_model():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(2, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def _meta(accuracy: float, dataset: str) -> dict:
    return {
        "recipe": "cifar-cnn",
        "dataset": dataset,
        "class_names": ["a", "b", "c"],
        "input_size": [8, 8],
        "channels": 3,
        "preprocessing": "none",
        "metrics": {"test_accuracy": np.float32(accuracy)},
        "created": "2026-11-24T10:30:00",
    }


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["models", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_models_list_rename_export_import_delete(tmp_path, capsys, monkeypatch):
    code, out, err = _run(capsys, "list")
    assert code == 0 and out == "" and "the library is empty" in err
    model = _tiny_model()
    library.save_to_library(model, "shapes", _meta(0.5, "shapes.npz"))
    library.save_to_library(model, "Bands", _meta(0.875, "bands"))

    code, out, _ = _run(capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["name", "recipe", "dataset", "accuracy", "created"]
    assert lines[1].split() == ["Bands", "cifar-cnn", "bands", "87.5%", "2026-11-24", "10:30"]
    assert lines[2].split()[:4] == ["shapes", "cifar-cnn", "shapes.npz", "50.0%"]
    assert lines[1].index("cifar-cnn") == lines[0].index("recipe")  # aligned columns

    code, out, _ = _run(capsys, "list", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["Bands", "shapes"]
    assert rows[0]["accuracy"] == pytest.approx(0.875) and rows[0]["classes"] == 3
    assert rows[1]["path"].endswith("shapes.keras")

    code, out, _ = _run(capsys, "rename", "shapes", "forms")
    assert code == 0 and "renamed 'shapes' to 'forms'" in out
    assert [e.name for e in library.list_models()] == ["Bands", "forms"]
    code, _, err = _run(capsys, "rename", "nothing", "x")
    assert code == 2 and "no model named 'nothing'" in err and err.count("\n") == 1

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, _ = _run(capsys, "export", "forms", str(out_dir))
    assert code == 0 and (out_dir / "forms.keras").exists() and (out_dir / "forms.json").exists()
    code, _, err = _run(capsys, "export", "forms", str(out_dir))
    assert code == 2 and "exists already" in err
    assert _run(capsys, "export", "forms", str(out_dir), "--overwrite")[0] == 0

    # delete asks first: no terminal -> refused; "n" -> kept; --yes -> gone
    code, _, err = _run(capsys, "delete", "forms")
    assert code == 2 and "--yes" in err
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    code, out, err = _run(capsys, "delete", "forms")
    assert (
        code == 0
        and "nothing deleted" in err
        and "forms" in [m.name for m in library.list_models()]
    )
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    code, out, _ = _run(capsys, "delete", "forms")
    assert code == 0 and "deleted 'forms'" in out
    assert [e.name for e in library.list_models()] == ["Bands"]

    # import the exported copy under a new name: sidecar comes along
    code, out, _ = _run(capsys, "import", str(out_dir / "forms.keras"), "--name", "back")
    assert code == 0 and "as 'back'" in out
    entry = library.find_model("back")
    assert entry.meta["dataset"] == "shapes.npz" and entry.class_names == ["a", "b", "c"]
    assert _run(capsys, "delete", "back", "-y")[0] == 0

    # unsafe or broken files are refused with one line
    legacy = tmp_path / "old.h5"
    legacy.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 32)
    code, _, err = _run(capsys, "import", str(legacy))
    assert code == 2 and "legacy" in err and err.count("\n") == 1
    assert [e.name for e in library.list_models()] == ["Bands"]
