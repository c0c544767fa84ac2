"""The interactive figures ("explorers"): what a page holds is what ``torch.optim.SGD`` gives,
the controls work by mouse and by keyboard and draw the stored run of the setting they show,
and each page stays within its budget of data and script.
"""

from __future__ import annotations

import json
import math
import random
import re

import pytest
import torch
from bs4 import BeautifulSoup

from output_compare import agree
from sitekit import open_page

#: The guide pages that show an explorer, and the gallery script that makes it.
EXPLORERS = {
    "valley": ("guide/learning-rate.html", "auto_examples/learning_rate/plot_explore_lr_momentum.html"),
    "batch": ("guide/stochastic.html", "auto_examples/stochastic/plot_explore_batch_size.html"),
    "dampening": ("guide/dampening.html", "auto_examples/dampening/plot_explore_dampening.html"),
}
#: At most this much data (the explorers' JSON) and script (ours) beyond the page itself.
PAGE_BUDGET = 2_000_000


def explorer_specs(site, page: str) -> list[dict]:
    soup = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser")
    return [json.loads(tag.string) for tag in soup.select("div.sgdlab-explorer > script[type='application/json']")]


def spec_of(site, name: str) -> dict:
    guide, gallery = EXPLORERS[name]
    found = explorer_specs(site, guide)
    assert len(found) == 1, f"{guide} shows {len(found)} explorers"
    assert found == explorer_specs(site, gallery), f"{guide} and {gallery} hold different runs"
    return found[0]


def grid(spec: dict) -> list[dict]:
    """Each flat run index's settings, in the order the page stores them (the last control fastest)."""
    settings = [{}]
    for control in spec["controls"]:
        settings = [{**s, control["name"]: value} for s in settings for value in control["values"]]
    return settings


# -- fresh runs of torch.optim.SGD, written here from each problem's description ----------------

def valley_run(problem: dict, lr: float, momentum: float, nesterov: bool) -> dict:
    curvature = torch.tensor(problem["lambdas"])
    point = torch.tensor(problem["start"], requires_grad=True)
    optimizer = torch.optim.SGD([point], lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0)
    xs, ys, losses = [], [], []
    for step in range(problem["steps"] + 1):
        optimizer.zero_grad()
        loss = 0.5 * (curvature * point**2).sum()
        xs.append(point[0].item()), ys.append(point[1].item()), losses.append(loss.item())
        if step < problem["steps"]:
            loss.backward()
            optimizer.step()
    return {"x": xs, "y": ys, "loss": losses, "final": losses[-1]}


