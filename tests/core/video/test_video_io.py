"""Videos in and out: probe, streamed reading, MP4 and GIF writing, sound, metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from video_clips import HEIGHT, WIDTH, ffmpeg, square_frames, write_clip

from cnnstudio.core.files import OutputExistsError
from cnnstudio.core.video.params import sidecar_path
from cnnstudio.core.video.reader import probe, read_frames
from cnnstudio.core.video.writer import VideoWriter, read_metadata


def test_probe_reads_rate_count_size_and_duration_of_an_mp4(clip):
    info = probe(clip)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == 12.0
    assert (info.frames, info.frames_exact) == (12, True)
    assert info.duration == pytest.approx(1.0)
    assert (info.has_audio, info.variable_rate, info.codec) == (False, False, "h264")


def test_frames_stream_one_by_one_close_to_what_was_written(clip):
    expected = list(square_frames(12))
    frames = read_frames(clip)
    first = next(frames)
    assert first.shape == (HEIGHT, WIDTH, 3) and first.dtype == np.uint8
    rest = list(frames)
    assert len(rest) == 11
    assert nearest(rest[-1], expected) == 11


def nearest(frame: np.ndarray, expected: list[np.ndarray]) -> int:
    """Index of the written frame closest to ``frame`` (H.264 is lossy: close, not
    equal), checked to be close indeed."""
    errors = [np.abs(frame.astype(int) - other).mean() for other in expected]
    assert min(errors) < 3
    return int(np.argmin(errors))


def test_reading_from_a_start_frame_and_at_a_smaller_size(clip):
    expected = list(square_frames(12))
    later = list(read_frames(clip, start=9))
    assert len(later) == 3
    assert nearest(later[0], expected) == 9
    small = next(read_frames(clip, size=(32, 24)))
    assert small.shape == (24, 32, 3)


def test_scaled_frames_do_not_warn_on_the_terminal(clip, caplog):
    """--size scales the frames on purpose: imageio-ffmpeg's warning that the size read
    differs from the source's is dropped (that one only: its other warnings pass)."""
    import logging

    with caplog.at_level(logging.WARNING, logger="imageio_ffmpeg"):
        frames = read_frames(clip, size=(32, 24))
        assert next(frames).shape == (24, 32, 3)
        frames.close()
        logging.getLogger("imageio_ffmpeg").warning("We had to kill ffmpeg to stop it.")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["We had to kill ffmpeg to stop it."]


@pytest.mark.parametrize("suffix, codec", [(".webm", "libvpx-vp9"), (".mov", "libx264")])
def test_webm_and_mov_are_read(tmp_path, suffix, codec):
    path = tmp_path / f"clip{suffix}"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "1", "-c:v", codec, str(path))
    info = probe(path)
    assert (info.frames, info.fps, info.width, info.height) == (10, 10.0, 64, 48)
    assert sum(1 for _ in read_frames(path)) == 10


def test_mp4_round_trip_keeps_fps_and_embeds_the_parameters(tmp_path):
    path = tmp_path / "out.mp4"
    metadata = {"job": "style-video", "params": {"steps": 3, "odd": "a=b;c#d\\e"}}
    with VideoWriter(path, fps=15, size=(WIDTH, HEIGHT), metadata=metadata) as writer:
        for frame in square_frames(10):
            writer.write(frame)
    info = probe(path)
    assert (info.fps, info.frames, info.codec) == (15.0, 10, "h264")
    finished = {**metadata, "frames": 10, "complete": True}
    assert read_metadata(path) == finished
    assert sidecar_path(path).is_file()
    sidecar_path(path).unlink()
    assert read_metadata(path) == finished  # the MP4's own comment tag
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary left


def test_odd_sizes_lose_one_column_and_row_in_mp4_but_not_in_gif(tmp_path):
    frame = np.full((HEIGHT + 1, WIDTH + 1, 3), 90, np.uint8)
    for name, size in (("odd.mp4", (WIDTH, HEIGHT)), ("odd.gif", (WIDTH + 1, HEIGHT + 1))):
        with VideoWriter(tmp_path / name, fps=10, size=(WIDTH + 1, HEIGHT + 1)) as writer:
            writer.write(frame)
            writer.write(frame)
        assert probe(tmp_path / name).size == size


