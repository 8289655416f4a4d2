"""Motion: videos in and out, optical flow, the zoom animation, and the frame loops that
turn a still-image job (Dream, Style) into a video job.

Light modules (no OpenCV, no imageio; the window may import them at start-up):

- ``params``: ``ZoomParams``, ``VideoParams`` (``temporal``, ``flow``, ``size``,
  ``max_frames``), ``VideoInfo`` (what :func:`reader.probe` found), suffixes and limits,
  ``video_metadata``, ``default_frames_dir``/``sidecar_path``, and the time estimate:
  ``plan_workload``/``check_workload`` (seconds per megapixel-frame in; over the budget, a
  smaller size or a frame limit out).
- ``events``: ``FrameProgress`` (a ``Progress`` whose ``fraction`` covers the whole
  video), ``FrameDone`` (a ``Preview`` of a finished frame), ``WrittenVideo``,
  ``MotionResult``.

Compute modules (import cv2 / imageio at their top; import them inside the job):

- ``reader``: ``probe(path) -> VideoInfo`` (exact frame count, mean fps, variable-rate
  check, sound, decodability; refusals name the file), ``read_frames(path, size=, start=)``.
- ``writer``: ``VideoWriter(path, fps=, size=, audio_from=, metadata=, overwrite=)``:
  MP4 (H.264, yuv420p) or GIF, streamed, atomic, sound copied, parameters embedded and
  beside it as JSON; ``read_metadata(path)``.
- ``frames``: ``FramesFolder.open(dir, job=, params=, fps=, frames=, source=)`` (PNG per
  finished frame, manifest, resume), ``assemble(folder, output, ...)``.
- ``flow``: ``FlowEstimator("dis"|"farneback")``, ``warp``, ``consistency_mask`` (Ruder
  et al. 2016), ``flicker``/``FlickerMeter``.
- ``zoom``: ``zoom_frame`` and ``zoom_animation(first, ZoomParams, process, folder=,
  writer=)`` with ``process(frame, index)``.
- ``perframe``: ``process_video(info, process, VideoParams, folder=, writer=,
  measure_flicker=)`` with ``process(frame, init, previous_warped, mask)``;
  ``open_writer``, ``frame_count``.

How a job plugs in. A frame's job is the still job's generator: it yields
``Progress``/``Preview``/``Notice`` and returns the uint8 RGB frame (same shape as the
input frame); a plain function returning the frame also works. The drivers re-tell its
``Progress`` as ``FrameProgress`` ("frame 3 of 12, ...", fraction over the video for the
one ``Eta``), yield a ``FrameDone`` per frame, save it in the frames folder, stream it to
the writer, and return a ``MotionResult``. Closing the driver (Stop) closes the frame's
job and writes the video of the frames so far; an error abandons the writer, and the
frames folder keeps every finished frame; the next run on that folder continues.

A Dream zoom, for example::

    params = ZoomParams(frames=60, zoom=1.05)
    folder = FramesFolder.open(frames_dir, job="dream-zoom",
                               params={**dream.metadata(), **params.frame_params()},
                               fps=params.fps, frames=params.frames, source=input_path)
    writer = VideoWriter(output, fps=params.fps, size=(w, h), metadata=video_metadata(...))
    job = zoom_animation(first, params, lambda frame, i: dream_steps(frame, steps=10),
                         folder=folder, writer=writer)

and a Style video: ``info = probe(path)``; ``check_workload(info, seconds_per_mpx)``;
``process_video(info, style_frame, VideoParams(), folder=..., writer=open_writer(...))``
where ``style_frame(frame, init, warped, mask)`` starts from ``init`` and adds
``weight * mean(mask * (x - warped) ** 2)`` to its loss.
"""
