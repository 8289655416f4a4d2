"""Videos out: frames streamed into ffmpeg as they come, an MP4 (H.264, yuv420p) or an
animated GIF, put in place in one step when finished.

ffmpeg writes to a temporary name in the output's folder; :meth:`VideoWriter.close`
copies the sound of the source into the MP4 (a second ffmpeg pass that takes the video
from our file and the audio from the source, both as they are), embeds the job's
parameters (the MP4 ``comment`` tag), moves the file into place (never over a file that
appeared meanwhile unless allowed) and writes the same parameters as JSON beside it. A
failed or abandoned writer leaves no temporary file behind, and a new writer of the same
output removes those a killed one (kill -9) left.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import files, stale_files
from cnnstudio.core.errors import InputError
from cnnstudio.core.video import ffmpeg
from cnnstudio.core.video.events import WrittenVideo
from cnnstudio.core.video.params import OUTPUT_SUFFIXES, even_size, sidecar_path

#: H.264 quality (constant rate factor): 18 looks lossless to most eyes
DEFAULT_CRF = 18
#: the most of a video's metadata read back
_MAX_METADATA_BYTES = 1 << 20
#: one palette per frame, made from that frame: streams (no pass over every frame first)
#: and keeps each dreamed frame's colours
_GIF_FILTER = "split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=new=1"


def metadata_json(metadata: dict[str, Any]) -> str:
    """One line of JSON (what the MP4 comment and the file beside it hold)."""
    return json.dumps(metadata, ensure_ascii=True, sort_keys=True, default=str)


class VideoWriter:
    """``with VideoWriter("out.mp4", fps=12, size=(w, h)) as writer: writer.write(frame)``.

    ``size`` is the (width, height) of the frames given; an MP4 drops an odd last column or
    row (H.264 in yuv420p needs even sides). ``audio_from``: a video whose sound goes into
    the MP4 (cut to the length written). ``metadata`` goes into the MP4 and beside it as
    JSON, its ``frames`` and ``complete`` filled in when the video is finished. Leaving
    the ``with`` block by an exception abandons the file; :meth:`close` finishes it (so a
    stopped job keeps the video so far).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float,
        size: tuple[int, int],
        audio_from: str | os.PathLike[str] | None = None,
        metadata: dict[str, Any] | None = None,
        overwrite: bool = False,
        crf: int = DEFAULT_CRF,
    ) -> None:
        self.path = files.check_output_file(
            path, overwrite=overwrite, suffixes=OUTPUT_SUFFIXES, example="result.mp4"
        )
        self.sidecar = sidecar_path(self.path) if metadata is not None else None
        if self.sidecar is not None:
            files.check_output_file(self.sidecar, overwrite=overwrite)
        # a writer of this video killed mid-job (kill -9) left its partial file (and
        # perhaps its JSON's) hidden beside it: this writer replaces that attempt
        stale_files.remove_stale_parts(self.path)
        stale_files.remove_stale_parts(sidecar_path(self.path))
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        self.gif = self.path.suffix.lower() == ".gif"
        self.audio_from = None if self.gif or audio_from is None else Path(audio_from)
        self.metadata = metadata
        self.overwrite = overwrite
        self.frames = 0
        self._closed = False
        width, height = self.size if self.gif else even_size(*self.size)
        self._crop = (height, width)
        self._errors = tempfile.TemporaryFile()
        self._temps: list[Path] = []
        self._temp = self._new_temp()
        command = [
            *ffmpeg.base_command(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            # a rational rate: 30000/1001 stays exact
            "-r",
            str(Fraction(self.fps).limit_denominator(1001)),
            "-i",
            "-",
            *self._encoder_args(crf),
            ffmpeg.output_url(self._temp),
        ]
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._errors
            )
        except OSError as error:
            self._cleanup()
            raise files.write_error(self.path, error) from None

    def _encoder_args(self, crf: int) -> list[str]:
        if self.gif:
            return ["-vf", _GIF_FILTER, "-loop", "0", "-f", "gif"]
        args = ["-c:v", "libx264", "-preset", "medium", "-crf", str(int(crf))]
        args += ["-pix_fmt", "yuv420p"]
        if self.audio_from is None and self.metadata is None:
            args += ["-movflags", "+faststart"]  # the index first: plays while loading
        # else the metadata and the sound are added by a second pass in close()
        return [*args, "-f", "mp4"]

    def _new_temp(self) -> Path:
        try:
            handle, name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
            )
        except OSError as error:
            raise files.write_error(self.path, error) from None
        os.close(handle)
        self._temps.append(Path(name))
        return Path(name)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 RGB frame of the writer's size."""
        if self._closed:
            raise ValueError("the video writer is closed")
        width, height = self.size
        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame of shape {frame.shape} {frame.dtype}, expected ({height}, {width}, 3) uint8"
            )
        rows, columns = self._crop
        data = np.ascontiguousarray(frame[:rows, :columns])
        try:
            self._process.stdin.write(memoryview(data).cast("B"))
        except OSError:
            self._process.wait()
            raise self._failure() from None
        self.frames += 1

    def _failure(self) -> InputError:
        reason = ffmpeg.last_error_line(ffmpeg.read_tail(self._errors)) or "ffmpeg stopped"
        self.abort()
        if "No space left" in reason:
            reason = "the disk is full; free some space and save again"
        return InputError(
            f"cannot write {self.path}: {reason}", param="output", path=str(self.path)
        )

    def close(self, *, complete: bool = True) -> WrittenVideo | None:
        """Finish the video with the frames written so far (None if there were none).

        The metadata is finished too: its ``frames`` becomes the count written and its
        ``complete`` says whether the job made every frame (False after a Stop)."""
        if self._closed:
            return None
        try:
            self._process.stdin.close()
        except OSError:
            pass
        if self._process.wait() != 0:
            raise self._failure()
        if self.frames == 0:
            self.abort()
            return None
        metadata = None
        if self.metadata is not None:
            metadata = {**self.metadata, "frames": self.frames, "complete": complete}
        notices: list[str] = []
        try:
            video = self._temp
            if not self.gif:
                video, notice = self._finish_mp4(video, metadata)
                notices += [notice] if notice else []
            self._move_into_place(video)
            if self.sidecar is not None:
                data = json.dumps(metadata, indent=2, sort_keys=True, default=str)
                files.write_bytes(self.sidecar, data.encode("utf-8"), overwrite=True)
        finally:
            self.abort()  # the temporary files that are left, and the process
        return WrittenVideo(self.path, self.frames, self.fps, tuple(notices))

    def _finish_mp4(self, video: Path, metadata: dict[str, Any] | None) -> tuple[Path, str | None]:
        """The MP4 as it is put in place: a second pass that copies the video stream as it
        is, with the finished metadata and the source's sound: copied as it is, else
        converted to AAC (the MP4 cannot hold every codec: Vorbis from a WebM), else left
        out with a notice. Without sound or metadata the first pass is the result."""
        if self.audio_from is None and metadata is None:
            return video, None
        finished = self._new_temp()
        # None: the video alone (no sound to copy, or the sound could not be kept)
        attempts: list[list[str] | None] = [None]
        if self.audio_from is not None:
            attempts = [["-c:a", "copy"], ["-c:a", "aac", "-b:a", "192k"], None]
        reason = ""
        for audio in attempts:
            args = ["-y", "-loglevel", "error", *ffmpeg.input_args(video)]
            if audio is not None and self.audio_from is not None:
                args += [*ffmpeg.input_args(self.audio_from), "-map", "0:v:0", "-map", "1:a?"]
                args += [*audio, "-shortest"]
            else:
                args += ["-map", "0:v:0"]
            args += ["-c:v", "copy", "-map_metadata", "-1"]
            if metadata is not None:
                args += ["-metadata", f"comment={metadata_json(metadata)}"]
            args += ["-movflags", "+faststart", "-f", "mp4", ffmpeg.output_url(finished)]
            code, errors = ffmpeg.run(args)
            if code == 0:
                if audio is None and self.audio_from is not None:
                    return finished, (
                        f"the sound of {self.audio_from.name} could not be copied "
                        f"({reason}); {self.path.name} has none"
                    )
                return finished, None
            reason = ffmpeg.last_error_line(errors)
        raise InputError(
            f"cannot write {self.path}: {reason or 'ffmpeg failed'}",
            param="output",
            path=str(self.path),
        )

    def _move_into_place(self, temp: Path) -> None:
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode) if self.overwrite else None
        except OSError:
            mode = None
        os.chmod(temp, files.new_file_mode() if mode is None else mode)
        files.move_into_place(temp, self.path, self.overwrite)

    def abort(self) -> None:
        """Stop ffmpeg and remove the temporary files; the output is left as it was."""
        self._closed = True
        if self._process.poll() is None:
            self._process.kill()
        try:
            self._process.stdin.close()
        except OSError:
            pass
        self._process.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        for temp in self._temps:
            temp.unlink(missing_ok=True)
        self._temps.clear()
        self._errors.close()


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The parameters a motion job saved with ``path``: the MP4's comment tag, else the
    JSON file beside it; None when there are none (or they are not ours)."""
    path = Path(path)
    files.check_regular_file(path, what="video")
    text = None
    if path.suffix.lower() != ".gif":
        text = _mp4_comment(path)
    if text is None and sidecar_path(path).is_file():
        text = files.read_bytes(sidecar_path(path), _MAX_METADATA_BYTES).decode("utf-8", "replace")
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _mp4_comment(path: Path) -> str | None:
    with tempfile.TemporaryFile() as output:
        process = subprocess.run(
            [*ffmpeg.base_command(), "-loglevel", "error", *ffmpeg.input_args(path)]
            + ["-f", "ffmetadata", "-"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if process.returncode != 0 or output.tell() > _MAX_METADATA_BYTES:
            return None
        output.seek(0)
        text = output.read().decode("utf-8", errors="replace")
    for line in text.splitlines():
        if line.startswith("comment="):
            # ffmetadata escapes '=', ';', '#', '\' and newlines with a backslash
            return re.sub(r"\\(.)", r"\1", line[len("comment=") :], flags=re.DOTALL)
    return None
