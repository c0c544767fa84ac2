"""The layout and accessibility checks that test_site_pages.py runs on every page see what they
look for (a page made to fail each), and every gallery card has a real thumbnail.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sitekit import (
    EMPTY_NAVIGATION,
    MIN_FIGURE_SCALE,
    OVERFLOWING,
    SERIOUS_VIOLATIONS,
    SMALL_FIGURES,
    axe_source,
    each,
    open_page,
    run_checks,
    undecoded_images,
)


def test_the_checks_see_what_they_look_for(context, server):
    """The three layout checks, on a page made to fail each: they are not blind."""
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


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on an open page, one line per element."""
    page.evaluate(axe_source())
    return run_checks(page, {"found": SERIOUS_VIOLATIONS})["found"]


def test_axe_finds_a_violation_when_there_is_one(context, server):
    """An image link with no name is a serious violation: the check is not blind."""
    page, _, _ = open_page(context, server + "index.html")
    page.evaluate(
        """() => document.querySelector(".bd-article").insertAdjacentHTML(
             "beforeend", '<a href="index.html"><img src="_static/favicon.svg"></a>')"""
    )
    assert any(line.startswith(("image-alt", "link-name")) for line in serious_violations(page))
