"""tools/timing.py: the parts the step benchmark is built from, on torch.utils.benchmark."""

from __future__ import annotations

import re

import pytest
import torch

from helpers import ROOT

from timing import (  # noqa: E402
    add_timer,
    interleaved,
    make_parameters,
    step_bytes,
    step_implementations,
    time_steps,
    timer,
    torch_fused_supported,
)

NO_CUDA = "CUDA is not available on this machine"


def test_every_implementation_takes_the_same_step(device):
    """Timing compares like with like: all implementations land on the same parameters."""
    results = {}
    builders = step_implementations(device, fused=False, lr=0.1, momentum=0.9, weight_decay=0.01)
    assert "sgdlab fused" not in builders  # compiled and compared in test_fused.py
    for name, build in builders.items():
        params = make_parameters(50, tensors=4, device=device)
        optimizer = build(params)
        for _ in range(3):
            optimizer.step()
        results[name] = torch.cat([p.detach() for p in params]).cpu()
    reference = results["torch for-loop"]
    for name, values in results.items():
        torch.testing.assert_close(values, reference, msg=name)


def test_the_docstring_examples_of_the_timing_tools_pass():
    import doctest

    import timing

    assert doctest.testmod(timing, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_make_parameters_is_seeded_and_split_evenly():
    first, second = make_parameters(7, tensors=2, seed=3), make_parameters(7, tensors=2, seed=3)
    assert [p.numel() for p in first] == [4, 3]
    assert all(torch.equal(a, b) and torch.equal(a.grad, b.grad) for a, b in zip(first, second))


def test_time_steps_times_every_optimizer_and_moves_them():
    params = {name: make_parameters(20) for name in ("a", "b")}
    optimizers = {name: torch.optim.SGD(p, lr=0.1) for name, p in params.items()}
    before = params["a"][0].detach().clone()
    times = time_steps(optimizers, repeats=2, min_batch_seconds=1e-4)
    assert set(times) == {"a", "b"} and all(t > 0 for t in times.values())
    assert not torch.equal(before, params["a"][0].detach())


def test_step_bytes_counts_by_element_size():
    assert step_bytes(10, momentum=True, dtype=torch.float64) == 400


def test_fused_sgd_is_supported_on_cpu_in_this_torch():
    # torch 2.13 has a CPU kernel for fused SGD; this pins the fact the devices page states.
    assert torch_fused_supported("cpu")


def test_interleaved_times_the_add_reference_and_a_step_by_name():
    optimizer = torch.optim.SGD(make_parameters(1000), lr=0.1)
    timers = {"add_": add_timer(1000), "step": timer("o.step()", o=optimizer)}
    measured = interleaved(timers, repeats=2, min_batch_seconds=1e-4)
    assert list(measured) == ["add_", "step"] and all(t > 0 for t in measured.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_cuda_timing_uses_the_gpu():
    optimizer = torch.optim.SGD(make_parameters(1000, device="cuda"), lr=0.1)
    times = time_steps({"cuda": optimizer}, repeats=2)
    assert times["cuda"] > 0
    assert torch_fused_supported("cuda")
    assert interleaved({"add_": add_timer(1 << 20, "cuda")}, repeats=2, min_batch_seconds=1e-4)["add_"] > 0


# -- bad input: a clear error naming the argument and the value -------------------------

BAD_CALLS = {
    "device type": (lambda: make_parameters(4, device=3), TypeError, "device must be a str"),
    "device name": (lambda: make_parameters(4, device="gpu0"), ValueError, "'gpu0'"),
    "device kind": (lambda: make_parameters(4, device="meta"), ValueError, "CPU or CUDA"),
    "total type": (lambda: make_parameters(4.0), TypeError, "total must be an int, got float"),
    "total bool": (lambda: make_parameters(True), TypeError, "total must be an int, got bool"),
    "total small": (lambda: make_parameters(0), ValueError, "total must be at least 1, got 0"),
    "tensors small": (lambda: make_parameters(4, tensors=0), ValueError, "tensors must be at least 1"),
    "tensors large": (lambda: make_parameters(4, tensors=5), ValueError, "at most total (4), got 5"),
    "hyperparameter": (lambda: step_implementations("cpu", lr=-1.0), ValueError, "-1.0"),
    "optimizers type": (lambda: time_steps([1]), TypeError, "optimizers must be a mapping"),
    "optimizers empty": (lambda: time_steps({}), ValueError, "optimizers is empty"),
    "optimizer value": (lambda: time_steps({"x": 1}), TypeError, "optimizers['x']"),
    "repeats": (lambda: time_steps({"x": _sgd()}, repeats=0), ValueError, "repeats must be at least 1"),
    "batch type": (lambda: time_steps({"x": _sgd()}, min_batch_seconds="1"), TypeError, "min_batch_seconds"),
    "batch sign": (lambda: time_steps({"x": _sgd()}, min_batch_seconds=0.0), ValueError, "got 0.0"),
    "momentum": (lambda: step_bytes(4, momentum=1), TypeError, "momentum must be a bool, got int"),
    "dtype": (lambda: step_bytes(4, dtype="float32"), TypeError, "dtype must be a torch.dtype"),
    "numel": (lambda: add_timer(-1), ValueError, "numel must be at least 1, got -1"),
}


def _sgd() -> torch.optim.SGD:
    return torch.optim.SGD(make_parameters(4), lr=0.1)


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_is_refused_by_name(case):
    call, error, message = BAD_CALLS[case]
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_bad_input_leaves_the_optimizers_unstepped():
    params = make_parameters(4)
    before = params[0].detach().clone()
    with pytest.raises(ValueError):
        time_steps({"x": torch.optim.SGD(params, lr=0.1)}, repeats=0)
    assert torch.equal(before, params[0].detach())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_device_is_refused_without_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        make_parameters(4, device="cuda")
