"""Benchmark sgdlab: how fast the site builds, and how close one SGD step comes to the memory limit.

Usage (from the repository root; ``make bench`` does this)::

    python tools/bench.py [--site-test] [--skip-site] [--skip-step] [--skip-models] [--output FILE]
    python tools/bench.py --only models   # measure the model-shaped lists, merge them into the record
    python tools/bench.py --render    # rewrite latest.md from latest.json, measuring nothing

The site part times ``make html`` in a copy of the repository; the step part is a roofline
timed with ``torch.utils.benchmark``, then sgdlab's fused compilation and its distance to
the for-loop; the models part times both SGDs' steps over model-shaped parameter lists
(resnet18's, a small transformer's, 10 x 1M) at one thread. ``docs/performance.md`` describes both and includes the rendered record.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import operator
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
from collections.abc import Callable
from pathlib import Path
from statistics import geometric_mean

from repo_git import git

import torch
from torch.utils.benchmark import Timer

import sgdlab
import sgdlab.fused

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "bench" / "results" / "latest.json"
SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
SETTINGS = {"lr": 1e-3, "weight_decay": 1e-4}
MOMENTUM = 0.9
REPEATS = 15
MIN_RUN_SECONDS = 1e-3  # per timer and round
SCHEMA = 2
BYTES_PER_ADD = 12  # the reference reads a and b and writes a: three float32 values

MAKE_ENV = dict(os.environ, VENV=sys.prefix)  # this venv, exported so nested makes (tests) use it too

say = functools.partial(print, flush=True)  # progress, shown at once


def provenance() -> dict:
    """The machine, versions, devices, commit and date the results come from."""
    return {
        "machine": platform.platform(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "devices": [str(device) for device in sgdlab.devices()],
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "commit": git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain", "--", "src", "examples", "tools")),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "load_average_at_start": list(os.getloadavg()),
    }


# -- the site ---------------------------------------------------------------------------


def executed_counts(build_output: str) -> dict:
    """How many examples sphinx-gallery ran, and how many it kept from before."""
    ran = re.search(r"successfully executed (\d+) out of \d+ file", build_output)
    kept = re.search(r"after excluding (\d+) files? that had previously been run", build_output)
    return {"ran": int(ran[1]) if ran else None, "kept": int(kept[1]) if kept else None}


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
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # not a deleted file git still tracks
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def timed_make(target: str, copy: Path, what: str) -> tuple[float, dict]:
    """Run ``make <target>`` in the copy with this venv; its seconds and sphinx-gallery's counts."""
    say(f"==> site: {what}")
    started = time.perf_counter()
    result = subprocess.run(["make", "--no-print-directory", target], cwd=copy, env=MAKE_ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"make {target} failed in the benchmark copy:\n{(result.stdout + result.stderr)[-3000:]}")
    counts = executed_counts(result.stdout + result.stderr)
    say(f"    {seconds:.1f} s; sphinx-gallery ran {counts['ran']}, kept {counts['kept']}")
    return seconds, counts


def bench_site(with_tests: bool) -> dict:
    """Cold, no-op and one-example-changed builds of a copy of the site; optionally make test."""
    site = {}
    with tempfile.TemporaryDirectory(prefix="sgdlab-bench-") as scratch:
        copy = Path(scratch)
        copy_repository(copy)
        # make would reinstall a stale venv from the copy: refuse (`make bench` brings it up to date first)
        if subprocess.run(["make", "-q", f"{sys.prefix}/.installed"], cwd=copy, env=MAKE_ENV).returncode:
            raise RuntimeError(f"{sys.prefix} is older than pyproject.toml or constraints.txt: run `make setup`")
        site["cold_build_seconds"], site["cold_executed"] = timed_make("html", copy, "cold `make html` in a copy")
        site["examples"] = example_times(copy / "docs" / "auto_examples")
        site["noop_build_seconds"], site["noop_executed"] = timed_make("html", copy, "no-op `make html`")
        touched = min((copy / "examples").rglob("plot_*.py"))
        site["touched_example"] = touched.relative_to(copy / "examples").as_posix()
        # sphinx-gallery compares checksums, not times: change the content
        touched.write_text(touched.read_text() + "\n# changed by the benchmark\n")
        site["touched_build_seconds"], site["touched_executed"] = timed_make(
            "html", copy, f"`make html` after changing {site['touched_example']}")
        site["test_seconds"] = timed_make("test", copy, "`make test` (long)")[0] if with_tests else None
    return site | {"gallery_seconds": sum(site["examples"].values())}


# -- the step -----------------------------------------------------------------------------


