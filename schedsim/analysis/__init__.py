"""Metrics, plots and reports over run directories (rliable-style CIs; plot functions return Axes)."""
