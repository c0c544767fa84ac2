"""What the tests of the built site share: where the site is, its pages, a local server, a browser.

These tests read a site that ``make html`` built; ``make site-test`` runs them and tells them
where it is through ``SGDLAB_SITE_DIR``. Without it (a plain ``pytest``), they skip.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import posixpath
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sphinx.util.inventory import InventoryFile

from helpers import ROOT
from run_examples import example_id, gallery_scripts

SITE_ENV = "SGDLAB_SITE_DIR"
NOT_BUILT = f"needs a built site: run `make html` then `make site-test` (it sets {SITE_ENV})"

CHROMIUM = Path(os.environ.get("SGDLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXAMPLES = gallery_scripts()


def built_site() -> Path | None:
    """The built site named by ``SGDLAB_SITE_DIR``, or None when there is none."""
    folder = os.environ.get(SITE_ENV)
    if not folder:
        return None
    site = Path(folder)
    if not (site / "index.html").is_file():
        raise RuntimeError(f"{SITE_ENV}={folder} holds no built site (no index.html): run `make html`")
    return site


SITE = built_site()


def site_pages(site: Path | None) -> list[str]:
    """Every HTML page of the site, as paths from its root ('index.html', 'api.html', ...).

    The pages this build made, as its own inventory lists them (every document, the indices
    and the search page), plus viewcode's module sources; files left by older builds are not
    pages of this one.
    """
    if site is None:
        return []
    with open(site / "objects.inv", "rb") as handle:
        inventory = InventoryFile.load(handle, "", posixpath.join)
    listed = {
        item.uri.split("#")[0]
        for role in ("std:doc", "std:label")
        for item in inventory.get(role, {}).values()
    }
    sources = {path.relative_to(site).as_posix() for path in (site / "_modules").rglob("*.html")}
    return sorted(page for page in listed | sources if page.endswith(".html") and (site / page).is_file())


PAGES = site_pages(SITE)


def each(values: list, ids=None) -> list:
    """Parameters for ``parametrize``: the values, or one skipped case when the site is not built."""
    if SITE is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NOT_BUILT))]
    return [pytest.param(value, id=ids(value) if ids else str(value)) for value in values]


def example_page(script: Path) -> str:
    """The site page sphinx-gallery makes of ``examples/<section>/plot_x.py``."""
    return "auto_examples/" + script.relative_to(ROOT / "examples").with_suffix(".html").as_posix()


def first_page(prefix: str) -> str:
    """The first page under ``prefix`` that is not a section index (for screenshots)."""
    found = [page for page in PAGES if page.startswith(prefix) and not page.endswith(("index.html", "sg_execution_times.html"))]
    if not found:
        pytest.fail(f"the site has no page under {prefix!r}")
    return found[0]


# -- A local server that answers like a static host -------------------------------------------


class StaticHostHandler(SimpleHTTPRequestHandler):
    """Serve files quietly; answer a missing address with the site's 404.html, as Pages does."""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def send_error(self, code, message=None, explain=None):
        not_found_page = Path(self.directory) / "404.html"
        if code != 404 or not not_found_page.is_file():
            return super().send_error(code, message, explain)
        body = not_found_page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture(scope="session")
def site() -> Path:
    if SITE is None:
        pytest.skip(NOT_BUILT)
    return SITE


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 at a free port; yields its base URL ('http://127.0.0.1:N/')."""
    handler = functools.partial(StaticHostHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def server(site) -> Iterator[str]:
    """The site served on 127.0.0.1 at a free port; yields its base URL."""
    with serve(site) as url:
        yield url


def no_browser(reason: str):
    """Skip for lack of a browser, except in CI, where the browser is part of the set-up."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must install it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's) driven by Playwright."""
    if not CHROMIUM.exists():
        no_browser(f"no browser at {CHROMIUM}: `apt-get install chromium` to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        no_browser("playwright is not installed (it is in the test extra)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def is_local(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost") or url.startswith(("data:", "blob:", "about:"))


class PageWatch:
    """What went wrong while a page loaded: failed local requests and console errors."""

    def __init__(self, page, expected_errors: tuple[str, ...] = ()):
        self.expected_errors = expected_errors
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.external: set[str] = set()
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        # Nothing leaves the machine: outside requests (the MathJax CDN) are refused here.
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), self._refuse)

    def clear(self) -> None:
        """Forget what went wrong so far (before the tab opens another page)."""
        self.failed.clear()
        self.errors.clear()
        self.external.clear()

    def _refuse(self, route):
        self.external.add(route.request.url)
        route.abort()

    def _request_failed(self, request):
        if is_local(request.url):
            self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response):
        if is_local(response.url) and response.status >= 400 and response.request.resource_type != "document":
            self.failed.append(f"{response.url}: HTTP {response.status}")

    def _console(self, message):
        if message.type != "error":
            return
        source = (message.location or {}).get("url", "")
        if source and not is_local(source):
            return  # a refused outside request: not the site's fault
        if source in self.expected_errors:
            return
        self.errors.append(f"{message.text} ({source})")


VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    yield ctx
    ctx.close()


def open_page(context, url: str, expected_errors: tuple[str, ...] = ()):
    """Open ``url`` in a new tab, watching for failures; return (page, watch, response)."""
    page = context.new_page()
    watch = PageWatch(page, expected_errors)
    response = page.goto(url, wait_until="load")
    return page, watch, response


DECODE_IMAGES = """
async () => {
  const images = [...document.images];
  for (const image of images) image.loading = "eager";
  await Promise.all(images.map((image) => image.decode().catch(() => null)));
  return images.filter((image) => !(image.complete && image.naturalWidth > 0))
               .map((image) => image.currentSrc || image.src);
}
"""


def undecoded_images(page) -> list[str]:
    """The ``<img>`` of a page that the browser could not decode."""
    return page.evaluate(DECODE_IMAGES)


def screenshots_folder(site: Path) -> Path:
    """``_build/screenshots``: beside the html folder, inside the build folder."""
    folder = site.parent / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- Each page opened once for all the per-page checks ----------------------------------------
# The browser, layout and accessibility tests each assert on their part of one report per page,
# so a page is loaded, its images decoded, its formulas typeset and axe-core injected once, and
# the checks run in one call into the page, instead of once per test file.

#: Pages a reader reads (viewcode's module sources are listings: no layout or axe checks).
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

#: The code boxes' width in monospace columns, as the pages and scripts keep their lines.
CODE_COLUMNS = 76

#: Lines of a code block or an output that the box wraps: each visible ``pre`` is laid out for
#: a moment without wrapping (``white-space: pre``), and any wider than its box is reported
#: with its longest line and the box's width in columns, measured with a probe in its font.
WRAPPED_LINES = """
() => {
  const found = [];
  for (const box of document.querySelectorAll(".bd-article pre")) {
    if (box.offsetParent === null) continue;
    const saved = box.style.whiteSpace;
    box.style.whiteSpace = "pre";
    const wraps = box.scrollWidth > box.clientWidth + 1;
    box.style.whiteSpace = saved;
    if (!wraps) continue;
    const probe = document.createElement("span");
    probe.textContent = "x".repeat(100);
    probe.style.whiteSpace = "pre";
    box.appendChild(probe);
    const column = probe.getBoundingClientRect().width / 100;
    probe.remove();
    const style = getComputedStyle(box);
    const inner = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const longest = box.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "");
    found.push(`${longest.length} columns in a box of ${Math.floor(inner / column)}: ${longest.trim().slice(0, 60)}`);
  }
  return found;
}
"""

#: The width of the code boxes in monospace columns (the first visible ``pre`` of the page).
CODE_BOX_COLUMNS = """
() => {
  const box = [...document.querySelectorAll(".bd-article pre")].find((b) => b.offsetParent !== null);
  if (!box) return null;
  const probe = document.createElement("span");
  probe.textContent = "x".repeat(100);
  probe.style.whiteSpace = "pre";
  box.appendChild(probe);
  const column = probe.getBoundingClientRect().width / 100;
  probe.remove();
  const style = getComputedStyle(box);
  return (box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)) / column;
}
"""

#: Each gallery figure the page shows: its file's name (the 1x file) and its width on screen.
FIGURE_WIDTHS = """
() => [...document.querySelectorAll("img.sphx-glr-single-img, img.sphx-glr-multi-img")]
  .filter((img) => img.offsetParent !== null)
  .map((img) => [img.getAttribute("src").split("/").pop(), img.getBoundingClientRect().width])
"""

EMPTY_NAVIGATION = """
() => [...document.querySelectorAll("nav, .bd-sidebar-primary, .bd-sidebar-secondary")]
  .filter((element) => element.offsetParent !== null && element.getBoundingClientRect().width > 0)
  .filter((element) => element.innerText.trim() !== "" && element.querySelectorAll("a[href]").length === 0)
  .map((element) => `${element.tagName.toLowerCase()}.${[...element.classList].join(".")}: `
                  + JSON.stringify(element.innerText.trim().slice(0, 60)))
"""

