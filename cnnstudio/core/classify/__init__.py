"""Classification, Grad-CAM and feature maps for any CNN: the ImageNet backbones and every
model of the library (or a ``.keras`` file).

- ``params``: results (:class:`~cnnstudio.core.classify.params.ClassifyResult`), events,
  ImageNet class names, the models to choose from (no TensorFlow: the GUI uses it at
  start-up);
- ``classifier``: a model plus its labels, input size and preprocessing; loading one;
- ``batch``: files and folders to results, the job generator, the CSV export;
- ``explain``: Grad-CAM / HiResCAM heat maps, overlays, feature maps.
"""
