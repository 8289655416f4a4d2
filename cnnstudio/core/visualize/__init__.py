"""Feature visualisation: what each channel of a network looks for (Olah, Mordvintsev,
Schubert 2017, "Feature Visualization", Distill; their library Lucid).

For a layer, each image of a grid is optimised to excite one channel (or one neuron, or
one class logit). The recipe, module by module:

- :mod:`.params`: :class:`~.params.VisualizeParams`, validation, the channel list parser
  and the metadata embedded in a saved grid (no TensorFlow: the GUI imports it at start);
- :mod:`.grid`: the grid's layout (a box per tile), the records and events (no TensorFlow);
- :mod:`.parameterization`: the image as a Fourier spectrum scaled by 1/frequency, with
  decorrelated colours and a sigmoid to [0, 1]; or plain pixels;
- :mod:`.transforms`: random jitter, scale and rotation at every step (robustness);
- :mod:`.objectives`: channel, neuron and class-logit objectives, and the diversity term;
- :mod:`.network`: the model (backbone, library model, ``.keras`` file), its input
  preprocessing, and the checks of layer and channels;
- :mod:`.step`: the plain optimisation step and its compiled, batched form;
- :mod:`.examples`: the images of a folder that excite a channel most, and where;
- :mod:`.job`: the generator the front ends drive.
"""
