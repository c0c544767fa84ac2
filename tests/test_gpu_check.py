"""tools/gpu_check.py: pairing [cpu] and [cuda] lines, the tolerance, the record, the no-CUDA path."""

from __future__ import annotations

import sys

import pytest
import torch

from conftest import ROOT, run

sys.path.insert(0, str(ROOT / "tools"))
import gpu_check  # noqa: E402

OUTPUT = """\
Running on: cpu, cuda (CUDA device: Some GPU)
[cpu] x = -1332.7185
[cpu] loss after 3 steps: 0.12345
[cuda:0] x = -1332.7186
[cuda:0] loss after 3 steps: 0.12346
checked on the CPU only: 5.0
"""


def test_lines_are_grouped_by_device_in_order():
    grouped = gpu_check.device_lines(OUTPUT)
    assert grouped == {
        "cpu": ["x = -1332.7185", "loss after 3 steps: 0.12345"],
        "cuda:0": ["x = -1332.7186", "loss after 3 steps: 0.12346"],
    }


def test_one_unit_in_the_last_digit_is_accepted_two_are_not():
    assert gpu_check.agree("-1332.7185", "-1332.7186")
    assert not gpu_check.agree("0.12345", "0.12347")


def test_relative_tolerance_covers_long_numbers():
    # 1e-5 relative of 123456.78 is about 1.23: a float32 rounding-order difference.
    assert gpu_check.agree("123456.78", "123457.9")
    assert not gpu_check.agree("123456.78", "123459.0")


def test_last_digit_unit_reads_decimals_and_exponents():
    assert gpu_check.last_digit_unit("3.14") == pytest.approx(0.01)
    assert gpu_check.last_digit_unit("1.5e-03") == pytest.approx(1e-4)
    assert gpu_check.last_digit_unit("42") == 1.0


def test_output_within_tolerance_has_no_problems():
    compared = gpu_check.compare_output(OUTPUT)
    assert compared["cuda_label"] == "cuda:0"
    assert [v["line"] for v in compared["values"]] == ["x = #", "loss after # steps: #", "loss after # steps: #"]
    assert compared["problems"] == []


def test_a_value_outside_tolerance_is_a_problem():
    compared = gpu_check.compare_output("[cpu] x = 1.00\n[cuda] x = 1.05\n")
    assert compared["problems"] == ["x = #: cpu 1.00 vs cuda 1.05"]


def test_lines_that_differ_in_wording_or_count_are_problems():
    compared = gpu_check.compare_output("[cpu] x = 1\n[cpu] y = 2\n[cuda] z = 1\n")
    assert "1 CUDA lines" in compared["problems"][0]
    assert "differ in wording" in compared["problems"][1]


def test_output_without_cuda_lines_is_a_problem():
    assert gpu_check.compare_output("[cpu] x = 1\n")["problems"] == [
        "no [cpu] and [cuda] lines to pair (found: cpu)"
    ]


def test_timings_are_recorded_but_not_compared():
    output = "[cpu] 1000 params, timed: 0.52 ms\n[cuda] 1000 params, timed: 0.01 ms\n"
    compared = gpu_check.compare_output(output)
    assert compared["problems"] == []
    assert [(v["cpu"], v["cuda"], v["timing"]) for v in compared["values"]] == [
        ("1000", "1000", False), ("0.52", "0.01", True)
    ]


def test_numbers_before_the_timed_mark_are_still_compared():
    output = "[cpu] 1000 params, timed: 0.5 ms\n[cuda] 1002 params, timed: 0.5 ms\n"
    assert gpu_check.compare_output(output)["problems"] == ["# params, timed: # ms: cpu 1000 vs cuda 1002"]


def test_record_carries_provenance_and_fails_on_any_problem():
    tests = {"command": "pytest", "returncode": 0, "summary": "3 passed", "output_tail": ""}
    good = {"example": "a/plot_a.py", "returncode": 0, **gpu_check.compare_output(OUTPUT)}
    bad = {"example": "a/plot_b.py", "returncode": 0, **gpu_check.compare_output("[cpu] x = 1\n")}
    made = gpu_check.provenance()
    assert set(made) >= {"device", "cuda", "torch", "commit", "date", "dirty"}
    assert gpu_check.build_record(tests, [good], made)["passed"] is True
    assert gpu_check.build_record(tests, [good, bad], made)["passed"] is False
    assert gpu_check.build_record({**tests, "returncode": 1}, [good], made)["passed"] is False


def test_every_gallery_script_is_planned():
    planned = gpu_check.plan()
    for script in gpu_check.gallery_scripts():
        assert str(script.relative_to(ROOT)) in planned


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run")
def test_without_cuda_it_says_so_lists_the_plan_and_fails(python, tmp_path):
    record = tmp_path / "parity.json"
    result = run([python, ROOT / "tools" / "gpu_check.py", "--record", record])
    assert result.returncode == 1
    assert "CUDA is not available on this machine" in result.stdout
    assert "examples/article/plot_worked_example.py" in result.stdout
    assert "-m pytest" in result.stdout
    assert not record.exists()


def test_a_python_without_the_requirements_is_told_what_is_missing(python):
    """Without site-packages (-S) nothing required imports: the check names them and fails."""
    result = run([python, "-S", ROOT / "tools" / "gpu_check.py"])
    assert result.returncode != 0
    assert "cannot import torch, numpy, matplotlib, pytest, hypothesis" in result.stderr


def test_device_names_and_repr_arguments_do_not_count_as_wording():
    cpu = ["momentum buffer loaded onto cpu", "x = tensor(5., requires_grad=True)",
           "  w  (2,)  float32  cpu     True"]
    cuda = ["momentum buffer loaded onto cuda:0", "x = tensor(5., device='cuda:0', requires_grad=True)",
            "  w  (2,)  float32  cuda:0  True"]
    values, problems = gpu_check.compare_lines(cpu, cuda)
    assert problems == []
    assert [(v["cpu"], v["cuda"]) for v in values] == [("5.", "5."), ("2", "2")]


def test_a_script_that_differs_by_device_on_purpose_is_not_a_problem():
    cpu, cuda = [".to('cpu') -> same object: True"], [".to('cuda') -> same object: False"]
    assert gpu_check.compare_lines(cpu, cuda)[1], "an unexpected difference must be reported"
    assert gpu_check.compare_lines(cpu, cuda, differs_by_device="on purpose")[1] == []


def test_the_scripts_that_differ_by_device_exist():
    for name in gpu_check.DIFFERS_BY_DEVICE:
        assert (ROOT / "examples" / name).is_file(), name
