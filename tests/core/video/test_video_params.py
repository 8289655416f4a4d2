"""The light part of core/video: no OpenCV or imageio at import, sizes, names, metadata."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cnnstudio.core.video.params import (
    VideoInfo,
    VideoParams,
    default_frames_dir,
    even_size,
    fit_longest_side,
    is_video_path,
    sidecar_path,
    video_metadata,
)


def test_params_and_events_import_neither_opencv_nor_imageio():
    code = (
        "import sys\n"
        "import cnnstudio.core.video, cnnstudio.core.video.params, cnnstudio.core.video.events\n"
        "heavy = [m for m in ('cv2', 'imageio', 'imageio_ffmpeg', 'tensorflow', 'keras')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""


def test_sizes_are_even_and_keep_the_aspect():
    assert even_size(65, 49) == (64, 48)
    assert even_size(1, 1) == (2, 2)
    assert fit_longest_side(3840, 2160, 1280) == (1280, 720)
    assert fit_longest_side(1080, 1920, 640) == (360, 640)
    assert fit_longest_side(640, 480, 4096) == (640, 480)  # never scaled up
    info = VideoInfo("v.mp4", 1919, 1081, 30.0, 10, True, 1 / 3, False)
    assert VideoParams().frame_size(info) == (1918, 1080)
    assert VideoParams(size=960).frame_size(info) == (960, 540)


def test_file_names_beside_the_output():
    assert default_frames_dir("/v/out.mp4") == Path("/v/out.frames")
    assert sidecar_path("/v/out.gif") == Path("/v/out.gif.json")
    assert is_video_path("a.MOV") and is_video_path("b.gif") and not is_video_path("c.png")


def test_metadata_says_what_made_the_video():
    meta = video_metadata("dream-zoom", {"zoom": 1.05}, fps=12.0, frames=60, source="/x/in.jpg")
    assert meta == {
        "job": "dream-zoom",
        "params": {"zoom": 1.05},
        "fps": 12.0,
        "frames": 60,
        "source": "in.jpg",
        "complete": True,
    }


def test_variable_rate_text_names_the_file_and_the_intervals():
    info = VideoInfo(
        "/v/phone.mp4", 64, 48, 25.0, 100, True, 4.0, True, True, interval_range=(0.02, 0.1)
    )
    text = info.variable_rate_text()
    assert text.startswith("video phone.mp4 has a variable frame rate (frames 20 to 100 ms")
    assert "25 fps" in text


@pytest.mark.parametrize("fps", [0.0, float("nan"), 500.0])
def test_zoom_frame_rate_is_checked(fps):
    from cnnstudio.core.errors import InputError
    from cnnstudio.core.video.params import ZoomParams

    with pytest.raises(InputError) as caught:
        ZoomParams(fps=fps).validate()
    assert caught.value.param == "fps"
