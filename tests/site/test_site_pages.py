"""Every page of the built site, opened once in a browser (``sitekit.PageReports``): it loads
with no failed request or console error, shows its images and typeset maths, says in its footer
what built it; a reader's page also fits a 1280-px window (no sideways scroll, figures at a
readable size, no empty navigation) and has no serious or critical accessibility violation
(axe-core). The checks themselves are shown to fail in test_site_layout.py.
"""

from __future__ import annotations

import pytest
import torch

import sgdlab
from sitekit import MIN_FIGURE_SCALE, PAGES, READER_PAGES, VIEWPORT, PageReports, each, serve


def build_facts() -> dict[str, str]:
    """What the footer of every page must say built it."""
    return {
        "sgdlab": sgdlab.__version__,
        "torch": torch.__version__,
        "devices": ", ".join(str(device) for device in sgdlab.devices()),
    }


@pytest.mark.parametrize("path", each(PAGES))
def test_page_in_a_browser(path, page_reports):
    """Loads with no failed request and no console error, shows its images and typeset maths, says what built it."""
    report = page_reports[path]
    assert report["status"] == 200
    assert not report["failed"], f"{path}: local requests failed: {report['failed']}"
    assert not report["errors"], f"{path}: console errors: {report['errors']}"
    assert not report["undecoded"], f"{path}: images the browser could not decode: {report['undecoded']}"
    maths = report["maths"]
    assert not maths["raw"], f"{path}: {maths['raw']} of {maths['formulas']} formulas left as raw TeX"

    footer = report["build_info"]
    assert footer["count"] == 1, f"{path}: no build information in the footer"
    facts = build_facts()
    assert {key: footer[key] for key in facts} == facts


@pytest.mark.parametrize("path", each(READER_PAGES))
def test_page_fits_a_1280_px_window(path, page_reports):
    """No code block, output, displayed formula, table, API signature or page wider than its box; figures at 80% of their size or more;
    no navigation box with a heading and nothing to follow."""
    report = page_reports[path]
    assert not report["overflowing"], f"{path}: needs a sideways scroll at 1280 px: {report['overflowing']}"
    assert not report["small_figures"], f"{path}: figures shown below {MIN_FIGURE_SCALE:.0%} of their width: {report['small_figures']}"
    assert not report["empty_navigation"], f"{path}: navigation with nothing in it: {report['empty_navigation']}"


@pytest.mark.parametrize("path", each(READER_PAGES))
def test_no_serious_accessibility_violation(path, page_reports):
    found = page_reports[path]["serious_violations"]
    assert not found, f"{path}: axe-core finds {len(found)} serious or critical violations: {found}"


def test_a_report_sees_a_broken_page_and_the_next_page_starts_clean(browser, tmp_path):
    """A missing image and a script error show in that page's report, and not in the next one's."""
    (tmp_path / "broken.html").write_text(
        '<html><body><img src="missing.png" alt="x"><script>undefinedFunction()</script></body></html>')
    (tmp_path / "clean.html").write_text('<html><body><p>fine</p></body></html>')
    ctx = browser.new_context(viewport=VIEWPORT)
    try:
        with serve(tmp_path) as url:
            reports = PageReports(ctx, url)
            broken, clean = reports["broken.html"], reports["clean.html"]
    finally:
        ctx.close()
    assert any("missing.png: HTTP 404" in line for line in broken["failed"]), broken
    assert any("undefinedFunction" in line for line in broken["errors"]), broken
    assert broken["undecoded"], broken
    assert (clean["status"], clean["failed"], clean["errors"], clean["undecoded"]) == (200, [], [], [])
