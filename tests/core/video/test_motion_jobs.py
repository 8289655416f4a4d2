"""The Dream and Style motion jobs on tiny generated videos: the zoom, video in and video
out with and without temporal consistency, Stop and resume, the metadata they carry."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import texture, write_clip

from cnnstudio.core.dream import motion as dream_motion
from cnnstudio.core.dream import tiled_step
from cnnstudio.core.dream.params import DreamParams
from cnnstudio.core.errors import StudioError
from cnnstudio.core.events import Notice, Progress
from cnnstudio.core.style import motion as style_motion
from cnnstudio.core.style.params import StyleParams
from cnnstudio.core.video.events import FrameDone, FrameProgress
from cnnstudio.core.video.outputs import MotionOutput, session_frames_dir
from cnnstudio.core.video.params import VideoParams, ZoomParams
from cnnstudio.core.video.perframe import blend_warped
from cnnstudio.core.video.reader import probe, read_frames
from cnnstudio.core.video.writer import read_metadata

#: a frame of a motion job: one octave, one step, no roll (fast and deterministic)
FRAME = DreamParams(
    weights="random", layers={"mixed2": 1.0}, octaves=1, steps=1, step_size=0.05, jitter=0,
    seed=3, max_size=96, tile_size=512,
)  # fmt: skip
STYLE = StyleParams(weights="random", steps=12)


def run(job):
    events = []
    while True:
        try:
            events.append(next(job))
        except StopIteration as stop:
            return events, stop.value


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_the_zoom_writes_every_frame_and_carries_its_parameters(tmp_path):
    picture = texture(70, 90, seed=4)
    where = MotionOutput.for_video(tmp_path / "zoom.gif")
    events, result = run(
        dream_motion.dream_zoom(picture, FRAME, ZoomParams(frames=3, zoom=1.1), where, source=None)
    )
    assert result.frames == 3 and result.video.frames == 3
    assert len(of(events, FrameDone)) == 3
    progress = of(events, FrameProgress)
    assert progress[-1].done == pytest.approx(1.0) and progress[-1].frame == 3
    assert progress[0].message.startswith("frame 1 of 3")
    meta = read_metadata(tmp_path / "zoom.gif")
    assert meta["job"] == "dream-zoom" and meta["complete"] is True and meta["frames"] == 3
    assert meta["params"]["zoom"]["zoom"] == 1.1 and meta["params"]["dream"]["params"]["steps"] == 1
    assert not where.frames_dir.exists()  # the default frames folder goes once the video is safe
    frames = list(read_frames(tmp_path / "zoom.gif"))
    assert frames[0].shape == (70, 90, 3)  # even sides kept as they are


def test_a_stopped_zoom_keeps_its_frames_and_video_and_the_next_run_continues(tmp_path):
    picture = texture(64, 80, seed=5)
    zoom = ZoomParams(frames=4, zoom=1.05, rotate=2.0, shift_x=1.0)
    where = MotionOutput.for_video(tmp_path / "zoom.mp4", tmp_path / "frames")
    job = dream_motion.dream_zoom(picture, FRAME, zoom, where)
    done = 0
    for event in job:
        if isinstance(event, FrameDone):
            done += 1
            if done == 2:
                break
    job.close()  # Stop: the video of the frames so far
    assert probe(tmp_path / "zoom.mp4").frames == 2
    assert read_metadata(tmp_path / "zoom.mp4")["complete"] is False
    traces = tiled_step.step_traces()
    events, result = run(dream_motion.dream_zoom(picture, FRAME, zoom, where))
    assert any("continuing the zoom at frame 3 of 4" in e.text for e in of(events, Notice))
    assert [e.index for e in of(events, FrameDone)] == [2, 3]
    assert tiled_step.step_traces() == traces  # frames reuse the compiled step
    assert probe(tmp_path / "zoom.mp4").frames == 4 and result.frames == 4
    assert (tmp_path / "frames" / "frame_000003.png").is_file()  # kept: the user named it


def test_dreamed_video_keeps_rate_size_and_sound_and_blends_the_warped_frame(
    tmp_path, clip_with_audio
):
    info = probe(clip_with_audio)
    where = MotionOutput.for_video(tmp_path / "dreamed.mp4")
    video = VideoParams(max_frames=4)
    events, result = run(dream_motion.dream_video(info, FRAME, video, where))
    out = probe(tmp_path / "dreamed.mp4")
    assert (out.frames, out.size, out.fps) == (4, info.size, info.fps)
    assert out.has_audio
    meta = read_metadata(tmp_path / "dreamed.mp4")
    assert meta["job"] == "dream-video" and meta["params"]["video"]["temporal"] is True
    assert meta["source"] == clip_with_audio.name
    assert (tmp_path / "dreamed.mp4.json").is_file()
    assert of(events, FrameProgress)[-1].message.startswith("frame 4 of 4")


def test_blend_takes_the_warped_frame_only_where_the_mask_trusts_the_flow():
    frame = np.full((4, 4, 3), 100, np.uint8)
    warped = np.full((4, 4, 3), 200, np.uint8)
    mask = np.zeros((4, 4), np.float32)
    mask[:2] = 1.0
    mixed = blend_warped(frame, warped, mask, 0.5)
    assert (mixed[:2] == 150).all() and (mixed[2:] == 100).all()
    assert blend_warped(frame, None, None, 0.5) is frame


def test_style_video_ties_each_frame_to_the_warped_previous_output(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", count=3)
    info = probe(clip)
    style = texture(48, 48, seed=9)
    results = {}
    for temporal in (True, False):
        where = MotionOutput.for_video(tmp_path / f"styled-{temporal}.mp4")
        events, result = run(
            style_motion.style_video(
                info, [style], STYLE, VideoParams(temporal=temporal), where,
                style_names=["texture"], measure_flicker=True,
            )
        )  # fmt: skip
        steps = of(events, FrameProgress)
        with_term = {e.frame for e in steps if "temporal" in e.terms}
        # the temporal term from the second frame on, never without temporal mode
        assert with_term == ({2, 3} if temporal else set())
        results[temporal] = result.flicker
        assert probe(tmp_path / f"styled-{temporal}.mp4").frames == 3
    # each frame starts from the warped previous output and keeps to it
    # (the benchmark holds it to half the flicker at a realistic number of steps)
    assert results[True] < 0.75 * results[False]


def test_fast_style_video_styles_each_frame_in_one_pass(tmp_path, clip):
    from cnnstudio.core.faststyle import models, network
    from cnnstudio.core.faststyle.params import STYLE_KIND
    from cnnstudio.core.faststyle.video import fast_style_video

    models.save_style_model(network.build_style_network(seed=0), "plain", {"kind": STYLE_KIND})
    info = probe(clip)
    where = MotionOutput.for_video(tmp_path / "fast.mp4")
    events, result = run(fast_style_video(info, "plain", VideoParams(), where))
    assert result.frames == info.frames == len(of(events, FrameDone))
    assert all(e.frame_steps == 1 for e in of(events, FrameProgress))
    assert read_metadata(tmp_path / "fast.mp4")["params"]["style"]["model"] == "plain"
    assert of(events, Progress)


def test_the_windows_frames_folder_is_one_per_job_source_and_parameters(tmp_path, clip):
    first = session_frames_dir("dream-video", clip, {"steps": 1})
    assert first == session_frames_dir("dream-video", clip, {"steps": 1})
    assert first != session_frames_dir("dream-video", clip, {"steps": 2})
    assert first != session_frames_dir("style-video", clip, {"steps": 1})


def test_the_windows_save_writes_the_video_of_a_frames_folder_with_its_parameters(
    tmp_path, clip_with_audio
):
    from cnnstudio.core.video.outputs import save_video

    info = probe(clip_with_audio)
    frames_dir = tmp_path / "frames"
    job = dream_motion.dream_video(info, FRAME, VideoParams(), MotionOutput(frames_dir))
    for event in job:
        if isinstance(event, FrameDone) and event.index == 2:
            break
    job.close()  # stopped after 3 of 12 frames: no video yet, the frames are kept
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == ["clip-audio.mp4", "clip.mp4"]
    video = save_video(frames_dir, tmp_path / "so-far.mp4")
    assert video.frames == 3
    meta = read_metadata(tmp_path / "so-far.mp4")
    assert meta["job"] == "dream-video" and meta["complete"] is False and meta["frames"] == 3
    assert meta["params"]["dream"]["params"]["steps"] == 1 and meta["source"] == info.name
    out = probe(tmp_path / "so-far.mp4")
    assert out.has_audio and out.fps == info.fps


def test_a_job_that_fails_before_its_first_frame_leaves_no_frames_folder(tmp_path, clip):
    # no ImageNet weights here: the network cannot be built, after the outputs are opened
    missing = FRAME.replace(weights="imagenet")
    picture = texture(64, 80, seed=5)
    where = MotionOutput.for_video(tmp_path / "zoom.mp4")  # the command line's
    with pytest.raises(StudioError, match="ImageNet weights"):
        run(dream_motion.dream_zoom(picture, missing, ZoomParams(frames=2), where))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
    window = session_frames_dir("dream-video", clip, {"weights": "imagenet"})  # the window's
    with pytest.raises(StudioError, match="ImageNet weights"):
        run(dream_motion.dream_video(probe(clip), missing, VideoParams(), MotionOutput(window)))
    assert not window.exists() and not list(window.parent.iterdir())
    styled = MotionOutput.for_video(tmp_path / "styled.mp4")
    job = style_motion.style_video(
        probe(clip), [picture], StyleParams(weights="imagenet", steps=2), VideoParams(), styled
    )
    with pytest.raises(StudioError, match="ImageNet weights"):
        run(job)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
    # the same command with weights that work is not blocked by what the failure left
    _events, result = run(dream_motion.dream_zoom(picture, FRAME, ZoomParams(frames=2), where))
    assert result.frames == 2


def test_a_job_stopped_before_its_first_frame_leaves_no_frames_folder(tmp_path, clip):
    where = MotionOutput.for_video(tmp_path / "dreamed.mp4")
    job = dream_motion.dream_video(probe(clip), FRAME, VideoParams(), where)
    first = next(job)  # the network is being built
    assert not isinstance(first, FrameDone) and where.frames_dir.is_dir()
    job.close()  # Stop (or Ctrl+C)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