def batch_run(problem: dict, batch: int, lr: float) -> dict:
    """One setting's runs; the batches of every size are drawn in turn from one generator."""
    n, runs = problem["samples"], problem["runs"]
    a = torch.randn(n, generator=torch.Generator().manual_seed(problem["data_seed"]))
    a = a - a.mean()
    w = torch.full((runs,), problem["start"], requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    draw = torch.Generator().manual_seed(problem["batch_seed"])
    excess = []
    for step in range(problem["steps"] + 1):
        excess.append((0.5 * (w.detach() - a.mean()).pow(2).mean()).item())
        if step == problem["steps"]:
            break
        optimizer.zero_grad()
        drawn = {size: torch.randint(n, (size, runs), generator=draw) for size in problem["batches"]}
        (0.5 * (w - a[drawn[batch]]).pow(2)).mean(dim=0).sum().backward()
        optimizer.step()
    variance = a.pow(2).mean().item()
    return {"excess": excess, "floor": sum(excess[-problem["last"]:]) / problem["last"],
            "formula": 0.5 * lr / (2 - lr) * variance / batch, "final": excess[-1]}


def dampening_run(problem: dict, momentum: float, dampening: float) -> dict:
    def positions(**settings):
        x = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([x], momentum=momentum, **settings)
        found = [x.item()]
        for _ in range(problem["steps"]):
            optimizer.zero_grad()
            (problem["slope"] * x).sum().backward()
            optimizer.step()
            found.append(x.item())
        return found

    lr = problem["lr"]
    damped, smaller = positions(lr=lr, dampening=dampening), positions(lr=lr * (1 - dampening))
    return {"damped": [p - q for p, q in zip(damped, damped[1:])],
            "smaller_lr": [p - q for p, q in zip(smaller, smaller[1:])],
            "gap": [q - p for p, q in zip(damped, smaller)], "final": damped[-1]}


FRESH = {"valley": valley_run, "batch": batch_run, "dampening": dampening_run}


def same_value(stored, fresh: float) -> bool:
    """A stored value (5 significant digits, None once a run overflowed) against a fresh float32 one."""
    if stored is None:
        return not abs(fresh) < float("inf")
    return abs(fresh) < float("inf") and agree(f"{stored:.5g}", f"{fresh:.9g}")


def differing(stored_run: dict, fresh_run: dict) -> list[str]:
    found = []
    for field, fresh in fresh_run.items():
        stored = stored_run[field]
        pairs = zip(stored, fresh) if isinstance(fresh, list) else [(stored, fresh)]
        if isinstance(fresh, list) and len(stored) != len(fresh):
            found.append(f"{field}: {len(stored)} values stored, {len(fresh)} computed")
        found += [f"{field}[{i}]: stored {s}, computed {f}" for i, (s, f) in enumerate(pairs) if not same_value(s, f)]
    return found


@pytest.mark.parametrize("name", EXPLORERS)
def test_what_the_page_holds_is_a_fresh_torch_optim_sgd_run(name, site):
    """Five grid points drawn at random, each run again with a fresh ``torch.optim.SGD``."""
    spec = spec_of(site, name)
    settings = grid(spec)
    assert len(spec["runs"]) == len(settings)
    chosen = random.Random(name).sample(range(len(settings)), 5)
    for index in chosen:
        fresh = FRESH[name](spec["problem"], **settings[index])
        found = differing(spec["runs"][index], fresh)
        assert not found, f"{name} {settings[index]}: {found[:5]}"


def test_a_changed_value_is_found(site):
    """The comparison is not blind: a stored value moved by 1e-4 relative fails it."""
    spec = spec_of(site, "valley")
    index = 5
    run = dict(spec["runs"][index], loss=list(spec["runs"][index]["loss"]))
    run["loss"][3] *= 1 + 1e-4
    fresh = valley_run(spec["problem"], **grid(spec)[index])
    assert differing(run, fresh) == [f"loss[3]: stored {run['loss'][3]}, computed {fresh['loss'][3]}"]


@pytest.mark.parametrize("name", EXPLORERS)
def test_each_page_stays_within_its_budget(name, site):
    """Data (the explorers' JSON) and script (ours: no library) at most 2 MB a page."""
    script = (site / "_static" / "sgdlab-explorer.js").stat().st_size
    for page in EXPLORERS[name]:
        html = (site / page).read_text(encoding="utf-8")
        data = sum(len(m.encode()) for m in re.findall(r'<script type="application/json">(.*?)</script>', html))
        assert data + script <= PAGE_BUDGET, f"{page}: {data} bytes of data and {script} of script"
        assert html.count("sgdlab-explorer.js") == 1, f"{page} loads the script {html.count('sgdlab-explorer.js')} times"


# -- in the browser ------------------------------------------------------------------------------

#: The drawn series of each panel, read back from the SVG into data coordinates.
DRAWN = """
(holder) => [...holder.querySelectorAll(".sgdlab-explorer-panel > svg")].map((svg) => {
  const [left, top, width, height] = svg.dataset.box.split(",").map(Number);
  const axis = (range, log) => range.split(",").map(Number).map((v) => (log === "true" ? Math.log10(v) : v));
  const [x0, x1] = axis(svg.dataset.xRange, svg.dataset.xLog), [y0, y1] = axis(svg.dataset.yRange, svg.dataset.yLog);
  const back = (value, log) => (log === "true" ? 10 ** value : value);
  return Object.fromEntries([...svg.querySelectorAll("polyline[data-series]")].map((line) => [
    line.dataset.series,
    line.getAttribute("points").split(" ").filter(Boolean).map((pair) => {
      const [px, py] = pair.split(",").map(Number);
      return [back(x0 + (px - left) / width * (x1 - x0), svg.dataset.xLog),
              back(y0 + (1 - (py - top) / height) * (y1 - y0), svg.dataset.yLog),
              px >= left && px <= left + width && py >= top && py <= top + height];
    }),
  ]));
})
"""


def check_drawn(holder, spec: dict) -> int:
    """The run the figure says it shows is the one drawn, and its readout; returns its index."""
    index = int(holder.get_attribute("data-run"))
    run = spec["runs"][index]
    settings = grid(spec)[index]
    for control in spec["controls"]:  # the run is the one the controls name
        box = holder.get_by_label(control["label"], exact=True)
        position = int(box.is_checked()) if control.get("switch") else int(box.input_value())
        assert control["values"][position] == settings[control["name"]], (control["name"], position, index)
    for panel, drawn in zip(spec["panels"], holder.evaluate(DRAWN)):
        for series in panel.get("series", []):
            points = drawn[series["y"]]
            ys = run[series["y"]]
            xs = run[series["x"]] if series.get("x") else list(range(len(ys)))
            finite = next((i for i, (x, y) in enumerate(zip(xs, ys)) if x is None or y is None), len(ys))
            assert len(points) <= finite, f"{series['y']}: {len(points)} points drawn, {finite} stored"
            for (x, y, inside), want_x, want_y in zip(points, xs, ys):
                if inside:  # within the plot box: drawn where the stored value says
                    for got, want, axis in ((x, want_x, panel["x"]), (y, want_y, panel["y"])):
                        # Points are written to 0.01 px; a plot box is at least 180 px.
                        low, high, got, want = ([math.log10(v) for v in (*axis["range"], got, want)]
                                                if axis.get("log") else (*axis["range"], got, want))
                        assert abs(got - want) <= (high - low) * 1e-4, (series["y"], got, want)
    readout = {span.get_attribute("data-field"): span.inner_text()
               for span in holder.locator(".sgdlab-explorer-readout span").all()}
    for _, field in spec["readout"]:
        value = settings.get(field, run.get(field))
        shown = readout[field].rsplit(" ", 1)[-1]
        if isinstance(value, bool):
            assert shown == ("on" if value else "off"), (field, shown, value)
        elif value is None:
            assert shown == "diverged", (field, shown)
        else:
            assert abs(float(shown) - value) <= 0.005 * abs(value) + 1e-12, (field, shown, value)
    return index


@pytest.mark.parametrize("name", EXPLORERS)
def test_every_control_moves_by_mouse_and_keyboard_to_a_stored_run(name, context, server, site):
    spec = spec_of(site, name)
    page, watch, _ = open_page(context, server + EXPLORERS[name][0])
    holder = page.locator("div.sgdlab-explorer")
    holder.locator("form.sgdlab-explorer-controls").wait_for()
    start = check_drawn(holder, spec)
    seen = {start}
    for control in spec["controls"]:
        box = holder.get_by_label(control["label"], exact=True)
        if control.get("switch"):
            box.focus()
            page.keyboard.press("Space")  # keyboard
            seen.add(check_drawn(holder, spec))
            assert box.is_checked() != bool(control["values"][control["start"]])
            holder.locator(f"label[for='{box.get_attribute('id')}']").click()  # mouse, on its label
            assert box.is_checked() == bool(control["values"][control["start"]])
            seen.add(check_drawn(holder, spec))
            continue
        box.focus()
        page.keyboard.press("End")  # keyboard: to the last grid value
        assert box.get_attribute("aria-valuetext") and int(box.input_value()) == len(control["values"]) - 1
        seen.add(check_drawn(holder, spec))
        page.keyboard.press("ArrowLeft")
        seen.add(check_drawn(holder, spec))
        bounds = box.bounding_box()  # mouse: a click near the slider's left end
        page.mouse.click(bounds["x"] + 0.05 * bounds["width"], bounds["y"] + bounds["height"] / 2)
        assert int(box.input_value()) <= 1, box.input_value()
        seen.add(check_drawn(holder, spec))
    assert len(seen) >= 2 * len(spec["controls"]), f"the controls reached only runs {sorted(seen)}"
    assert not watch.errors, watch.errors
    assert not watch.failed, watch.failed
    assert not watch.external, watch.external
