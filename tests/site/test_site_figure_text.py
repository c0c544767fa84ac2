"""Every gallery figure's text can be read at 1280 px: its smallest text is at least
MIN_TEXT_PX pixels tall on screen.

The rule: a text of ``s`` points in a figure ``w`` inches wide, shown ``W`` pixels wide,
is ``s / 72 * W / w`` pixels tall (matplotlib lays a figure out in points, 72 to the inch).
``s`` and ``w`` come from the record the build writes beside each figure
(``sgdlab_figures.scrape_with_text_sizes``: the smallest visible text of the drawn figure);
``W`` is measured in the browser on every page that shows the figure.
"""

from __future__ import annotations

import json

import pytest

from helpers import ROOT
from sitekit import READER_PAGES, each

#: The smallest text on screen, in CSS pixels at a 1280-px window (9 px: the size of a
#: footnote, the smallest that reads without zooming).
MIN_TEXT_PX = 9.0

GALLERY = ROOT / "docs" / "auto_examples"


def text_records() -> dict[str, dict]:
    """The build's record of each gallery figure, by the name of its file."""
    return {
        path.name.removesuffix(".text.json"): json.loads(path.read_text())
        for path in GALLERY.glob("*/images/*.png.text.json")
    }


def text_px(record: dict, shown_px: float) -> float:
    """The smallest text of a figure shown ``shown_px`` wide, in pixels on screen."""
    return record["smallest_pt"] / 72 * shown_px / record["width_in"]


def test_the_rule():
    """matplotlib's default 10-point text in a 6.4-inch figure shown 640 px wide: 13.9 px."""
    assert round(text_px({"smallest_pt": 10.0, "width_in": 6.4}, 640), 1) == 13.9
    assert text_px({"smallest_pt": 6.0, "width_in": 6.4}, 640) < MIN_TEXT_PX


def test_every_gallery_figure_has_a_record(site):
    shown = {path.name for path in (site / "_images").glob("sphx_glr_plot_*.png") if "_thumb" not in path.name
             and "_2_00x" not in path.name}
    missing = sorted(shown - set(text_records()))
    assert shown and not missing, f"figures without a text record (re-run their scripts): {missing}"


@pytest.mark.parametrize("path", each(READER_PAGES))
def test_figure_text_is_readable_at_1280_px(path, page_reports):
    records = text_records()
    small = [
        f"{name}: {text_px(records[name], width):.1f} px"
        for name, width in page_reports[path]["figure_widths"]
        if name in records and records[name]["smallest_pt"] and text_px(records[name], width) < MIN_TEXT_PX
    ]
    assert not small, f"{path}: figure text under {MIN_TEXT_PX} px at 1280 px: {small}"
