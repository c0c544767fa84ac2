"""Benchmark sgdlab: how fast the site builds, and how close one SGD step comes to the memory limit.

Usage (from the repository root; ``make bench`` does this)::

    python tools/bench.py [--site-test] [--skip-site] [--skip-step] [--output FILE]

The site part builds a temporary copy of the repository (so the worktree's build stays as it
is): a cold ``make html``, a no-op ``make html``, and a ``make html`` after changing one
example, reading from sphinx-gallery's own output how many examples re-ran and from the
``*.cost.json`` it writes beside each example's page how long each example took.
``--site-test`` adds ``make test``.

The step part is a roofline. For 1e3 to 1e7 float32 parameters in one tensor, with and
without momentum, on the CPU and on CUDA where present, it times, in turns
(``tools/timing.py``), an in-place ``a.add_(b, alpha=...)`` over as many values (the
reference: the fastest a memory-bound update runs here) and ``step()`` of
``torch.optim.SGD`` (for-loop, foreach, fused) and ``sgdlab.SGD`` (for-loop, foreach, and
its own compiled fused step). Each is reported as the bandwidth it achieves, the fewest
bytes the update must move divided by its time, and as a fraction of the reference's. It
also times sgdlab's fused compilation, cold and from inductor's cache, and measures how far
the compiled step's results are from the for-loop's over every combination of settings.

Everything lands in ``bench/results/latest.json`` with its provenance, and a Markdown
rendering of it in ``bench/results/latest.md``, which ``docs/performance.md`` includes.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from repo_git import git

import torch

import sgdlab
import sgdlab.fused
import timing

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench" / "results" / "latest.json"
SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
SETTINGS = {"lr": 1e-3, "weight_decay": 1e-4}
MOMENTUM = 0.9
REPEATS = 15
MIN_BATCH_SECONDS = 1e-3
SCHEMA = 2

#: The goals this benchmark checks, with the measured value each is compared to.
TARGETS = {
    "example_seconds": 5.0,  # each gallery example, on 2 CPU cores
    "cold_gallery_seconds": 60.0,  # the whole gallery, from nothing
    "noop_build_seconds": 5.0,  # `make html` with nothing changed
    "sgdlab_vs_torch_for_loop": 1.10,  # time ratio, geometric mean over configurations
    "sgdlab_vs_torch_foreach": 1.05,
    "sgdlab_fused_fraction_of_add_at_1e7": 0.80,
    "sgdlab_fused_vs_torch_fused_at_1e7": 1.00,
}

EXECUTED = re.compile(r"successfully executed (?P<ran>\d+) out of (?P<of>\d+) file")
EXCLUDED = re.compile(r"after excluding (?P<kept>\d+) files? that had previously been run")


def say(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, where the system has them."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def provenance() -> dict:
    """The machine, versions, devices, commit and date the results come from."""
    return {
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "devices": [str(device) for device in timing.devices()],
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "commit": git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain", "--", "src", "examples", "tools")),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_at_start": load_average(),
    }


# -- the site ---------------------------------------------------------------------------


def executed_counts(build_output: str) -> dict:
    """How many examples sphinx-gallery ran, out of how many, and how many it kept from before."""
    ran, kept = EXECUTED.search(build_output), EXCLUDED.search(build_output)
    return {
        "ran": int(ran["ran"]) if ran else None,
        "kept": int(kept["kept"]) if kept else None,
    }


def example_times(gallery_dir: Path) -> dict[str, float]:
    """Seconds per example, from the ``<name>.cost.json`` sphinx-gallery writes beside each page."""
    times = {
        cost.relative_to(gallery_dir).as_posix().removesuffix(".cost.json") + ".py":
            json.loads(cost.read_text())["time"]
        for cost in sorted(gallery_dir.rglob("plot_*.cost.json"))
    }
    if not times:
        raise RuntimeError(f"no example timings (*.cost.json) under {gallery_dir}")
    return times


def copy_repository(target: Path) -> None:
    """Copy the files git knows (tracked, or untracked but not ignored), keeping their times."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z")
    if listed is None:
        raise RuntimeError("the site benchmark copies the repository with git, which is not available")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)  # mtimes kept: the venv stamp stays newer


