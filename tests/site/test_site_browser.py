"""The built site in a real browser: search finds things, copy buttons copy code only, a missing
address gets a working 404 page, and screenshots are saved to look at. (The checks of every page
are in test_site_pages.py.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup

from sitekit import (
    PAGES,
    each,
    open_page,
    screenshots_folder,
    undecoded_images,
)


@pytest.mark.parametrize("word", each(["nesterov", "param_groups"]))
def test_search_finds(word, context, server):
    page, watch, _ = open_page(context, f"{server}search.html?q={word}")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=15_000)
    assert results.count() >= 1
    assert not watch.errors, watch.errors


def pages_with_examples(site) -> Iterator[str]:
    """Pages (module sources aside) that show a ``>>>`` example."""
    for path in PAGES:
        if path.startswith("_modules/"):
            continue
        soup = BeautifulSoup((site / path).read_text(encoding="utf-8"), "html.parser")
        if any(pre.get_text().startswith(">>> ") for pre in soup.select("div.highlight pre")):
            yield path


def test_copy_button_copies_code_without_prompts_or_output(browser, server, site):
    """Click the copy button of a ``>>>`` example and read what landed on the clipboard."""
    path = next(pages_with_examples(site), None)
    if path is None:
        pytest.fail("no page shows a '>>>' example to copy")
    ctx = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        page, _, _ = open_page(ctx, server + path)
        block = page.locator("div.highlight").filter(has=page.locator("pre", has_text=re.compile(r"^>>> "))).first
        shown = block.locator("pre").inner_text()
        block.hover()
        block.locator("button.copybtn").click()
        copied = page.evaluate("navigator.clipboard.readText()")
    finally:
        ctx.close()
    code = [line[4:] for line in shown.splitlines() if re.match(r"(>>>|\.\.\.) ", line)]
    assert len(code) < len(shown.splitlines()), "the example shows no output to leave out"
    assert copied.splitlines() == code, f"copied:\n{copied}\nshown:\n{shown}"


def test_a_missing_address_gets_a_styled_404_page_at_any_depth(context, server):
    url = server + "no/such/folder/page.html"
    page, watch, response = open_page(context, url, expected_errors=(url,))
    assert response.status == 404
    assert page.locator("h1").inner_text().startswith("Page not found")
    assert not watch.failed, watch.failed
    assert not watch.errors, watch.errors
    stylesheets = page.evaluate("[...document.styleSheets].filter(s => s.href).map(s => s.href)")
    assert any("pydata-sphinx-theme.css" in href for href in stylesheets), stylesheets
    page.get_by_role("link", name="home page").click()
    page.wait_for_load_state("load")
    assert page.url == server + "index.html"


#: The pages to look at after a change of layout: the home page, an article page, a guide page
#: and two gallery pages (one with a figure, one that prints a table).
SCREENSHOTS = {
    "home": lambda: "index.html",
    "article": lambda: "article/worked-example.html",
    "guide": lambda: "guide/momentum.html",
    "gallery": lambda: "auto_examples/momentum/plot_effective_step.html",
    "gallery-output": lambda: "auto_examples/pitfalls/plot_none_vs_zero_grad.html",
}


@pytest.mark.parametrize("scheme", each(["light", "dark"]))
@pytest.mark.parametrize("name", each(sorted(SCREENSHOTS)))
def test_screenshots(name, scheme, browser, server, site):
    """Save full-page screenshots to look at; the theme must follow the reader's colour scheme."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page, watch, _ = open_page(ctx, server + SCREENSHOTS[name]())
        undecoded_images(page)
        assert page.evaluate("document.documentElement.dataset.theme") == scheme
        if scheme == "dark":
            # Plots keep their white background; the frame from sgdlab.css sets them off.
            backgrounds = page.eval_on_selector_all(
                "img.sphx-glr-single-img, img.sphx-glr-multi-img",
                "imgs => imgs.map(i => getComputedStyle(i).backgroundColor)",
            )
            assert all(color == "rgb(255, 255, 255)" for color in backgrounds), backgrounds
        target = screenshots_folder(site) / f"{name}-{scheme}.png"
        page.screenshot(path=str(target), full_page=True)
    finally:
        ctx.close()
    assert target.stat().st_size > 10_000
    assert not watch.failed and not watch.errors
