"""``cnnstudio classify``: output formats, broken files, Grad-CAM files, exit codes."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from cnnstudio.cli.main import main
from cnnstudio.core import image_saving, images, library

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


@pytest.fixture
def model_file(tiny_model):
    entry = library.save_to_library(
        tiny_model, "tiny", {"class_names": CLASSES, "input_size": [32, 32], "channels": 3}
    )
    return str(entry.path)


@pytest.fixture
def batch(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        image_saving.save_image(folder / f"p{i}.png", images.noise_image(48, 40, seed=i))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return folder


def test_json_lists_every_image_and_the_broken_one(model_file, batch, capsys):
    code = main(["classify", model_file, str(batch), "--top", "2", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    records = json.loads(captured.out)
    assert [os.path.basename(r["file"]) for r in records] == [
        "broken.png",
        "p0.png",
        "p1.png",
        "p2.png",
    ]
    broken, *good = records
    assert set(broken) == {"file", "error"} and "broken.png" in broken["error"]
    for record in good:
        assert set(record) == {"file", "predictions"}
        labels = [p["label"] for p in record["predictions"]]
        probabilities = [p["probability"] for p in record["predictions"]]
        assert len(labels) == 2 and set(labels) <= set(CLASSES)
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1
    assert "broken.png" in captured.err


def test_text_output_and_library_name(tiny_model, batch, capsys, model_file):
    code = main(["classify", "tiny", str(batch / "p0.png")])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1
    assert out[0].startswith(str(batch / "p0.png")) and "%" in out[0]


def test_csv_and_gradcam_files(model_file, batch, tmp_path, capsys):
    out_csv = tmp_path / "out.csv"
    cams = tmp_path / "cams"
    args = ["classify", model_file, str(batch), "--csv", str(out_csv), "--gradcam", str(cams)]
    assert main(args) == 0
    rows = list(csv.reader(out_csv.open(encoding="utf-8")))
    assert rows[0][:3] == ["file", "label_1", "probability_1"] and len(rows) == 5
    written = sorted(p.name for p in cams.iterdir())
    assert written == ["p0_gradcam.png", "p1_gradcam.png", "p2_gradcam.png"]
    overlay = images.load_image(cams / "p0_gradcam.png")
    assert overlay.shape == (40, 48, 3)
    params = images.read_params(cams / "p0_gradcam.png")
    assert params["layer"] == "conv" and params["class"] in CLASSES
    capsys.readouterr()
    # nothing is overwritten without --overwrite
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0


def test_no_readable_image_exits_2(model_file, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    assert main(["classify", model_file, str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["error"]
    assert "could be classified" in captured.err


def test_imagenet_backbone_with_random_weights(tmp_path, capsys):
    picture = tmp_path / "pic.png"
    image_saving.save_image(picture, images.noise_image(64, 64, seed=1))
    code = main(
        ["classify", "mobilenet_v2", str(picture), "--weights", "random", "--top", "3", "--json"]
    )
    captured = capsys.readouterr()
    assert code == 0
    predictions = json.loads(captured.out)[0]["predictions"]
    assert len(predictions) == 3
    assert "untrained" in captured.err


def test_malicious_model_exits_2_with_one_line_and_runs_nothing(tmp_path, capsys, monkeypatch):
    import keras

    marker = tmp_path / "marker"
    monkeypatch.setenv("CNNSTUDIO_TEST_MARKER", str(tmp_path / "at-build"))
    payload = lambda x: (  # noqa: E731  a lambda is what a Lambda layer serialises
        __import__("pathlib").Path(__import__("os").environ["CNNSTUDIO_TEST_MARKER"]).touch(),
        x,
    )[1]
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Lambda(payload)])
    evil = tmp_path / "evil.keras"
    model.save(evil)
    monkeypatch.setenv("CNNSTUDIO_TEST_MARKER", str(marker))
    picture = tmp_path / "pic.png"
    image_saving.save_image(picture, np.zeros((16, 16, 3), np.uint8))

    assert main(["classify", str(evil), str(picture)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cnnstudio: ") and "refused" in err[0]
    assert not marker.exists()


def test_bad_arguments_exit_2(model_file, tmp_path, capsys):
    picture = tmp_path / "pic.png"
    image_saving.save_image(picture, np.zeros((16, 16, 3), np.uint8))
    assert main(["classify", "resnet50", str(picture)]) == 2
    assert "mobilenet_v2" in capsys.readouterr().err
    assert main(["classify", model_file, str(picture), "--top", "0"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", model_file, str(picture), "--json", "--csv", "x.csv"])
    assert exit_info.value.code == 2


def test_a_gradcam_error_is_one_images_row_not_the_end_of_the_batch(
    tiny_model, model_file, batch, tmp_path, capsys
):
    """--layer on the dense head: no heat map for any image, but every image is still
    classified and its JSON object / CSV row carries the Grad-CAM error."""
    dense = tiny_model.layers[-1].name
    cams = tmp_path / "cams"
    args = ["classify", model_file, str(batch), "--gradcam", str(cams), "--layer", dense]
    assert main(args + ["--json"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert len(records) == 4
    good = [r for r in records if "predictions" in r]
    assert len(good) == 3
    for record in good:
        assert "not a convolutional feature map" in record["gradcam_error"]
        assert "gradcam" not in record
    assert "choose one of: conv" in captured.err

    out_csv = tmp_path / "out.csv"
    assert main(args + ["--csv", str(out_csv)]) == 0
    rows = list(csv.reader(out_csv.open(encoding="utf-8")))
    assert rows[0][-2:] == ["error", "gradcam_error"] and len(rows) == 5
    assert all("not a convolutional" in row[-1] for row in rows[1:] if row[1])


def test_imagenet_weights_download_is_shown_on_stderr(tmp_path, capsys, fake_weights_download):

    from cnnstudio.core import backbones

    original = backbones.build_backbone_uncached("mobilenet_v2", "random", include_top=True)
    original.save_weights(tmp_path / "top.weights.h5")
    payload = (tmp_path / "top.weights.h5").read_bytes()

    fake_weights_download(payload)
    picture = tmp_path / "pic.png"
    image_saving.save_image(picture, images.noise_image(64, 64, seed=1))
    try:
        code = main(["classify", "mobilenet_v2", str(picture), "--top", "2"])
    finally:
        backbones.clear_model_cache()  # the "imagenet" model must not reach other tests
    captured = capsys.readouterr()
    assert code == 0, captured.err
    name = backbones.get_backbone("mobilenet_v2").weights_file(True)
    total = round(len(payload) / 2**20)
    lines = [line for line in captured.err.splitlines() if line.startswith("downloading ")]
    assert lines and lines[-1] == f"downloading {name}: {total}/{total} MB"
    assert all(line.startswith(f"downloading {name}: ") for line in lines)
    assert captured.out.startswith(f"{picture}: ")  # then it classified
    assert "untrained" not in captured.err
