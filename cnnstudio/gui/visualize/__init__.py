"""The feature visualisation view ("What does this channel look for?"): a window of its
own, opened from View > Feature visualisation... or Classify's feature maps.

``launcher.py`` (the main window's one view, the route of Send to Dream), ``view.py``
(VisualizeWindow: the job, the live grid, Stop, Save grid), ``form.py`` and ``groups.py``
(controls <-> VisualizeParams), ``layers.py`` (the model's layer list, read on a worker),
``panel.py`` (channels and objectives, the chosen channel's dataset examples),
``work.py`` (worker-side functions), ``hints.py`` (messages), ``saving.py`` (metadata).
"""
