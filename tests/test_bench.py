"""tools/bench.py: the targets it judges, the Markdown it writes, and the record the site shows."""

from __future__ import annotations

import functools
import json
import math

import pytest
import torch

from helpers import ROOT

import bench  # noqa: E402
import sgdlab.fused

RECORD = ROOT / "bench" / "results" / "latest.json"


def row(total: int, momentum: bool, seconds: dict, reference_seconds: float) -> dict:
    return {"device": "cpu", "total": total, "momentum": momentum,
            "bytes": (20 if momentum else 12) * total, "reference_bytes": 12 * total,
            "reference_seconds": reference_seconds, "seconds": seconds}


#: 1e7 values: the add_ reference moves 12 bytes a value in 1.2 ms (100 GB/s); a momentum step
#: must move 20, so its limit is 2 ms. sgdlab fused takes 2.4 ms (83% of the reference's GB/s).
BENCH_STEP = {
    "results": [
        row(10**7, True, {"torch for-loop": 0.016, "torch foreach": 0.017, "torch fused": 0.0025,
                          "sgdlab for-loop": 0.0165, "sgdlab foreach": 0.018, "sgdlab fused": 0.0024}, 0.0012),
        row(10**3, True, {"torch for-loop": 2e-5, "torch foreach": 3e-5, "torch fused": 1e-5,
                          "sgdlab for-loop": 2.1e-5, "sgdlab foreach": 3.3e-5, "sgdlab fused": 4e-5}, 1e-6),
    ],
    "fused_difference": {"cpu": {"device": "cpu", "numel": 10, "steps": 1, "max_units": 1.0, "identical": 1,
                                 "grid": [{"lr": 0.01, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0,
                                           "nesterov": False, "maximize": False, "param_units": 1.0,
                                           "buffer_units": 0.0}]}},
    "compilation": {"cold_seconds": 15.0, "cached_seconds": 3.0},
}
BENCH_SITE = {
    "cold_build_seconds": 20.0, "cold_executed": {"ran": 2, "kept": 0},
    "noop_build_seconds": 3.0, "noop_executed": {"ran": 0, "kept": 2},
    "touched_example": "article/plot_a.py", "touched_build_seconds": 6.0,
    "touched_executed": {"ran": 1, "kept": 1},
    "examples": {"article/plot_a.py": 1.5, "performance/plot_b.py": 6.0},
    "gallery_seconds": 7.5, "test_seconds": None,
}


def model_row(name: str, tensors: int, values: int, torch_seconds: float, sgdlab_seconds: dict) -> dict:
    seconds = {f"torch {kernel}": torch_seconds for kernel in ("for-loop", "foreach", "fused")}
    return {"name": name, "tensors": tensors, "values": values,
            "seconds": seconds | {f"sgdlab {kernel}": value for kernel, value in sgdlab_seconds.items()}}


#: Each list's torch steps take 10 ms; sgdlab's for-loop 9.5 ms on resnet18 (0.95), its foreach
#: 11 ms on the transformer (1.10). At 1e7 values sgdlab's fused step takes 2.4 ms: 83% of the
#: add_ reference's bandwidth, and slower than torch's 2.2 ms.
BENCH_MODELS = {
    "provenance": {"date": "2026-12-06T02:00:00+00:00", "commit": "0123456789abcdef", "dirty": False,
                   "load_average_at_start": [1.5, 1, 1], "load_average_at_end": [2.0, 1, 1]},
    "settings": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-4, "threads": 1, "repeats": 15},
    "lists": [
        model_row("resnet18", 62, 11_689_512, 0.010, {"for-loop": 0.0095, "foreach": 0.010, "fused": 0.012}),
        model_row("transformer, 24 layers", 289, 1_199_680, 0.010,
                  {"for-loop": 0.010, "foreach": 0.011, "fused": 0.05}),
        model_row("10 x 1M", 10, 10**7, 0.010, {"for-loop": 0.0099, "foreach": 0.0101, "fused": 0.0105}),
    ],
    "fused_bandwidth": row(10**7, True, {"torch fused": 0.0022, "sgdlab fused": 0.0024}, 0.0012),
}


