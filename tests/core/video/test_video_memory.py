"""Frames are streamed: the memory a video job allocates does not grow with its length.

Measured with tracemalloc (Python's and NumPy's allocations, the frames included), never
with the machine's free memory, which other programs change.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
from video_clips import write_clip

from cnnstudio.core.video.frames import FramesFolder
from cnnstudio.core.video.params import VideoParams, ZoomParams
from cnnstudio.core.video.perframe import open_writer, process_video
from cnnstudio.core.video.reader import probe
from cnnstudio.core.video.writer import VideoWriter
from cnnstudio.core.video.zoom import zoom_animation

#: frames large enough that keeping them shows above the noise of the garbage collector
SIZE = (160, 120)
FRAME_BYTES = SIZE[0] * SIZE[1] * 3
#: holding the video would add 90 frames (~5 MB); a few frames' worth is noise
ALLOWED_GROWTH = 8 * FRAME_BYTES
_runs = itertools.count()


def peak_of(run) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_of_a_video_job_is_flat_in_the_number_of_frames(tmp_path):
    clips = {n: write_clip(tmp_path / f"clip{n}.mp4", count=n, size=SIZE) for n in (10, 100)}
    infos = {n: probe(clip) for n, clip in clips.items()}
    params = VideoParams(temporal=True)

    def video_job(frames: int):
        def run():
            info, run_id = infos[frames], next(_runs)
            folder = FramesFolder.open(
                tmp_path / f"frames{run_id}", job="t", params={}, fps=info.fps, frames=frames
            )
            writer = open_writer(info, tmp_path / f"out{run_id}.mp4", params)
            job = process_video(
                info, lambda f, init, *_: init.copy(), params, folder=folder, writer=writer,
                measure_flicker=True,
            )  # fmt: skip
            for _ in job:
                pass

        return run

    video_job(10)()  # first use: imports, OpenCV's and ffmpeg's one-off set-up
    peak_short, peak_long = peak_of(video_job(10)), peak_of(video_job(100))
    assert peak_long < peak_short + ALLOWED_GROWTH, (peak_short, peak_long)


def test_peak_memory_of_a_zoom_is_flat_in_the_number_of_frames(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8)

    def zoom(frames: int):
        def run():
            path = tmp_path / f"zoom{next(_runs)}.gif"
            writer = VideoWriter(path, fps=12, size=SIZE)
            job = zoom_animation(image, ZoomParams(frames=frames), lambda f, i: f, writer=writer)
            for _ in job:
                pass

        return run

    zoom(10)()
    peak_short, peak_long = peak_of(zoom(10)), peak_of(zoom(100))
    assert peak_long < peak_short + ALLOWED_GROWTH, (peak_short, peak_long)
