"""Video in, video out: the temporal mode against independent frames, the frame job's
protocol, sound and rate kept, progress over the whole video."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import write_clip

from cnnstudio.core.events import Progress
from cnnstudio.core.video.events import FrameDone, FrameProgress
from cnnstudio.core.video.frames import FramesFolder
from cnnstudio.core.video.params import VideoParams
from cnnstudio.core.video.perframe import frame_count, open_writer, process_video
from cnnstudio.core.video.reader import probe
from cnnstudio.core.video.writer import read_metadata


def run(job):
    events = []
    while True:
        try:
            events.append(next(job))
        except StopIteration as stop:
            return events, stop.value


def noisy_style(seed=0):
    """A fake style job: the frame plus fresh noise (each run of a real optimisation
    lands somewhere else), pulled towards the warped previous output where the mask
    trusts it, as the temporal loss does."""
    rng = np.random.default_rng(seed)

    def process(frame, init, warped, mask):
        yield Progress(step=1, total=1, loss=0.0)
        fresh = frame.astype(np.float32) + rng.normal(0, 25, frame.shape)
        if warped is not None:
            weight = 0.8 * mask[..., None]
            fresh = weight * warped + (1 - weight) * fresh
        return np.clip(fresh, 0, 255).astype(np.uint8)

    return process


def test_temporal_mode_flickers_at_most_half_as_much_as_independent_frames(clip):
    info = probe(clip)
    results = {}
    for temporal in (True, False):
        job = process_video(
            info, noisy_style(), VideoParams(temporal=temporal), measure_flicker=True
        )
        results[temporal] = run(job)[1].flicker
    assert results[False] > 5.0
    assert results[True] <= 0.5 * results[False]


def test_the_frame_job_gets_the_warped_previous_output_and_the_mask(clip):
    info = probe(clip)
    seen = []

    def process(frame, init, warped, mask):
        seen.append((frame, init, warped, mask))
        return 255 - frame

    run(process_video(info, process, VideoParams(temporal=True)))
    assert len(seen) == 12
    frame, init, warped, mask = seen[0]
    assert warped is None and mask is None and init is frame
    frame, init, warped, mask = seen[5]
    assert init is warped and warped.shape == frame.shape and warped.dtype == np.uint8
    assert mask.shape == frame.shape[:2] and 0.5 < mask.mean() < 1.0
    # the warped output of the previous frame is close to this frame's negative
    assert np.abs(warped.astype(int) - (255 - frame))[mask > 0].mean() < 10

    seen.clear()
    run(process_video(info, process, VideoParams(temporal=False)))
    assert all(
        warped is None and mask is None and init is frame for frame, init, warped, mask in seen
    )


def test_rate_and_sound_are_kept_and_parameters_embedded(tmp_path, clip_with_audio):
    info = probe(clip_with_audio)
    params = VideoParams(max_frames=8)
    assert frame_count(info, params) == 8
    output = tmp_path / "styled.mp4"
    writer = open_writer(info, output, params, metadata={"job": "style-video", "steps": 1})
    events, result = run(process_video(info, lambda f, *_: 255 - f, params, writer=writer))
    assert result.frames == 8 and result.video.path == output
    out = probe(output)
    assert (out.fps, out.frames, out.has_audio) == (12.0, 8, True)
    expected = {"job": "style-video", "steps": 1, "frames": 8, "complete": True}
    assert read_metadata(output) == expected


def test_progress_covers_the_whole_video_and_every_frame_is_announced(tmp_path, clip):
    info = probe(clip)

    def two_steps(frame, init, warped, mask):
        yield Progress(step=1, total=2, loss=1.0)
        yield Progress(step=2, total=2, loss=0.5)
        return frame.copy()

    folder = FramesFolder.open(
        tmp_path / "frames", job="dream-video", params={}, fps=info.fps, frames=12, source=clip
    )
    events, result = run(process_video(info, two_steps, VideoParams(), folder=folder))
    progress = [e for e in events if isinstance(e, FrameProgress)]
    assert len(progress) == 24
    assert progress[0].done == pytest.approx(1 / 24) and progress[-1].done == 1.0
    assert progress[13].message == "frame 7 of 12" and progress[13].step == 14
    done = [e for e in events if isinstance(e, FrameDone)]
    assert [e.index for e in done] == list(range(12))
    assert done[3].path.endswith("frame_000003.png") and done[3].total == 12
    assert result.frames == 12 and result.frames_dir == tmp_path / "frames"
    assert result.video is None and result.flicker is None


def test_frames_are_processed_at_a_smaller_size(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", count=3)
    info = probe(clip)
    sizes = []

    def process(frame, init, warped, mask):
        sizes.append(frame.shape)
        return frame.copy()

    output = tmp_path / "small.mp4"
    params = VideoParams(size=32)
    run(process_video(info, process, params, writer=open_writer(info, output, params)))
    assert sizes == [(24, 32, 3)] * 3
    assert probe(output).size == (32, 24)


def test_video_params_are_checked():
    from cnnstudio.core.errors import InputError

    with pytest.raises(InputError) as caught:
        VideoParams(flow="lucas").validate()
    assert caught.value.param == "flow"
    with pytest.raises(InputError, match="frame limit 0"):
        VideoParams(max_frames=0).validate()
    assert "max_frames" not in VideoParams().frame_params()