def step_implementations(device: torch.device | str, fused: bool = True, **settings) -> dict[str, Callable]:
    """Name each SGD implementation to compare, with a function that builds it over parameters.

    Both SGDs' for-loop, foreach and fused steps; sgdlab's fused one with ``fused=True`` and a compiler.

    >>> list(step_implementations("cpu", fused=False, lr=0.01, momentum=0.9))
    ['torch for-loop', 'torch foreach', 'torch fused', 'sgdlab for-loop', 'sgdlab foreach']
    """
    built = {
        "torch for-loop": lambda params: torch.optim.SGD(params, foreach=False, **settings),
        "torch foreach": lambda params: torch.optim.SGD(params, foreach=True, **settings),
        "torch fused": lambda params: torch.optim.SGD(params, fused=True, **settings),
        "sgdlab for-loop": lambda params: sgdlab.SGD(params, foreach=False, **settings),
        "sgdlab foreach": lambda params: sgdlab.SGD(params, foreach=True, **settings),
    }
    if fused and sgdlab.fused.compiler_problem(device) is None:
        built["sgdlab fused"] = lambda params: sgdlab.SGD(params, fused=True, **settings)
    return built


def timer(stmt: str, **names) -> Timer:
    """A ``torch.utils.benchmark.Timer`` running ``stmt`` over the globals ``names``, with all of torch's threads."""
    return Timer(stmt, globals=names, num_threads=torch.get_num_threads())


def interleaved_samples(timers: dict[str, Timer], repeats: int, min_run_seconds: float) -> dict[str, list[float]]:
    """Seconds per run of each timer in each of ``repeats`` rounds, the timers taking turns.

    In each round each timer runs for about ``min_run_seconds`` (``blocked_autorange``, whose
    median block is kept), so a slow-down of the machine hits all of them alike.

    >>> samples = interleaved_samples({"pass": timer("pass")}, repeats=3, min_run_seconds=1e-4)
    >>> list(samples), len(samples["pass"])
    (['pass'], 3)
    """
    names = list(timers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)  # rotate who goes first: no one always runs cold
        for name in names[shift:] + names[:shift]:
            samples[name].append(timers[name].blocked_autorange(min_run_time=min_run_seconds).median)
    return samples


def bench_configuration(device: torch.device, total: int, momentum: bool, repeats: int) -> dict:
    """Seconds of the add_ reference and of every step implementation, for one size, taking turns.

    The reference, ``a.add_(b, alpha=...)``, like a step reads and writes each value it updates,
    with no extra read of the destination. Each keeps its best round, the closest to the
    machine's own speed: other work on a shared machine can only slow a round down.
    """
    settings = {**SETTINGS, "momentum": MOMENTUM if momentum else 0.0}
    a, b = torch.randn(total, device=device), torch.randn(total, device=device)
    timers = {"add_ reference": timer("a.add_(b, alpha=-1e-3)", a=a, b=b)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        for name, build in step_implementations(device, **settings).items():
            param = torch.randn(total, device=device).requires_grad_()
            param.grad = torch.randn(total, device=device)
            optimizer = build([param])
            optimizer.step()  # creates the momentum buffers
            optimizer.step()  # compiles sgdlab's fused step
            timers[name] = timer("optimizer.step()", optimizer=optimizer)
    best = {name: min(values) for name, values in interleaved_samples(timers, repeats, MIN_RUN_SECONDS).items()}
    return {
        "device": str(device), "total": total, "momentum": momentum,
        "bytes": (20 if momentum else 12) * total,  # fewest: read param, grad (and buffer), write param (and buffer)
        "reference_bytes": BYTES_PER_ADD * total, "reference_seconds": best.pop("add_ reference"), "seconds": best,
    }


def float32_units(result: torch.Tensor, reference: torch.Tensor, before: torch.Tensor) -> float:
    """The largest difference, in float32 units (spacing) of the larger of the value before and after."""
    # so that a near-cancellation (a result close to zero) does not look like a large error
    scale = torch.maximum(reference.abs(), before.abs())
    spacing = torch.nextafter(scale, torch.full_like(scale, float("inf"))) - scale
    return ((result - reference).abs() / spacing).max().item()


def fused_difference(device: torch.device, numel: int = 30_000) -> dict:
    """How far one step of sgdlab's compiled step lands from its for-loop's, per combination of settings.

    Every combination is one parameter group of one call (the compiled graphs serve every
    setting); both start from the same random parameter, momentum buffer and gradient.
    """
    # (momentum, dampening, nesterov): none, momentum, dampened, Nesterov; x weight decay x maximize
    kinds = [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.1, False), (0.9, 0.0, True)]
    grid = [
        {"lr": 0.01, "momentum": m, "dampening": d, "weight_decay": wd, "nesterov": n, "maximize": mx}
        for mx, wd, (m, d, n) in itertools.product((False, True), (0.0, 1e-2), kinds)
    ]
    generator = torch.Generator(device=device).manual_seed(0)
    # per combination: a parameter, its momentum buffer and its gradient
    before = [[torch.randn(numel, generator=generator, device=device) for _ in range(3)] for _ in grid]
    fused = [[t.clone() for t in state] for state in before]
    loop = [[t.clone() for t in state] for state in before]
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        sgdlab.fused.step_groups([([p], [g], [b], s) for (p, b, g), s in zip(fused, grid)])
        for (param, buffer, grad), settings in zip(loop, grid):
            sgdlab.sgd([param], [grad], [buffer], foreach=False, **settings)  # in place, as the fused step
    rows = [{**settings, "param_units": float32_units(new[0], old[0], start[0]),
             "buffer_units": float32_units(new[1], old[1], start[1])}
            for settings, start, new, old in zip(grid, before, fused, loop)]
    return {
        "device": str(device), "numel": numel, "steps": 1, "grid": rows,
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


def bench_compile() -> dict:
    """The first fused step's time in a new process: cold, then with inductor's cache warm."""
    with tempfile.TemporaryDirectory(prefix="sgdlab-inductor-") as cache:
        run = functools.partial(subprocess.run, [sys.executable, "-c", COMPILE_SNIPPET], capture_output=True,
                                text=True, check=True, env=dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache))
        cold, cached = (float(run().stdout.split()[-1]) for _ in range(2))  # the second finds the first's cache
    say(f"==> sgdlab fused: first step in a new process {cold:.1f} s cold, {cached:.1f} s from inductor's cache")
    return {"cold_seconds": cold, "cached_seconds": cached}


