"""Motion: flicker with and without temporal consistency, memory against the number of
frames, and what a video frame costs against a still picture.

The clip is generated: a still textured background and a textured square moving across
it (what optical flow must follow), 160x120, written as an MP4 and read back as the jobs
read any video. Networks have random weights (no download needed; the ratios are what
matter, and an untrained network flickers as a trained one does: each frame's
optimisation lands somewhere else).

- Flicker (the issue's measure): the mean absolute difference between consecutive output
  frames after warping the earlier one by the *input's* own optical flow, where the flow
  is reliable; temporal mode against independent frames, same job, same run. Style
  (Gatys: Adam from the content), Dream (one octave per frame, rolls of its own per
  frame) and a fast style network. The issue asks for temporal <= 0.5x independent.
- Memory: peak Python/NumPy allocation (tracemalloc) and peak RSS growth of a video job
  on 10 frames, then on 100: flat means frames are streamed, never held.
- Cost: seconds per frame of video Style (temporal: flow both ways, mask, warp, the
  temporal term) against a still picture of the same size and steps; the issue asks for
  at most 1.2x.

    python -m bench motion     (BENCH_MOTION_FRAMES, BENCH_MOTION_STEPS)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from bench.common import peak_rss_mb, record

FRAMES = int(os.environ.get("BENCH_MOTION_FRAMES", "12"))
STEPS = int(os.environ.get("BENCH_MOTION_STEPS", "40"))
SIZE = (160, 120)
FLICKER_TARGET = 0.5
COST_TARGET = 1.2


def _texture(height: int, width: int, seed: int, low: float, high: float) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.5)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    tint = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
    return (low + noise[..., None] * tint * (high - low)).astype(np.uint8)


def write_clip(path: Path, frames: int, size: tuple[int, int] = SIZE) -> Path:
    """A still background, a 24 px square moving 3 px right per frame (streamed out)."""
    from cnnstudio.core.video.writer import VideoWriter

    width, height = size
    background = _texture(height, width, 1, 0, 150)
    square = _texture(24, 24, 2, 110, 255)
    with VideoWriter(path, fps=12, size=size, crf=10) as writer:
        for index in range(frames):
            frame = background.copy()
            x = (20 + 3 * index) % (width - 24)
            frame[height // 2 - 12 : height // 2 + 12, x : x + 24] = square
            writer.write(frame)
    return path


def _drive(job) -> object:
    while True:
        try:
            next(job)
        except StopIteration as stop:
            return stop.value


def _style_params():
    from cnnstudio.core.style.params import StyleParams

    return StyleParams(weights="random", steps=STEPS, size=max(SIZE), preview_interval=1e9)


def _flicker(folder: Path, info) -> dict:
    """Temporal against independent, for Style, Dream and a fast style network."""
    from cnnstudio.core.dream.motion import dream_video
    from cnnstudio.core.dream.params import preset_params
    from cnnstudio.core.faststyle import models, network
    from cnnstudio.core.faststyle.params import STYLE_KIND
    from cnnstudio.core.faststyle.video import fast_style_video
    from cnnstudio.core.style.motion import style_video
    from cnnstudio.core.video.outputs import MotionOutput
    from cnnstudio.core.video.params import VideoParams

    style = _texture(120, 120, 9, 0, 255)
    dream = preset_params("motion").replace(weights="random", seed=5)
    models.save_style_model(
        network.build_style_network(seed=0), "motion-bench-style", {"kind": STYLE_KIND}
    )
    jobs = {
        "style": lambda video, where: style_video(
            info, [style], _style_params(), video, where, measure_flicker=True
        ),
        "dream": lambda video, where: dream_video(info, dream, video, where, measure_flicker=True),
        "fast style": lambda video, where: fast_style_video(
            info, "motion-bench-style", video, where, measure_flicker=True
        ),
    }
    results = {}
    for name, make in jobs.items():
        row = {}
        for temporal in (False, True):
            where = MotionOutput(folder / f"{name}-{temporal}".replace(" ", "-"))
            start = time.perf_counter()
            result = _drive(make(VideoParams(temporal=temporal), where))
            row["temporal" if temporal else "independent"] = result.flicker
            row[f"seconds_{'temporal' if temporal else 'independent'}"] = (
                time.perf_counter() - start
            )
        row["ratio"] = row["temporal"] / row["independent"]
        results[name] = row
        print(
            f"flicker {name:10s}: independent {row['independent']:6.2f}, temporal "
            f"{row['temporal']:6.2f} levels: {row['ratio']:.2f}x "
            f"({'ok' if row['ratio'] <= FLICKER_TARGET else 'ABOVE'} the {FLICKER_TARGET}x target)",
            flush=True,
        )
    return results


def _memory(folder: Path) -> dict:
    """Peak allocation and RSS growth of a video job (fast style, temporal) at 10 and
    100 frames."""
    from cnnstudio.core.faststyle.video import fast_style_video
    from cnnstudio.core.video.outputs import MotionOutput
    from cnnstudio.core.video.params import VideoParams
    from cnnstudio.core.video.reader import probe

    clips = {n: probe(write_clip(folder / f"clip{n}.mp4", n)) for n in (10, 100)}
    _drive(  # first use: imports, the network's trace, ffmpeg's and OpenCV's set-up
        fast_style_video(clips[10], "motion-bench-style", VideoParams(), MotionOutput.for_video(
            folder / "warm.mp4"))
    )  # fmt: skip
    rows = {}
    for frames, info in clips.items():
        rss_before = peak_rss_mb()
        tracemalloc.start()
        try:
            _drive(
                fast_style_video(
                    info, "motion-bench-style", VideoParams(),
                    MotionOutput.for_video(folder / f"out{frames}.mp4"), measure_flicker=True,
                )
            )  # fmt: skip
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        rows[frames] = {
            "traced_peak_mb": peak / 2**20,
            "rss_growth_mb": peak_rss_mb() - rss_before,
        }
    growth = rows[100]["traced_peak_mb"] - rows[10]["traced_peak_mb"]
    frame_mb = SIZE[0] * SIZE[1] * 3 / 2**20
    print(
        f"memory: traced peak {rows[10]['traced_peak_mb']:.1f} MB at 10 frames, "
        f"{rows[100]['traced_peak_mb']:.1f} MB at 100 ({growth:+.2f} MB, a frame is "
        f"{frame_mb:.2f} MB); peak RSS grew {rows[100]['rss_growth_mb']:.1f} MB over the "
        "100-frame run",
        flush=True,
    )
    return {"frames": rows, "traced_growth_mb": growth, "frame_mb": frame_mb}


def _cost(folder: Path, info) -> dict:
    """Seconds per frame of video Style (temporal, after its steps are traced) against a
    still of the same size and steps."""
    from cnnstudio.core.style.job import stylize
    from cnnstudio.core.style.motion import style_video
    from cnnstudio.core.video.outputs import MotionOutput
    from cnnstudio.core.video.params import VideoParams
    from cnnstudio.core.video.reader import read_frames

    style = _texture(120, 120, 9, 0, 255)
    content = np.array(next(iter(read_frames(info.path))))
    params = _style_params()
    _drive(stylize(content, [style], params))  # traced
    stills = []
    for _ in range(3):
        start = time.perf_counter()
        _drive(stylize(content, [style], params))
        stills.append(time.perf_counter() - start)
    still = statistics.median(stills)
    warm = VideoParams(max_frames=2)  # traces the temporal step
    _drive(style_video(info, [style], params, warm, MotionOutput(folder / "cost-warm")))
    frames = min(FRAMES, info.frames)
    start = time.perf_counter()
    _drive(
        style_video(
            info, [style], params, VideoParams(max_frames=frames), MotionOutput(folder / "cost")
        )
    )
    per_frame = (time.perf_counter() - start) / frames
    ratio = per_frame / still
    verdict = "ok" if ratio <= COST_TARGET else "ABOVE"
    print(
        f"cost: video Style {per_frame:.2f} s/frame, still {still:.2f} s ({SIZE[0]}x{SIZE[1]}, "
        f"{STEPS} steps): {ratio:.2f}x ({verdict} the {COST_TARGET}x target)",
        flush=True,
    )
    return {"video_seconds_per_frame": per_frame, "still_seconds": still, "ratio": ratio}


def main() -> None:
    from cnnstudio.core import device
    from cnnstudio.core.video.reader import probe

    device.configure_devices()
    with tempfile.TemporaryDirectory() as home:
        os.environ["CNNSTUDIO_HOME"] = home  # the bench's style model, not the user's
        folder = Path(home)
        info = probe(write_clip(folder / "clip.mp4", FRAMES))
        flicker = _flicker(folder, info)
        cost = _cost(folder, info)
        memory = _memory(folder)
    path = record(
        "motion",
        {
            "size": list(SIZE),
            "frames": FRAMES,
            "style_steps": STEPS,
            "flicker": flicker,
            "cost": cost,
            "memory": memory,
        },
    )
    print(f"recorded {path}")
