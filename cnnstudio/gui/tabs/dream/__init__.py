"""The Dream tab: DeepDream with a live preview (form: the controls <-> DreamParams; tab: the job)."""
