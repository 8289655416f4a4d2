"""Where a motion job's frames and video go: what the Dream and Style motion jobs share.

:class:`MotionOutput` names them: the frames folder (always: every finished frame is
saved there, so a Stop or a crash loses at most the frame in progress and the next run
continues), and the video file when the job writes one as it goes (the command line);
the window leaves ``video`` unset and assembles the video when the user saves it.
:func:`open_outputs` opens both for a job; :func:`finish` tidies up after it.

No OpenCV, no TensorFlow; imageio's ffmpeg only through :mod:`.writer` and :mod:`.frames`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnstudio.core import paths
from cnnstudio.core.errors import InputError
from cnnstudio.core.video.events import WrittenVideo
from cnnstudio.core.video.frames import FramesFolder, assemble, source_identity
from cnnstudio.core.video.params import OUTPUT_SUFFIXES, default_frames_dir, video_metadata
from cnnstudio.core.video.writer import VideoWriter, read_metadata

#: manifest keys: the parameters a video of the frames carries, the file its sound is from
VIDEO_PARAMS = "video_params"
AUDIO_FROM = "audio_from"


@dataclass(frozen=True)
class MotionOutput:
    """Where a job's frames go (``frames_dir``) and, if it writes one as it goes, its
    video (``video``: .mp4 or .gif). ``keep_frames``: leave the frames folder after a
    complete video (the user named it); otherwise it is removed once the video is safe."""

    frames_dir: Path
    video: Path | None = None
    overwrite: bool = False
    keep_frames: bool = True

    @classmethod
    def for_video(
        cls,
        video: str | os.PathLike[str],
        frames_dir: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
    ) -> MotionOutput:
        """The command line's: the video, its frames in ``frames_dir`` (kept) or in
        ``<video>.frames/`` beside it (removed once the video is complete)."""
        video = Path(video).expanduser()
        if frames_dir is None:
            return cls(default_frames_dir(video), video, overwrite, keep_frames=False)
        return cls(Path(frames_dir).expanduser(), video, overwrite, keep_frames=True)


def session_frames_dir(job: str, source: str | os.PathLike[str] | None, params: dict) -> Path:
    """The window's frames folder for ``job`` on ``source`` with ``params`` (what decides
    a frame's pixels): one folder per such job in the app's data folder, so running the
    same job again (after a Stop, a crash, closing the window) finds its frames and
    continues, and another job never mixes its frames in."""
    identity = json.dumps(
        {"job": job, "source": source_identity(source), "params": params},
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return paths.data_dir() / "motion" / f"{job}-{digest}"


def replaceable(video: Path, job: str) -> bool:
    """Whether ``video`` is an unfinished video of ``job`` (written after a Stop), which
    the run that continues its frames may replace."""
    try:
        meta = read_metadata(video)
    except (InputError, OSError):
        return False
    return bool(meta) and meta.get("job") == job and meta.get("complete") is False


def open_outputs(
    where: MotionOutput,
    *,
    job: str,
    frame_params: dict[str, Any],
    params: dict[str, Any],
    fps: float,
    frames: int,
    size: tuple[int, int],
    source: str | os.PathLike[str] | None = None,
    audio_from: str | os.PathLike[str] | None = None,
) -> tuple[FramesFolder, VideoWriter | None]:
    """The frames folder (continued when it holds this job's frames) and the writer of
    the video (None when ``where.video`` is None), checked before any frame is made.

    ``frame_params`` decide a frame's pixels (the folder continues only a job with the
    same); ``params`` (all of them) go into the video's metadata and the JSON beside it.
    An unfinished video of the same job (a Stop) is replaced by the run that continues it.
    """
    writer = None
    if where.video is not None:
        overwrite = where.overwrite or (where.video.is_file() and replaceable(where.video, job))
        metadata = video_metadata(job, params, fps=fps, frames=frames, source=source)
        # checked first: a bad output name must not leave an empty frames folder behind
        writer_args = dict(
            fps=fps, size=size, audio_from=audio_from, metadata=metadata, overwrite=overwrite
        )
        check_video_output(where.video, overwrite)
    # --overwrite also lets another job's frames in the folder give way to this one's
    folder = FramesFolder.open(
        where.frames_dir,
        job=job,
        params=frame_params,
        fps=fps,
        frames=frames,
        source=source,
        replace=where.overwrite,
    )
    try:
        # what the video of these frames carries, for a video saved later (the window's Save)
        folder.describe_video(VIDEO_PARAMS, params)
        folder.describe_video(AUDIO_FROM, str(Path(audio_from).resolve()) if audio_from else None)
        if where.video is not None:
            writer = VideoWriter(where.video, **writer_args)
    except BaseException:
        folder.discard_if_empty()
        raise
    return folder, writer


def until_ready(
    folder: FramesFolder, writer: VideoWriter | None, inner: Generator[Any, None, Any]
) -> Generator[Any, None, Any]:
    """Run a job's set-up ``inner`` (weights found, network built, step compiled) after
    :func:`open_outputs`; if it fails or is stopped, the writer is abandoned and a frames
    folder with no frame yet is removed, so the next command starts afresh."""
    try:
        return (yield from inner)
    except BaseException:
        abandon(folder, writer)
        raise


def abandon(folder: FramesFolder | None, writer: VideoWriter | None) -> None:
    """A job ended by an error or a Stop: the unfinished video goes (the frames folder
    keeps every finished frame), and so does a frames folder that holds none."""
    if writer is not None:
        writer.abort()
    if folder is not None and folder.done == 0:
        folder.discard_if_empty()


def check_video_output(video: Path, overwrite: bool) -> None:
    """A video output: .mp4 or .gif, not there yet unless it may be replaced."""
    from cnnstudio.core import files

    files.check_output_file(video, overwrite=overwrite, suffixes=OUTPUT_SUFFIXES, example="out.mp4")


def save_video(
    frames_dir: str | os.PathLike[str], video: str | os.PathLike[str], *, overwrite: bool = False
) -> WrittenVideo | None:
    """The video of the frames in ``frames_dir`` (every frame finished so far), written
    to ``video`` with the parameters of the job that made them (MP4 metadata and the
    JSON beside it, ``complete`` false when the job has frames still to make) and the
    source's sound. The window's Save; the frames stay where they are."""
    folder = FramesFolder.existing(frames_dir)
    manifest = folder.manifest
    complete = folder.complete
    source = (manifest.get("source") or {}).get("name")
    metadata = video_metadata(
        str(manifest.get("job")),
        manifest.get(VIDEO_PARAMS) or {},
        fps=float(manifest["fps"]),
        frames=folder.done,
        source=source,
        complete=complete,
    )
    audio = manifest.get(AUDIO_FROM)
    if audio and not Path(audio).is_file():
        audio = None  # the source moved: the video is made without its sound
    return assemble(
        folder, video, audio_from=audio, metadata=metadata, overwrite=overwrite, complete=complete
    )


def finish(where: MotionOutput, folder: FramesFolder, complete: bool) -> bool:
    """After the job: remove the frames folder when the video is complete and the user
    did not ask to keep the frames. True when it was removed."""
    if complete and where.video is not None and not where.keep_frames and where.video.is_file():
        folder.remove()
        return True
    return False
