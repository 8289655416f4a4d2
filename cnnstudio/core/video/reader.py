"""Videos in: what a file holds (:func:`probe`) and its frames, one at a time
(:func:`read_frames`), never the whole video in memory.

:func:`probe` lets ffmpeg walk the video's packets without decoding them (``-c copy`` into
the ``framecrc`` muxer, read line by line): that counts the frames exactly and gives every
frame's time stamp, from which the mean rate and a variable frame rate follow, in time
proportional to the file's size and memory that does not grow with it. It then decodes
the first frame, which proves the video can be decoded and gives the size as shown
(rotation applied). Every refusal names the file.
"""

from __future__ import annotations

import heapq
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from cnnstudio.core import files
from cnnstudio.core.video import ffmpeg
from cnnstudio.core.video.params import MAX_VIDEO_BYTES, VideoInfo

#: packets counted at most; past it the count is estimated from the duration
MAX_COUNTED_FRAMES = 500_000


class _ScaledOnPurpose(logging.Filter):
    """imageio-ffmpeg warns "The frame size for reading (48, 36) is different from the
    source frame size (64, 48)" whenever the frames come scaled, which :func:`read_frames`
    asks for (``size``): that one warning is ours to drop; any other passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("The frame size for reading ")


_imageio_logger = logging.getLogger("imageio_ffmpeg")
if not any(isinstance(f, _ScaledOnPurpose) for f in _imageio_logger.filters):
    _imageio_logger.addFilter(_ScaledOnPurpose())
#: B-frames come in decode order: time stamps are sorted within this window
_REORDER_WINDOW = 64
#: intervals that differ from the mean by more than this share (and a tick) mean VFR
_VFR_TOLERANCE = 0.1


class _Intervals:
    """Running statistics of frame time stamps, in constant memory."""

    def __init__(self) -> None:
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None
        self.shortest: int | None = None
        self.longest: int | None = None
        self.last_duration = 0
        self._pending: list[tuple[int, int]] = []

    @property
    def seen(self) -> int:
        return self.count + len(self._pending)

    def add(self, pts: int, duration: int) -> None:
        heapq.heappush(self._pending, (pts, duration))
        if len(self._pending) > _REORDER_WINDOW:
            self._take(*heapq.heappop(self._pending))

    def finish(self) -> None:
        while self._pending:
            self._take(*heapq.heappop(self._pending))

    def _take(self, pts: int, duration: int) -> None:
        self.count += 1
        self.last_duration = duration
        if self.last is not None:
            gap = pts - self.last
            self.shortest = gap if self.shortest is None else min(self.shortest, gap)
            self.longest = gap if self.longest is None else max(self.longest, gap)
        if self.first is None:
            self.first = pts
        self.last = pts

    def mean(self) -> float | None:
        if self.count < 2 or self.first is None or self.last is None or self.last <= self.first:
            return None
        return (self.last - self.first) / (self.count - 1)

    def span(self) -> float | None:
        """Ticks from the first frame's start to the last one's end: the last frame shows
        for its own duration (a GIF's 8, 9, 8 centiseconds make 12 fps, not 11.96)."""
        mean = self.mean()
        if mean is None:
            return None
        last_duration = self.last_duration if self.last_duration > 0 else mean
        return self.last - self.first + last_duration

    def variable(self) -> bool:
        mean = self.mean()
        if mean is None or self.shortest is None or self.longest is None:
            return False
        # one tick of slack: 30 fps in milliseconds is 33, 33, 34, ...
        slack = _VFR_TOLERANCE * mean + 1
        return self.longest - mean > slack or mean - self.shortest > slack


def probe(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_VIDEO_BYTES,
    max_frames_counted: int = MAX_COUNTED_FRAMES,
) -> VideoInfo:
    """What ``path`` holds: size, rate, frame count, duration, sound, a variable rate.

    InputError naming the file for anything but a regular file within ``max_bytes``, a
    file that is not a video or cannot be decoded, and a video without frames."""
    path = Path(path)
    files.check_regular_file(path, what="video", max_bytes=max_bytes, param="input")
    intervals, tick, header, complete = _scan_packets(path, max_frames_counted)
    if intervals.count == 0:
        raise ffmpeg.video_error(path, "holds no frames")
    width, height = _first_frame_size(path)

    span = intervals.span()
    if span is not None and tick:
        fps = float(Fraction(intervals.count / (span * tick)).limit_denominator(1001))
    else:
        fps = _header_fps(header) or 25.0
    duration = _header_duration(header)
    if complete:
        frames = intervals.count
        if span is not None and tick:
            duration = span * tick
    else:
        frames = max(intervals.count, round(duration * fps))
    interval_range = None
    if intervals.shortest is not None and intervals.longest is not None and tick:
        interval_range = (intervals.shortest * tick, intervals.longest * tick)
    return VideoInfo(
        path=str(path),
        width=width,
        height=height,
        fps=fps,
        frames=frames,
        frames_exact=complete,
        duration=duration if duration > 0 else frames / fps,
        has_audio=_audio_codec(header) is not None,
        variable_rate=intervals.variable(),
        interval_range=interval_range,
        codec=_video_codec(header),
        audio_codec=_audio_codec(header) or "",
    )


def _scan_packets(path: Path, limit: int) -> tuple[_Intervals, float, str, bool]:
    """Walk the first video stream's packets: their time stamps, the time base (seconds
    per tick), ffmpeg's description of the file, and whether every packet was seen."""
    args = [*ffmpeg.input_args(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"]
    intervals = _Intervals()
    tick = 0.0
    complete = True
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [*ffmpeg.base_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        try:
            for raw in process.stdout:
                line = raw.decode("ascii", errors="replace")
                if line.startswith("#tb 0:"):
                    num, _, den = line.split(":", 1)[1].strip().partition("/")
                    tick = int(num) / int(den) if den else 0.0
                    continue
                if line.startswith("#"):
                    continue
                fields = line.split(",")
                if len(fields) >= 4 and fields[2].strip().lstrip("-").isdigit():
                    intervals.add(int(fields[2]), _int(fields[3]))
                if intervals.seen >= limit:
                    complete = False
                    break
        finally:
            if not complete:
                process.kill()
            process.stdout.close()
            code = process.wait()
        header = ffmpeg.read_tail(errors)
    intervals.finish()
    if complete and code != 0 and intervals.count == 0:
        raise ffmpeg.video_error(path, ffmpeg.decode_failure(header))
    return intervals, tick, header, complete


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def _first_frame_size(path: Path) -> tuple[int, int]:
    """Decode the first frame: (width, height) as shown; a video none of whose frames
    decodes is refused here."""
    frames = read_frames(path)
    try:
        first = next(frames, None)
    finally:
        frames.close()
    if first is None:
        raise ffmpeg.video_error(path, "holds no frames that can be decoded")
    return first.shape[1], first.shape[0]


def _video_line(header: str) -> str:
    match = re.search(r"Stream #0:\d+\S*: Video: .*", header)
    return match.group(0) if match else ""


def _video_codec(header: str) -> str:
    match = re.search(r"Video: (\w+)", _video_line(header))
    return match.group(1) if match else ""


def _audio_codec(header: str) -> str | None:
    # the input's streams only: the part before "Stream mapping" or the output section
    inputs = header.split("Stream mapping:", 1)[0]
    match = re.search(r"Stream #0:\d+\S*: Audio: (\w+)", inputs)
    return match.group(1) if match else None


def _header_fps(header: str) -> float | None:
    match = re.search(r" ([0-9]+(?:\.[0-9]+)?) fps", _video_line(header))
    return float(match.group(1)) if match else None


def _header_duration(header: str) -> float:
    match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", header)
    if not match:
        return 0.0
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def read_frames(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    start: int = 0,
) -> Iterator[np.ndarray]:
    """The frames of ``path`` one by one, as read-only uint8 RGB arrays (H, W, 3), scaled
    to ``size`` (width, height) if given, from frame ``start`` on (earlier frames are
    decoded and dropped: exact, unlike seeking). Every decoded frame comes once, at its
    own time: a variable-rate video is neither padded nor thinned. Close the iterator to
    stop ffmpeg early."""
    path = Path(path)
    output = ["-map", "0:v:0", "-fps_mode", "passthrough", "-sn", "-an"]
    if size is not None:
        output += ["-vf", f"scale={int(size[0])}:{int(size[1])}:flags=area"]
    reader = imageio_ffmpeg.read_frames(
        ffmpeg.input_url(path), input_params=list(ffmpeg.INPUT_GUARD), output_params=output
    )
    try:
        try:
            meta = next(reader)
        except (OSError, RuntimeError) as error:
            raise ffmpeg.video_error(path, ffmpeg.decode_failure(str(error))) from None
        width, height = meta["size"]
        index = 0
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except (OSError, RuntimeError) as error:
                reason = ffmpeg.last_error_line(str(error)) or "damaged data"
                raise ffmpeg.video_error(
                    path, f"frame {index + 1} cannot be decoded ({reason})"
                ) from None
            if index >= start:
                yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
            index += 1
    finally:
        reader.close()