def test_the_model_shaped_lists_are_judged_per_list_and_kernel():
    judged = {t["name"]: t for t in bench.evaluate_targets(None, None, BENCH_MODELS)}
    assert len(judged) == 3 * 2 + 2
    verdicts = {name: (t["measured"], t["met"]) for name, t in judged.items()}
    assert verdicts["sgdlab for-loop time / torch for-loop time on resnet18 (1 thread)"] == ("0.950", True)
    assert verdicts["sgdlab foreach time / torch foreach time on resnet18 (1 thread)"] == ("1.000", True)
    assert verdicts["sgdlab foreach time / torch foreach time on transformer, 24 layers (1 thread)"] == ("1.100", False)
    assert verdicts["sgdlab foreach time / torch foreach time on 10 x 1M (1 thread)"] == ("1.010", False)
    assert verdicts["sgdlab fused / add_ bandwidth at 1e7 values (1 thread)"] == ("83%", True)
    assert verdicts["sgdlab fused time / torch fused time at 1e7 values (1 thread)"] == ("1.091", False)
    # a record without the compiled step (no compiler): its two targets are not measured
    no_fused = bench.evaluate_targets(None, None, {**BENCH_MODELS, "fused_bandwidth": None})
    assert [t["met"] for t in no_fused[-2:]] == [None, None]


def test_the_model_shaped_lists_have_the_models_shapes():
    counts = {name: (len(shapes), sum(math.prod(shape) for shape in shapes))
              for name, shapes in bench.MODEL_LISTS.items()}
    assert counts == {"resnet18": (62, 11_689_512), "transformer, 24 layers": (289, 1_199_680),
                      "10 x 1M": (10, 10**7)}
    assert bench.resnet18_shapes()[0] == (64, 3, 7, 7) and bench.resnet18_shapes()[-2:] == [(1000, 512), (1000,)]


def test_a_models_run_merges_into_the_record_keeping_the_other_parts():
    record = {"schema": bench.SCHEMA, "provenance": {"date": "2026-11-29T18:15:12+00:00", "commit": "abc"},
              "site": BENCH_SITE, "step": BENCH_STEP, "targets": []}
    merged = bench.merge_models(record, BENCH_MODELS)
    assert (merged["site"], merged["step"], merged["models"]) == (BENCH_SITE, BENCH_STEP, BENCH_MODELS)
    assert merged["provenance"]["commit"] == "abc" and "measured" not in record["provenance"]  # not changed
    assert merged["provenance"]["measured"] == {"site": "2026-11-29T18:15:12+00:00",
                                                "step": "2026-11-29T18:15:12+00:00",
                                                "models": "2026-12-06T02:00:00+00:00"}
    assert merged["targets"] == bench.evaluate_targets(BENCH_SITE, BENCH_STEP, BENCH_MODELS)
    again = bench.merge_models(merged, {**BENCH_MODELS, "provenance": {"date": "later"}})
    assert again["provenance"]["measured"]["models"] == "later"


def test_the_markdown_shows_the_model_shaped_lists():
    record = {"provenance": {}, "site": None, "step": None, "models": BENCH_MODELS,
              "targets": bench.evaluate_targets(None, None, BENCH_MODELS)}
    text = bench.render_markdown(record)
    assert "| parameters | for-loop | foreach | fused |" in text
    assert "| resnet18: 62 tensors, 1.2e7 values | 0.95 | 1.00 | 1.20 |" in text
    assert "| transformer, 24 layers | 10.00 | 10.00 | 10.00 | 11.00 | 10.00 | 50.00 |" in text
    assert "sgdlab fused 2.40 ms (83% of it)" in text
    assert "Measured 2026-12-06T02:00:00+00:00 at commit 0123456789, 1 thread, best of 15 rounds" in text


def test_the_model_lists_keep_the_best_and_the_median_round(monkeypatch):
    rounds = {"torch for-loop": [3.0, 9.0, 4.0], "sgdlab for-loop": [9.0, 3.5, 8.0]}  # alone, or sharing a core
    monkeypatch.setattr(bench, "interleaved_samples", lambda timers, repeats, seconds: rounds)
    times = bench.best_and_median_times({}, 3)
    assert times == {"seconds": {"torch for-loop": 3.0, "sgdlab for-loop": 3.5},
                     "median_seconds": {"torch for-loop": 4.0, "sgdlab for-loop": 8.0}, "samples": rounds}


def test_bench_targets_are_judged_from_the_measurements():
    judged = {t["name"]: t for t in bench.evaluate_targets(BENCH_SITE, BENCH_STEP)}
    verdicts = {name: t["met"] for name, t in judged.items()}
    assert verdicts["slowest gallery example"] is False  # 6 s
    assert verdicts["cold gallery (sum of example times)"] is True
    assert verdicts["no-op `make html`"] is True
    assert verdicts["examples re-run after changing one"] is True
    assert verdicts["sgdlab for-loop time / torch for-loop time, geometric mean over configurations"] is True
    assert verdicts["sgdlab foreach time / torch foreach time, geometric mean over configurations"] is False
    assert verdicts["sgdlab fused / add_ bandwidth at the largest size (CPU, momentum)"] is True  # 83%
    assert verdicts["sgdlab fused time / torch fused time at the largest size (CPU, momentum)"] is True
    assert verdicts["configurations measured on CUDA (none without a GPU)"] is None  # no GPU in the fixture
    fused = judged["sgdlab fused / add_ bandwidth at the largest size (CPU, momentum)"]
    assert (fused["target"], fused["measured"]) == (">= 80%", "83%")
    foreach = judged["sgdlab foreach time / torch foreach time, geometric mean over configurations"]
    assert foreach["measured"] == f"{((0.018 / 0.017) * (3.3e-5 / 3e-5)) ** 0.5:.3f}"


