"""Every link inside the built site leads somewhere, and every image says what it shows.

Sphinx's ``nitpicky`` mode already fails the build on a cross-reference it cannot resolve;
this reads the HTML it wrote, so it also catches raw links, theme links and #anchors.
"""

from __future__ import annotations

import functools
import posixpath
import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

import sgdlab
from sitekit import EXAMPLES, PAGES, each, example_id, example_page

#: Attributes that hold a URL the browser follows or loads.
URL_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src", "source": "src", "iframe": "src"}
IMAGE_FILE_NAME = re.compile(r"^[\w.-]+\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)


@functools.cache
def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@functools.cache
def anchors_of(path: Path) -> frozenset[str]:
    """The fragment names a page defines: every ``id`` and every ``<a name>``."""
    soup = soup_of(path)
    ids = {tag["id"] for tag in soup.find_all(id=True)}
    names = {tag["name"] for tag in soup.find_all("a", attrs={"name": True})}
    return frozenset(ids | names)


def local_urls(page: str, soup: BeautifulSoup) -> list[tuple[str, str]]:
    """(url as written, resolved site path with its #fragment) for each link that stays on the site.

    URLs resolve against the page's address, or its ``<base href>`` when it has one; absolute
    paths are taken from the site's root.
    """
    base_tag = soup.find("base", href=True)
    base = urljoin("/" + page, base_tag["href"]) if base_tag else "/" + page
    found = []
    for tag_name, attribute in URL_ATTRIBUTES.items():
        for tag in soup.find_all(tag_name, attrs={attribute: True}):
            url = tag[attribute]
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:")):
                continue
            found.append((url, urljoin(base, url)))
    return found


def broken_links(site: Path, page: str) -> list[str]:
    """The links of ``page`` whose file or #anchor does not exist in the built site."""
    broken = []
    for url, resolved in local_urls(page, soup_of(site / page)):
        parts = urlsplit(resolved)
        path = unquote(posixpath.normpath(parts.path)).lstrip("/")
        target = site / path
        if target.is_dir() or parts.path.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{url} -> {path or '/'} (no such file)")
            continue
        fragment = unquote(parts.fragment)
        if fragment and target.suffix == ".html" and fragment not in anchors_of(target):
            broken.append(f"{url} -> {target.relative_to(site).as_posix()}#{fragment} (no such anchor)")
    return broken


@pytest.mark.parametrize("page", each(PAGES))
def test_every_local_link_and_anchor_resolves(page, site):
    assert not broken_links(site, page), f"{page}: broken links:\n" + "\n".join(broken_links(site, page))


@pytest.mark.parametrize("page", each(PAGES))
def test_every_image_says_what_it_shows(page, site):
    """Each ``<img>`` has alt text, and not a bare file name standing in for one."""
    bad = []
    for image in soup_of(site / page).find_all("img"):
        alt = (image.get("alt") or "").strip()
        file_name = PurePosixPath(urlsplit(image.get("src", "")).path).name
        if not alt or alt == file_name or IMAGE_FILE_NAME.match(alt):
            bad.append(f"{image.get('src')}: alt={alt!r}")
    assert not bad, f"{page}: images without a description:\n" + "\n".join(bad)


def test_the_crawler_finds_a_broken_anchor(tmp_path):
    """The check above can fail: a link to a missing anchor and one to a missing file are caught."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a><a href="sub/page.html#gone">x</a>'
        '<a href="missing.html">x</a><a href="https://example.org/">out</a><a href="#top" id="top">t</a>'
    )
    (tmp_path / "sub" / "page.html").write_text('<h1 id="here">Here</h1><a href="../index.html#top">up</a>')
    soup_of.cache_clear()
    anchors_of.cache_clear()
    assert broken_links(tmp_path, "index.html") == [
        "sub/page.html#gone -> sub/page.html#gone (no such anchor)",
        "missing.html -> missing.html (no such file)",
    ]
    assert broken_links(tmp_path, "sub/page.html") == []


def test_the_crawler_reads_links_against_a_base_tag(tmp_path):
    (tmp_path / "index.html").write_text('<p id="top">home</p>')
    (tmp_path / "404.html").write_text('<base href="/"><a href="index.html#top">home</a><a href="#nowhere">x</a>')
    soup_of.cache_clear()
    anchors_of.cache_clear()
    assert broken_links(tmp_path, "404.html") == ["#nowhere -> index.html#nowhere (no such anchor)"]


LINKED_API = re.compile(r"\b(sgdlab\.[A-Za-z_]\w*|torch\.optim\.SGD)\b")


@pytest.mark.parametrize("script", each(EXAMPLES, ids=example_id))
def test_gallery_code_links_api_names_to_their_docs(script, site):
    """``sgdlab.<name>`` and ``torch.optim.SGD`` in an example's code link to their reference."""
    soup = soup_of(site / example_page(script))
    code = "\n".join(pre.get_text() for pre in soup.select("div[class^='highlight-'] pre"))
    linked = {a.get("title") for a in soup.select("pre a[title]")}
    public = {f"sgdlab.{name}" for name in sgdlab.__all__} | {"torch.optim.SGD"}
    named = {name for name in LINKED_API.findall(code) if name in public}
    assert named <= linked, f"not linked: {sorted(named - linked)}"
