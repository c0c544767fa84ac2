"""The build's record of each gallery figure's smallest text (docs/_ext/sgdlab_figures.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sgdlab_figures import smallest_text  # noqa: E402  (docs/_ext: tests/conftest.py)


def test_smallest_text_finds_the_smallest_visible_label():
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.set_title("title", fontsize=14)
    ax.plot([0, 1], label="a line")
    ax.legend(fontsize=8)
    ax.text(0.5, 0.5, "hidden", fontsize=3, visible=False)
    ax.text(0.5, 0.5, "   ", fontsize=2)  # blank: nothing to read
    fig.canvas.draw()
    try:
        assert smallest_text(fig) == 8
    finally:
        plt.close(fig)


def test_a_figure_without_text_has_no_smallest_size():
    fig = plt.figure()
    try:
        assert smallest_text(fig) is None
    finally:
        plt.close(fig)