def test_only_the_parts_measured_are_judged_and_cuda_rows_count():
    on_cuda = {**BENCH_STEP, "results": BENCH_STEP["results"] + [{**BENCH_STEP["results"][0], "device": "cuda"}]}
    judged = bench.evaluate_targets(None, on_cuda)
    assert len(judged) == 5 and judged[-1]["met"] is True and judged[-1]["measured"] == "1"
    assert bench.evaluate_targets(BENCH_SITE, None)[0]["measured"] == "6.00 s"


def test_sizes_read_as_powers_of_ten():
    assert [bench.size_name(n) for n in (10**3, 10**7, 2_500_000)] == ["1e3", "1e7", "2.5e6"]


def test_the_fraction_of_the_reference_counts_the_bytes_each_must_move():
    largest = bench.largest_cpu_row(BENCH_STEP)
    assert largest["total"] == 10**7
    assert bench.fraction(largest, "sgdlab fused") == pytest.approx((20 / 2.4) / (12 / 1.2))
    assert bench.fraction(largest, "not timed") is None


def test_float32_units_count_spacings_of_the_larger_value():
    before, reference = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0])
    one_unit_above = torch.nextafter(reference, torch.full_like(reference, 3.0))
    assert bench.float32_units(reference, reference, before) == 0
    assert bench.float32_units(one_unit_above, reference, before) == pytest.approx(1.0)  # 1 unit of 1.0
    assert bench.float32_units(one_unit_above, reference, before * 0) == pytest.approx(1.0)
    assert bench.float32_units(reference + 2 ** -22, reference, before) == pytest.approx(2.0)


def test_the_markdown_has_every_part_and_says_when_there_was_no_gpu():
    record = {"provenance": {"commit": "abc", "devices": ["cpu"], "cuda_device": None, "cores": 2,
                             "load_average_at_start": [7.5, 7, 6], "load_average_at_end": [8.0, 7, 6]},
              "site": BENCH_SITE, "step": BENCH_STEP, "targets": bench.evaluate_targets(BENCH_SITE, BENCH_STEP)}
    text = bench.render_markdown(record)
    for part in bench.PARTS:
        assert f"<!-- {part} -->" in text and f"<!-- end {part} -->" in text
    assert "| cuda device | none |" in text
    assert "| load average at start | 7.50, 7, 6 |" in text
    # ms per step at 1e3 and 1e7, and the share of the reference's bandwidth: 20 bytes x 1e7
    # in 2.4 ms, against the 100 GB/s the reference reached (the limit: 2 ms)
    assert "| sgdlab fused | 0.040 (4%) | 2.400 (83%) |" in text
    assert "| `add_` reference, GB/s | 12.0 | 100.0 |" in text
    assert "| memory limit | 0.002 | 2.000 |" in text
    assert "**missed**" in text and "not measured" in text
    assert "15.0 s with an empty inductor cache, 3.0 s" in text
    assert "| False | 0.0 | 0.9 | 0.0 | False | 1.00 | 0.00 |" in text  # the fused grid


def test_a_part_not_measured_says_so():
    record = {"provenance": {}, "site": None, "step": None, "targets": []}
    text = bench.render_markdown(record)
    for part in ("site", "step", "fused"):
        assert f"<!-- {part} -->\n\nNot measured in this run.\n\n<!-- end {part} -->" in text


def test_render_rewrites_the_markdown_from_the_record_alone(tmp_path):
    record = tmp_path / "latest.json"
    record.write_text(RECORD.read_text())
    assert bench.main(["--render", "--output", str(record)]) == 0
    assert record.with_suffix(".md").read_text() == bench.render_markdown(json.loads(RECORD.read_text()))
    assert record.read_text() == RECORD.read_text()  # the record itself untouched


def test_the_committed_fragment_is_the_rendering_of_the_committed_record():
    """bench/results/latest.md is what tools/bench.py writes from latest.json: never edited, never stale."""
    record = json.loads(RECORD.read_text())
    assert RECORD.with_suffix(".md").read_text() == bench.render_markdown(record)


