"""Neural style transfer (Gatys et al. 2015) on VGG19.

- :mod:`.params`: StyleParams, layer presets, validation, sizes, saved-picture metadata
  (no TensorFlow: the GUI imports it at start);
- :mod:`.memory`: how much memory a run needs, and the size that fits (no TensorFlow);
- :mod:`.colors`: keeping the content's colours (numpy);
- the loss: :mod:`cnnstudio.core.perceptual` (normalised content, Gram style, total
  variation and temporal terms, shared with fast style and video);
- :mod:`.program`: those functions compiled once per layer choice (TensorFlow);
- :mod:`.job`: ``stylize``, the generator the front ends drive, with the Adam and L-BFGS
  loops; it imports the TensorFlow modules when a run starts.
"""
