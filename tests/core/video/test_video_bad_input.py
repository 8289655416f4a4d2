"""Bad input videos: each refusal names the file and says what is wrong."""

from __future__ import annotations

import os
import shutil
import struct

import pytest
from video_clips import WIDTH, ffmpeg, write_clip

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.events import Notice
from cnnstudio.core.video.params import (
    VideoInfo,
    VideoParams,
    check_workload,
    check_zoom_workload,
    fit_longest_side,
    plan_workload,
)
from cnnstudio.core.video.perframe import process_video
from cnnstudio.core.video.reader import probe


def test_a_file_that_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are my notes, not a film\n" * 20)
    with pytest.raises(InputError, match=r"video notes.mp4: .*(not a video|unknown)") as caught:
        probe(path)
    assert caught.value.details["path"] == str(path)


def test_a_damaged_video(tmp_path, clip):
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(clip.read_bytes()[: len(clip.read_bytes()) // 3])
    with pytest.raises(InputError, match="video damaged.mp4: "):
        probe(damaged)


def test_a_video_with_zero_frames(tmp_path):
    # a GIF with its header and no picture in it
    path = tmp_path / "empty.gif"
    path.write_bytes(b"GIF89a" + struct.pack("<HHBBB", 32, 24, 0, 0, 0) + b";")
    with pytest.raises(InputError, match="video empty.gif: holds no frames"):
        probe(path)


def test_a_sound_file_holds_no_video(tmp_path):
    path = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", str(path))
    with pytest.raises(InputError, match="video tone.m4a: holds no video, only sound$"):
        probe(path)


def test_an_mp4_without_any_stream_says_so(tmp_path):
    # an MP4 with its file type and an empty movie header: not a track in it
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    header = struct.pack(">IIIIIIH", 0, 0, 0, 1000, 0, 0x10000, 0x100) + bytes(10) + matrix
    header += bytes(24) + struct.pack(">I", 1)
    mvhd = struct.pack(">I4s", 8 + len(header), b"mvhd") + header
    path = tmp_path / "nothing.mp4"
    path.write_bytes(
        struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 0x200, b"isom")
        + struct.pack(">I4s", 8 + len(mvhd), b"moov")
        + mvhd
    )
    with pytest.raises(InputError, match=r"nothing.mp4: holds no streams at all \(no video, no"):
        probe(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"stream.mp4: is a named pipe \(FIFO\)"):
        probe(fifo)


def test_a_file_over_the_size_limit(clip):
    with pytest.raises(InputError, match="clip.mp4: is .* more than the limit"):
        probe(clip, max_bytes=100)


def test_a_playlist_cannot_send_ffmpeg_to_other_files(tmp_path, clip):
    # an HLS playlist naming a real local video: the guard refuses the playlist format
    playlist = tmp_path / "list.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{clip}\n#EXT-X-ENDLIST\n")
    with pytest.raises(InputError, match="video list.mp4: "):
        probe(playlist)


def test_names_that_look_like_options_or_protocols_are_plain_files(tmp_path, clip):
    for name in ("-y.mp4", "concat:x.mp4"):
        odd = tmp_path / name
        shutil.copy(clip, odd)
        assert probe(odd).frames == 12


def test_variable_frame_rate_is_found_and_said(tmp_path, clip):
    path = tmp_path / "vfr.mp4"
    # frames 0-5 at 12 fps, then a jump of 4 frame times (a recording that dropped frames)
    ffmpeg(
        "-i", str(clip), "-vf", "setpts='(N+if(gt(N,5),4,0))/12/TB'", "-fps_mode", "vfr", str(path)
    )
    info = probe(path)
    assert info.variable_rate
    assert info.interval_range[1] == pytest.approx(5 / 12, abs=0.01)
    events = list(process_video(info, lambda frame, *_: frame.copy(), VideoParams(temporal=False)))
    notices = [event.text for event in events if isinstance(event, Notice)]
    assert notices and notices[0].startswith("video vfr.mp4 has a variable frame rate")
    assert not probe(clip).variable_rate


