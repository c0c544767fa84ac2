"""No line of a code block or an output wraps at 1280 px: the width of the code box is measured
in the browser, in columns of its own font, not assumed (``sitekit.WRAPPED_LINES``).

A wrapped line reads as the next line of output (a wrapped comment in a doctest looks like a
printed value), so any line wider than its box fails, on every reader's page.
"""

from __future__ import annotations

import pytest

from sitekit import CODE_BOX_COLUMNS, CODE_COLUMNS, READER_PAGES, WRAPPED_LINES, each, open_page


@pytest.mark.parametrize("path", each(READER_PAGES))
def test_no_code_line_wraps_at_1280_px(path, page_reports):
    found = page_reports[path]["wrapped_lines"]
    assert not found, f"{path}: lines wider than their code box at 1280 px: {found}"


def test_the_code_box_holds_the_columns_the_pages_keep_to(context, server):
    """The pages and scripts keep code lines to CODE_COLUMNS; the box at 1280 px must hold them."""
    page, _, _ = open_page(context, server + "guide/troubleshooting.html")
    columns = page.evaluate(CODE_BOX_COLUMNS)
    assert CODE_COLUMNS <= columns < CODE_COLUMNS + 8, columns


def test_the_check_sees_a_wrapped_line(context, server):
    """A line one column wider than the box is reported; one that fits is not."""
    page, _, _ = open_page(context, server + "guide/troubleshooting.html")
    columns = int(page.evaluate(CODE_BOX_COLUMNS))
    assert page.evaluate(WRAPPED_LINES) == []
    page.evaluate(
        """(columns) => document.querySelector(".bd-article").insertAdjacentHTML("beforeend",
             '<div class="highlight"><pre>' + "y".repeat(columns) + "\\n" + "x".repeat(columns + 1) + "</pre></div>")""",
        columns,
    )
    found = page.evaluate(WRAPPED_LINES)
    assert len(found) == 1 and found[0].startswith(f"{columns + 1} columns in a box of {columns}"), found
