"""``cnnstudio dream --zoom-frames``, ``cnnstudio dream VIDEO`` and ``cnnstudio style
VIDEO`` on tiny generated videos: outputs with their parameters, Ctrl+C that keeps the
video so far and a second run that continues, bad input in one line naming the file."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from video_clips import ffmpeg, with_sine_audio, write_clip

from cnnstudio.cli import motion_run
from cnnstudio.cli.main import main
from cnnstudio.core import image_saving
from cnnstudio.core.dream import estimate
from cnnstudio.core.video.events import FrameDone
from cnnstudio.core.video.reader import probe
from cnnstudio.core.video.writer import read_metadata

DREAM = ["--weights", "random", "--steps", "1", "--layers", "mixed2", "--jitter", "0"]
DREAM += ["--seed", "1", "--octaves", "1"]
STYLE = ["--weights", "random", "--steps", "2"]


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", count=6)


@pytest.fixture
def picture(tmp_path):
    rng = np.random.default_rng(2)
    return image_saving.save_image(
        tmp_path / "pic.png", rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    )


def err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_zoom_to_a_gif_with_its_parameters(tmp_path, picture, capsys):
    out = tmp_path / "zoom.gif"
    code = main(
        ["dream", str(picture), "--zoom-frames", "3", "--zoom", "1.1", "--rotate", "2",
         "--shift", "1,0", "-o", str(out), *DREAM]
    )  # fmt: skip
    assert code == 0
    assert probe(out).frames == 3
    meta = read_metadata(out)
    assert meta["job"] == "dream-zoom" and meta["params"]["zoom"]["rotate"] == 2.0
    assert meta["params"]["zoom"]["shift_x"] == 1.0 and meta["source"] == "pic.png"
    lines = err_lines(capsys)
    assert lines[0] == "dream: zoom of pic.png, 3 frames at 80x60: under 0:01"
    assert "dream: frame 3/3 done" in lines[-2]
    assert lines[-1].startswith(f"dream: wrote {out} (3 frames at 12 fps)")


def test_a_video_or_a_zoom_is_dreamed_with_the_windows_motion_recipe(tmp_path, clip, picture):
    """Per frame, the 'motion' preset (1 octave of 10 steps) as in the window, unless
    --preset, --steps or --octaves say otherwise; a picture keeps the still recipe."""
    from cnnstudio.cli.dream_cmd import params_from_args
    from cnnstudio.cli.main import build_parser
    from cnnstudio.core.dream.params import preset_params

    def recipe(*argv):
        params = params_from_args(build_parser().parse_args(["dream", *argv]))
        return params.octaves, params.steps, params.step_size

    motion = preset_params("motion")
    assert (motion.octaves, motion.steps) == (1, 10)
    expected = (1, 10, motion.step_size)
    assert recipe(str(clip), "-o", "out.mp4") == expected
    assert recipe(str(picture), "--zoom-frames", "3", "-o", "z.gif") == expected
    assert recipe(str(clip), "-o", "out.mp4", "--steps", "4") == (1, 4, motion.step_size)
    assert recipe(str(clip), "-o", "out.mp4", "--octaves", "3")[:2] == (3, 10)
    tf2 = preset_params("tf2")
    assert recipe(str(clip), "-o", "out.mp4", "--preset", "tf2") == (
        tf2.octaves, tf2.steps, tf2.step_size,
    )  # fmt: skip
    assert recipe(str(picture), "-o", "still.png")[:2] == (5, 50)  # a picture: still recipe
    # and the video made says so in its parameters
    out = tmp_path / "motion.mp4"
    assert (
        main(["dream", str(clip), "-o", str(out), "--weights", "random", "--max-frames", "1"]) == 0
    )
    dreamed = read_metadata(out)["params"]["dream"]["params"]
    assert (dreamed["octaves"], dreamed["steps"]) == (1, 10)


def test_dream_a_video_with_sound_and_style_it(tmp_path, clip, picture, capsys):
    with_audio = with_sine_audio(clip, tmp_path / "clip-audio.mp4")
    out = tmp_path / "dreamed.mp4"
    assert main(["dream", str(with_audio), "-o", str(out), "--max-frames", "3", *DREAM]) == 0
    info = probe(out)
    assert (info.frames, info.size, info.has_audio) == (3, (64, 48), True)
    assert read_metadata(out)["params"]["video"]["max_frames"] == 3
    styled = tmp_path / "styled.mp4"
    args = ["style", str(clip), str(picture), "-o", str(styled), "--no-temporal", "--size", "32"]
    assert main([*args, *STYLE, "--max-frames", "2"]) == 0
    assert probe(styled).size == (32, 24)
    meta = read_metadata(styled)
    assert meta["job"] == "style-video" and meta["params"]["video"]["temporal"] is False
    assert meta["params"]["style"]["styles"] == ["pic.png"]


def test_ctrl_c_keeps_the_video_so_far_and_the_same_command_continues(
    tmp_path, clip, monkeypatch, capsys
):
    out, frames = tmp_path / "out.mp4", tmp_path / "frames"
    argv = ["dream", str(clip), "-o", str(out), "--frames-dir", str(frames), *DREAM]
    original = motion_run.MotionReporter.event

    def press_ctrl_c_after_two_frames(self, event):
        original(self, event)
        if isinstance(event, FrameDone) and event.index == 1:
            os.kill(os.getpid(), signal.SIGINT)  # as the terminal does

    monkeypatch.setattr(motion_run.MotionReporter, "event", press_ctrl_c_after_two_frames)
    assert main(argv) == 130
    assert probe(out).frames == 2 and read_metadata(out)["complete"] is False
    last = err_lines(capsys)[-1]
    assert "stopped after 2 of 6 frames" in last and "run the same command again" in last
    monkeypatch.setattr(motion_run.MotionReporter, "event", original)
    assert main(argv) == 0  # replaces the unfinished video, continues at frame 3
    lines = err_lines(capsys)
    assert any("continuing clip.mp4 at frame 3 of 6" in line for line in lines)
    assert probe(out).frames == 6 and read_metadata(out)["complete"] is True
    assert len(list(frames.glob("frame_*.png"))) == 6  # named by the user: kept


def test_after_a_kill_the_same_command_leaves_no_hidden_part_behind(tmp_path, capsys):
    """kill -9 mid-video leaves ffmpeg's partial video hidden beside the output (and
    perhaps a frame's part in the frames folder); the run that resumes removes them, and
    the default frames folder goes once the video is complete."""
    import subprocess
    import sys
    import tempfile

    clip = write_clip(tmp_path / "long.mp4", count=12)
    out = tmp_path / "dk.mp4"
    argv = ["dream", str(clip), "-o", str(out), *DREAM]
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnstudio", *argv],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    seen = []
    try:
        for line in process.stderr:  # blocks until the process writes: no sleeping
            seen.append(line)
            if "frame 3/12 done" in line:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    assert list(tmp_path.glob(".dk.mp4.*.part")), "".join(seen)  # the partial video
    handle, _ = tempfile.mkstemp(
        prefix=".frame_000005.png.", suffix=".part", dir=tmp_path / "dk.frames"
    )
    os.close(handle)  # as a kill in the middle of saving a frame leaves
    assert main(argv) == 0
    assert any("continuing long.mp4 at frame" in line for line in err_lines(capsys))
    assert probe(out).frames == 12
    assert not list(tmp_path.glob(".*.part")) and not (tmp_path / "dk.frames").exists()


def test_a_long_job_is_refused_before_it_starts_with_a_size_that_fits(
    tmp_path, monkeypatch, capsys
):
    clip = write_clip(tmp_path / "wide.mp4", count=3, size=(320, 240))
    # a slow machine: about 2.5 hours at this size, over the 2 hours a job may take unasked
    monkeypatch.setattr(estimate, "STEP_SECONDS_PER_MEGAPIXEL", 4e4)
    out = tmp_path / "out.mp4"
    assert main(["dream", str(clip), "-o", str(out), *DREAM]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(
        "cnnstudio: video wide.mp4: a long job (over 2:00:00), 3 frames at 320x240: about 2:"
    )
    assert "; at 282x212 about 1:" in line
    assert line.endswith("pass --size 282 or less, or --size 320 to go ahead as it is")
    assert not out.exists() and not (tmp_path / "out.frames").exists()
    # an explicit --size is the user's decision: the job goes ahead, its estimate said first
    assert main(["dream", str(clip), "-o", str(out), "--size", "64", *DREAM]) == 0
    assert err_lines(capsys)[0] == "dream: wide.mp4: 3 frames at 64x48: about 6:09"


def test_a_long_job_of_small_frames_is_refused_with_the_frames_that_fit(
    tmp_path, clip, picture, monkeypatch, capsys
):
    # 6 frames of 64x48, each 50 minutes: no size helps enough, fewer frames do
    monkeypatch.setattr(estimate, "STEP_SECONDS_PER_MEGAPIXEL", 9.8e5)
    out = tmp_path / "out.mp4"
    assert main(["dream", str(clip), "-o", str(out), *DREAM]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith("cnnstudio: video clip.mp4: a long job (over 2:00:00), 6 frames")
    assert "; the first 2 frames about 1:40:" in line
    assert line.endswith("pass --max-frames 2, or --size 64 to go ahead as it is")
    assert not out.exists() and not (tmp_path / "out.frames").exists()
    assert main(["dream", str(clip), "-o", str(out), "--max-frames", "2", *DREAM]) == 0
    assert probe(out).frames == 2
    zoom = ["dream", str(picture), "--zoom-frames", "6", "-o", str(tmp_path / "z.gif"), *DREAM]
    assert main(zoom) == 2
    line = err_lines(capsys)[-1]
    assert "; the first frame about 1:" in line
    assert line.endswith("pass --zoom-frames 1, or --size 80 to go ahead as it is")


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.write_bytes(b"not a video at all"), "video broken.mp4: "),
        (lambda p: p.write_bytes(b""), "video broken.mp4: "),
    ],
)
def test_bad_videos_are_one_line_naming_the_file(tmp_path, capsys, make, fragment):
    bad = tmp_path / "broken.mp4"
    make(bad)
    assert main(["dream", str(bad), "-o", str(tmp_path / "o.mp4"), *DREAM]) == 2
    (line,) = err_lines(capsys)
    assert fragment in line


def test_flags_that_do_not_fit_are_one_line(tmp_path, clip, picture, capsys):
    cases = [
        (["dream", str(clip), "-o", str(tmp_path / "o.png")], "writes a video"),
        (["dream", str(picture), "-o", str(tmp_path / "o.png"), "--no-temporal"], "--no-temporal"),
        (["dream", str(clip), "-o", str(tmp_path / "o.mp4"), "--rotate", "3"], "--zoom-frames"),
        (["style", str(clip), "-o", str(tmp_path / "o.mp4")], "at least one style image"),
        (["dream", str(picture), "--zoom-frames", "2", "--zoom", "9", "-o", "z.gif"], "--zoom:"),
        (["dream", str(picture), "-o", str(tmp_path / "x.mp4")], "add --zoom-frames N"),
        (["dream", "--noise", "64x64", "-o", str(tmp_path / "x.gif")], "add --zoom-frames N"),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        (line,) = err_lines(capsys)
        assert fragment in line, line


def test_guide_flag_dreams_toward_a_picture(tmp_path, picture, capsys):
    out = tmp_path / "guided.png"
    argv = ["dream", "--noise", "80x80", "--guide", str(picture), "-o", str(out), *DREAM]
    assert main(argv) == 0
    from cnnstudio.core.images import read_params

    params = read_params(out)["params"]
    assert params["objective"] == "guide" and params["guide"] == str(picture.resolve())
    assert main([*argv[: -len(DREAM)], "--objective", "l2", *DREAM, "--overwrite"]) == 2
    assert "leave out --objective l2" in err_lines(capsys)[-1]
    missing = ["dream", "--noise", "80x80", "--guide", str(tmp_path / "nope.png"), "-o", "x.png"]
    assert main(missing) == 2
    assert "nope.png" in err_lines(capsys)[-1]


def test_a_variable_frame_rate_is_said_naming_the_file(tmp_path, clip, capsys):
    vfr = tmp_path / "vfr.mp4"
    ffmpeg(
        "-i", str(clip), "-vf", "setpts='(N+if(gt(N,2),4,0))/12/TB'", "-fps_mode", "vfr", str(vfr)
    )  # fmt: skip
    out = tmp_path / "out.mp4"
    assert main(["dream", str(vfr), "-o", str(out), "--max-frames", "2", *DREAM]) == 0
    lines = err_lines(capsys)
    assert any(line.startswith("dream: video vfr.mp4 has a variable frame rate") for line in lines)
    assert probe(out).frames == 2


def test_a_run_that_fails_before_its_first_frame_does_not_block_the_next(tmp_path, picture, capsys):
    out = tmp_path / "z.mp4"
    argv = ["dream", str(picture), "--zoom-frames", "2", "--size", "64", "-o", str(out)]
    untrained = DREAM[:2]
    assert untrained == ["--weights", "random"]
    # no ImageNet weights on this machine: the network cannot be built
    assert main([*argv, *DREAM[2:]]) == 2
    assert "--weights random" in err_lines(capsys)[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pic.png"]
    # what a kill -9 while the network was built leaves: a manifest without a frame
    from cnnstudio.core.video.frames import FramesFolder

    FramesFolder.open(tmp_path / "z.frames", job="dream-zoom", params={}, fps=12, frames=2)
    assert main([*argv, *DREAM]) == 0
    assert probe(out).frames == 2 and not (tmp_path / "z.frames").exists()


def test_other_settings_are_named_and_overwrite_starts_again(tmp_path, picture, capsys):
    frames = tmp_path / "kept"
    argv = ["dream", str(picture), "--zoom-frames", "2", "--frames-dir", str(frames), *DREAM]
    assert main([*argv, "-o", str(tmp_path / "z.gif")]) == 0
    out = tmp_path / "turned.gif"
    argv += ["-o", str(out), "--rotate", "3"]
    assert main(argv) == 2
    (line,) = err_lines(capsys)[-1:]
    assert line == (
        f"cnnstudio: frames folder {frames} holds 2 frames of dream-zoom of pic.png made with "
        f"other settings: rotate 0.0 (now 3.0); pass --overwrite to delete them and start "
        f"again, delete {frames} yourself, or give another --frames-dir"
    )
    assert main([*argv, "--overwrite"]) == 0
    lines = err_lines(capsys)
    assert not any("continuing" in line for line in lines)  # started again, not continued
    assert read_metadata(out)["params"]["zoom"]["rotate"] == 3.0
    assert len(list(frames.glob("frame_*.png"))) == 2


def test_ctrl_c_before_the_first_frame_leaves_nothing_and_says_so(
    tmp_path, clip, monkeypatch, capsys
):
    out = tmp_path / "out.mp4"
    original = motion_run.MotionReporter.event

    def press_ctrl_c_at_once(self, event):
        original(self, event)
        if not self.stop_requested:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(motion_run.MotionReporter, "event", press_ctrl_c_at_once)
    assert main(["dream", str(clip), "-o", str(out), *DREAM]) == 130
    last = err_lines(capsys)[-1]
    assert last.startswith("dream: stopped after ") and last.endswith(
        "before the first frame was finished; nothing was written"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
