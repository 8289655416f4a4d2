"""DeepDream: gradient ascent on a network's activations, as a generator of events.

- ``params``: :class:`~cnnstudio.core.dream.params.DreamParams`, presets, validation,
  octave sizes, metadata (no TensorFlow: the GUI uses it at start-up);
- ``recipe``: the objective, the gradient-ascent step and the octave loop as keras-io's
  ``deep_dream.py`` and the TF tutorial write them;
- ``tiled_step``: the same step compiled once and run on tiles after a random roll;
- ``network``: what to dream with: a backbone, a library model or a ``.keras`` file;
- ``job``: :func:`~cnnstudio.core.dream.job.dream`, the generator the front ends drive.
"""
