"""The frames folder: every finished frame as a PNG, so nothing made is lost.

A motion job writes frame ``i`` to ``frame_000123.png`` the moment it is finished (each
file atomically) and keeps a small ``manifest.json``: which job made the frames (its
name, the source file's name and size, the parameters that decide a frame's pixels),
the frame rate, how many frames the job has and how many are done. A Stop or a crash
loses at most the frame in progress; the next run of the same job on the same folder
continues at the next frame, and :func:`assemble` writes the video of the frames so far.
The frames on disk are the truth: the manifest's count may lag them by one after a
crash, so the frames present from the first on are counted when a folder is opened.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cnnstudio.core import files, image_saving, images
from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.video.events import WrittenVideo
from cnnstudio.core.video.writer import VideoWriter

MANIFEST = "manifest.json"
#: what :func:`frame_name` makes
_FRAME_FILE = re.compile(r"frame_\d{6,}\.png")
#: the hidden temporary of a frame or the manifest that a kill mid-write leaves behind
_STALE_PART = re.compile(r"\.(frame_\d{6,}\.png|manifest\.json)\.[a-z0-9_]{8}\.part")
_MANIFEST_VERSION = 1
_MAX_MANIFEST_BYTES = 1 << 20


def frame_name(index: int) -> str:
    """``frame_000000.png`` for index 0 (the pattern ffmpeg's ``frame_%06d.png`` reads)."""
    return f"frame_{index:06d}.png"


def _normalised(value: Any) -> Any:
    """Parameters as they compare after a trip through JSON (tuples become lists)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def source_identity(source: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """What identifies a source file across runs: its name and size (a moved folder
    still resumes; an edited video does not)."""
    if source is None:
        return None
    path = Path(source)
    return {"name": path.name, "bytes": path.stat().st_size if path.is_file() else None}


class FramesFolder:
    """The frames of one job in one folder; open with :meth:`open`."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.done = 0
        #: the folder is the app's to remove when it holds nothing else: made by this run
        #: or by an earlier one (a user's own empty folder stays)
        self.ours = True

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        job: str,
        params: dict[str, Any],
        fps: float,
        frames: int,
        source: str | os.PathLike[str] | None = None,
        replace: bool = False,
    ) -> FramesFolder:
        """The folder for ``job`` (``"dream-zoom"``, ...) with ``params`` (what decides a
        frame's pixels) on ``source``: created if missing, continued if it holds frames of
        the same job, taken over if another job left it without a finished frame (a run
        that failed or was stopped before its first), started again with ``replace`` (the
        other job's frames deleted), else refused (InputError, ``param="frames_dir"``,
        naming what differs): another job's frames, or files that are not ours."""
        folder = Path(folder).expanduser()
        identity = {
            "job": job,
            "source": source_identity(source),
            "params": _normalised(params),
        }
        manifest_path = folder / MANIFEST
        users_own = False  # an empty folder the user made: not ours to remove
        if folder.exists() and not folder.is_dir():
            raise _folder_error(folder, "is a file, not a folder")
        if manifest_path.exists():
            manifest = _read_manifest(manifest_path)
            mine = {key: manifest.get(key) for key in identity}
            if mine != identity:
                held = _frame_files(folder)
                if held and not replace:
                    raise InputError(
                        f"frames folder {folder} holds {_count(len(held))} of "
                        f"{_other_job(manifest, identity)}",
                        param="frames_dir",
                        remedy=Remedy.OTHER_FRAMES_FOLDER,
                        path=str(folder),
                    )
                for path in held:  # --overwrite: the user asked to start again
                    path.unlink(missing_ok=True)
                manifest = {"version": _MANIFEST_VERSION, **identity, "done": 0}
        elif folder.exists() and any(not _STALE_PART.fullmatch(p.name) for p in folder.iterdir()):
            raise _folder_error(folder, "holds other files; choose an empty or a new folder")
        else:
            users_own = folder.is_dir()
            files.check_writable_folder(folder, param="frames_dir")
            manifest = {"version": _MANIFEST_VERSION, **identity, "done": 0}
        manifest.update(fps=float(fps), frames=int(frames))
        self = cls(folder, manifest)
        self.ours = not users_own
        self._remove_stale_parts()  # what a run killed mid-write left
        self.done = self._count_done()
        self._save_manifest()
        return self

    @classmethod
    def existing(cls, folder: str | os.PathLike[str]) -> FramesFolder:
        """An existing frames folder as it is (to save its video, to show its frames),
        whichever job made it; InputError naming it when it holds no frames manifest."""
        folder = Path(folder).expanduser()
        if not (folder / MANIFEST).is_file():
            raise _folder_error(folder, "holds no frames of a motion job")
        self = cls(folder, _read_manifest(folder / MANIFEST))
        self.done = self._count_done()
        return self

    def describe_video(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key`` in the manifest (what the video of these frames
        carries: its parameters, the file its sound comes from)."""
        self.manifest[key] = value
        self._save_manifest()

    @property
    def frames(self) -> int:
        """How many frames the job has (may be an estimate for a video)."""
        return int(self.manifest["frames"])

    @property
    def complete(self) -> bool:
        return self.done >= self.frames

    def frame_path(self, index: int) -> Path:
        return self.folder / frame_name(index)

    def _count_done(self) -> int:
        done = 0
        while self.frame_path(done).is_file():
            done += 1
        return done

    def _save_manifest(self) -> None:
        self.manifest["done"] = self.done
        data = json.dumps(self.manifest, indent=2, sort_keys=True, default=str)
        try:
            files.write_bytes(self.folder / MANIFEST, data.encode("utf-8"), overwrite=True)
        except InputError as error:
            error.param = "frames_dir"
            raise

    def add(self, frame: np.ndarray) -> Path:
        """Save the next frame (index :attr:`done`) and count it done."""
        if self.done:
            first = self.manifest.get("size")
            if first and list(first) != [frame.shape[1], frame.shape[0]]:
                raise ValueError(
                    f"frame of size {frame.shape[1]}x{frame.shape[0]}, the folder's frames "
                    f"are {first[0]}x{first[1]}"
                )
        path = image_saving.save_image(self.frame_path(self.done), frame, overwrite=True)
        self.manifest["size"] = [frame.shape[1], frame.shape[0]]
        self.done += 1
        self._save_manifest()
        return path

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (uint8 RGB)."""
        if not 0 <= index < self.done:
            raise IndexError(f"frame {index} is not done ({self.done} are)")
        return images.load_image(self.frame_path(index))

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """The done frames from ``start``, one at a time."""
        stop = self.done if stop is None else min(stop, self.done)
        for index in range(start, stop):
            yield self.read(index)

    def _remove_stale_parts(self) -> None:
        """The hidden ``.frame_000011.png.x1y2z3w4.part`` files of frames (or the
        manifest) a killed run was writing: never finished, never to be."""
        try:
            names = [p for p in self.folder.iterdir() if _STALE_PART.fullmatch(p.name)]
        except OSError:
            return
        for path in names:
            if path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)

    def discard_if_empty(self) -> bool:
        """A job that ended before its first frame (it failed, or was stopped while the
        network was built) leaves nothing behind: the manifest goes, and the folder too
        when it is ours and holds nothing else. True when the folder is gone."""
        if _frame_files(self.folder):
            return False
        (self.folder / MANIFEST).unlink(missing_ok=True)
        self._remove_stale_parts()
        self.done = 0
        if not self.ours:
            return False
        try:
            self.folder.rmdir()
        except OSError:
            return False  # something else is in it: not ours to delete
        return True

    def remove(self) -> None:
        """Delete the frames and the manifest, and the folder if nothing else is in it
        (after the video is safely written, when the user did not ask to keep them)."""
        for index in range(self._count_done()):
            self.frame_path(index).unlink(missing_ok=True)
        (self.folder / MANIFEST).unlink(missing_ok=True)
        self._remove_stale_parts()
        try:
            self.folder.rmdir()
        except OSError:
            pass  # something else is in it: not ours to delete
        self.done = 0