def bench_step(sizes, repeats: int) -> dict:
    """The roofline on every device, the fused step's compilation and its distance to the for-loop."""
    results, fused = [], {}
    for device in sgdlab.devices():  # CPU, and CUDA where present (SGDLAB_DEVICES may choose)
        for momentum, total in itertools.product((True, False), sizes):
            results.append(row := bench_configuration(device, total, momentum, repeats))
            say(f"    {device} {size_name(total)}, momentum {momentum}: share of add_ bandwidth "
                + ", ".join(f"{name} {fraction(row, name):.0%}" for name in row["seconds"]))
        if sgdlab.fused.compiler_problem(device) is None:
            fused[str(device)] = found = fused_difference(device)
            say(f"==> sgdlab fused on {device}: {found['identical']} of {len(found['grid'])} settings as the "
                f"for-loop bit for bit; at most {found['max_units']:.2f} float32 units apart")
    return {
        "settings": {**SETTINGS, "momentum": MOMENTUM, "repeats": repeats, "min_run_seconds": MIN_RUN_SECONDS,
                     "layout": "one float32 tensor", "statistic": "best of the rounds"},
        "results": results, "fused_difference": fused,
        "compilation": bench_compile() if sgdlab.fused.compiler_problem("cpu") is None else None,
    }


# -- model-shaped parameter lists -----------------------------------------------------------


def resnet18_shapes() -> list[tuple[int, ...]]:
    """The shapes of torchvision's ``resnet18()`` parameters, in its order (62 tensors).

    A 7x7 stem convolution and its batch norm, four stages of two basic blocks (two 3x3
    convolutions, each with a batch norm's weight and bias; the first block of stages 2-4 also
    a 1x1 downsampling convolution and its norm), and the 1000-class linear layer.

    >>> shapes = resnet18_shapes()
    >>> len(shapes), sum(math.prod(shape) for shape in shapes)
    (62, 11689512)
    """
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    width_in = 64
    for width in (64, 128, 256, 512):
        for block in range(2):
            shapes += [(width, width_in, 3, 3), (width,), (width,), (width, width, 3, 3), (width,), (width,)]
            if block == 0 and width != width_in:  # the shortcut changes the width
                shapes += [(width, width_in, 1, 1), (width,), (width,)]
            width_in = width
    return shapes + [(1000, 512), (1000,)]


def transformer_shapes(layers: int = 24, width: int = 64, hidden: int = 256) -> list[tuple[int, ...]]:
    """The shapes of a small transformer's parameters: ``layers`` encoder layers, then a final norm's weight.

    The layers are ``torch.nn.TransformerEncoderLayer(width, 4, hidden)``'s, 12 tensors each:
    the joint query-key-value projection (``3 width x width``) and the output projection,
    with their biases, two layer norms (weight and bias) and a two-layer MLP (``width ->
    hidden -> width``, weights and biases). The final norm is an ``RMSNorm``'s weight;
    embeddings are left out.

    >>> shapes = transformer_shapes()
    >>> len(shapes), sum(math.prod(shape) for shape in shapes)
    (289, 1199680)
    """
    layer = torch.nn.TransformerEncoderLayer(width, 4, hidden)
    return [tuple(param.shape) for param in layer.parameters()] * layers + [(width,)]


