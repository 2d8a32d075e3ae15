"""Benchmarks of the data lake against the raw clients doing the same work in the same run.

Run with ``make bench`` (or ``python -m bench`` with ``.stack/env`` loaded). Every figure is printed as a
ratio against its baseline and written to ``bench/results/``; nothing here asserts a timing.
"""
