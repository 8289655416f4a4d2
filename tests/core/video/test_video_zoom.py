"""The zoom animation: the transform, the loop, its progress, Stop and resume."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import texture

from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import Eta
from cnnstudio.core.events import Notice, Preview, Progress
from cnnstudio.core.video.events import FrameDone, FrameProgress, MotionResult
from cnnstudio.core.video.frames import FramesFolder
from cnnstudio.core.video.params import ZoomParams
from cnnstudio.core.video.reader import probe
from cnnstudio.core.video.writer import VideoWriter
from cnnstudio.core.video.zoom import zoom_animation, zoom_frame


def square_image(size=64, side=16):
    image = np.zeros((size, size, 3), np.uint8)
    start = (size - side) // 2
    image[start : start + side, start : start + side] = 255
    return image


def bright_width(image) -> int:
    return int((image[image.shape[0] // 2, :, 0] > 127).sum())


def test_zoom_of_one_is_the_identity():
    image = texture(48, 64, seed=5)
    assert np.array_equal(zoom_frame(image, 1.0), image)


def test_zoom_magnifies_about_the_centre():
    image = square_image()
    assert bright_width(image) == 16
    zoomed = zoom_frame(image, 2.0)
    assert zoomed.shape == image.shape and zoomed.dtype == np.uint8
    assert bright_width(zoomed) == pytest.approx(32, abs=2)
    assert zoomed[32, 32, 0] == 255 and zoomed[2, 2, 0] == 0
    # zooming out: the square halves; the uncovered border shows its mirror images
    zoomed_out = zoom_frame(image, 0.5)
    assert bright_width(zoomed_out[:, 16:48]) == pytest.approx(8, abs=2)
    assert bright_width(zoomed_out) > 8


def test_shift_and_rotation():
    image = texture(48, 64, seed=6)
    moved = zoom_frame(image, 1.0, shift=(3, 0))
    assert np.array_equal(moved[:, 3:], image[:, :-3])  # 3 px to the right
    marker = np.zeros((65, 65, 3), np.uint8)
    marker[32, 52] = 255  # right of the centre
    turned = zoom_frame(marker, 1.0, rotate=90)
    row, column = np.unravel_index(np.argmax(turned[..., 0]), turned.shape[:2])
    assert (row, column) == (12, 32)  # counter-clockwise: now above the centre


def test_zoom_params_are_checked():
    with pytest.raises(InputError) as caught:
        ZoomParams(frames=0).validate()
    assert caught.value.param == "zoom_frames"
    with pytest.raises(InputError, match="zoom 3"):
        ZoomParams(zoom=3).validate()
    with pytest.raises(InputError, match="rotation"):
        ZoomParams(rotate=90).validate()
    assert "frames" not in ZoomParams().frame_params()


def dream_steps(steps=4):
    """A fake dream: ``steps`` Progress events, a Preview, then the frame brightened."""
    calls = []

    def process(frame, index):
        calls.append((index, frame))
        for step in range(1, steps + 1):
            yield Progress(step=step, total=steps, loss=float(step), message=f"step {step}")
        yield Preview(image=frame, step=steps, total=steps)
        return np.clip(frame.astype(int) + 10, 0, 255).astype(np.uint8)

    return process, calls


def run(job):
    events = []
    while True:
        try:
            events.append(next(job))
        except StopIteration as stop:
            return events, stop.value


def test_each_frame_is_the_previous_output_zoomed_then_processed(tmp_path):
    first = texture(48, 64, seed=7)
    params = ZoomParams(frames=5, zoom=1.1, rotate=2.0, fps=10)
    process, calls = dream_steps()
    writer = VideoWriter(tmp_path / "zoom.mp4", fps=params.fps, size=(64, 48))
    events, result = run(zoom_animation(first, params, process, writer=writer))
    assert [index for index, _ in calls] == [0, 1, 2, 3, 4]
    assert np.array_equal(calls[0][1], first)
    previous_output = np.clip(calls[2][1].astype(int) + 10, 0, 255).astype(np.uint8)
    assert np.array_equal(calls[3][1], zoom_frame(previous_output, 1.1, 2.0))

    progress = [event for event in events if isinstance(event, Progress)]
    assert all(isinstance(event, FrameProgress) for event in progress)
    assert [e.done for e in progress] == sorted(e.done for e in progress)
    assert progress[-1].done == 1.0 and progress[0].done == pytest.approx(1 / 20)
    sixth = progress[5]  # frame 2, step 2 of 4
    assert (sixth.frame, sixth.frames, sixth.frame_step, sixth.frame_steps) == (2, 5, 2, 4)
    assert (sixth.step, sixth.total) == (6, 20)
    assert sixth.message == "frame 2 of 5, step 2"
    eta = Eta(clock=iter(range(100)).__next__)
    for event in progress:
        eta.update(event.done)
    assert eta.seconds_left == 0.0

    done = [event for event in events if isinstance(event, FrameDone)]
    assert [event.index for event in done] == [0, 1, 2, 3, 4]
    assert sum(isinstance(e, Preview) and not isinstance(e, FrameDone) for e in events) == 5
    assert isinstance(result, MotionResult) and result.frames == 5
    assert probe(result.video.path).frames == 5 and result.video.fps == 10


def test_stop_writes_the_zoom_so_far_and_a_longer_run_continues_it(tmp_path):
    first = texture(48, 64, seed=8)
    params = ZoomParams(frames=6, zoom=1.05)

    def open_folder(frames):
        return FramesFolder.open(
            tmp_path / "frames",
            job="dream-zoom",
            params=params.frame_params(),
            fps=params.fps,
            frames=frames,
        )

    process, calls = dream_steps(2)
    writer = VideoWriter(tmp_path / "zoom.gif", fps=params.fps, size=(64, 48))
    job = zoom_animation(first, params, process, folder=open_folder(6), writer=writer)
    for event in job:
        if isinstance(event, FrameDone) and event.index == 2:
            job.close()
            break
    assert probe(tmp_path / "zoom.gif").frames == 3
    last = open_folder(6).read(2)

    longer = ZoomParams(frames=8, zoom=1.05)  # the same zoom, made longer
    process, calls = dream_steps(2)
    writer = VideoWriter(tmp_path / "zoom.mp4", fps=params.fps, size=(64, 48))
    events, result = run(
        zoom_animation(first, longer, process, folder=open_folder(8), writer=writer)
    )
    assert [index for index, _ in calls] == [3, 4, 5, 6, 7]
    assert np.array_equal(calls[0][1], zoom_frame(last, 1.05))
    assert any(isinstance(e, Notice) and "frame 4 of 8" in e.text for e in events)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[0].done == pytest.approx((3 + 0.5) / 8)  # the frames before count
    assert result.frames == 8 and probe(result.video.path).frames == 8


def test_a_frame_job_returning_the_wrong_thing_is_a_clear_error():
    params = ZoomParams(frames=2)
    with pytest.raises(ValueError, match="frame 1: the frame job returned"):
        run(zoom_animation(texture(8, 8, 1), params, lambda frame, index: frame[:4]))
