"""PyTorch's own SGD test inputs (``optim_db`` in the torch wheel) run through sgdlab.SGD.

For every optimizer input: the same steps as ``torch.optim.SGD`` on each path (for-loop,
foreach, differentiable bit for bit; fused within torch's fused kernel's rounding). For
every error input: the same exception type, with torch's message first.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch

import sgdlab

pytest.importorskip("expecttest")  # torch.testing._internal needs it
from torch.testing._internal.common_optimizers import OptimizerErrorEnum, optim_db  # noqa: E402

SGD_ENTRY = next(entry for entry in optim_db if entry.optim_cls is torch.optim.SGD)
INPUTS = SGD_ENTRY.optim_inputs_func(device="cpu")
ERROR_INPUTS = SGD_ENTRY.optim_error_inputs_func(device="cpu", dtype=torch.float32)
PATHS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
         "differentiable": {"differentiable": True}, "fused": {"fused": True}}


def steps(kind: type, kwargs: dict, path: dict) -> list[torch.Tensor]:
    """Three steps of a small linear model's weight and bias under ``kind``."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(10, 5, generator=generator)
    bias = torch.randn(10, generator=generator)
    data = torch.randn(5, generator=generator)
    params = [weight, bias]
    if not path.get("differentiable"):
        params = [p.requires_grad_() for p in params]
    optimizer = kind(params, **kwargs, **path)
    for _ in range(3):
        with torch.enable_grad():
            w, b = [p.detach().requires_grad_() for p in params]
            ((w.mv(data) + b) ** 2).sum().backward()
        for param, copy in zip(params, (w, b)):
            param.grad = copy.grad
        optimizer.step()
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize("path", PATHS, ids=list(PATHS))
@pytest.mark.parametrize("optim_input", INPUTS, ids=[i.desc for i in INPUTS])
def test_every_torch_input_steps_as_torch_steps(optim_input, path):
    kwargs = dict(optim_input.kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgdlab.FusedCompileWarning)
        expected = steps(torch.optim.SGD, kwargs, PATHS[path])
        got = steps(sgdlab.SGD, kwargs, PATHS[path])
    for ours, theirs in zip(got, expected):
        if path == "fused":  # torch's hand-written kernel against sgdlab's compiled rule
            torch.testing.assert_close(ours, theirs, rtol=2e-6, atol=1e-6)
        else:
            assert torch.equal(ours, theirs)


def outcome(kind: type, error_input) -> tuple:
    """What constructing (and stepping) ``kind`` with the error input raised or warned."""
    optim_input = error_input.optimizer_error_input
    params = optim_input.params
    if params is None:
        params = [torch.randn(2, requires_grad=True)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            optimizer = kind(params, **optim_input.kwargs)
            if error_input.error_on == OptimizerErrorEnum.STEP_ERROR:
                optimizer.step()
        except Exception as error:
            return type(error), str(error)
    for warning in caught:
        if issubclass(warning.category, error_input.error_type):
            return warning.category, str(warning.message)
    return None, ""


@pytest.mark.parametrize("error_input", ERROR_INPUTS,
                         ids=[e.optimizer_error_input.desc for e in ERROR_INPUTS])
def test_every_torch_error_input_gets_torch_s_error(error_input):
    torch_type, torch_message = outcome(torch.optim.SGD, error_input)
    our_type, our_message = outcome(sgdlab.SGD, error_input)
    assert torch_type is error_input.error_type and re.search(error_input.error_regex, torch_message)
    assert our_type is torch_type
    assert our_message.startswith(torch_message)  # sgdlab may add a sentence naming the argument