def _info(width: int, height: int, frames: int, exact: bool = True) -> VideoInfo:
    return VideoInfo(
        path="/videos/holiday.mp4",
        width=width,
        height=height,
        fps=30.0,
        frames=frames,
        frames_exact=exact,
        duration=frames / 30,
        has_audio=True,
    )


def test_a_long_4k_video_is_stopped_before_it_starts_with_a_size_that_fits():
    with pytest.raises(InputError) as caught:
        check_workload(_info(3840, 2160, 300), seconds_per_megapixel=4.0)
    error = caught.value
    assert error.remedy == Remedy.LONG_JOB and error.param == "size"
    assert error.details["own_size"] == 3840 and "frames" not in error.details
    text = str(error)
    assert text.startswith(
        "video holiday.mp4: a long job (over 2:00:00), 300 frames at 3840x2160: about 2:45:53"
    )
    side = error.details["size"]
    assert f"; at {side}x" in text and side < 3840
    # the size offered brings the job under the budget
    assert plan_workload(300, *fit_longest_side(3840, 2160, side), 4.0).seconds <= 7200
    # a 4K video that is quick goes ahead: the rule is the time, not the size
    assert not check_workload(_info(3840, 2160, 30), seconds_per_megapixel=4.0).too_long


def test_a_long_video_gets_a_size_that_fits_the_budget():
    info = _info(1280, 720, 20_000, exact=False)
    with pytest.raises(InputError, match="a long job .*about 20000 frames") as caught:
        check_workload(info, seconds_per_megapixel=1.0, budget_seconds=3600, param="max_size")
    assert caught.value.param == "max_size"
    plan = plan_workload(20_000, 1280, 720, 1.0, budget_seconds=3600)
    assert plan.suggested_seconds <= 3600 < plan.seconds
    assert plan.suggested_size[0] / plan.suggested_size[1] == pytest.approx(16 / 9, rel=0.02)


def test_a_long_job_of_small_frames_is_refused_with_the_frames_that_fit():
    """128x96 cannot be made smaller usefully: the job is still refused when it is long,
    and the first frames that fit are offered, with their estimate."""
    info = _info(128, 96, 2400)
    rate = 3.0 * 3600 / (2400 * 128 * 96 / 1e6)  # three hours in all
    with pytest.raises(InputError) as caught:
        check_workload(info, seconds_per_megapixel=rate)
    error = caught.value
    assert error.remedy == Remedy.LONG_JOB and "size" not in error.details
    assert (error.details["frames"], error.details["frames_param"]) == (1600, "max_frames")
    assert str(error).endswith(
        "2400 frames at 128x96: about 3:00:00; the first 1600 frames about 2:00:00"
    )
    # a bigger video whose smallest useful size is still too long: frames, not a size
    info = _info(320, 240, 12_000)
    rate = 100 * 3600 / (12_000 * 320 * 240 / 1e6)  # a hundred hours
    plan = plan_workload(12_000, 320, 240, rate)
    assert plan.suggested_size is None and plan.suggested_frames == 240
    assert plan.suggested_frames_seconds <= 7200
    zoom = pytest.raises(InputError)
    with zoom as caught:
        check_zoom_workload("cat.jpg", 12_000, (320, 240), rate)
    assert caught.value.details["frames_param"] == "zoom_frames"


def test_a_small_short_video_goes_ahead():
    workload = check_workload(_info(WIDTH, 48, 12), seconds_per_megapixel=30.0)
    assert workload.suggested_size is None and not workload.too_long
    assert workload.seconds == pytest.approx(12 * 30.0 * WIDTH * 48 / 1e6)


def test_a_gif_clip_probes_like_a_video(tmp_path):
    info = probe(write_clip(tmp_path / "clip.gif", count=6, fps=10))
    assert (info.frames, info.fps, info.codec) == (6, 10.0, "gif")