#: The model-shaped lists: a name as the tables show it, and the parameter shapes.
MODEL_LISTS = {
    "resnet18": resnet18_shapes(),
    "transformer, 24 layers": transformer_shapes(),
    "10 x 1M": [(1000, 1000)] * 10,
}
MODEL_SETTINGS = {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-4}
MODEL_THREADS = 1
MODEL_MIN_RUN_SECONDS = 0.05  # per timer and round: several steps of the small lists in each round
MODEL_KERNELS = ("for-loop", "foreach", "fused")
FUSED_CHECK_TOTAL = 10**7  # one tensor: the fused step against the add_ reference


def model_parameters(shapes: list[tuple[int, ...]], generator: torch.Generator) -> list[torch.Tensor]:
    """Random float32 CPU leaf tensors of these shapes, each with a random gradient.

    >>> params = model_parameters([(2, 3), (3,)], torch.Generator().manual_seed(0))
    >>> [tuple(p.shape) for p in params], all(p.grad.shape == p.shape for p in params)
    ([(2, 3), (3,)], True)
    """
    params = [torch.randn(shape, generator=generator).requires_grad_() for shape in shapes]
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator)
    return params


def stepped_timers(builders: dict[str, Callable], shapes: list[tuple[int, ...]]) -> dict[str, Timer]:
    """A timer of ``step()`` per implementation, all stepping the very same tensors.

    The implementations share the parameters, their gradients and their momentum buffers
    (each optimizer's state holds the same buffer tensors), so none gains or loses by where
    its memory happens to lie: on separate copies the same code measured up to 5% apart.
    Each optimizer has stepped once (sgdlab's fused step is compiled).
    """
    params = model_parameters(shapes, torch.Generator().manual_seed(0))
    timers, buffers = {}, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        for name, build in builders.items():
            optimizer = build(params)
            if buffers is not None and optimizer.defaults["momentum"] != 0:
                for param, buffer in zip(params, buffers):
                    optimizer.state[param]["momentum_buffer"] = buffer
            optimizer.step()  # creates the momentum buffers and compiles sgdlab's fused step
            if buffers is None:
                buffers = [optimizer.state[param].get("momentum_buffer") for param in params]
            timers[name] = timer("optimizer.step()", optimizer=optimizer)
            if name == "sgdlab for-loop":  # what sgdlab does before the kernel: gather, check
                timers[CHECKS] = timer(
                    "dispatch.gather_checked(optimizer, passed)",
                    dispatch=sgdlab._dispatch, optimizer=optimizer,
                    passed=optimizer.__dict__.get("_passed_settings", {}))
                # the same with nothing kept from the step before: every rule runs in Python
                timers[CHECKS_IN_PYTHON] = timer(
                    "dispatch.gather_checked(optimizer)", dispatch=sgdlab._dispatch,
                    optimizer=optimizer)
    return timers


#: The timer of sgdlab's gather and checks, beside the steps.
CHECKS = "sgdlab gather and checks"
#: The timer of the same with every rule run in Python (no witness of the step before).
CHECKS_IN_PYTHON = "sgdlab gather and checks in Python"


def best_and_median_times(timers: dict[str, Timer], repeats: int) -> dict[str, dict]:
    """Each timer's best and median seconds over ``repeats`` interleaved rounds, and the rounds' seconds.

    On a shared machine the rounds fall in two modes, alone on a core or sharing it (about
    twice the time), and which mode holds the median is chance: the best round is kept, as
    in the roofline; the median and every round are kept beside it.
    """
    samples = interleaved_samples(timers, repeats, MODEL_MIN_RUN_SECONDS)
    return {"seconds": {name: min(values) for name, values in samples.items()},
            "median_seconds": {name: statistics.median(values) for name, values in samples.items()},
            "samples": samples}


def bench_model_list(name: str, shapes: list[tuple[int, ...]], repeats: int) -> dict:
    """Step times of both SGDs' for-loop, foreach and fused steps over one model-shaped list."""
    builders = step_implementations("cpu", **MODEL_SETTINGS)
    row = {"name": name, "tensors": len(shapes), "values": sum(math.prod(shape) for shape in shapes),
           **best_and_median_times(stepped_timers(builders, shapes), repeats)}
    say(f"    {name} ({row['tensors']} tensors, {size_name(row['values'])} values): sgdlab / torch "
        + ", ".join(f"{kernel} {ratio:.3f}" for kernel in MODEL_KERNELS
                    if (ratio := model_ratio(row, kernel)) is not None))
    return row