def test_the_committed_record_has_the_roofline_and_the_fused_step():
    record = json.loads(RECORD.read_text())
    assert record["schema"] == bench.SCHEMA
    sizes = {(r["total"], r["momentum"]) for r in record["step"]["results"] if r["device"] == "cpu"}
    assert sizes == {(total, momentum) for total in bench.SIZES for momentum in (True, False)}
    assert all("sgdlab fused" in r["seconds"] and "torch fused" in r["seconds"] for r in record["step"]["results"])
    assert "cpu" in record["step"]["fused_difference"]


def test_the_committed_record_has_the_model_shaped_lists_and_says_when():
    record = json.loads(RECORD.read_text())
    models = record["models"]
    assert [(r["name"], r["tensors"]) for r in models["lists"]] == [
        (name, len(shapes)) for name, shapes in bench.MODEL_LISTS.items()]
    for listed in models["lists"]:
        assert {f"{who} {kernel}" for who in ("torch", "sgdlab") for kernel in ("for-loop", "foreach")} <= set(
            listed["seconds"])
    assert models["settings"]["threads"] == 1 and models["provenance"]["torch_threads"] == 1
    assert record["provenance"]["measured"]["models"] == models["provenance"]["date"]


def test_the_plot_draws_the_limit_and_every_implementation(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import sgdlab_records

    path = tmp_path / "record.json"
    path.write_text(json.dumps({"step": BENCH_STEP}))
    figure = sgdlab_records.plot_step_times(path)
    (axes,) = figure.axes
    labels = [line.get_label() for line in axes.lines]
    assert labels[0].startswith("memory limit") and len(labels) == 1 + 6
    limit = axes.lines[0].get_ydata()  # sizes sorted: 1e3 then 1e7; 20 bytes at 12 bytes per 1.2 ms
    assert limit[1] == pytest.approx(2.0)


def test_a_configuration_times_the_reference_and_every_step(monkeypatch):
    # no compiled step here: it is compiled and compared in test_fused.py
    monkeypatch.setattr(bench, "step_implementations", functools.partial(bench.step_implementations, fused=False))
    row = bench.bench_configuration(torch.device("cpu"), 1000, momentum=True, repeats=2)
    assert (row["total"], row["bytes"], row["reference_bytes"]) == (1000, 20_000, 12_000)
    assert list(row["seconds"]) == ["torch for-loop", "torch foreach", "torch fused", "sgdlab for-loop", "sgdlab foreach"]
    assert row["reference_seconds"] > 0 and all(seconds > 0 for seconds in row["seconds"].values())
    assert bench.bench_configuration(torch.device("cpu"), 1000, momentum=False, repeats=1)["bytes"] == 12_000


@pytest.mark.skipif(sgdlab.fused.compiler_problem("cpu") is not None, reason="no compiler for the fused step")
def test_the_fused_difference_covers_the_settings_grid():
    found = bench.fused_difference(torch.device("cpu"), numel=100)
    grid = found["grid"]
    flags = ("momentum", "dampening", "weight_decay", "nesterov", "maximize")
    assert len(grid) == 16 and len({tuple(r[flag] for flag in flags) for r in grid}) == 16
    assert found["max_units"] == max(max(r["param_units"], r["buffer_units"]) for r in grid) < 10
    plain = [r for r in grid if not (r["momentum"] or r["weight_decay"] or r["maximize"])]
    assert plain[0]["param_units"] == 0  # p - lr * g rounds the same way compiled or not
    assert all(r["buffer_units"] == 0 for r in grid if r["momentum"] == 0)  # no buffer to move


def test_bench_parses_sphinx_gallery_output():
    output = ("Sphinx-Gallery successfully executed 1 out of 1 file subselected by:\n\n"
              "after excluding 2 files that had previously been run (based on MD5).\n")
    assert bench.executed_counts(output) == {"ran": 1, "kept": 2}


def test_bench_reads_each_example_time_from_sphinx_gallery(tmp_path):
    for name, seconds in (("article/plot_a", 1.229), ("perf/plot_b", 62.5)):
        cost = tmp_path / f"{name}.cost.json"
        cost.parent.mkdir(parents=True, exist_ok=True)
        cost.write_text(json.dumps({"memory": 0.0, "time": seconds}))
    assert bench.example_times(tmp_path) == {"article/plot_a.py": 1.229, "perf/plot_b.py": 62.5}


def test_bench_refuses_a_gallery_without_timings(tmp_path):
    with pytest.raises(RuntimeError, match="no example timings"):
        bench.example_times(tmp_path)
