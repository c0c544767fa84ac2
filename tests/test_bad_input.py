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


# ---------------------------------------------------------------------------
# Issue 28: each cause, reproduced (the property test in test_api_bad_input.py finds them too)
# ---------------------------------------------------------------------------


def tensors_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("odd", ["int", "bool", "expanded", "sparse grad with weight decay"])
def test_sgd_refuses_a_later_tensor_before_moving_params0(odd):
    first = torch.ones(2)
    second = {"int": torch.ones(2, dtype=torch.int64), "bool": torch.ones(2, dtype=torch.bool),
              "expanded": torch.ones(1).expand(2)}.get(odd, torch.ones(2))
    grad = torch.ones(2).to(second.dtype)
    if odd.startswith("sparse"):
        grad = grad.to_sparse()
    with pytest.raises((TypeError, ValueError), match=r"params\[1\]|grads\[1\]"):
        sgdlab.sgd([first, second], [torch.ones(2), grad], [], lr=0.1,
                   weight_decay=0.1 if odd.startswith("sparse") else 0)
    assert torch.equal(first, torch.ones(2))


@pytest.mark.parametrize("key", ["lr", "dampening", "momentum", "weight_decay"])
def test_a_fraction_setting_is_refused_before_the_buffers_move(key):
    from fractions import Fraction

    w = torch.ones(2, requires_grad=True)
    w.grad = torch.ones(2)
    optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9)
    optimizer.step()
    buffer = optimizer.state[w]["momentum_buffer"].clone()
    optimizer.param_groups[0][key] = Fraction(1, 10)
    with pytest.raises(TypeError, match=f"{key} must be a real number, got Fraction"):
        optimizer.step()
    assert tensors_equal(optimizer.state[w]["momentum_buffer"], buffer)


def test_trajectory_records_sparse_gradients():
    w = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    trajectory = sgdlab.Trajectory(optimizer)
    for _ in range(2):
        w.grad = torch.ones(2).to_sparse()
        optimizer.step()
    assert len(trajectory) == 2
    assert torch.equal(trajectory.grads(0), torch.ones(2, 2))
    assert torch.allclose(trajectory.params(0)[-1], torch.full((2,), 0.8))


def test_trajectory_refuses_a_step_after_a_group_was_added():
    w = torch.ones(2, requires_grad=True)
    w.grad = torch.ones(2)
    optimizer = torch.optim.SGD([w], lr=0.1)
    trajectory = sgdlab.Trajectory(optimizer)
    optimizer.step()
    extra = torch.zeros(3, requires_grad=True)
    extra.grad = torch.ones(3)
    optimizer.add_param_group({"params": [extra]})
    before = w.detach().clone()
    with pytest.raises(ValueError, match="parameters changed while a Trajectory records"):
        optimizer.step()
    assert torch.equal(w.detach(), before) and torch.equal(extra.detach(), torch.zeros(3))
    assert len(trajectory) == 1


def momentum_optimizer(*params):
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer = torch.optim.SGD(list(params), lr=0.1, momentum=0.9)
    optimizer.step()
    return optimizer


def test_replace_param_on_meta_keeps_the_buffer():
    w = torch.ones(2, requires_grad=True)
    optimizer = momentum_optimizer(w)
    with pytest.raises(ValueError, match="meta"):
        sgdlab.replace_param(optimizer, w, torch.ones(2, device="meta", requires_grad=True))
    assert "momentum_buffer" in optimizer.state[w]


def test_replace_param_replaces_every_copy():
    w = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    optimizer.param_groups[0]["params"].append(w)
    new = torch.zeros(2, requires_grad=True)
    sgdlab.replace_param(optimizer, w, new)
    assert all(p is new for p in optimizer.param_groups[0]["params"])


def test_replace_param_refuses_real_for_complex():
    z = torch.ones(2, dtype=torch.complex64, requires_grad=True)
    optimizer = momentum_optimizer(z)
    with pytest.raises(ValueError, match="new is torch.float32 but old is torch.complex64"):
        sgdlab.replace_param(optimizer, z, torch.ones(2, requires_grad=True))
    assert optimizer.param_groups[0]["params"][0] is z


def two_groups(second_lr):
    a, b = torch.ones(1, requires_grad=True), torch.ones(1, requires_grad=True)
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": second_lr}], lr=0.1)


def lrs(optimizer):
    return [float(torch.as_tensor(group["lr"]).detach()) for group in optimizer.param_groups]


