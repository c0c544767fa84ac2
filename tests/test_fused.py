"""sgdlab.fused: sgdlab's own rule compiled into one pass, behind ``sgdlab.SGD(fused=True)``.

A compilation takes 15 s or more on two cores, so every test here shares one: the module
fixture steps one optimizer through it, and the tests read what happened.
"""

from __future__ import annotations

import json
import math
import subprocess
import warnings

import pytest
import torch
import torch._dynamo.utils

import sgdlab
import sgdlab.fused
from helpers import ROOT

SETTINGS = {"lr": 0.01, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}


def float32_units(result: torch.Tensor, reference: torch.Tensor, before: torch.Tensor) -> float:
    """The largest difference in float32 spacings of the larger of the value before and after
    (the measure tools/bench.py records)."""
    scale = torch.maximum(reference.abs(), before.abs())
    spacing = torch.nextafter(scale, torch.full_like(scale, math.inf)) - scale
    return ((result - reference).abs() / spacing).max().item()


def make_params(seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(size, generator=generator).requires_grad_() for size in (1000, 37)]


@pytest.fixture(scope="module")
def stepped():
    """Three steps of fused and for-loop optimizers from the same start; what each step did."""
    fused_params, loop_params = make_params(), make_params()
    fused = sgdlab.SGD(fused_params, fused=True, **SETTINGS)
    loop = sgdlab.SGD(loop_params, foreach=False, **SETTINGS)
    generator = torch.Generator().manual_seed(1)
    found = {"warnings": [], "graphs": [], "before": [], "after": []}
    for step in range(3):
        if step == 2:  # a new learning rate, as a scheduler would set it
            for optimizer in (fused, loop):
                optimizer.param_groups[0]["lr"] = 0.005
        for fp, lp in zip(fused_params, loop_params):
            fp.grad = torch.randn(fp.shape, generator=generator)
            lp.grad = fp.grad.clone()
        found["before"].append([p.detach().clone() for p in loop_params])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fused.step()
        loop.step()
        found["warnings"].append([w for w in caught if issubclass(w.category, sgdlab.fused.FusedCompileWarning)])
        found["graphs"].append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
        found["after"].append(([p.detach().clone() for p in fused_params],
                               [p.detach().clone() for p in loop_params],
                               [fused.state[p]["momentum_buffer"].clone() for p in fused_params],
                               [loop.state[p]["momentum_buffer"].clone() for p in loop_params]))
    return found


def test_the_first_step_creates_the_buffers_as_the_for_loop_does(stepped):
    fused_params, loop_params, fused_buffers, loop_buffers = stepped["after"][0]
    assert all(map(torch.equal, fused_params, loop_params))
    assert all(map(torch.equal, fused_buffers, loop_buffers))
    assert stepped["warnings"][0] == []  # nothing compiled yet


def test_the_compiling_step_says_so(stepped):
    assert len(stepped["warnings"][1]) == 1
    message = str(stepped["warnings"][1][0].message)
    assert "compiling" in message and "torch.compile" in message


def test_the_compiled_step_stays_within_the_recorded_difference(stepped):
    """One compiled step from the for-loop's own state lands within what the page states."""
    record = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    bound = record["step"]["fused_difference"]["cpu"]["max_units"]
    fused_params, loop_params, fused_buffers, loop_buffers = stepped["after"][1]
    before = stepped["before"][1]
    for result, reference, old in zip(fused_params, loop_params, before):
        assert float32_units(result, reference, old) <= bound
        assert float32_units(result, reference, old) <= 8  # a handful of roundings, no more
    for result, reference in zip(fused_buffers, loop_buffers):
        torch.testing.assert_close(result, reference, rtol=1e-6, atol=1e-6)


def test_a_new_learning_rate_does_not_recompile(stepped):
    assert stepped["warnings"][2] == []
    assert stepped["graphs"][2] == stepped["graphs"][1]
    fused_params, loop_params, _, _ = stepped["after"][2]
    for result, reference in zip(fused_params, loop_params):
        torch.testing.assert_close(result, reference, rtol=1e-5, atol=1e-6)


def test_a_machine_without_a_compiler_gets_an_error_naming_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(sgdlab.fused.shutil, "which", lambda name: None)
    monkeypatch.setattr(sgdlab.fused.sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    sgdlab.fused._check_compiler.cache_clear()
    try:
        problem = sgdlab.fused.compiler_problem("cpu")
        assert "C++ compiler" in problem and "Python.h" in problem
        w = torch.ones(3, requires_grad=True)
        w.grad = torch.ones(3)
        optimizer = sgdlab.SGD([w], lr=0.1, fused=True)
        with pytest.raises(RuntimeError, match=r"torch\.compile, which on cpu needs a C\+\+ compiler"):
            optimizer.step()
        assert torch.equal(w.detach(), torch.ones(3))  # nothing changed
    finally:
        sgdlab.fused._check_compiler.cache_clear()


def test_fused_is_checked_like_torch_checks_it():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="fused must be True, False or None, got str"):
        sgdlab.SGD([w], fused="yes")
    for optimizer in (torch.optim.SGD, sgdlab.SGD):
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
            optimizer([w], fused=True, foreach=True)


def test_importing_sgdlab_leaves_the_compiler_unloaded(python):
    """torch.compile brings in dynamo (about a second): sgdlab loads it at the first fused step."""
    probe = "import sys, sgdlab; print('torch._dynamo' in sys.modules)"
    loaded = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