def _read_manifest(path: Path) -> dict[str, Any]:
    data = files.read_bytes(path, _MAX_MANIFEST_BYTES, what="frames manifest", param="frames_dir")
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("version") != _MANIFEST_VERSION:
        raise _folder_error(path.parent, "has a frames manifest this version cannot read")
    return manifest


def _describe(identity: dict[str, Any]) -> str:
    source = identity.get("source") or {}
    name = source.get("name") if isinstance(source, dict) else None
    return f"{identity.get('job')} of {name}" if name else str(identity.get("job"))


def _other_job(found: dict[str, Any], wanted: dict[str, Any]) -> str:
    """What the frames in a folder are, said by what differs from the job asked for:
    "another job (dream-video of clip.mp4)", "clip.mp4 as it was before it changed",
    "dream-zoom of still.png made with other settings: steps 50 (now 10)"."""
    if found.get("job") != wanted.get("job"):
        return f"another job ({_describe(found)})"
    if found.get("source") != wanted.get("source"):
        was = found.get("source") or {}
        if isinstance(was, dict) and was.get("name") == (wanted.get("source") or {}).get("name"):
            return f"{_describe(found)} as it was before the file changed"
        return f"the same job on another source ({_describe(found)})"
    changes = _differences(found.get("params"), wanted.get("params"))
    return f"{_describe(found)} made with other settings: {', '.join(changes) or 'unknown'}"