def test_gif_keeps_the_frame_durations(tmp_path):
    path = tmp_path / "out.gif"
    with VideoWriter(path, fps=12, size=(WIDTH, HEIGHT), metadata={"job": "dream-zoom"}) as w:
        for frame in square_frames(12):
            w.write(frame)
    info = probe(path)
    assert (info.frames, info.fps, info.variable_rate) == (12, 12.0, False)
    # GIF delays are whole centiseconds: 1/12 s is shown as 8 or 9 of them
    assert 0.079 < info.interval_range[0] <= info.interval_range[1] < 0.091
    assert read_metadata(path) == {"job": "dream-zoom", "frames": 12, "complete": True}
    gif = tmp_path / "made-by-imageio.gif"
    assert probe(write_clip(gif, count=8, fps=10)).fps == 10.0


def test_sound_is_copied_from_the_source_and_cut_to_the_video(tmp_path, clip_with_audio):
    source = probe(clip_with_audio)
    assert source.has_audio and source.audio_codec == "aac"
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=12, size=(WIDTH, HEIGHT), audio_from=clip_with_audio) as writer:
        for frame in list(square_frames(12))[:6]:  # as if stopped half way
            writer.write(frame)
    info = probe(path)
    assert info.has_audio and info.audio_codec == "aac"
    assert info.frames == 6
    code = ffmpeg_duration_of_audio(path)
    assert code == pytest.approx(0.5, abs=0.1)


def test_sound_the_mp4_cannot_hold_is_converted(tmp_path):
    source = tmp_path / "old.avi"  # Microsoft ADPCM sound: no MP4 tag for it
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=12", "-f", "lavfi", "-i", "sine",
        "-t", "1", "-c:v", "mjpeg", "-c:a", "adpcm_ms", str(source),
    )  # fmt: skip
    info = probe(source)
    assert (info.frames, info.audio_codec) == (12, "adpcm_ms")
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=info.fps, size=info.size, audio_from=source) as writer:
        for frame in read_frames(source):
            writer.write(frame)
    assert probe(path).audio_codec == "aac"


def ffmpeg_duration_of_audio(path) -> float:
    """Seconds of sound in ``path``, by decoding it (ffmpeg's own count)."""
    import re
    import subprocess

    import imageio_ffmpeg

    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:a"]
        + ["-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    hours, minutes, seconds = re.findall(r"time=(\d+):(\d+):([\d.]+)", result.stderr)[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_writer_never_replaces_a_file_and_leaves_nothing_when_abandoned(tmp_path):
    existing = tmp_path / "taken.mp4"
    existing.write_bytes(b"mine")
    with pytest.raises(OutputExistsError):
        VideoWriter(existing, fps=12, size=(WIDTH, HEIGHT))
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=12, size=(WIDTH, HEIGHT)) as writer:
            writer.write(next(square_frames(1)))
            assert not path.exists()  # written under a temporary name until finished
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.mp4"]
    assert existing.read_bytes() == b"mine"


def test_a_writer_without_frames_writes_nothing(tmp_path):
    writer = VideoWriter(tmp_path / "out.mp4", fps=12, size=(WIDTH, HEIGHT), metadata={})
    assert writer.close() is None
    assert list(tmp_path.iterdir()) == []


def test_frames_of_the_wrong_size_are_refused(tmp_path):
    with VideoWriter(tmp_path / "out.mp4", fps=12, size=(WIDTH, HEIGHT)) as writer:
        with pytest.raises(ValueError, match="expected"):
            writer.write(np.zeros((10, 10, 3), np.uint8))
        writer.write(next(square_frames(1)))
    assert probe(tmp_path / "out.mp4").frames == 1


def test_a_new_writer_removes_what_a_killed_writer_of_the_same_video_left(tmp_path):
    import tempfile

    def hidden(name):
        handle, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=tmp_path)
        import os

        os.close(handle)
        return Path(path)

    # kill -9 mid-job: ffmpeg's partial video and the half-written JSON beside it stay
    stale = [hidden("out.mp4"), hidden("out.mp4.json")]
    others = [hidden("other.mp4"), tmp_path / ".out.mp4.notours.part"]
    others[1].write_bytes(b"someone else's")
    with VideoWriter(tmp_path / "out.mp4", fps=12, size=(WIDTH, HEIGHT), metadata={}) as writer:
        writer.write(next(square_frames(1)))
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)
    assert sorted(p.name for p in tmp_path.glob(".out.mp4.*")) == [".out.mp4.notours.part"]