def bench_fused_bandwidth(total: int, repeats: int) -> dict:
    """The add_ reference and both fused steps over one tensor of ``total`` values, best of rounds.

    Shaped like a roofline row (``bytes``, ``reference_bytes``, ...), so :func:`fraction` reads it.
    """
    a, b = torch.randn(total), torch.randn(total)
    builders = {name: build for name, build in step_implementations("cpu", **MODEL_SETTINGS).items()
                if name.endswith("fused")}
    timers = {"add_ reference": timer("a.add_(b, alpha=-1e-3)", a=a, b=b)} | stepped_timers(builders, [(total,)])
    times = best_and_median_times(timers, repeats)
    row = {"device": "cpu", "total": total, "momentum": True, "bytes": 20 * total,
           "reference_bytes": BYTES_PER_ADD * total, "reference_seconds": times["seconds"].pop("add_ reference"),
           **times}
    say(f"    one tensor of {size_name(total)}: share of add_ bandwidth "
        + ", ".join(f"{name} {fraction(row, name):.0%}" for name in row["seconds"]))
    return row


def bench_models(repeats: int) -> dict:
    """Step times over the model-shaped lists at one thread, and the fused step at 1e7 values.

    Runs at ``MODEL_THREADS`` thread(s), then gives torch its threads back. The part carries
    its own provenance: it may be measured alone (``--only models``) and merged into a record.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(MODEL_THREADS)
    try:
        made = provenance()
        say(f"==> model-shaped lists, {MODEL_THREADS} thread, best of {repeats} rounds, "
            f"load average {made['load_average_at_start']}")
        lists = [bench_model_list(name, shapes, repeats) for name, shapes in MODEL_LISTS.items()]
        fused = (bench_fused_bandwidth(FUSED_CHECK_TOTAL, repeats)
                 if sgdlab.fused.compiler_problem("cpu") is None else None)
    finally:
        torch.set_num_threads(threads)
    made["load_average_at_end"] = list(os.getloadavg())
    return {
        "provenance": made,
        "settings": {**MODEL_SETTINGS, "threads": MODEL_THREADS, "repeats": repeats,
                     "min_run_seconds": MODEL_MIN_RUN_SECONDS, "layout": "float32 CPU tensors, one group",
                     "statistic": "best of the rounds (median_seconds: the median)"},
        "lists": lists, "fused_bandwidth": fused,
    }


def model_ratio(row: dict, kernel: str) -> float | None:
    """sgdlab's step time over torch's with ``kernel`` on one list; None if either was not timed.

    >>> model_ratio({"seconds": {"torch foreach": 2.0, "sgdlab foreach": 1.5}}, "foreach")
    0.75
    >>> model_ratio({"seconds": {"torch fused": 2.0}}, "fused") is None
    True
    """
    return time_ratio([row], f"sgdlab {kernel}", f"torch {kernel}")


def model_list_ratio(models: dict, name: str, kernel: str) -> float | None:
    """:func:`model_ratio` for the list called ``name``; None if it was not measured."""
    return next((model_ratio(row, kernel) for row in models["lists"] if row["name"] == name), None)


# -- the targets ----------------------------------------------------------------------------


def fraction(row: dict, name: str) -> float | None:
    """The bandwidth ``name`` achieves in ``row``, as a fraction of the add_ reference's; None if not timed."""
    if name in row["seconds"]:
        return row["bytes"] / row["seconds"][name] / (row["reference_bytes"] / row["reference_seconds"])
    return None


def size_name(total: int) -> str:
    """A parameter count as it reads in the tables: 1e7, 1e3, 2.5e6."""
    return f"{total:.1e}".replace(".0e", "e").replace("e+0", "e").replace("e+", "e")


def largest_cpu_row(step: dict) -> dict:
    """The CPU row at the largest size, with momentum; one with no times when the CPU was not measured."""
    rows = (r for r in step["results"] if r["device"] == "cpu" and r["momentum"])
    return max(rows, key=lambda r: r["total"], default={"seconds": {}})


def time_ratio(rows: list[dict], ours: str, theirs: str) -> float | None:
    """``ours`` time over ``theirs``, geometric mean over the rows that have both; None if none has."""
    ratios = [r["seconds"][ours] / r["seconds"][theirs] for r in rows if ours in r["seconds"] and theirs in r["seconds"]]
    return geometric_mean(ratios) if ratios else None


