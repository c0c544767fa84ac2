"""Every reader's page on a 390-px phone: nothing scrolls the page sideways, a table wider than
the column scrolls inside its own box that says so and keeps its first (key) column in view,
code keeps its lines (scrolling in its box rather than wrapping into what looks like output),
and every figure says that a tap enlarges it.
"""

from __future__ import annotations

import pytest

from sitekit import READER_PAGES, PageReports, each, open_page, screenshots_folder, undecoded_images

PHONE = {"width": 390, "height": 844}

#: What does not fit a phone, one line each.
PHONE_LAYOUT = """
() => {
  const found = [];
  const root = document.documentElement;
  const scrolls = (element) => ["auto", "scroll"].includes(getComputedStyle(element).overflowX);
  if (root.scrollWidth > root.clientWidth + 1) found.push(`the page scrolls sideways: ${root.scrollWidth}px in ${root.clientWidth}px`);
  // The theme's article container scrolls (or clips) what overflows, so also look for content
  // that reaches past the screen's edge outside a box of its own that scrolls it.
  for (const element of document.querySelectorAll(".bd-article *")) {
    if (element.offsetParent === null || element.getBoundingClientRect().right <= root.clientWidth + 1) continue;
    const article = element.closest(".bd-article");
    let box = element.parentElement;
    while (box && box !== article && !scrolls(box)) box = box.parentElement;
    if (box && box !== article) continue;  // a code block, table or formula that scrolls itself
    found.push(`the page scrolls sideways: ${element.tagName.toLowerCase()} ends at `
               + `${Math.round(element.getBoundingClientRect().right)}px: ${element.textContent.trim().slice(0, 40)}`);
    break;
  }
  for (const table of document.querySelectorAll(".bd-article table")) {
    if (table.offsetParent === null) continue;
    const box = table.closest(".table-wrapper, .pst-scrollable-table-container");
    const name = (table.querySelector("th, td")?.innerText ?? "").trim().slice(0, 30);
    if (!box) {  // a narrow table (a layout table, as in the index) may stand on its own
      if (table.getBoundingClientRect().width > root.clientWidth - 16 && !scrolls(table)) found.push(`a wide table outside any scroll box: ${name}`);
      continue;
    }
    if (table.getBoundingClientRect().width <= box.clientWidth + 1) continue;
    const style = getComputedStyle(box);
    if (!["auto", "scroll"].includes(style.overflowX)) found.push(`a wide table whose box does not scroll: ${name}`);
    if (!box.classList.contains("sgdlab-scrolls")) found.push(`a wide table that does not say it scrolls: ${name}`);
    const key = table.querySelector("tbody td:first-child");
    if (key && getComputedStyle(key).position !== "sticky") found.push(`a wide table whose key column scrolls away: ${name}`);
  }
  for (const pre of document.querySelectorAll(".bd-article pre")) {
    if (pre.offsetParent === null) continue;
    if (getComputedStyle(pre).whiteSpace !== "pre") found.push(`code that wraps: ${pre.textContent.trim().slice(0, 40)}`);
  }
  for (const link of document.querySelectorAll("a.sgdlab-enlarge")) {
    if (link.offsetParent === null) continue;
    const hint = link.querySelector(".sgdlab-enlarge-hint");
    if (!hint || hint.offsetParent === null || !/tap/i.test(hint.innerText)) {
      found.push(`a figure that does not say a tap enlarges it: ${link.getAttribute("href")}`);
    }
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def phone_reports(browser, server):
    """Each reader's page opened once at 390 px, with the phone checks (axe runs at 1280 px)."""
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    yield PageReports(ctx, server, reader_checks={"phone": PHONE_LAYOUT}, axe=False)
    ctx.close()


@pytest.mark.parametrize("path", each(READER_PAGES))
def test_page_fits_a_390_px_phone(path, phone_reports):
    report = phone_reports[path]
    assert report["status"] == 200
    assert not report["phone"], f"{path} at 390 px: {report['phone']}"


def test_the_phone_check_sees_what_it_looks_for(browser, server):
    """A page made to fail each phone rule: every rule reports."""
    ctx = browser.new_context(viewport=PHONE)
    try:
        page, _, _ = open_page(ctx, server + "index.html")
        page.evaluate(
            """() => {
              const article = document.querySelector(".bd-article");
              article.insertAdjacentHTML("beforeend",
                '<div style="width: 900px">wide</div>'
                + '<table><tr><td>loose</td><td>' + "v ".repeat(300).replace(/ /g, "&nbsp;") + '</td></tr></table>'
                + '<div class="table-wrapper"><table><tbody><tr><td>key</td><td>' + "w ".repeat(400).replace(/ /g, "&nbsp;") + '</td></tr></tbody></table></div>'
                + '<pre style="white-space: pre-wrap">wrapping code</pre>'
                + '<a class="sgdlab-enlarge" href="x.png"><img alt="a figure" src="_static/favicon.svg"></a>');
            }"""
        )
        found = page.evaluate(PHONE_LAYOUT)
    finally:
        ctx.close()
    for expected in ("the page scrolls sideways", "a wide table outside any scroll box", "does not say it scrolls",
                     "key column scrolls away", "code that wraps", "does not say a tap enlarges it"):
        assert any(expected in line for line in found), (expected, found)


#: Screenshots to look at after a change of layout, at 1280 px and on a 390-px phone.
SCREENSHOT_PAGES = {
    "home": "index.html",
    "troubleshooting": "guide/troubleshooting.html",
    "guide-learning-rate": "guide/learning-rate.html",
    "guide-momentum": "guide/momentum.html",
}


@pytest.mark.parametrize("width", each([1280, 390]))
@pytest.mark.parametrize("name", each(sorted(SCREENSHOT_PAGES)))
def test_screenshots_at_1280_and_390_px(name, width, browser, server, site):
    """Full-page screenshots into _build/screenshots/, NAME-WIDTH.png, to look at."""
    ctx = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    try:
        page, watch, _ = open_page(ctx, server + SCREENSHOT_PAGES[name])
        undecoded_images(page)
        page.wait_for_timeout(300)  # MathJax
        target = screenshots_folder(site) / f"{name}-{width}.png"
        page.screenshot(path=str(target), full_page=True)
    finally:
        ctx.close()
    assert target.stat().st_size > 10_000
    assert not watch.failed and not watch.errors
