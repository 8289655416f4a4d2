"""Reusable widgets: ImageView (zoom, pan, drop, compare), LossPlot, WeightsPicker,
JobProgress, spin boxes, thumbnails, drop targets (PathDropArea, DatasetField), table
delegates, and small dialogs (dialogs.py, library_dialog.py)."""
