"""The frames folder: frames saved as they finish, resume after a crash or a Stop,
the video of the frames so far, and folders that are not ours left alone."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from video_clips import HEIGHT, WIDTH, square_frames

from cnnstudio.core.errors import InputError, Remedy
from cnnstudio.core.video.events import FrameDone
from cnnstudio.core.video.frames import MANIFEST, FramesFolder, assemble, frame_name
from cnnstudio.core.video.params import VideoParams
from cnnstudio.core.video.perframe import open_writer, process_video
from cnnstudio.core.video.reader import probe, read_frames
from cnnstudio.core.video.writer import read_metadata

PARAMS = {"steps": 2, "style": ["wave.jpg"]}


def open_folder(path, source=None, params=PARAMS, frames=12):
    return FramesFolder.open(
        path, job="style-video", params=params, fps=12.0, frames=frames, source=source
    )


def inverted(frame, init, warped, mask):
    """A frame job (a generator without events) that returns the negative."""
    yield from ()
    return 255 - frame


class Crash(Exception):
    pass


def crashing_at(index):
    calls = []

    def process(frame, init, warped, mask):
        if len(calls) == index:
            raise Crash(f"crash in frame {index}")
        calls.append(frame)
        return 255 - frame

    return process, calls


def test_frames_are_saved_as_they_finish_with_a_manifest(tmp_path):
    folder = open_folder(tmp_path / "frames")
    frames = list(square_frames(3))
    for frame in frames:
        folder.add(frame)
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [frame_name(0), frame_name(1), frame_name(2), MANIFEST]
    manifest = json.loads((tmp_path / "frames" / MANIFEST).read_text())
    assert manifest["done"] == 3 and manifest["frames"] == 12 and manifest["fps"] == 12.0
    assert manifest["params"] == PARAMS and manifest["job"] == "style-video"
    assert np.array_equal(folder.read(1), frames[1])  # PNG: lossless
    with pytest.raises(ValueError, match="size"):
        folder.add(np.zeros((8, 8, 3), np.uint8))


def test_frames_on_disk_count_even_when_the_manifest_lags(tmp_path):
    folder = open_folder(tmp_path / "frames")
    for frame in square_frames(4):
        folder.add(frame)
    # a crash between a frame's file and the manifest's update
    manifest = json.loads((tmp_path / "frames" / MANIFEST).read_text())
    manifest["done"] = 3
    (tmp_path / "frames" / MANIFEST).write_text(json.dumps(manifest))
    assert open_folder(tmp_path / "frames").done == 4


def test_resume_after_a_crash_continues_at_the_next_frame(tmp_path, clip):
    info = probe(clip)
    output = tmp_path / "out.mp4"
    process, calls = crashing_at(5)
    folder = open_folder(tmp_path / "frames", source=clip)
    writer = open_writer(info, output, VideoParams())
    with pytest.raises(Crash):
        for _ in process_video(info, process, VideoParams(), folder=folder, writer=writer):
            pass
    assert len(calls) == 5 and not output.exists()  # the writer was abandoned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "frames"]

    folder = open_folder(tmp_path / "frames", source=clip)
    assert folder.done == 5
    seen = []

    def rest(frame, init, warped, mask):
        seen.append((frame, warped))
        return 255 - frame

    writer = open_writer(info, output, VideoParams())
    job = process_video(info, rest, VideoParams(), folder=folder, writer=writer)
    done = [event.index for event in _run(job) if isinstance(event, FrameDone)]
    assert done == list(range(5, 12)) and len(seen) == 7
    # frame 5 started from frame 4's output, warped: the resume kept temporal consistency
    assert seen[0][1] is not None
    inputs = list(read_frames(clip))
    assert np.array_equal(seen[0][0], inputs[5])
    assert probe(output).frames == 12
    outputs = list(read_frames(output))
    assert np.abs(outputs[2].astype(int) - (255 - inputs[2])).mean() < 3


def _run(job):
    events = []
    while True:
        try:
            events.append(next(job))
        except StopIteration as stop:
            events.append(stop.value)
            return events


def test_stop_keeps_every_finished_frame_and_writes_the_video_so_far(tmp_path, clip):
    info = probe(clip)
    output = tmp_path / "out.mp4"
    folder = open_folder(tmp_path / "frames", source=clip)
    writer = open_writer(info, output, VideoParams(), metadata={"job": "style-video"})
    job = process_video(info, inverted, VideoParams(), folder=folder, writer=writer)
    finished = 0
    for event in job:
        if isinstance(event, FrameDone):
            finished += 1
            if finished == 4:
                job.close()  # the Stop button
                break
    assert probe(output).frames == 4
    assert read_metadata(output) == {"job": "style-video", "frames": 4, "complete": False}
    assert open_folder(tmp_path / "frames", source=clip).done == 4


def test_assemble_writes_the_video_of_the_frames_done(tmp_path):
    folder = open_folder(tmp_path / "frames", frames=10)
    for frame in list(square_frames(6)):
        folder.add(frame)
    video = assemble(folder, tmp_path / "so-far.gif", metadata={"frames": 6})
    assert video.frames == 6 and probe(video.path).frames == 6
    assert probe(video.path).size == (WIDTH, HEIGHT)
    assert assemble(open_folder(tmp_path / "empty"), tmp_path / "none.mp4") is None


def test_a_folder_of_another_job_is_refused_naming_what_differs(tmp_path, clip):
    open_folder(tmp_path / "frames", source=clip).add(next(square_frames(1)))
    with pytest.raises(InputError) as caught:
        open_folder(tmp_path / "frames", source=clip, params={**PARAMS, "steps": 3})
    assert str(caught.value) == (
        f"frames folder {tmp_path / 'frames'} holds 1 frame of style-video of clip.mp4 "
        "made with other settings: steps 2 (now 3)"
    )
    assert caught.value.param == "frames_dir" and caught.value.details["path"] == str(
        tmp_path / "frames"
    )
    assert caught.value.remedy == Remedy.OTHER_FRAMES_FOLDER
    with pytest.raises(InputError, match="of the same job on another source"):
        open_folder(tmp_path / "frames", source=None)
    with pytest.raises(InputError, match=r"another job \(style-video of clip.mp4\)"):
        FramesFolder.open(tmp_path / "frames", job="dream-video", params=PARAMS, fps=12,
                          frames=12, source=clip)  # fmt: skip
    assert open_folder(tmp_path / "frames", source=clip).done == 1  # untouched


def test_replace_starts_again_deleting_the_other_jobs_frames(tmp_path, clip):
    old = open_folder(tmp_path / "frames", source=clip)
    for frame in square_frames(2):
        old.add(frame)
    new = FramesFolder.open(
        tmp_path / "frames", job="style-video", params={"steps": 9}, fps=12.0, frames=12,
        source=clip, replace=True,
    )  # fmt: skip
    assert new.done == 0 and not list((tmp_path / "frames").glob("frame_*.png"))
    assert json.loads((tmp_path / "frames" / MANIFEST).read_text())["params"] == {"steps": 9}
    # the same job with replace goes on where it was (--overwrite to replace its video)
    new.add(next(square_frames(1)))
    assert open_folder(tmp_path / "frames", source=clip, params={"steps": 9}).done == 1


def test_a_folder_left_without_a_frame_is_taken_over_by_the_next_job(tmp_path, clip):
    # a run that failed (missing weights) or was stopped before its first frame
    open_folder(tmp_path / "frames", source=clip)
    folder = open_folder(tmp_path / "frames", source=None, params={"steps": 5})
    assert folder.done == 0
    manifest = json.loads((tmp_path / "frames" / MANIFEST).read_text())
    assert manifest["params"] == {"steps": 5} and manifest["source"] is None


def test_a_folder_without_frames_is_discarded_but_never_a_users_own_folder(tmp_path):
    folder = open_folder(tmp_path / "frames")
    assert folder.discard_if_empty() and not (tmp_path / "frames").exists()
    (tmp_path / "mine").mkdir()
    folder = open_folder(tmp_path / "mine")
    assert not folder.discard_if_empty()
    assert (tmp_path / "mine").is_dir() and not list((tmp_path / "mine").iterdir())
    folder = open_folder(tmp_path / "frames")
    folder.add(next(square_frames(1)))
    assert not folder.discard_if_empty() and (tmp_path / "frames" / frame_name(0)).is_file()


def test_a_folder_with_other_files_or_a_file_is_refused(tmp_path):
    (tmp_path / "holiday").mkdir()
    (tmp_path / "holiday" / "frame_000000.png").write_bytes(b"someone else's")
    with pytest.raises(InputError, match="holds other files"):
        open_folder(tmp_path / "holiday")
    assert (tmp_path / "holiday" / "frame_000000.png").read_bytes() == b"someone else's"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        open_folder(tmp_path / "a-file")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / MANIFEST).write_text("{not json")
    with pytest.raises(InputError, match="manifest"):
        open_folder(tmp_path / "broken")


def test_remove_deletes_only_our_files(tmp_path):
    folder = open_folder(tmp_path / "frames")
    folder.add(next(square_frames(1)))
    folder.remove()
    assert not (tmp_path / "frames").exists()


def test_stale_parts_a_kill_left_go_when_the_folder_is_opened_or_removed(tmp_path):
    import tempfile

    def hidden(folder, name):
        handle, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        os.close(handle)
        return path

    # killed while writing the very first manifest: only its hidden part is there
    (tmp_path / "frames").mkdir()
    hidden(tmp_path / "frames", MANIFEST)
    folder = open_folder(tmp_path / "frames")
    folder.add(next(square_frames(1)))
    # killed while writing frame 1
    hidden(tmp_path / "frames", frame_name(1))
    folder = open_folder(tmp_path / "frames")
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [frame_name(0), MANIFEST]
    hidden(tmp_path / "frames", frame_name(1))
    folder.remove()  # the video is complete: the default folder goes, parts and all
    assert not (tmp_path / "frames").exists()


def test_other_style_pictures_are_said_in_words_not_digests(tmp_path):
    params = {"steps": 2, "styles": ["0123456789abcdef"]}
    open_folder(tmp_path / "frames", params=params).add(next(square_frames(1)))
    with pytest.raises(
        InputError, match=r"other settings: steps 2 \(now 4\), other style pictures$"
    ):
        open_folder(tmp_path / "frames", params={"steps": 4, "styles": ["fedcba9876543210"]})
