"""Benchmark sgdlab: how fast the site builds, and how fast one SGD step runs.

Usage (from the repository root; ``make bench`` does this)::

    python tools/bench.py [--site-test] [--skip-site] [--skip-step] [--output FILE]

The site part builds a temporary copy of the repository (so the worktree's build stays as it
is): a cold ``make html``, a no-op ``make html``, and a ``make html`` after changing one
example, reading from sphinx-gallery's own output how many examples re-ran and from the
``*.cost.json`` it writes beside each example's page how long each example took. ``--site-test`` adds ``make test``.

The step part times ``step()`` of ``torch.optim.SGD`` (for-loop, foreach, fused where
supported) and ``sgdlab.SGD`` (for-loop, foreach), interleaved, with momentum and weight decay,
for 1e3 to 1e7 parameters in several layouts, on every device ``sgdlab.devices()`` lists, and
compares the bytes each step must move per second with a copy's bandwidth.

Everything lands in one JSON file with its provenance; ``docs/performance.md`` renders it.
"""

from __future__ import annotations

import argparse
import datetime
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
from pathlib import Path

from repo_git import git

import torch

import sgdlab

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench" / "results" / "latest.json"
SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
LAYOUTS = (1, 100, 1000)  # tensors the parameters are split over, at most one per parameter
HYPERPARAMETERS = {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-4}
#: The configuration the package's speed goal names: 10 tensors of 1M float32 (total, tensors).
HEADLINE = (10**7, 10)
REPEATS = 9
MIN_BATCH_SECONDS = 2e-3

#: The goals this benchmark checks, with the measured value each is compared to.
TARGETS = {
    "example_seconds": 5.0,  # each gallery example, on 2 CPU cores
    "cold_gallery_seconds": 60.0,  # the whole gallery, from nothing
    "noop_build_seconds": 5.0,  # `make html` with nothing changed
    "sgdlab_vs_torch_for_loop": 1.10,  # time ratio, geometric mean over configurations
    "sgdlab_vs_torch_foreach": 1.05,
    "best_cpu_fraction_of_copy_at_1e7": 0.60,
}

EXECUTED = re.compile(r"successfully executed (?P<ran>\d+) out of (?P<of>\d+) file")
EXCLUDED = re.compile(r"after excluding (?P<kept>\d+) files? that had previously been run")


def say(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)



