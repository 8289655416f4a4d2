"""Reusable widgets: ImageView (zoom, pan, drop, compare), LossPlot, WeightsPicker,
JobProgress, and small dialogs (dialogs.py)."""