#: axe-core's serious and critical findings on the page, one line per element (axe injected first).
SERIOUS_VIOLATIONS = """
async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((violation) => ["serious", "critical"].includes(violation.impact))
    .flatMap((violation) => violation.nodes.map(
      (node) => `${violation.id} (${violation.impact}): ${JSON.stringify(node.target)}`));
}
"""

#: What the footer says built the page, and how many footers there are.
BUILD_INFO = """
() => {
  const footers = document.querySelectorAll(".sgdlab-build-info");
  const text = (selector) => footers.length ? footers[0].querySelector(selector)?.innerText ?? null : null;
  return {count: footers.length, sgdlab: text(".sgdlab-version"), torch: text(".torch-version"),
          devices: text(".build-devices")};
}
"""

#: Formulas on the page, and those MathJax left as raw TeX.
MATHS = """
() => ({formulas: document.querySelectorAll(".math").length,
        raw: document.querySelectorAll(".math:not(:has(mjx-container))").length})
"""

#: Before the checks: wait until the images are decoded (their list of failures kept) and every
#: formula is typeset, or ``timeout`` ms have passed (the maths check then counts what is left raw).
PAGE_READY = """
const undecoded = await (%s)();
const start = Date.now();
while (document.querySelector(".math:not(:has(mjx-container))") && Date.now() - start < timeout)
  await new Promise((done) => setTimeout(done, 50));
""" % DECODE_IMAGES.strip()

EVERY_PAGE_CHECKS = {"build_info": BUILD_INFO, "maths": MATHS}
READER_PAGE_CHECKS = {
    "overflowing": OVERFLOWING,
    "wrapped_lines": WRAPPED_LINES,
    "figure_widths": FIGURE_WIDTHS,
    "small_figures": f"() => ({SMALL_FIGURES.strip()})({MIN_FIGURE_SCALE})",
    "empty_navigation": EMPTY_NAVIGATION,
}


def axe_source() -> str:
    """axe-core's script, as axe-playwright-python ships it."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def run_checks(page, checks: dict[str, str]) -> dict:
    """Run ``checks`` (name: JavaScript function) in one call into an open page, once it is ready."""
    results = ", ".join(f"{json.dumps(name)}: await ({source.strip()})()" for name, source in checks.items())
    return page.evaluate(f"async (timeout) => {{ {PAGE_READY} return {{undecoded, {results}}}; }}", 15_000)


class PageReports:
    """Each page of the site opened once, with every check that applies to it run in one call.

    A report: the HTTP status, failed local requests, console errors, undecoded images, then
    each check's result by name (the layout and axe checks on reader pages only). axe-core runs
    last, in a second call: it fetches the stylesheets again to read them, and those requests
    are not the page's. The pages open one after another in one tab: a new tab starts a new
    renderer process, about half a second a page.
    """

    def __init__(self, context, server: str, reader_checks: dict[str, str] | None = None, axe: bool = True):
        self.server = server
        self.reader_checks = READER_PAGE_CHECKS if reader_checks is None else reader_checks
        self.axe = axe
        self.reports: dict[str, dict] = {}
        self.page = context.new_page()
        self.watch = PageWatch(self.page)

    def __getitem__(self, path: str) -> dict:
        if path not in self.reports:
            checks = EVERY_PAGE_CHECKS | (self.reader_checks if path in READER_PAGES else {})
            # Leave the last page before watching this one: what it still had in flight (its
            # favicon) is cancelled then, and not counted against this page.
            self.page.goto("about:blank")
            self.watch.clear()
            response = self.page.goto(self.server + path, wait_until="load")
            results = run_checks(self.page, checks)
            # What the page itself failed to load, before axe-core re-reads its stylesheets.
            report = {"status": response.status, "failed": list(self.watch.failed), "errors": list(self.watch.errors)}
            if path in READER_PAGES and self.axe:
                results |= run_checks(self.page, {"serious_violations": SERIOUS_VIOLATIONS})
            self.reports[path] = report | results
        return self.reports[path]


@pytest.fixture(scope="session")
def page_reports(browser, server) -> Iterator[PageReports]:
    """The reports on the site's pages, each made on first use; axe-core is in every page it opens."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.add_init_script(script=axe_source())
    yield PageReports(ctx, server)
    ctx.close()
