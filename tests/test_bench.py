"""tools/bench.py: the targets it judges, the Markdown it writes, and the record the site shows."""

from __future__ import annotations

import json

import pytest

from helpers import ROOT

import bench  # noqa: E402

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


def test_bench_targets_are_judged_from_the_measurements():
    verdicts = {t["name"]: t["met"] for t in bench.evaluate_targets(BENCH_SITE, BENCH_STEP)}
    assert verdicts["slowest gallery example (performance/plot_b.py)"] is False
    assert verdicts["cold gallery (sum of example times)"] is True
    assert verdicts["no-op `make html`"] is True
    assert verdicts["examples re-run after changing article/plot_a.py"] is True
    assert verdicts["sgdlab for-loop time / torch for-loop time, geometric mean over configurations"] is True
    assert verdicts["sgdlab foreach time / torch foreach time, geometric mean over configurations"] is False
    assert verdicts["sgdlab fused at 1e7 params (CPU, momentum) / add_ bandwidth"] is True  # 83%
    assert verdicts["sgdlab fused time / torch fused time at 1e7 params (CPU, momentum)"] is True
    assert verdicts["roofline measured on CUDA"] is None  # no GPU in the fixture: not measured


def test_sizes_read_as_powers_of_ten():
    assert [bench.size_name(n) for n in (10**3, 10**7, 2_500_000)] == ["1e3", "1e7", "2.5e6"]


def test_the_fraction_of_the_reference_counts_the_bytes_each_must_move():
    largest = bench.largest_cpu_row(BENCH_STEP)
    assert largest["total"] == 10**7
    assert bench.fraction(largest, "sgdlab fused") == pytest.approx((20 / 2.4) / (12 / 1.2))


def test_the_markdown_has_every_part_and_says_when_there_was_no_gpu():
    record = {"provenance": {"commit": "abc", "devices": ["cpu"], "cores": 2,
                             "load_average_at_start": [7.5, 7, 6], "load_average_at_end": [8.0, 7, 6]},
              "site": BENCH_SITE, "step": BENCH_STEP, "targets": bench.evaluate_targets(BENCH_SITE, BENCH_STEP)}
    text = bench.render_markdown(record)
    for part in bench.PARTS:
        assert f"<!-- {part} -->" in text and f"<!-- end {part} -->" in text
    assert "none on this machine: no CUDA figures" in text
    assert "7.50 at the start, 8.00 at the end" in text
    assert "| sgdlab fused | 0.040 | 2.400 |" in text  # ms per step at 1e3 and 1e7
    assert "| sgdlab fused | 4% | 83% |" in text  # 20 bytes x 1e7 in 2.4 ms, against 100 GB/s
    assert "| `add_` reference | 12.0 GB/s | 100.0 GB/s |" in text
    assert "**missed**" in text and "not measured" in text
    assert "15.0 s with an empty inductor cache, 3.0 s" in text


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
