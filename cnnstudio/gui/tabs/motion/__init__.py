"""Motion in the Dream and Style tabs: a video dropped on the picture (or the Style
content slot), or Dream's zoom animation, made frame by frame with the live preview, a
frame strip of the finished frames, and Save video.

- :mod:`.jobs`: what runs on workers (probing a video, the motion job with a strip event
  per finished frame, saving the video of a frames folder); no widgets.
- :mod:`.strip`: :class:`FrameStrip`, a scrubber over thumbnails of the finished frames.
- :mod:`.panel`: :class:`MotionPanel`, the strip with the video options and Save video,
  under the preview.
- :mod:`.controller`: :class:`MotionController`, what a tab delegates to: the video in,
  the questions before a run (a long job, frames made before), the events, the
  frames folder kept until the video is saved, and the close question.
"""
