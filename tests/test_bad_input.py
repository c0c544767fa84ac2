"""Bad input to the rest of the public API: a clear TypeError/ValueError naming the argument,
and nothing changed (issue 17's rule, table-driven; the optimizer has its own tests).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import sgdlab


def fresh():
    w = torch.ones(2, requires_grad=True)
    w.grad = torch.ones(2)
    return w, torch.optim.SGD([w], lr=0.1, momentum=0.9)


def int_lr_optimizer():
    return torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=torch.tensor(1))


CASES = [
    # (name, call(w, optimizer), exception, words the message holds)
    ("explain_step None", lambda w, o: sgdlab.explain_step(None), TypeError, "optimizer must be"),
    ("explain_step Adam", lambda w, o: sgdlab.explain_step(torch.optim.Adam([w])), TypeError,
     "optimizer must be"),
    ("explain_step names list", lambda w, o: sgdlab.explain_step(o, [w]), TypeError, "names"),
    ("explain_step names key", lambda w, o: sgdlab.explain_step(o, {1: w}), TypeError,
     "names keys"),
    ("explain_step names value", lambda w, o: sgdlab.explain_step(o, {"w": 1.0}), TypeError,
     r"names\['w'\]"),
    ("describe None", lambda w, o: sgdlab.describe(None), TypeError, "optimizer must be"),
    ("describe names", lambda w, o: sgdlab.describe(o, names=3), TypeError, "names"),
    ("format_number str", lambda w, o: sgdlab.format_number("x"), TypeError, "value"),
    ("format_number tensor", lambda w, o: sgdlab.format_number(torch.ones(2)), TypeError,
     "value"),
    ("format_number complex", lambda w, o: sgdlab.format_number(1j), TypeError, "value"),
    ("check_binding None", lambda w, o: sgdlab.check_binding(None), TypeError, "optimizer"),
    ("check_binding non-tensor", lambda w, o: sgdlab.check_binding(o, w=3), TypeError, "'w'"),
    ("assign_ text", lambda w, o: sgdlab.assign_(w, "x"), TypeError, "value"),
    ("assign_ shape", lambda w, o: sgdlab.assign_(w, [1.0, 2.0, 3.0]), ValueError, "shape"),
    ("assign_ not a tensor", lambda w, o: sgdlab.assign_(3.0, 1.0), TypeError, "tensor"),
    ("assign_ nan", lambda w, o: sgdlab.assign_(w, math.nan), ValueError, "finite"),
    ("assign_ inf", lambda w, o: sgdlab.assign_(w, torch.tensor([1.0, math.inf])), ValueError,
     "finite"),
    ("assign_ complex", lambda w, o: sgdlab.assign_(w, torch.ones(2, dtype=torch.complex64)),
     TypeError, "dtype"),
    ("assign_ meta", lambda w, o: sgdlab.assign_(w, torch.ones(2, device="meta")), ValueError,
     "meta"),
    ("replace_param not held", lambda w, o: sgdlab.replace_param(
        o, torch.zeros(2), torch.zeros(2, requires_grad=True)), ValueError, "old"),
    ("replace_param shape", lambda w, o: sgdlab.replace_param(
        o, w, torch.zeros(3, requires_grad=True)), ValueError, "shape"),
    ("replace_param non-leaf", lambda w, o: sgdlab.replace_param(
        o, w, torch.zeros(2, requires_grad=True) * 2), ValueError, "leaf"),
    ("set_lr negative", lambda w, o: sgdlab.set_lr(o, -1), ValueError, "lr"),
    ("set_lr nan", lambda w, o: sgdlab.set_lr(o, math.nan), ValueError, "lr"),
    ("set_lr text", lambda w, o: sgdlab.set_lr(o, "fast"), TypeError, "lr"),
    ("set_lr array", lambda w, o: sgdlab.set_lr(o, np.array([0.1])), TypeError, "lr"),
    ("set_lr group", lambda w, o: sgdlab.set_lr(o, 0.1, group=5), ValueError, "group"),
    ("set_lr int tensor lr", lambda w, o: sgdlab.set_lr(int_lr_optimizer(), 0.5), TypeError,
     "lr"),
    ("quadratic nan", lambda w, o: sgdlab.quadratic(math.nan), ValueError, "condition_number"),
    ("quadratic negative", lambda w, o: sgdlab.quadratic(-1.0), ValueError, "condition_number"),
    ("quadratic text", lambda w, o: sgdlab.quadratic("x"), TypeError, "condition_number"),
    ("rosenbrock inf", lambda w, o: sgdlab.rosenbrock(b=math.inf), ValueError, "b"),
    ("rastrigin dim", lambda w, o: sgdlab.rastrigin(dim=0), ValueError, "dim"),
    ("objective shape", lambda w, o: sgdlab.quadratic()(torch.ones(3)), ValueError, "point"),
    ("objective complex", lambda w, o: sgdlab.quadratic()(torch.ones(2, dtype=torch.complex64)),
     TypeError, "point"),
    ("objective int", lambda w, o: sgdlab.quadratic()(torch.ones(2, dtype=torch.int64)),
     TypeError, "point"),
    ("objective list", lambda w, o: sgdlab.quadratic()([1.0, 2.0]), TypeError, "point"),
    ("objective meta", lambda w, o: sgdlab.quadratic()(torch.ones(2, device="meta")),
     ValueError, "point"),
]


@pytest.mark.parametrize(("call", "error", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error_and_changes_nothing(call, error, words):
    w, optimizer = fresh()
    before = (w.detach().clone(), copy.deepcopy(optimizer.state_dict()))
    with pytest.raises(error, match=words):
        call(w, optimizer)
    assert torch.equal(w.detach(), before[0])
    assert optimizer.state_dict() == before[1]


@pytest.mark.parametrize("edit", [dict(lr=-1.0), dict(lr=math.nan), dict(momentum=-0.5),
                                  dict(lr="fast"), dict(lr=1e39), dict(fused="yes")])
def test_explain_step_refuses_what_step_refuses(edit):
    w = torch.ones(2, requires_grad=True)
    w.grad = torch.ones(2)
    optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9)
    optimizer.param_groups[0].update(edit)
    with pytest.raises((TypeError, ValueError)) as from_step:
        optimizer.step()
    with pytest.raises(type(from_step.value)) as from_explain:
        sgdlab.explain_step(optimizer)
    assert str(from_explain.value) == str(from_step.value)
    assert torch.equal(w.detach(), torch.ones(2))


def test_explain_step_of_complex_parameters():
    z = torch.tensor([1 + 2j], requires_grad=True)
    z.grad = torch.tensor([1 - 1j])
    optimizer = sgdlab.SGD([z], lr=0.5)
    explanation = sgdlab.explain_step(optimizer, {"z": z})
    optimizer.step()
    assert torch.equal(explanation["z"].new_value, z.detach())