#: The goals of issues 8 and 16: what is measured, in which part of the record, by what
#: function (None: not measured), compared how with which limit, and the values' format.
TARGETS = (
    ("slowest gallery example", "site", lambda site: max(site["examples"].values()), "<", 5.0, "{:.2f} s"),
    ("cold gallery (sum of example times)", "site", lambda site: site["gallery_seconds"], "<", 60.0, "{:.1f} s"),
    ("no-op `make html`", "site", lambda site: site["noop_build_seconds"], "<", 5.0, "{:.1f} s"),
    ("examples re-run after changing one", "site", lambda site: site["touched_executed"]["ran"], "==", 1, "{}"),
    ("sgdlab for-loop time / torch for-loop time, geometric mean over configurations", "step",
     lambda step: time_ratio(step["results"], "sgdlab for-loop", "torch for-loop"), "<=", 1.10, "{:.3f}"),
    ("sgdlab foreach time / torch foreach time, geometric mean over configurations", "step",
     lambda step: time_ratio(step["results"], "sgdlab foreach", "torch foreach"), "<=", 1.05, "{:.3f}"),
    ("sgdlab fused / add_ bandwidth at the largest size (CPU, momentum)", "step",
     lambda step: fraction(largest_cpu_row(step), "sgdlab fused"), ">=", 0.80, "{:.0%}"),
    ("sgdlab fused time / torch fused time at the largest size (CPU, momentum)", "step",
     lambda step: time_ratio([largest_cpu_row(step)], "sgdlab fused", "torch fused"), "<=", 1.00, "{:.3f}"),
    ("configurations measured on CUDA (none without a GPU)", "step",
     lambda step: sum(r["device"].startswith("cuda") for r in step["results"]) or None, ">=", 1, "{}"),
    # issue 26: no slower than torch on model-shaped lists (1 thread, best of the rounds)
    *((f"sgdlab {kernel} time / torch {kernel} time on {name} (1 thread)", "models",
       functools.partial(model_list_ratio, name=name, kernel=kernel), "<=", 1.00, "{:.3f}")
      for name in MODEL_LISTS for kernel in ("for-loop", "foreach")),
    (f"sgdlab fused / add_ bandwidth at {size_name(FUSED_CHECK_TOTAL)} values (1 thread)", "models",
     lambda models: models["fused_bandwidth"] and fraction(models["fused_bandwidth"], "sgdlab fused"),
     ">=", 0.80, "{:.0%}"),
    (f"sgdlab fused time / torch fused time at {size_name(FUSED_CHECK_TOTAL)} values (1 thread)", "models",
     lambda models: models["fused_bandwidth"] and time_ratio([models["fused_bandwidth"]], "sgdlab fused",
                                                              "torch fused"), "<=", 1.00, "{:.3f}"),
)
COMPARISONS = {"<": operator.lt, "<=": operator.le, "==": operator.eq, ">=": operator.ge}
VERDICTS = {True: "met", False: "**missed**", None: "not measured"}


def evaluate_targets(site: dict | None, step: dict | None, models: dict | None = None) -> list[dict]:
    """The targets of the parts measured: what was measured and whether it was met (None: not measured)."""
    found = []
    for name, part, measure, comparison, limit, shown in TARGETS:
        measured = {"site": site, "step": step, "models": models}[part]
        if measured:
            value = measure(measured)
            found.append({"name": name, "target": f"{comparison} {shown.format(limit)}",
                          "measured": None if value is None else shown.format(value),
                          "met": None if value is None else COMPARISONS[comparison](value, limit)})
    return found


# -- the Markdown fragment --------------------------------------------------------------------


