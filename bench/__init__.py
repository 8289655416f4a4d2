"""Benchmarks against the reference recipes: ratios in one run, never timed tests."""
