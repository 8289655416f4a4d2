"""The image door against a corpus of awkward files generated here: every colour mode,
EXIF rotation, animations, truncated, corrupt, empty and text files, a decompression bomb,
big photos (saving and the parameters round trip: test_image_saving.py)."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from PIL.JpegImagePlugin import JpegImageFile

from cnnstudio.core import images
from cnnstudio.core.errors import InputError
from cnnstudio.core.images import (
    ImageLoadError,
    image_from_pil,
    load_image,
    noise_image,
    read_params,
    resize_max_side,
    resize_to,
)

RED = (255, 0, 0)
WHITE = (255, 255, 255)


def assert_rgb(array: np.ndarray, height: int, width: int) -> None:
    assert array.dtype == np.uint8
    assert array.shape == (height, width, 3)


def gradient(width: int, height: int, low: float, high: float, dtype: str) -> np.ndarray:
    return np.linspace(low, high, width * height).reshape(height, width).astype(dtype)


# ------------------------------------------------------------------ colour modes


def test_grayscale_and_one_bit(tmp_path: Path) -> None:
    Image.new("L", (6, 4), 100).save(tmp_path / "gray.png")
    gray = load_image(tmp_path / "gray.png")
    assert_rgb(gray, 4, 6)
    assert (gray == 100).all()

    bits = Image.new("1", (8, 2), 0)
    bits.putpixel((3, 1), 1)
    bits.save(tmp_path / "bits.png")
    out = load_image(tmp_path / "bits.png")
    assert_rgb(out, 2, 8)
    assert tuple(out[1, 3]) == WHITE
    assert tuple(out[0, 0]) == (0, 0, 0)


def test_alpha_is_composited_over_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 2), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent black must become white
    rgba.putpixel((1, 0), (0, 0, 255, 128))  # half blue over white
    rgba.save(tmp_path / "rgba.png")
    out = load_image(tmp_path / "rgba.png")
    assert tuple(out[0, 0]) == WHITE
    assert tuple(out[1, 1]) == RED
    r, g, b = (int(v) for v in out[0, 1])
    assert 120 <= r <= 135 and 120 <= g <= 135 and b == 255

    la = Image.new("LA", (2, 1), (0, 255))
    la.putpixel((1, 0), (0, 0))
    la.save(tmp_path / "la.png")
    out = load_image(tmp_path / "la.png")
    assert tuple(out[0, 0]) == (0, 0, 0)
    assert tuple(out[0, 1]) == WHITE


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9)
    pal = Image.new("P", (3, 1), 1)
    pal.putpalette(palette)
    pal.putpixel((2, 0), 2)
    pal.save(tmp_path / "pal.png")
    out = load_image(tmp_path / "pal.png")
    assert tuple(out[0, 0]) == RED
    assert tuple(out[0, 2]) == (0, 255, 0)

    pal.putpixel((0, 0), 0)
    pal.save(tmp_path / "pal_t.png", transparency=0)  # index 0 (black) is transparent
    out = load_image(tmp_path / "pal_t.png")
    assert tuple(out[0, 0]) == WHITE
    assert tuple(out[0, 1]) == RED


def test_colour_key_transparency(tmp_path: Path) -> None:
    key = Image.new("RGB", (2, 1), (0, 0, 255))
    key.putpixel((1, 0), RED)
    key.save(tmp_path / "key.png", transparency=(0, 0, 255))  # tRNS: blue is see-through
    out = load_image(tmp_path / "key.png")
    assert tuple(out[0, 0]) == WHITE
    assert tuple(out[0, 1]) == RED


def test_palette_alpha_in_memory() -> None:
    pa = Image.new("PA", (2, 1))
    pa.putpalette([255, 0, 0] * 256)
    pa.putpixel((0, 0), (0, 255))
    pa.putpixel((1, 0), (0, 0))
    out = image_from_pil(pa)
    assert tuple(out[0, 0]) == RED
    assert tuple(out[0, 1]) == WHITE


def test_cmyk(tmp_path: Path) -> None:
    Image.new("CMYK", (4, 3), (0, 255, 255, 0)).save(tmp_path / "cmyk.tif")
    out = load_image(tmp_path / "cmyk.tif")
    assert_rgb(out, 3, 4)
    assert (out == RED).all()


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("int32.tif", gradient(64, 8, -70000, 70000, "int32")),  # I
        ("float.tif", gradient(64, 8, -1.5, 3.0, "float32")),  # F
    ],
)
def test_wide_modes_stretched_not_clipped(tmp_path: Path, name: str, values: np.ndarray) -> None:
    Image.fromarray(values).save(tmp_path / name)
    out = load_image(tmp_path / name)
    assert_rgb(out, 8, 64)
    plane = out[:, :, 0].astype(int)
    assert (out[:, :, 0] == out[:, :, 1]).all() and (out[:, :, 1] == out[:, :, 2]).all()
    assert plane.min() == 0 and plane.max() == 255
    flat = plane.ravel()
    assert (np.diff(flat) >= 0).all()  # the gradient stays a gradient
    # Clipping (Pillow's plain convert) would leave almost everything at 255.
    assert 100 <= int(np.median(flat)) <= 155


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("sixteen.png", gradient(64, 8, 1000, 5000, "<u2")),  # I;16 PNG: a dark picture
        ("sixteen_be.tif", gradient(64, 8, 300, 60000, ">u2")),  # I;16B
    ],
)
def test_sixteen_bit_scaled_by_nominal_range(tmp_path: Path, name: str, values: np.ndarray) -> None:
    Image.fromarray(values).save(tmp_path / name)
    assert Image.open(tmp_path / name).mode.startswith("I;16")
    out = load_image(tmp_path / name)
    assert_rgb(out, 8, 64)
    expected = np.rint(values.astype(np.float64) / 257.0).astype(np.uint8)
    for channel in range(3):
        assert np.array_equal(out[:, :, channel], expected)  # 65535 -> 255, not stretched


def test_dark_sixteen_bit_stays_dark(tmp_path: Path) -> None:
    Image.fromarray(gradient(64, 8, 1000, 5000, "<u2")).save(tmp_path / "dark.png")
    out = load_image(tmp_path / "dark.png")
    assert out.max() <= 20  # 5000/65535 of full brightness; a stretch would reach 255


def test_in_range_float_and_int32_kept() -> None:
    unit = image_from_pil(Image.fromarray(gradient(16, 2, 0.0, 0.5, "float32")))
    assert unit.max() == 128 and unit.min() == 0  # F in 0..1: times 255
    pixels = image_from_pil(Image.fromarray(gradient(16, 2, 10.0, 200.0, "float32")))
    assert pixels.min() == 10 and pixels.max() == 200  # F in 0..255: kept
    ints = image_from_pil(Image.fromarray(gradient(16, 2, 0, 100, "int32")))
    assert ints.min() == 0 and ints.max() == 100  # I in 0..255: kept, not stretched


def test_float_with_nan_and_flat_sixteen_bit() -> None:
    data = np.array([[0.0, np.nan, 0.5, 1.0]], dtype=np.float32)
    out = image_from_pil(Image.fromarray(data))
    assert list(out[0, :, 0]) == [0, 0, 128, 255]

    flat = image_from_pil(Image.fromarray(np.full((2, 2), 65535, dtype=np.uint16)))
    assert (flat == 255).all()


# -------------------------------------------------- orientation, animation, size


@pytest.mark.parametrize(
    ("name", "orientation", "shape", "red_at"),
    [
        ("rotated.jpg", 6, (40, 20), (2, 17)),  # 90 clockwise: stored top-left -> top-right
        ("rotated.png", 8, (40, 20), (37, 2)),  # 90 anticlockwise: -> bottom-left
        ("rotated.webp", 3, (20, 40), (17, 37)),  # 180: -> bottom-right
    ],
)
def test_exif_orientation_applied(
    tmp_path: Path, name: str, orientation: int, shape: tuple, red_at: tuple
) -> None:
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste(RED, (0, 0, 10, 10))  # red in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(tmp_path / name, exif=exif.tobytes(), quality=95)

    out = load_image(tmp_path / name)
    assert_rgb(out, *shape)
    red = out[red_at].astype(int)
    opposite = out[shape[0] - 1 - red_at[0], shape[1] - 1 - red_at[1]].astype(int)
    assert red[0] > 200 and red[2] < 60
    assert opposite[2] > 200 and opposite[0] < 60


@pytest.mark.parametrize(
    ("name", "fmt"), [("anim.gif", "GIF"), ("anim.png", "PNG"), ("anim.webp", "WEBP")]
)
def test_first_frame_of_animation(tmp_path: Path, name: str, fmt: str) -> None:
    frames = [Image.new("RGB", (8, 6), c) for c in (RED, (0, 255, 0), (0, 0, 255))]
    frames[0].save(
        tmp_path / name, format=fmt, save_all=True, append_images=frames[1:], lossless=True
    )
    out = load_image(tmp_path / name)
    assert_rgb(out, 6, 8)
    r, g, b = (int(v) for v in out[3, 4])
    assert r > 240 and g < 15 and b < 15


def test_big_jpeg_is_drafted_and_downscaled(tmp_path: Path, monkeypatch) -> None:
    photo = Image.new("RGB", (2400, 1600), RED)
    photo.paste((0, 0, 255), (1200, 0, 2400, 1600))  # right half blue
    photo.save(tmp_path / "big.jpg", quality=90)

    drafts: list[tuple] = []
    original_draft = JpegImageFile.draft

    def spy(self, mode, size):
        result = original_draft(self, mode, size)
        drafts.append(self.size)  # the size the decoder will actually produce
        return result

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    out = load_image(tmp_path / "big.jpg", max_side=300)
    assert_rgb(out, 200, 300)
    assert drafts == [(300, 200)]  # decoded at 1/8 scale, never at full size
    assert out[100, 20, 0] > 200 and out[100, 280, 2] > 200


def test_big_png_downscaled_small_left_alone(tmp_path: Path) -> None:
    Image.new("RGB", (900, 300), RED).save(tmp_path / "wide.png")
    assert_rgb(load_image(tmp_path / "wide.png", max_side=90), 30, 90)
    assert_rgb(load_image(tmp_path / "wide.png", max_side=5000), 300, 900)
    assert_rgb(load_image(tmp_path / "wide.png"), 300, 900)
    with pytest.raises(InputError, match="maximum image side"):
        load_image(tmp_path / "wide.png", max_side=0)


# ----------------------------------------------------------------- bombs


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@pytest.fixture(scope="module")
def bomb_bytes() -> bytes:
    """A valid 1-bit 30000x30000 PNG: ~110 KB on disk, 900 Mpx (2.7 GB as RGB) decoded.
    Built by streaming zlib over blank rows, so making it costs no memory either."""
    size = 30000
    row = b"\x00" * (1 + size // 8)  # filter byte + packed bits
    deflate = zlib.compressobj(1)
    rows_per_piece = 1000
    pieces = [deflate.compress(row * rows_per_piece) for _ in range(size // rows_per_piece)]
    pixels = b"".join(pieces) + deflate.flush()
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def bomb(tmp_path: Path, bomb_bytes: bytes) -> Path:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_bytes)
    return path


def test_bomb_refused(bomb: Path) -> None:
    with pytest.raises(ImageLoadError, match=r"bomb\.png: .*900,000,000 pixels.*bomb"):
        load_image(bomb, max_side=512)


def test_bomb_refused_from_header_even_if_pillow_limit_is_off(bomb: Path, monkeypatch) -> None:
    path = bomb
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    def no_decoding(self):
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageLoadError, match="900,000,000 pixels"):
        load_image(path)
    with pytest.raises(ImageLoadError, match="900,000,000 pixels"):
        read_params(path)


def test_soft_limit_warning_does_not_escape(tmp_path: Path, monkeypatch) -> None:
    Image.new("RGB", (40, 30), RED).save(tmp_path / "soft.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1200 px: over the soft limit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = load_image(tmp_path / "soft.png")
    assert_rgb(out, 30, 40)


# --------------------------------------------------------------- failures


def encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "empty"),
        ("notes.jpg", b"shopping list:\n- milk\n- eggs\n", "text file"),
        ("noise.png", bytes(range(256)) * 4, "not an image format"),
        ("cut.png", encoded("PNG")[: len(encoded("PNG")) // 2], "truncated"),
        ("cut.jpg", encoded("JPEG")[:1800], "truncated"),
        ("cut_header.png", encoded("PNG")[:40], "starts like a PNG"),
    ],
)
def test_unreadable_files_name_file_and_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert reason in message
    assert "\n" not in message
    assert info.value.path == path
    assert isinstance(info.value, InputError)


def test_corrupt_data(tmp_path: Path) -> None:
    png = bytearray(encoded("PNG"))
    start = len(png) // 3
    for i in range(start, start + 60):  # garble the compressed pixel data
        png[i] ^= 0x5A
    # JPEG decoders shrug off garbled pixel data, so garble the Huffman table instead.
    jpeg = bytearray(encoded("JPEG"))
    table = jpeg.index(b"\xff\xc4")
    jpeg[table + 4 : table + 24] = b"\xff" * 20
    for name, data in (("bad.png", png), ("bad.jpg", jpeg)):
        (tmp_path / name).write_bytes(bytes(data))
        with pytest.raises(ImageLoadError, match=rf"^{name}: the image data is corrupt"):
            load_image(tmp_path / name)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match=r"^nope\.png: no such file"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "pics").mkdir()
    with pytest.raises(ImageLoadError, match=r"^pics: this is a folder"):
        load_image(tmp_path / "pics")


# ----------------------------------------------------------- array helpers


def test_resize_helpers() -> None:
    image = np.zeros((100, 40, 3), dtype=np.uint8)
    assert_rgb(resize_max_side(image, 50), 50, 20)
    assert resize_max_side(image, 500).shape == (100, 40, 3)  # never enlarges
    assert_rgb(resize_to(image, 7, 9), 9, 7)
    assert_rgb(resize_to(image, 80, 200), 200, 80)
    with pytest.raises(InputError):
        resize_to(image, 0, 10)


def test_noise_image() -> None:
    a = noise_image(30, 20, seed=3)
    assert_rgb(a, 20, 30)
    np.testing.assert_array_equal(a, noise_image(30, 20, seed=3))
    assert not np.array_equal(a, noise_image(30, 20, seed=4))
    assert a.std() > 5  # noise, not a flat grey
    with pytest.raises(InputError):
        noise_image(0, 5)


def test_iter_image_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.PNG", "a.jpg", "sub/c.webp", ".hidden/d.png", "readme.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in images.iter_image_files([tmp_path])]
    assert found == ["a.jpg", "b.PNG", "sub/c.webp"]
    assert list(images.iter_image_files([tmp_path / "readme.txt"])) == [tmp_path / "readme.txt"]
