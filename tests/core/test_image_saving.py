"""Pictures written with their parameters: PNG/JPEG/WebP round trips, never over a file
unless asked, nothing half-written after a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from cnnstudio.core import image_saving
from cnnstudio.core.errors import InputError
from cnnstudio.core.files import OutputExistsError
from cnnstudio.core.image_saving import save_image
from cnnstudio.core.images import ImageLoadError, load_image, read_params


def assert_rgb(array: np.ndarray, height: int, width: int) -> None:
    assert array.dtype == np.uint8
    assert array.shape == (height, width, 3)


def picture() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def test_png_round_trip_with_params(tmp_path: Path) -> None:
    params = {
        "job": "dream",
        "layers": {"mixed3": 1.0, "mixed5": np.float32(1.5)},
        "octaves": (-2, 2),
        "steps": np.int64(50),
        "input": tmp_path / "cat.jpg",
        "note": "ünïcode ok",
    }
    path = save_image(tmp_path / "out" / "deep" / "dream.png", picture(), params)
    assert path == tmp_path / "out" / "deep" / "dream.png"
    np.testing.assert_array_equal(load_image(path), picture())
    assert read_params(path) == {
        "job": "dream",
        "layers": {"mixed3": 1.0, "mixed5": 1.5},
        "octaves": [-2, 2],
        "steps": 50,
        "input": str(tmp_path / "cat.jpg"),
        "note": "ünïcode ok",
    }
    assert sorted(p.name for p in path.parent.iterdir()) == ["dream.png"]  # no temp left


@pytest.mark.parametrize("name", ["photo.jpg", "photo.JPEG", "photo.webp"])
def test_lossy_formats_carry_params(tmp_path: Path, name: str) -> None:
    path = save_image(tmp_path / name, picture(), {"seed": 7})
    with Image.open(path) as img:
        assert img.format == ("WEBP" if name.endswith("webp") else "JPEG")
    out = load_image(path)
    assert_rgb(out, 24, 32)
    assert read_params(path) == {"seed": 7}


def test_read_params_absent_or_foreign(tmp_path: Path) -> None:
    save_image(tmp_path / "plain.png", picture())
    assert read_params(tmp_path / "plain.png") is None

    info = PngImagePlugin.PngInfo()
    info.add_text("cnnstudio", "not json {")
    Image.new("RGB", (2, 2)).save(tmp_path / "garbled.png", pnginfo=info)
    assert read_params(tmp_path / "garbled.png") is None

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b'ASCII\x00\x00\x00{"seed": 1}'  # another program's
    Image.new("RGB", (2, 2)).save(tmp_path / "camera.jpg", exif=exif.tobytes())
    assert read_params(tmp_path / "camera.jpg") is None

    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        read_params(tmp_path / "empty.png")


def test_never_overwrites_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "result.png"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="result.png: the file already exists") as info:
        save_image(target, picture())
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, InputError)
    assert target.read_bytes() == b"precious"

    save_image(target, picture(), {"v": 2}, overwrite=True)
    assert read_params(target) == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]


def test_crash_while_writing_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def failing_write(pil, fh, suffix, params_json):
        fh.write(b"\x89PNG half an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_saving, "_write", failing_write)
    with pytest.raises(InputError, match="out.png: the disk is full"):
        save_image(tmp_path / "out.png", picture())
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_bad_suffix_and_arrays(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"out\.bmp: cannot save as '\.bmp'"):
        save_image(tmp_path / "out.bmp", picture())
    with pytest.raises(InputError, match="shape"):
        save_image(tmp_path / "out.png", np.zeros((4, 4, 2), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_save_accepts_gray_and_float(tmp_path: Path) -> None:
    gray = np.full((3, 5), 77, dtype=np.uint8)
    out = load_image(save_image(tmp_path / "gray.png", gray))
    assert_rgb(out, 3, 5)
    assert (out == 77).all()
    floats = np.full((2, 2, 3), 300.7, dtype=np.float32)  # deprocessed, unclipped
    assert (load_image(save_image(tmp_path / "f.png", floats)) == 255).all()