def md_table(header: list, rows: list[list]) -> list[str]:
    """A Markdown pipe table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows] + [""]


def md_value(value: object) -> str:
    """A value as a table shows it: lists joined, dicts as key value pairs, floats to two decimals, None as none.

    >>> md_value({"site": None, "step": [1.0, 2]})
    'site none; step 1.00, 2'
    """
    if isinstance(value, dict):
        return "; ".join(f"{key} {md_value(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(map(md_value, value))
    return "none" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def md_seconds(value: float | None) -> str:
    """A duration for a table."""
    return "not measured" if value is None else f"{value:.2f} s"


def md_site(site: dict) -> list[str]:
    """The site's build times and each example's run time."""
    builds = [("cold `make html`", "cold"), ("no-op `make html`", "noop"),
              (f"after changing {site['touched_example']}", "touched")]
    rows = [[what, md_seconds(site[f"{key}_build_seconds"]), site[f"{key}_executed"]["ran"]] for what, key in builds]
    return (md_table(["Build", "Time", "Examples run"], [*rows, ["`make test`", md_seconds(site["test_seconds"]), ""]])
            + md_table(["Gallery example", "Run time (sphinx-gallery)"],
                       [[name, md_seconds(value)] for name, value in sorted(site["examples"].items())]))


def md_step(step: dict) -> list[str]:
    """Per device and momentum: the reference's bandwidth, the limit, and each step's time and share."""
    lines = []
    ordered = sorted(step["results"], key=lambda r: (r["device"], not r["momentum"], r["total"]))
    for (device, momentum), group in itertools.groupby(ordered, key=lambda r: (r["device"], r["momentum"])):
        rows = list(group)
        lines += [f"**{device}, {'with' if momentum else 'without'} momentum** "
                  f"({rows[0]['bytes'] // rows[0]['total']} bytes a value)", ""]
        lines += md_table(["", *[size_name(r["total"]) for r in rows]], [
            ["`add_` reference, GB/s", *[f"{r['reference_bytes'] / r['reference_seconds'] / 1e9:.1f}" for r in rows]],
            ["memory limit", *[f"{r['bytes'] / r['reference_bytes'] * r['reference_seconds'] * 1e3:.3f}" for r in rows]],
            *[[name, *[f"{r['seconds'][name] * 1e3:.3f} ({fraction(r, name):.0%})" for r in rows]]
              for name in rows[0]["seconds"]],
        ])
    return lines


def md_fused(step: dict) -> list[str]:
    """The fused step's compilation times and its distance to the for-loop over the settings grid."""
    lines = []
    if step["compilation"]:
        lines += [f"First fused step in a new process: {step['compilation']['cold_seconds']:.1f} s with an "
                  f"empty inductor cache, {step['compilation']['cached_seconds']:.1f} s with the cache "
                  "filled by the run before.", ""]
    for device, found in step["fused_difference"].items():
        lines += [f"**{device}**: {found['identical']} of {len(found['grid'])} combinations give the "
                  f"for-loop's values bit for bit; the largest difference is {found['max_units']:.2f} "
                  f"float32 units, over {found['steps'] * found['numel']:,} values.", ""]
        lines += md_table(["maximize", "wd", "μ", "τ", "nesterov", "p", "v"], [
            [r["maximize"], r["weight_decay"], r["momentum"], r["dampening"], r["nesterov"],
             f"{r['param_units']:.2f}", "" if r["momentum"] == 0 else f"{r['buffer_units']:.2f}"]
            for r in found["grid"]])
    return lines


def md_models(models: dict) -> list[str]:
    """The model-shaped lists: sgdlab's time over torch's per kernel, the times, the fused step at 1e7."""
    made, settings = models["provenance"], models["settings"]
    lines = [f"Measured {made['date']} at commit {made['commit'][:10]}{' (with changes)' if made['dirty'] else ''}, "
             f"{settings['threads']} thread, best of {settings['repeats']} rounds, load average "
             f"{md_value(made['load_average_at_start'])} at the start and "
             f"{md_value(made['load_average_at_end'])} at the end. sgdlab's time over torch's:", ""]
    kernels = [k for k in MODEL_KERNELS if any(model_ratio(row, k) is not None for row in models["lists"])]
    described = [f"{row['name']}: {row['tensors']} tensors, {size_name(row['values'])} values" for row in models["lists"]]
    lines += md_table(["parameters", *kernels], [
        [what, *[f"{model_ratio(row, kernel):.2f}" for kernel in kernels]]
        for what, row in zip(described, models["lists"])])
    names = [f"{who} {kernel}" for kernel in kernels for who in ("torch", "sgdlab")]
    lines += ["Milliseconds per step:", ""]
    lines += md_table(["parameters", *names], [
        [row["name"], *[f"{row['seconds'][name] * 1e3:.2f}" for name in names]] for row in models["lists"]])
    checked = [row for row in models["lists"] if CHECKS in row["seconds"]]
    if checked:
        lines += ["Before its kernel, `sgdlab.SGD.step()` gathers every group's tensors and checks "
                  "them all (torch's step checks nothing): "
                  + "; ".join(f"{row['name']} {row['seconds'][CHECKS] * 1e6:.0f} us "
                              f"({row['seconds'][CHECKS] / row['seconds']['sgdlab for-loop']:.0%} of its "
                              "for-loop step" + (
                                  f"; {row['seconds'][CHECKS_IN_PYTHON] * 1e6:.0f} us with every "
                                  "rule run in Python" if CHECKS_IN_PYTHON in row["seconds"] else "")
                              + ")" for row in checked) + ".", ""]
    if (fused := models["fused_bandwidth"]) is not None:
        lines += [f"One tensor of {size_name(fused['total'])} values: the `add_` reference moves "
                  f"{fused['reference_bytes'] / fused['reference_seconds'] / 1e9:.1f} GB/s; "
                  + ", ".join(f"{name} {fused['seconds'][name] * 1e3:.2f} ms ({fraction(fused, name):.0%} of it)"
                              for name in fused["seconds"]) + ".", ""]
    return lines