@pytest.mark.parametrize(("second_lr", "lr", "group", "words"), [
    (torch.tensor(0.1, requires_grad=True), 0.5, None, "requires grad"),
    (0.1, "fraction", None, "got Fraction"),
    (0.1, 1e308, None, "overflows torch.float32"),
    (torch.tensor(0.1, dtype=torch.float16), 1e6, None, "would be stored as inf"),
    (torch.tensor(0.1, dtype=torch.float16), 1e-10, None, "would be stored as 0.0"),
])
def test_set_lr_refuses_before_changing_any_group(second_lr, lr, group, words):
    from fractions import Fraction

    optimizer = two_groups(second_lr)
    before = lrs(optimizer)
    with pytest.raises((TypeError, ValueError), match=words):
        sgdlab.set_lr(optimizer, Fraction(1, 2) if lr == "fraction" else lr, group)
    assert lrs(optimizer) == before


def test_set_lr_of_one_group_refuses_a_shared_lr_tensor():
    shared = torch.tensor(0.1)
    optimizer = two_groups(shared)
    optimizer.param_groups[0]["lr"] = shared
    with pytest.raises(ValueError, match="also the lr of param_groups"):
        sgdlab.set_lr(optimizer, 0.5, group=0)
    assert float(shared) == pytest.approx(0.1)
    sgdlab.set_lr(optimizer, 0.5)  # every group: fine
    assert lrs(optimizer) == [0.5, 0.5]


@pytest.mark.parametrize(("dtype", "value"), [
    (torch.int8, 300), (torch.float16, 1e6), (torch.uint8, -1), (torch.int64, 2**63 - 1),
])
def test_assign_refuses_values_beyond_the_dtype(dtype, value):
    target = torch.zeros(3, dtype=dtype)
    if dtype == torch.int64:  # fits: written exactly
        assert int(sgdlab.assign_(target, value)[0]) == value
        return
    with pytest.raises(ValueError, match="outside the range"):
        sgdlab.assign_(target, value)
    assert torch.equal(target, torch.zeros(3, dtype=dtype))


@pytest.mark.parametrize(("factory", "words"), [
    (lambda: sgdlab.quadratic(condition_number=1e300, smallest_eigenvalue=1e10),
     "smallest_eigenvalue \\* condition_number"),
    (lambda: sgdlab.rosenbrock(a=1e200), "a=1e\\+200"),
    (lambda: sgdlab.rastrigin(A=1e308, dim=3), "A \\* dim"),
])
def test_objectives_refuse_constants_that_overflow(factory, words):
    with pytest.raises(ValueError, match=words):
        factory()


@pytest.mark.parametrize(("listed", "words"), [("cpu,cpu:0", "twice"), (",,,", "no device")])
def test_devices_refuses_a_list_that_repeats_or_names_nothing(listed, words, monkeypatch):
    monkeypatch.setenv("SGDLAB_DEVICES", listed)
    with pytest.raises(ValueError, match=words):
        sgdlab.devices()


@pytest.mark.parametrize(("value", "name", "error"), [
    (torch.ones(1, device="meta"), "momentum is a meta tensor", ValueError),
    (torch.ones((), dtype=torch.complex64), "momentum is a torch.complex64 tensor", TypeError),
    (torch.ones(0), "momentum is a tensor of shape", ValueError),
    (torch.ones(2), "momentum is a tensor of shape", ValueError),
])
def test_a_tensor_setting_torch_cannot_compare_is_named(value, name, error):
    with pytest.raises(error, match=name):
        sgdlab.SGD([torch.ones(1, requires_grad=True)], lr=0.1, momentum=value)


def test_a_number_whose_comparison_raises_is_a_type_error_naming_it():
    from numbers import Real

    class NoOrder:
        def __lt__(self, other):
            raise ZeroDivisionError("no order")

    Real.register(NoOrder)
    with pytest.raises(TypeError, match=r"no order \(lr must be a real number"):
        sgdlab.SGD([torch.ones(1, requires_grad=True)], lr=NoOrder())


def test_a_setting_edited_to_a_meta_tensor_is_refused_before_the_state_is_read():
    """step() reads a group's momentum to gather its buffers: only after the settings pass."""
    w = torch.ones(2, requires_grad=True)
    optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9)
    w.grad = torch.ones(2)
    optimizer.param_groups[0]["momentum"] = torch.tensor(0.9, device="meta")
    with pytest.raises(ValueError, match="momentum"):
        optimizer.step()
    assert torch.equal(w, torch.ones(2)) and not optimizer.state
