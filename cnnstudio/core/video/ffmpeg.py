"""The ffmpeg binary that the imageio-ffmpeg wheel carries, and how we call it safely.

No system ffmpeg is needed. Every input file is passed as ``file:/absolute/path`` (a name
such as ``-x.mp4`` or ``concat:a|b`` is never read as an option or a protocol) and behind
two allow-lists: the file protocol only, and the container formats we read, so a playlist
or a text file posing as a video cannot make ffmpeg open URLs or other files.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg

from cnnstudio.core.errors import InputError

#: demuxers allowed for input: MP4/MOV family, Matroska/WebM, AVI, GIF
INPUT_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,gif"
#: options before every ``-i``: only local files, only video containers
INPUT_GUARD: tuple[str, ...] = (
    "-protocol_whitelist",
    "file",
    "-format_whitelist",
    INPUT_FORMATS,
)
#: the most of ffmpeg's error output kept for a message
_STDERR_TAIL = 16_384


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def input_url(path: str | os.PathLike[str]) -> str:
    """``file:/abs/path``: no option, protocol or pattern is read into the name."""
    return "file:" + str(Path(path).resolve())


def output_url(path: str | os.PathLike[str]) -> str:
    """``file:/abs/path`` for an output too (a folder named ``concat:x`` stays a folder)."""
    return input_url(path)


def input_args(path: str | os.PathLike[str]) -> list[str]:
    """``-protocol_whitelist file -format_whitelist ... -i file:/abs/path``."""
    return [*INPUT_GUARD, "-i", input_url(path)]


def base_command() -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-nostdin"]


def run(args: list[str], *, timeout: float | None = None) -> tuple[int, str]:
    """Run ffmpeg with ``args`` (after the base command) to the end: its exit code and
    the tail of its error output (kept in a temporary file: a pipe could fill and stall)."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.run(
            [*base_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            timeout=timeout,
            check=False,
        )
        return process.returncode, read_tail(errors)


def read_tail(handle) -> str:
    """The last part of a temporary file ffmpeg wrote its messages to."""
    handle.flush()
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - _STDERR_TAIL))
    return handle.read().decode("utf-8", errors="replace")


def decode_failure(stderr: str) -> str:
    """Why ffmpeg could not read a file, in words for the user."""
    if "matches no streams" in stderr:
        streams = re.findall(r"Stream #\d+:\d+\S*: (\w+)", stderr)
        if not streams:
            return "holds no streams at all (no video, no sound)"
        if "Audio" in streams:
            return "holds no video, only sound"
        return f"holds no video, only {', '.join(sorted(set(streams))).lower()} streams"
    if "Invalid data found when processing input" in stderr:
        return "is not a video that can be read (unknown or damaged format)"
    if "End of file" in stderr:
        return "is cut short or damaged; no video could be read from it"
    if "Invalid argument" in stderr or "not on whitelist" in stderr:
        return "is not a video file (MP4, MOV, WebM, MKV, AVI or GIF)"
    last = last_error_line(stderr)
    return f"cannot be decoded ({last})" if last else "cannot be decoded"


def last_error_line(stderr: str) -> str:
    """ffmpeg's last line of substance, without its ``[component @ 0x...]`` prefix."""
    for line in reversed(stderr.strip().splitlines()):
        line = re.sub(r"^\[[^\]]*\]\s*", "", line.strip())
        if line and not line.startswith(("frame=", "video:", "Conversion failed")):
            return line[:200]
    return ""


def video_error(path: str | os.PathLike[str], reason: str) -> InputError:
    """``video clip.mp4: <reason>``, the one shape of a refused input video."""
    path = Path(path)
    return InputError(f"video {path.name}: {reason}", param="input", path=str(path))
