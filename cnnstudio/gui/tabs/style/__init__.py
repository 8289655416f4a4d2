"""The Style tab: neural style transfer with a live preview (form: the controls <-> StyleParams;
tab: the pictures, the job, the snapshots)."""
