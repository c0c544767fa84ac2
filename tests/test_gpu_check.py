"""tools/gpu_check.py: the two runs compared, the record, the no-CUDA path."""

from __future__ import annotations

import os

import pytest
import torch

from helpers import ROOT, run

import gpu_check
from run_examples import example_id, gallery_scripts

SCRIPT = ROOT / "examples" / "article" / "plot_worked_example.py"
CPU_RUN = {"stdout": "Running on cpu\nx = -1332.7185\nloss after 3 steps: 0.12345\n", "error": None}
#: x is printed at float32's full precision: its snapshot line is marked tolerant.
MARKS = "Running on cpu\n~ x = -1332.7185\nloss after 3 steps: 0.12345\n"


def cuda_run(stdout: str, error: str | None = None) -> dict:
    return {"stdout": stdout, "error": error}


def test_a_cuda_run_within_the_tolerance_agrees():
    cuda = cuda_run("Running on cuda:0\nx = -1332.7186\nloss after 3 steps: 0.12345\n")
    entry = gpu_check.compare_runs(SCRIPT, CPU_RUN, cuda, MARKS)
    assert entry["problems"] == []
    assert (entry["lines"], entry["numbers"]) == (3, 3)
    assert entry["largest_difference"] == pytest.approx(1e-4)


def test_a_changed_number_is_caught():
    cuda = cuda_run("Running on cuda\nx = -1332.7185\nloss after 3 steps: 0.12346\n")
    assert gpu_check.compare_runs(SCRIPT, CPU_RUN, cuda, MARKS)["problems"] == [
        "line 3: expected 'loss after 3 steps: 0.12345', got 'loss after 3 steps: 0.12346'"
    ]
    tolerant_too_far = cuda_run("Running on cuda\nx = -1332.9185\nloss after 3 steps: 0.12345\n")
    assert gpu_check.compare_runs(SCRIPT, CPU_RUN, tolerant_too_far, MARKS)["problems"] == [
        "line 2: -1332.7185 became -1332.9185 (allowed difference 0.0133)"
    ]


def test_a_changed_or_missing_line_is_caught():
    reworded = cuda_run("Running on cuda\nx = -1332.7185\nloss before 3 steps: 0.12345\n")
    assert "line 3" in gpu_check.compare_runs(SCRIPT, CPU_RUN, reworded)["problems"][0]
    shorter = cuda_run("Running on cuda\nx = -1332.7185\n")
    assert gpu_check.compare_runs(SCRIPT, CPU_RUN, shorter)["problems"] == [
        "line 3: missing 'loss after 3 steps: 0.12345'"
    ]


def test_a_run_that_raised_is_a_problem():
    entry = gpu_check.compare_runs(SCRIPT, CPU_RUN, cuda_run("", error="RuntimeError: boom"))
    assert entry["problems"] and "cuda run raised" in entry["problems"][0]


def test_the_record_fails_on_any_problem_and_renders_as_markdown():
    made = {"device": "Some GPU", "cuda": "13.0", "torch": "2.13.0", "commit": "0" * 40,
            "date": "2026-11-29T10:00:00+00:00"}
    tests = [{"run": "cpu", "returncode": 0, "summary": "3 passed"},
             {"run": "cuda", "returncode": 0, "summary": "4 passed"}]
    good = gpu_check.compare_runs(SCRIPT, CPU_RUN, CPU_RUN)
    bad = gpu_check.compare_runs(SCRIPT, CPU_RUN, cuda_run("x = 1\n"))
    assert gpu_check.build_record(tests, [good], made)["passed"] is True
    assert gpu_check.build_record(tests, [good, bad], made)["passed"] is False
    failed_tests = [tests[0], {**tests[1], "returncode": 1}]
    assert gpu_check.build_record(failed_tests, [good], made)["passed"] is False
    text = gpu_check.markdown(gpu_check.build_record(tests, [good, bad], made))
    assert "| `article/plot_worked_example.py` | 3 | 3 | 0 | agree |" in text
    assert "DIFFER" in text and "Some GPU" in text


def test_the_cpu_run_hides_cuda_and_the_cuda_run_does_not():
    assert gpu_check.RUNS["cpu"]["CUDA_VISIBLE_DEVICES"] == ""
    assert gpu_check.RUNS["cuda"].get("CUDA_VISIBLE_DEVICES") == os.environ.get("CUDA_VISIBLE_DEVICES")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run")
def test_without_cuda_it_says_so_lists_every_script_and_fails(python):
    result = run([python, ROOT / "tools" / "gpu_check.py"])
    assert result.returncode == 1
    assert "CUDA is not available on this machine" in result.stdout
    for script in gallery_scripts():
        assert f"\n    {example_id(script)}\n" in result.stdout + "\n"
