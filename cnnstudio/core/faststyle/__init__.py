"""Fast style transfer (Johnson et al. 2016): train a style network once from a folder of
photos and one or more style pictures, then style any picture in one forward pass.

- :mod:`.params`: FastStyleParams, the defaults, validation (no TensorFlow);
- :mod:`.photos`: the photo folder read as training squares, unreadable files listed;
- :mod:`.runs`: run folders (config, style pictures, checkpoints, history, status);
- :mod:`.events`: what a run reports besides Progress/Preview/Notice;
- :mod:`.models`: style models in the library (sidecar kind "style", thumbnail) and the
  checks that keep them apart from classifiers (no TensorFlow);
- :mod:`.job`: ``train`` / ``resume``, the callback job the front ends drive (no
  TensorFlow until a run starts);
- TensorFlow, imported when used: :mod:`.network` (the architecture), :mod:`.training`
  (the compiled step, checkpoints), :mod:`.apply` (loading a style model, styling a
  picture at any size, in tiles when it is very large).

The loss is :mod:`cnnstudio.core.perceptual`, the one neural style transfer uses.
"""