def provenance() -> dict:
    """The machine, versions, devices, commit and date the results come from."""
    devices = [str(device) for device in sgdlab.devices()]
    return {
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "devices": devices,
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "commit": git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain", "--", "src", "examples", "tools")),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
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


def layout_name(tensors: int) -> str:
    """How a layout reads in tables."""
    return "1 tensor" if tensors == 1 else f"{tensors:,} tensors"


def bench_configuration(device: torch.device, total: int, tensors: int, repeats: int) -> dict:
    """Median seconds per step of every implementation for one size and layout."""
    builders = sgdlab.step_implementations(device, **HYPERPARAMETERS)
    optimizers = {
        name: build(sgdlab.make_parameters(total, tensors=tensors, device=device))
        for name, build in builders.items()
    }
    seconds = sgdlab.time_steps(optimizers, repeats=repeats, min_batch_seconds=MIN_BATCH_SECONDS)
    return {
        "device": str(device),
        "layout": layout_name(tensors),
        "tensors": tensors,
        "total": total,
        "bytes": sgdlab.step_bytes(total, momentum=True),
        "seconds": seconds,
    }


def bench_step(sizes, layouts, repeats: int) -> dict:
    """Step times on every device, and each device's copy bandwidth."""
    results, headline, bandwidth = [], [], {}
    for device in sgdlab.devices():
        say(f"==> step on {device}: copy bandwidth")
        bandwidth[str(device)] = sgdlab.copy_bandwidth(device, numel=2**24, repeats=repeats)
        say(f"    {bandwidth[str(device)] / 1e9:.1f} GB/s")
        for total in sizes:
            for tensors in sorted({min(t, total) for t in layouts}):
                started = time.perf_counter()
                row = bench_configuration(device, total, tensors, repeats)
                results.append(row)
                fastest = min(row["seconds"], key=row["seconds"].get)
                say(f"    {device} {total:.0e} params, {row['layout']}: fastest {fastest} "
                    f"{row['seconds'][fastest] * 1e3:.3f} ms/step ({time.perf_counter() - started:.1f} s)")
        say(f"==> step on {device}: the goal's configuration, {HEADLINE[1]} tensors of "
            f"{HEADLINE[0] // HEADLINE[1]:,} parameters")
        headline.append(bench_configuration(device, *HEADLINE, repeats=3 * repeats))
        say("    " + ", ".join(f"{name} {s * 1e3:.3f} ms" for name, s in headline[-1]["seconds"].items()))
    return {
        "settings": {**HYPERPARAMETERS, "dtype": "float32", "repeats": repeats,
                     "min_batch_seconds": MIN_BATCH_SECONDS},
        "copy_bandwidth": bandwidth,
        "results": results,
        "headline": headline,
    }


# -- the targets ----------------------------------------------------------------------------


def geometric_mean(values: list[float]) -> float | None:
    """The geometric mean, or None for no values."""
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else None


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


def time_ratios(rows: list[dict], ours: str, theirs: str) -> list[float]:
    """``ours`` time over ``theirs`` in every row that has both."""
    return [
        row["seconds"][ours] / row["seconds"][theirs]
        for row in rows if ours in row["seconds"] and theirs in row["seconds"]
    ]


def headline_target(step: dict, ours: str, theirs: str, limit: float) -> dict:
    """sgdlab's time over torch's for one path, on the CPU, in the goal's own configuration."""
    rows = [row for row in step.get("headline", []) if row["device"] == "cpu"]
    ratios = time_ratios(rows, ours, theirs)
    total, tensors = HEADLINE
    return {
        "name": f"{ours} time / {theirs} time, {tensors} tensors of {total // tensors:,} on the CPU",
        "target": f"<= {limit:.2f}",
        "measured": f"{ratios[0]:.3f}" if ratios else None,
        "met": ratios[0] <= limit if ratios else None,
    }


def copy_fraction_target(step: dict, limit: float) -> dict:
    """The best CPU implementation's achieved bandwidth at 1e7 parameters, over a copy's."""
    rows = [r for r in step["results"] if r["device"] == "cpu" and r["total"] == 10**7]
    copy = step["copy_bandwidth"].get("cpu")
    if not rows or not copy:
        return {"name": "best CPU step at 1e7 params / copy bandwidth", "target": f">= {limit:.0%}",
                "measured": None, "met": None}
    best = max(((r["bytes"] / s, name, r["layout"]) for r in rows for name, s in r["seconds"].items()))
    fraction = best[0] / copy
    return {
        "name": "best CPU step at 1e7 params / copy bandwidth",
        "target": f">= {limit:.0%}",
        "measured": f"{fraction:.0%} ({best[1]}, {best[2]}: {best[0] / 1e9:.1f} of {copy / 1e9:.1f} GB/s)",
        "met": fraction >= limit,
    }


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
        found.append(headline_target(step, "sgdlab for-loop", "torch for-loop", TARGETS["sgdlab_vs_torch_for_loop"]))
        found.append(headline_target(step, "sgdlab foreach", "torch foreach", TARGETS["sgdlab_vs_torch_foreach"]))
        found.append(copy_fraction_target(step, TARGETS["best_cpu_fraction_of_copy_at_1e7"]))
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its JSON; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--site-test", action="store_true", help="also time `make test` (long)")
    parser.add_argument("--skip-site", action="store_true")
    parser.add_argument("--skip-step", action="store_true")
    parser.add_argument("--sizes", type=lambda s: [int(float(v)) for v in s.split(",")], default=SIZES)
    parser.add_argument("--layouts", type=lambda s: [int(v) for v in s.split(",")], default=LAYOUTS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--venv", type=Path, default=Path(sys.prefix))
    options = parser.parse_args(argv)
    started = time.perf_counter()
    made = provenance()
    say(f"bench: {made['cores']} cores, torch {made['torch']} ({made['torch_threads']} threads), "
        f"devices {', '.join(made['devices'])}, load average {made['load_average_at_start']}")
    site = None if options.skip_site else bench_site(options.site_test, options.venv.resolve())
    step = None if options.skip_step else bench_step(options.sizes, options.layouts, options.repeats)
    made["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    made["bench_seconds"] = time.perf_counter() - started
    record = {"schema": 1, "provenance": made, "site": site, "step": step,
              "targets": evaluate_targets(site, step)}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    partial = options.output.with_suffix(".tmp")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    partial.replace(options.output)  # a reader never sees half a file
    say("==> targets")
    for target in record["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        say(f"    {target['name']}: {target['measured']} (target {target['target']}): {verdict}")
    say(f"==> results written to {options.output} in {made['bench_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