#: The parts of the fragment, each between ``<!-- part -->`` and ``<!-- end part -->`` so that a
#: page can include one under its own heading, and how each renders from the record.
PARTS = {
    "provenance": lambda record: md_table(["What", "Value"], [[key.replace("_", " "), md_value(value)]
                                                              for key, value in record["provenance"].items()]),
    "targets": lambda record: md_table(["Target", "Goal", "Measured", "Verdict"], [
        [t["name"], t["target"], t["measured"] or "not measured", VERDICTS[t["met"]]] for t in record["targets"]]),
    "site": lambda record: record["site"] and md_site(record["site"]),
    "step": lambda record: record["step"] and md_step(record["step"]),
    "fused": lambda record: record["step"] and md_fused(record["step"]),
    "models": lambda record: record.get("models") and md_models(record["models"]),
}


def render_markdown(record: dict) -> str:
    """The record as Markdown, one marked part per entry of ``PARTS``."""
    lines = ["<!-- Written by tools/bench.py from latest.json: do not edit. -->", ""]
    for name, render in PARTS.items():
        lines += [f"<!-- {name} -->", "", *(render(record) or ["Not measured in this run.", ""]), f"<!-- end {name} -->", ""]
    return "\n".join(lines)


def measured_when(record: dict) -> dict:
    """When each part of ``record`` was measured: its provenance's ``measured``, or the record's date.

    >>> measured_when({"provenance": {"date": "d1"}, "site": None, "step": {}, "models": None})
    {'site': None, 'step': 'd1', 'models': None}
    """
    date = record["provenance"].get("date")
    found = {part: None if record.get(part) is None else date for part in ("site", "step", "models")}
    return found | record["provenance"].get("measured", {})


def merge_models(record: dict, models: dict) -> dict:
    """``record`` with its models part replaced by ``models``, dated, and its targets judged again."""
    merged = {**record, "models": models}
    merged["provenance"] = {**record["provenance"],
                            "measured": measured_when(record) | {"models": models["provenance"]["date"]}}
    merged["targets"] = evaluate_targets(merged["site"], merged["step"], models)
    return merged


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write its record and render it; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--render", action="store_true", help="only rewrite the Markdown from the record")
    parser.add_argument("--site-test", action="store_true", help="also time `make test` (long)")
    parser.add_argument("--skip-site", action="store_true")
    parser.add_argument("--skip-step", action="store_true")
    parser.add_argument("--skip-models", action="store_true")
    parser.add_argument("--only", choices=["models"], help="measure only this part and merge it into the record "
                        "at --output, keeping the other parts (and their provenance) as they are")
    parser.add_argument("--sizes", type=lambda s: [int(float(v)) for v in s.split(",")], default=SIZES)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--threads", type=int, help="torch's CPU threads for the step (default: torch's choice); "
                        "1 on a busy shared machine, where a second thread waits to be scheduled "
                        f"(the model-shaped lists always run at {MODEL_THREADS})")
    options = parser.parse_args(argv)
    if options.only:
        record = merge_models(json.loads(options.output.read_text()), bench_models(options.repeats))
        options.output.write_text(json.dumps(record, indent=2) + "\n")
        say("\n".join(PARTS["targets"](record)))
    elif not options.render:
        if options.threads:
            torch.set_num_threads(options.threads)
        started, made = time.perf_counter(), provenance()
        say(f"bench: {made['cores']} cores, torch {made['torch']} ({made['torch_threads']} threads), "
            f"devices {made['devices']}, load average {made['load_average_at_start']}")
        site = None if options.skip_site else bench_site(options.site_test)
        step = None if options.skip_step else bench_step(options.sizes, options.repeats)
        models = None if options.skip_models else bench_models(options.repeats)
        made |= {"load_average_at_end": list(os.getloadavg()), "bench_seconds": time.perf_counter() - started}
        record = {"schema": SCHEMA, "provenance": made, "site": site, "step": step, "models": models,
                  "targets": evaluate_targets(site, step, models)}
        made["measured"] = measured_when(record) | ({"models": models["provenance"]["date"]} if models else {})
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(json.dumps(record, indent=2) + "\n")
        say("\n".join(PARTS["targets"](record)))
    options.output.with_suffix(".md").write_text(render_markdown(json.loads(options.output.read_text())))
    say(f"==> {options.output.with_suffix('.md')} written from {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