def _differences(found: Any, wanted: Any, path: str = "") -> list[str]:
    """``"steps 50 (now 10)"`` for each parameter (nested ones by their own name)
    that differs between a folder's manifest and the job asked for."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        changes: list[str] = []
        for key in sorted(set(found) | set(wanted), key=str):
            changes += _differences(found.get(key), wanted.get(key), str(key))
        return changes
    if found == wanted:
        return []
    if path in _FINGERPRINTS:  # digests of pictures: their values say nothing to a reader
        return [_FINGERPRINTS[path]]
    return [f"{path or 'settings'} {_short(found)} (now {_short(wanted)})"]


#: parameters that are digests of pictures, and how a change of them is said
_FINGERPRINTS = {"styles": "other style pictures", "picture": "another picture"}


def _short(value: Any) -> str:
    text = "none" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _count(frames: int) -> str:
    return f"{frames} frame" if frames == 1 else f"{frames} frames"


def _frame_files(folder: Path) -> list[Path]:
    """The frame files in ``folder`` (``frame_000123.png``), whatever their numbers."""
    return sorted(path for path in folder.glob("frame_*.png") if _FRAME_FILE.fullmatch(path.name))


def _folder_error(folder: Path, reason: str) -> InputError:
    return InputError(f"frames folder {folder} {reason}", param="frames_dir", path=str(folder))


def assemble(
    folder: FramesFolder,
    output: str | os.PathLike[str],
    *,
    fps: float | None = None,
    audio_from: str | os.PathLike[str] | None = None,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
    complete: bool = True,
) -> WrittenVideo | None:
    """Write the video of the frames done so far (all of them after a finished job; the
    ones before a Stop or a crash otherwise: ``complete`` False, which the metadata
    says), one frame in memory at a time."""
    if folder.done == 0:
        return None
    width, height = folder.manifest.get("size") or folder.read(0).shape[1::-1]
    writer = VideoWriter(
        output,
        fps=fps or float(folder.manifest["fps"]),
        size=(width, height),
        audio_from=audio_from,
        metadata=metadata,
        overwrite=overwrite,
    )
    try:
        for frame in folder.iter_frames():
            writer.write(frame)
    except BaseException:
        writer.abort()
        raise
    return writer.close(complete=complete)
