"""tools/torch_optim_suite.py: both runs, the SGD entry swapped for sgdlab's, the regressions listed.

PyTorch's own test/test_optim.py is not in the repository; a stand-in with the same layout
(sibling imports, ``@optims(optim_db)``, ``instantiate_device_type_tests``) is enough to check
the tool itself: one test both optimizers pass, one only torch's passes, one neither runs.
"""

from __future__ import annotations

import sys

import pytest

from helpers import ROOT, run

import torch_optim_suite

pytest.importorskip("expecttest")  # torch.testing._internal needs it

STAND_IN = '''\
from optim.test_lrscheduler import TestLRScheduler  # noqa: F401
from optim.test_optim import TestDifferentiableOptimizer  # noqa: F401
from optim.test_swa_utils import TestSWAUtils

import torch
from torch.testing._internal.common_device_type import (
    instantiate_device_type_tests,
    onlyCUDA,
)
from torch.testing._internal.common_optimizers import optim_db, optims
from torch.testing._internal.common_utils import TestCase


class TestOptimRenewed(TestCase):
    @optims(optim_db, dtypes=[torch.float32])
    def test_one_step_descends(self, device, dtype, optim_info):
        param = torch.ones(3, requires_grad=True)
        param.grad = torch.ones(3)
        optim_info.optim_cls([param], lr=0.5).step()
        self.assertEqual(param, torch.full((3,), 0.5))

    @optims(optim_db, dtypes=[torch.float32])
    def test_is_torchs_own(self, device, dtype, optim_info):
        self.assertTrue(optim_info.optim_cls.__module__.startswith("torch."))

    @onlyCUDA
    @optims(optim_db, dtypes=[torch.float32])
    def test_only_on_cuda(self, device, dtype, optim_info):
        pass


instantiate_device_type_tests(TestOptimRenewed, globals())
instantiate_device_type_tests(TestSWAUtils, globals())
'''


def test_the_sgdlab_run_runs_sgdlab_and_its_failures_are_listed(tmp_path):
    test_file = tmp_path / "test_optim.py"
    test_file.write_text(STAND_IN)
    done = run([sys.executable, ROOT / "tools" / "torch_optim_suite.py", test_file], timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "optim_db's SGD entry ran torch.optim.sgd.SGD" in done.stdout
    assert "optim_db's SGD entry ran sgdlab.optim.SGD" in done.stdout
    # 3 tests a run: only SGD's, not ASGD's (whose names also hold "SGD").
    assert "| torch    |      2 |      0 |       1 |     3 |" in done.stdout
    assert "| sgdlab   |      1 |      1 |       1 |     3 |" in done.stdout
    assert "torch passes 2; sgdlab passes 1 of them." in done.stdout
    listed = [line for line in done.stdout.splitlines() if line.startswith("- ")]
    assert len(listed) == 1
    assert listed[0].startswith("- test_is_torchs_own_SGD_cpu_float32: failed: AssertionError")


def test_a_missing_test_file_is_named(tmp_path):
    done = run([sys.executable, ROOT / "tools" / "torch_optim_suite.py", tmp_path / "nope.py"])
    assert done.returncode == 2
    assert "test_file: no such file" in done.stderr


def test_outcomes_reads_the_first_line_of_each_message(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite>'
        '<testcase name="a"/>'
        '<testcase name="b"><failure message="AssertionError: x&#10;more">tb</failure></testcase>'
        '<testcase name="c"><skipped message="only on cuda"/></testcase>'
        '<testcase name="d"><error message="">RuntimeError: boom&#10;tb</error></testcase>'
        '</testsuite></testsuites>'
    )
    assert torch_optim_suite.outcomes(report) == {
        "a": ("passed", ""),
        "b": ("failed", "AssertionError: x"),
        "c": ("skipped", "only on cuda"),
        "d": ("failed", "RuntimeError: boom"),
    }
