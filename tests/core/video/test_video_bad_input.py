"""Bad input videos: each refusal names the file and says what is wrong."""

from __future__ import annotations

import os
import shutil
import struct

import pytest
from video_clips import WIDTH, ffmpeg, write_clip

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.events import Notice
from cnnstudio.core.video.params import VideoInfo, VideoParams, check_workload, plan_workload
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
    with pytest.raises(InputError, match="video tone.m4a: holds no video"):
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


def test_a_4k_video_is_stopped_before_it_starts_with_a_smaller_size():
    with pytest.raises(InputError) as caught:
        check_workload(_info(3840, 2160, 300), seconds_per_megapixel=2.0)
    error = caught.value
    assert error.remedy == Remedy.SMALLER_SIZE and error.param == "size"
    assert error.details["size"] <= 1280
    text = str(error)
    assert text.startswith("video holiday.mp4: a 4K-class video, 300 frames at 3840x2160")
    assert "about 1:22:57" in text and "at 1280x720 about" in text


def test_a_long_video_gets_a_size_that_fits_the_budget():
    info = _info(1280, 720, 20_000, exact=False)
    with pytest.raises(InputError, match="a long job, about 20000 frames") as caught:
        check_workload(info, seconds_per_megapixel=1.0, budget_seconds=3600, param="max_size")
    assert caught.value.param == "max_size"
    plan = plan_workload(20_000, 1280, 720, 1.0, budget_seconds=3600)
    assert plan.suggested_seconds <= 3600 < plan.seconds
    assert plan.suggested_size[0] / plan.suggested_size[1] == pytest.approx(16 / 9, rel=0.02)


def test_a_small_short_video_goes_ahead():
    workload = check_workload(_info(WIDTH, 48, 12), seconds_per_megapixel=30.0)
    assert workload.suggested_size is None
    assert workload.seconds == pytest.approx(12 * 30.0 * WIDTH * 48 / 1e6)


def test_a_gif_clip_probes_like_a_video(tmp_path):
    info = probe(write_clip(tmp_path / "clip.gif", count=6, fps=10))
    assert (info.frames, info.fps, info.codec) == (6, 10.0, "gif")