def check_no_reinstall(copy: Path, venv: Path) -> None:
    """Refuse to run make in the copy if it would reinstall the venv from there."""
    stamp = venv / ".installed"
    newer = [n for n in ("pyproject.toml", "constraints.txt") if not stamp.exists()
             or (copy / n).stat().st_mtime > stamp.stat().st_mtime]
    if newer:
        raise RuntimeError(f"{stamp} is older than {newer}: run `make setup` first")


def timed_make(target: str, copy: Path, venv: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``make <target>`` in the copy with the worktree's venv; (seconds, result)."""
    env = dict(os.environ, VENV=str(venv))  # exported, so nested makes (tests) use it too
    started = time.perf_counter()
    result = subprocess.run(
        ["make", "--no-print-directory", target], cwd=copy, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise RuntimeError(f"make {target} failed in the benchmark copy:\n{tail}")
    return seconds, result


def touch_example(script: Path) -> None:
    """Change an example's content (sphinx-gallery compares checksums, not times)."""
    script.write_text(script.read_text() + "\n# changed by the benchmark\n")


def bench_site(with_tests: bool, venv: Path) -> dict:
    """Cold, no-op and one-example-changed builds of a copy of the site; optionally make test."""
    with tempfile.TemporaryDirectory(prefix="sgdlab-bench-") as scratch:
        copy = Path(scratch)
        copy_repository(copy)
        check_no_reinstall(copy, venv)
        say("==> site: cold `make html` in a temporary copy (runs every example)")
        cold_seconds, cold = timed_make("html", copy, venv)
        times = example_times(copy / "docs" / "auto_examples")
        say(f"    {cold_seconds:.1f} s; examples: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in times.items()))
        say("==> site: no-op `make html`")
        noop_seconds, noop = timed_make("html", copy, venv)
        say(f"    {noop_seconds:.1f} s")
        touched = sorted((copy / "examples").rglob("plot_*.py"))[0]
        touched_name = touched.relative_to(copy / "examples").as_posix()
        touch_example(touched)
        say(f"==> site: `make html` after changing {touched_name}")
        touched_seconds, after_touch = timed_make("html", copy, venv)
        counts = executed_counts(after_touch.stdout + after_touch.stderr)
        say(f"    {touched_seconds:.1f} s; sphinx-gallery ran {counts['ran']}, kept {counts['kept']}")
        site = {
            "cold_build_seconds": cold_seconds,
            "cold_executed": executed_counts(cold.stdout + cold.stderr),
            "noop_build_seconds": noop_seconds,
            "noop_executed": executed_counts(noop.stdout + noop.stderr),
            "touched_example": touched_name,
            "touched_build_seconds": touched_seconds,
            "touched_executed": counts,
            "examples": times,
            "gallery_seconds": sum(times.values()),
            "test_seconds": None,
        }
        if with_tests:
            say("==> site: `make test` (long)")
            site["test_seconds"], _ = timed_make("test", copy, venv)
            say(f"    {site['test_seconds']:.1f} s")
    return site


# -- the step -----------------------------------------------------------------------------


def bench_configuration(device: torch.device, total: int, momentum: bool, repeats: int) -> dict:
    """Seconds of the add_ reference and of every step implementation, for one size.

    ``seconds`` holds each one's best round, ``median_seconds`` its median: on a machine
    shared with other work, a round is slowed by whatever else was scheduled during it,
    never sped up, so the best round is the closest to the machine's own speed.
    """
    settings = {**SETTINGS, "momentum": MOMENTUM if momentum else 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        optimizers = {
            name: build(timing.make_parameters(total, device=device))
            for name, build in timing.step_implementations(device, **settings).items()
        }
        for optimizer in optimizers.values():  # create the buffers; compile the fused step
            optimizer.step()
            optimizer.step()
    timers = {"add_ reference": timing.add_timer(total, device)}
    timers |= {name: timing.timer("optimizer.step()", optimizer=opt) for name, opt in optimizers.items()}
    samples = timing.interleaved_samples(timers, repeats, MIN_BATCH_SECONDS)
    best = {name: min(values) for name, values in samples.items()}
    median = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "device": str(device),
        "total": total,
        "momentum": momentum,
        "bytes": timing.step_bytes(total, momentum=momentum),
        "reference_bytes": timing.BYTES_PER_ADD * total,
        "reference_seconds": best.pop("add_ reference"),
        "seconds": best,
        "reference_median_seconds": median.pop("add_ reference"),
        "median_seconds": median,
    }


def float32_units(result: torch.Tensor, reference: torch.Tensor, before: torch.Tensor) -> float:
    """The largest difference, in float32 units (spacing) of the larger of the value before and after.

    Measuring against the larger value keeps a near-cancellation (a result close to zero)
    from looking like a large error when both results round the same inputs.
    """
    scale = torch.maximum(reference.abs(), before.abs())
    spacing = torch.nextafter(scale, torch.full_like(scale, math.inf)) - scale
    return ((result - reference).abs() / spacing).max().item()


def settings_grid() -> list[dict]:
    """Every combination of the flags: maximize x weight decay x (no momentum, momentum,
    dampening, Nesterov)."""
    kinds = [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.1, False), (0.9, 0.0, True)]
    return [
        {"lr": 0.01, "momentum": m, "dampening": d, "weight_decay": wd, "nesterov": n, "maximize": mx}
        for mx, wd, (m, d, n) in itertools.product((False, True), (0.0, 1e-2), kinds)
    ]


def fused_difference(device: torch.device, numel: int = 10_000, steps: int = 3) -> dict:
    """How far sgdlab's compiled step lands from its for-loop, per combination of settings.

    Every combination is one parameter group of one compiled call (one compilation). Each
    step starts both from the for-loop's state, so differences do not accumulate.
    """
    grid = settings_grid()
    generator = torch.Generator(device=device).manual_seed(0)
    params = [torch.randn(numel, generator=generator, device=device) for _ in grid]
    buffers = [torch.randn(numel, generator=generator, device=device) for _ in grid]
    worst = [{"param": 0.0, "buffer": 0.0} for _ in grid]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        for _ in range(steps):
            grads = [torch.randn(numel, generator=generator, device=device) for _ in grid]
            copies = [(p.clone(), b.clone()) for p, b in zip(params, buffers)]
            sgdlab.fused.step_groups([([p], [g], [b], s) for (p, b), g, s in zip(copies, grads, grid)])
            for index, settings in enumerate(grid):
                before = (params[index].clone(), buffers[index].clone())
                bufs = [buffers[index]]
                sgdlab.update._single_tensor([params[index]], [grads[index]], bufs, **settings)
                for key, result, reference, old in (
                    ("param", copies[index][0], params[index], before[0]),
                    ("buffer", copies[index][1], bufs[0], before[1]),
                ):
                    if key == "buffer" and settings["momentum"] == 0:
                        continue
                    worst[index][key] = max(worst[index][key], float32_units(result, reference, old))
    rows = [{**settings, "param_units": w["param"], "buffer_units": w["buffer"]} for settings, w in zip(grid, worst)]
    return {
        "device": str(device), "numel": numel, "steps": steps, "grid": rows,
        "max_units": max(max(r["param_units"], r["buffer_units"]) for r in rows),
        "identical": sum(r["param_units"] == 0 and r["buffer_units"] == 0 for r in rows),
    }


COMPILE_SNIPPET = """
import time, warnings, torch, sgdlab
warnings.simplefilter("ignore")
w = torch.zeros(1000, requires_grad=True)
w.grad = torch.ones(1000)
optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9, fused=True)
optimizer.step()
started = time.perf_counter()
optimizer.step()
print(time.perf_counter() - started)
"""


def compile_seconds(cache: Path) -> float:
    """Seconds of the first fused step in a fresh process, with inductor's cache in ``cache``."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(cache))
    result = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET], env=env,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def bench_compile() -> dict:
    """The first fused step's time in a new process: cold, then with inductor's cache warm."""
    with tempfile.TemporaryDirectory(prefix="sgdlab-inductor-") as cache:
        cold = compile_seconds(Path(cache))
        warm = compile_seconds(Path(cache))
    return {"cold_seconds": cold, "cached_seconds": warm}


def bench_step(sizes, repeats: int) -> dict:
    """The roofline on every device, the fused step's compilation and its distance to the for-loop."""
    results, fused = [], {}
    for device in timing.devices():
        for momentum in (True, False):
            for total in sizes:
                started = time.perf_counter()
                row = bench_configuration(device, total, momentum, repeats)
                results.append(row)
                reference = row["reference_bytes"] / row["reference_seconds"]
                say(f"    {device} {total:.0e}, momentum {'on' if momentum else 'off'}: add_ "
                    f"{reference / 1e9:.1f} GB/s; " + ", ".join(
                        f"{name} {row['bytes'] / s / reference:.0%}" for name, s in row["seconds"].items())
                    + f" ({time.perf_counter() - started:.1f} s)")
        if sgdlab.fused.compiler_problem(device) is None:
            say(f"==> sgdlab fused on {device}: distance to the for-loop over the settings grid")
            fused[str(device)] = fused_difference(device)
            say(f"    largest: {fused[str(device)]['max_units']:.2f} float32 units; "
                f"{fused[str(device)]['identical']} of {len(settings_grid())} combinations identical")
    compilation = None
    if sgdlab.fused.compiler_problem("cpu") is None:
        say("==> sgdlab fused: first step in a new process, cold and from inductor's cache")
        compilation = bench_compile()
        say(f"    {compilation['cold_seconds']:.1f} s cold, {compilation['cached_seconds']:.1f} s cached")
    return {
        "settings": {**SETTINGS, "momentum": MOMENTUM, "dtype": "float32", "repeats": repeats,
                     "min_batch_seconds": MIN_BATCH_SECONDS, "layout": "one tensor",
                     "statistic": "best of the rounds (median_seconds: the median)"},
        "results": results,
        "fused_difference": fused,
        "compilation": compilation,
    }


# -- the targets ----------------------------------------------------------------------------


def geometric_mean(values: list[float]) -> float | None:
    """The geometric mean, or None for no values."""
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else None


def time_ratios(rows: list[dict], ours: str, theirs: str) -> list[float]:
    """``ours`` time over ``theirs`` in every row that has both."""
    return [
        row["seconds"][ours] / row["seconds"][theirs]
        for row in rows if ours in row["seconds"] and theirs in row["seconds"]
    ]


def ratio_target(step: dict, ours: str, theirs: str, limit: float) -> dict:
    """sgdlab's time over torch's for one path, over every configuration."""
    ratios = time_ratios(step["results"], ours, theirs)
    mean = geometric_mean(ratios)
    summary = None if mean is None else (
        f"{mean:.3f} (median {statistics.median(ratios):.3f}, best {min(ratios):.3f}, worst {max(ratios):.3f})"
    )
    return {
        "name": f"{ours} time / {theirs} time, geometric mean over configurations",
        "target": f"<= {limit:.2f}",
        "measured": summary,
        "met": None if mean is None else mean <= limit,
    }


def largest_cpu_row(step: dict) -> dict | None:
    """The CPU row at the largest size, with momentum."""
    rows = [r for r in step["results"] if r["device"] == "cpu" and r["momentum"]]
    return max(rows, key=lambda r: r["total"], default=None)


def fraction(row: dict, name: str) -> float:
    """The bandwidth ``name`` achieves in ``row``, as a fraction of the add_ reference's."""
    return (row["bytes"] / row["seconds"][name]) / (row["reference_bytes"] / row["reference_seconds"])


def fused_fraction_target(step: dict, limit: float) -> dict:
    """sgdlab's fused step at the largest size, as a fraction of the reference bandwidth."""
    row = largest_cpu_row(step)
    name = "sgdlab fused" if row is None else f"sgdlab fused at {size_name(row['total'])} params (CPU, momentum) / add_ bandwidth"
    if row is None or "sgdlab fused" not in row["seconds"]:
        return {"name": name, "target": f">= {limit:.0%}", "measured": None, "met": None}
    measured = fraction(row, "sgdlab fused")
    achieved = row["bytes"] / row["seconds"]["sgdlab fused"] / 1e9
    reference = row["reference_bytes"] / row["reference_seconds"] / 1e9
    return {"name": name, "target": f">= {limit:.0%}",
            "measured": f"{measured:.0%} ({achieved:.1f} of {reference:.1f} GB/s)", "met": measured >= limit}


def fused_time_target(step: dict, limit: float) -> dict:
    """sgdlab's fused step time over torch's fused step time at the largest size."""
    row = largest_cpu_row(step)
    name = "sgdlab fused time / torch fused time" + ("" if row is None else f" at {size_name(row['total'])} params (CPU, momentum)")
    ratios = time_ratios([row] if row else [], "sgdlab fused", "torch fused")
    return {"name": name, "target": f"<= {limit:.2f}",
            "measured": f"{ratios[0]:.3f}" if ratios else None, "met": ratios[0] <= limit if ratios else None}


def cuda_target(step: dict) -> dict:
    """Whether the roofline was measured on CUDA (it is when the machine has a GPU)."""
    measured = any(r["device"].startswith("cuda") for r in step["results"])
    return {"name": "roofline measured on CUDA", "target": "when a GPU is present",
            "measured": "yes" if measured else "no CUDA device on this machine", "met": True if measured else None}


def site_targets(site: dict) -> list[dict]:
    """The site's targets: per-example time, cold gallery, no-op build, one example re-run."""
    slowest = max(site["examples"].items(), key=lambda item: item[1], default=(None, 0.0))
    ran = site["touched_executed"]["ran"]
    return [
        {"name": f"slowest gallery example ({slowest[0]})", "target": f"< {TARGETS['example_seconds']:.0f} s",
         "measured": f"{slowest[1]:.2f} s", "met": slowest[1] < TARGETS["example_seconds"]},
        {"name": "cold gallery (sum of example times)", "target": f"< {TARGETS['cold_gallery_seconds']:.0f} s",
         "measured": f"{site['gallery_seconds']:.1f} s (whole cold build {site['cold_build_seconds']:.1f} s)",
         "met": site["gallery_seconds"] < TARGETS["cold_gallery_seconds"]},
        {"name": "no-op `make html`", "target": f"< {TARGETS['noop_build_seconds']:.0f} s",
         "measured": f"{site['noop_build_seconds']:.1f} s",
         "met": site["noop_build_seconds"] < TARGETS["noop_build_seconds"]},
        {"name": f"examples re-run after changing {site['touched_example']}", "target": "1",
         "measured": str(ran), "met": ran == 1},
    ]


def evaluate_targets(site: dict | None, step: dict | None) -> list[dict]:
    """Every target with what was measured and whether it was met (None: not measured)."""
    found = site_targets(site) if site else []
    if step:
        found.append(ratio_target(step, "sgdlab for-loop", "torch for-loop", TARGETS["sgdlab_vs_torch_for_loop"]))
        found.append(ratio_target(step, "sgdlab foreach", "torch foreach", TARGETS["sgdlab_vs_torch_foreach"]))
        found.append(fused_fraction_target(step, TARGETS["sgdlab_fused_fraction_of_add_at_1e7"]))
        found.append(fused_time_target(step, TARGETS["sgdlab_fused_vs_torch_fused_at_1e7"]))
        found.append(cuda_target(step))
    return found


# -- the Markdown fragment --------------------------------------------------------------------

#: The parts of the fragment, each between ``<!-- part -->`` and ``<!-- end part -->``, so a
#: page can include one part under its own heading.
PARTS = ("provenance", "targets", "site", "step", "fused")


def md_table(header: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown pipe table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines + [""]


def md_seconds(value: float | None) -> str:
    """A duration for a table."""
    return "not measured" if value is None else f"{value:.2f} s"


def md_provenance(made: dict) -> list[str]:
    """Where and when the record was made, with the load on the machine."""
    start, end = made.get("load_average_at_start"), made.get("load_average_at_end")
    load = "not available" if not start else (
        f"{start[0]:.2f} at the start, {end[0]:.2f} at the end (1-minute averages, "
        f"on {made.get('cores')} cores)" if end else f"{start[0]:.2f} at the start")
    devices = ", ".join(made.get("devices", []))
    cuda = made.get("cuda_device") or "none on this machine: no CUDA figures in this record"
    commit = made.get("commit", "unknown")[:12] + (" (with uncommitted changes)" if made.get("dirty") else "")
    return [
        f"- Machine: {made.get('machine')}, {made.get('cores')} cores",
        f"- PyTorch: {made.get('torch')} ({made.get('torch_threads')} threads), Python {made.get('python')}",
        f"- Devices: {devices}; CUDA GPU: {cuda}",
        f"- Commit: `{commit}`, {made.get('date')}",
        f"- Load average: {load}",
        "",
    ]


def md_targets(targets: list[dict]) -> list[str]:
    """The targets, what was measured, and the verdict."""
    verdict = {True: "met", False: "**missed**", None: "not measured"}
    return md_table(["Target", "Goal", "Measured", "Verdict"],
                    [[t["name"], t["target"], t["measured"] or "not measured", verdict[t["met"]]] for t in targets])


def md_site(site: dict | None) -> list[str]:
    """The site's build times and each example's run time."""
    if not site:
        return ["The site was not measured in this run.", ""]
    lines = md_table(["Build", "Time", "Examples run"], [
        ["cold `make html`", md_seconds(site["cold_build_seconds"]), site["cold_executed"]["ran"]],
        ["no-op `make html`", md_seconds(site["noop_build_seconds"]), site["noop_executed"]["ran"]],
        [f"after changing {site['touched_example']}", md_seconds(site["touched_build_seconds"]),
         site["touched_executed"]["ran"]],
        ["`make test`", md_seconds(site.get("test_seconds")), ""],
    ])
    return lines + md_table(["Gallery example", "Run time (sphinx-gallery)"],
                            [[name, md_seconds(value)] for name, value in sorted(site["examples"].items())])


def size_name(total: int) -> str:
    """A parameter count as it reads in the tables: 1e7, 1e3, 2.5e6."""
    return f"{total:.1e}".replace(".0e", "e").replace("e+0", "e").replace("e+", "e")


def md_summary(rows: list[dict]) -> list[str]:
    """What one device's rows with momentum say, in sentences: the limit, the gap, the overhead."""
    rows = sorted((r for r in rows if r["momentum"]), key=lambda r: r["total"])
    if not rows:
        return []
    large, small = rows[-1], rows[0]
    seconds, reference = large["seconds"], large["reference_bytes"] / large["reference_seconds"]
    limit = large["bytes"] / reference

    def said(name: str) -> str:
        return f"{seconds[name] * 1e3:.2f} ms ({large['bytes'] / seconds[name] / reference:.0%})"

    lines = [f"At {size_name(large['total'])} values with momentum the `add_` reference moves "
             f"{reference / 1e9:.1f} GB/s, so a step, which must move {large['bytes'] // large['total']} "
             f"bytes a value, cannot take less than {limit * 1e3:.2f} ms. In brackets, each step's "
             "share of the reference's bandwidth:", ""]
    for name in ("torch for-loop", "torch foreach", "torch fused", "sgdlab for-loop", "sgdlab foreach",
                 "sgdlab fused"):
        if name in seconds:
            lines.append(f"- {name}: {said(name)}")
    if "torch fused" in seconds:
        lines += ["", f"torch's for-loop takes {seconds['torch for-loop'] / seconds['torch fused']:.1f} times "
                  "as long as its fused step."]
    fastest = min(small["seconds"], key=small["seconds"].get)
    lines += ["", f"At {size_name(small['total'])} values the reference takes {small['reference_seconds'] * 1e6:.1f} µs "
              f"and the fastest step, {fastest}, {small['seconds'][fastest] * 1e6:.1f} µs: "
              f"{small['seconds'][fastest] / (small['bytes'] / (small['reference_bytes'] / small['reference_seconds'])):.0f} "
              "times its memory limit.", ""]
    return lines


def md_step(step: dict | None) -> list[str]:
    """Per device and momentum: time per step, achieved GB/s and fraction of the reference."""
    if not step:
        return ["The step was not measured in this run.", ""]
    lines = []
    for device in sorted({r["device"] for r in step["results"]}):
        lines += [f"**{device}**", ""] + md_summary([r for r in step["results"] if r["device"] == device])
    keys = sorted({(r["device"], r["momentum"]) for r in step["results"]}, key=lambda k: (k[0], not k[1]))
    for device, momentum in keys:
        rows = sorted((r for r in step["results"] if (r["device"], r["momentum"]) == (device, momentum)),
                      key=lambda r: r["total"])
        names = list(rows[0]["seconds"])
        sizes = [size_name(r["total"]) for r in rows]
        lines += [f"**{device}, {'with' if momentum else 'without'} momentum** "
                  f"({rows[0]['bytes'] // rows[0]['total']} bytes a value at least; the `add_` "
                  f"reference moves {timing.BYTES_PER_ADD}). Time per step in ms:", ""]
        lines += md_table(["", *sizes], [
            ["`add_` reference", *[f"{r['reference_seconds'] * 1e3:.3f}" for r in rows]],
            *[[name, *[f"{r['seconds'][name] * 1e3:.3f}" for r in rows]] for name in names],
        ])
        lines += ["Bandwidth achieved, in GB/s for the reference and as a share of it for the steps:", ""]
        lines += md_table(["", *sizes], [
            ["`add_` reference", *[f"{r['reference_bytes'] / r['reference_seconds'] / 1e9:.1f} GB/s" for r in rows]],
            *[[name, *[f"{fraction(r, name):.0%}" for r in rows]] for name in names],
        ])
    return lines


def md_fused(step: dict | None) -> list[str]:
    """The fused step's compilation times and its distance to the for-loop over the settings grid."""
    if not step or not step.get("fused_difference"):
        return ["sgdlab's fused step was not measured in this run.", ""]
    lines = []
    compilation = step.get("compilation")
    if compilation:
        lines += [f"First fused step in a new process: {compilation['cold_seconds']:.1f} s with an "
                  f"empty inductor cache, {compilation['cached_seconds']:.1f} s with the cache "
                  "filled by the run before.", ""]
    for device, found in step["fused_difference"].items():
        lines += [f"**{device}**: {found['identical']} of {len(found['grid'])} combinations give the "
                  f"for-loop's values bit for bit; the largest difference is "
                  f"{found['max_units']:.2f} float32 units (of the larger of the value before and "
                  f"after the step), over {found['steps']} steps of {found['numel']:,} values. "
                  "In the table, λ is the weight decay, μ the momentum and τ the dampening; "
                  "the last two columns are the largest differences in the parameter θ and "
                  "the momentum buffer b, in float32 units.", ""]
        body = [[r["maximize"], r["weight_decay"], r["momentum"], r["dampening"], r["nesterov"],
                 f"{r['param_units']:.2f}", "" if r["momentum"] == 0 else f"{r['buffer_units']:.2f}"]
                for r in found["grid"]]
        lines += md_table(["maximize", "λ", "μ", "τ", "nesterov", "θ", "b"], body)
    return lines


def render_markdown(record: dict) -> str:
    """The record as Markdown, one marked part per entry of ``PARTS``."""
    parts = {
        "provenance": md_provenance(record.get("provenance", {})),
        "targets": md_targets(record.get("targets", [])),
        "site": md_site(record.get("site")),
        "step": md_step(record.get("step")),
        "fused": md_fused(record.get("step")),
    }
    lines = ["<!-- Written by tools/bench.py from latest.json: do not edit. -->", ""]
    for name in PARTS:
        lines += [f"<!-- {name} -->", "", *parts[name], f"<!-- end {name} -->", ""]
    return "\n".join(lines)


def write_record(record: dict, output: Path) -> None:
    """Write the JSON record and its Markdown rendering beside it, each in one move."""
    output.parent.mkdir(parents=True, exist_ok=True)
    for path, content in ((output, json.dumps(record, indent=2) + "\n"),
                          (output.with_suffix(".md"), render_markdown(record))):
        partial = path.with_suffix(path.suffix + ".tmp")
        partial.write_text(content)
        partial.replace(path)  # a reader never sees half a file


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its record; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--site-test", action="store_true", help="also time `make test` (long)")
    parser.add_argument("--skip-site", action="store_true")
    parser.add_argument("--skip-step", action="store_true")
    parser.add_argument("--sizes", type=lambda s: [int(float(v)) for v in s.split(",")], default=SIZES)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--venv", type=Path, default=Path(sys.prefix))
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's CPU threads for the step (default: torch's own choice); "
                             "1 on a busy shared machine, where a second thread waits to be scheduled")
    options = parser.parse_args(argv)
    if options.threads:
        torch.set_num_threads(options.threads)
    started = time.perf_counter()
    made = provenance()
    say(f"bench: {made['cores']} cores, torch {made['torch']} ({made['torch_threads']} threads), "
        f"devices {', '.join(made['devices'])}, load average {made['load_average_at_start']}")
    if made["cuda_device"] is None:
        say("    no CUDA device: the record will say so")
    site = None if options.skip_site else bench_site(options.site_test, options.venv.resolve())
    step = None if options.skip_step else bench_step(options.sizes, options.repeats)
    made["load_average_at_end"] = load_average()
    made["bench_seconds"] = time.perf_counter() - started
    record = {"schema": SCHEMA, "provenance": made, "site": site, "step": step,
              "targets": evaluate_targets(site, step)}
    write_record(record, options.output)
    say("==> targets")
    for target in record["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        say(f"    {target['name']}: {target['measured']} (target {target['target']}): {verdict}")
    say(f"==> results written to {options.output} (and .md) in {made['bench_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
