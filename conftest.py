"""Pytest setup shared by the tests and the docstring examples under ``src/``."""

import matplotlib

# Plots are drawn off-screen, in tests and doctests alike.
matplotlib.use("Agg")
