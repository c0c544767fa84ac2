"""The built site as a reader at a 1280-px window sees it: nothing to scroll sideways, figures
shown at a readable size, a real thumbnail on every gallery card, no empty navigation, and no
serious or critical accessibility violation (axe-core).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sitekit import PAGES, each, open_page, undecoded_images

#: Pages a reader reads (viewcode's module sources are listings, tested by the other files).
READER_PAGES = [page for page in PAGES if not page.startswith("_modules/")]

#: A figure may be shown smaller than its natural size, but not by more than this.
MIN_FIGURE_SCALE = 0.8

OVERFLOWING = """
() => {
  const wide = (element) => element.scrollWidth > element.clientWidth + 1;
  const found = [...document.querySelectorAll("pre, div.math, .table-wrapper, dt.sig")]
    .filter((box) => box.offsetParent !== null && wide(box))
    .map((box) => `${box.tagName.toLowerCase()} ${box.scrollWidth}px in ${box.clientWidth}px: `
                  + box.textContent.trim().split("\\n")[0].slice(0, 60));
  if (wide(document.documentElement)) found.push(`the page itself: ${document.documentElement.scrollWidth}px`);
  return found;
}
"""

SMALL_FIGURES = """
(scale) => [...document.querySelectorAll("img.sphx-glr-single-img, img.sphx-glr-multi-img")]
  .filter((img) => img.offsetParent !== null && img.naturalWidth > 0)
  .filter((img) => img.getBoundingClientRect().width < scale * img.naturalWidth)
  .map((img) => `${img.currentSrc.split("/").pop()}: shown ${Math.round(img.getBoundingClientRect().width)}px `
              + `of ${img.naturalWidth}px`)
"""

EMPTY_NAVIGATION = """
() => [...document.querySelectorAll("nav, .bd-sidebar-primary, .bd-sidebar-secondary")]
  .filter((element) => element.offsetParent !== null && element.getBoundingClientRect().width > 0)
  .filter((element) => element.innerText.trim() !== "" && element.querySelectorAll("a[href]").length === 0)
  .map((element) => `${element.tagName.toLowerCase()}.${[...element.classList].join(".")}: `
                  + JSON.stringify(element.innerText.trim().slice(0, 60)))
"""


@pytest.mark.parametrize("path", each(READER_PAGES))
def test_page_fits_a_1280_px_window(path, context, server):
    """No code block, output, displayed formula, table, API signature or page wider than its box; figures at 80% of their size or more;
    no navigation box with a heading and nothing to follow."""
    page, _, _ = open_page(context, server + path)
    undecoded_images(page)
    if page.locator("div.math").count():  # measured once MathJax has typeset them
        page.locator("div.math mjx-container").first.wait_for(timeout=15_000)
    overflowing = page.evaluate(OVERFLOWING)
    small = page.evaluate(SMALL_FIGURES, MIN_FIGURE_SCALE)
    empty = page.evaluate(EMPTY_NAVIGATION)
    assert not overflowing, f"{path}: needs a sideways scroll at 1280 px: {overflowing}"
    assert not small, f"{path}: figures shown below {MIN_FIGURE_SCALE:.0%} of their width: {small}"
    assert not empty, f"{path}: navigation with nothing in it: {empty}"


def test_the_checks_see_what_they_look_for(context, server):
    """The three checks above, on a page made to fail each: they are not blind."""
    page, _, _ = open_page(context, server + "index.html")
    page.evaluate(
        """() => {
          const article = document.querySelector(".bd-article");
          article.insertAdjacentHTML("beforeend",
            '<pre style="white-space: pre">' + "x".repeat(400) + "</pre>" +
            '<img class="sphx-glr-single-img" style="width: 10px" '
            + 'src="data:image/svg+xml;utf8,<svg xmlns=%22http://www.w3.org/2000/svg%22 width=%22400%22 height=%2210%22/>">' +
            '<nav class="probe">Section Navigation</nav>');
        }"""
    )
    undecoded_images(page)
    assert page.evaluate(OVERFLOWING)
    assert page.evaluate(SMALL_FIGURES, MIN_FIGURE_SCALE)
    assert page.evaluate(EMPTY_NAVIGATION)


def placeholder_thumbnails(tmp_path: Path) -> dict[str, str]:
    """Digests of the thumbnails sphinx-gallery makes for a script with no figure (or a broken one)."""
    from sphinx_gallery.gen_gallery import DEFAULT_GALLERY_CONF
    from sphinx_gallery.gen_rst import scale_image
    from sphinx_gallery import glr_path_static

    digests = {}
    for name in ("no_image.png", "broken_example.png"):
        target = tmp_path / name
        scale_image(Path(glr_path_static()) / name, target, *DEFAULT_GALLERY_CONF["thumbnail_size"])
        digests[hashlib.sha256(target.read_bytes()).hexdigest()] = name
    return digests


def test_no_gallery_card_shows_a_placeholder_thumbnail(site, tmp_path):
    placeholders = placeholder_thumbnails(tmp_path)
    thumbnails = sorted((site / "_images").glob("sphx_glr_*_thumb.png"))
    assert thumbnails, "the site has no gallery thumbnails"
    found = [
        f"{thumb.name} ({placeholders[digest]})"
        for thumb in thumbnails
        if (digest := hashlib.sha256(thumb.read_bytes()).hexdigest()) in placeholders
    ]
    assert not found, f"gallery cards without a figure of their own: {found}"


SERIOUS = ("serious", "critical")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on an open page, one line per element."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
        for node in violation["nodes"]
    ]


@pytest.mark.parametrize("path", each(READER_PAGES))
def test_no_serious_accessibility_violation(path, context, server):
    page, _, _ = open_page(context, server + path)
    found = serious_violations(page)
    assert not found, f"{path}: axe-core finds {len(found)} serious or critical violations: {found}"


def test_axe_finds_a_violation_when_there_is_one(context, server):
    """An image link with no name is a serious violation: the check is not blind."""
    page, _, _ = open_page(context, server + "index.html")
    page.evaluate(
        """() => document.querySelector(".bd-article").insertAdjacentHTML(
             "beforeend", '<a href="index.html"><img src="_static/favicon.svg"></a>')"""
    )
    assert any(line.startswith(("image-alt", "link-name")) for line in serious_violations(page))
