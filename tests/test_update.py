"""sgdlab.update: the rule by hand, the two variants against each other, and input checks."""

from __future__ import annotations

import math

import pytest
import torch

from sgdlab import _checks
from sgdlab.update import sgd


def sgd_single_tensor(params, grads, buffers, **settings):
    sgd(params, grads, buffers, foreach=False, **settings)


def sgd_foreach(params, grads, buffers, **settings):
    sgd(params, grads, buffers, foreach=True, **settings)


def check_hyperparameters(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                          maximize=False):
    _checks.check_group(dict(lr=lr, momentum=momentum, dampening=dampening,
                             weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))


VARIANTS = [sgd_single_tensor, sgd_foreach]


def step_scalar(variant, x, grad, buffers, **settings):
    """Run one update on a single 1-element float64 tensor and return its new value."""
    param = torch.tensor([x], dtype=torch.float64)
    variant([param], [torch.tensor([grad], dtype=torch.float64)], buffers, **settings)
    return param.item()


@pytest.mark.parametrize("variant", VARIANTS)
def test_plain_step_is_x_minus_lr_grad(variant):
    assert step_scalar(variant, 5.0, 2.0, [], lr=0.5) == 4.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_maximize_flips_the_gradient(variant):
    assert step_scalar(variant, 5.0, 2.0, [], lr=0.5, maximize=True) == 6.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_weight_decay_adds_lambda_theta(variant):
    assert step_scalar(variant, 5.0, 2.0, [], lr=0.5, weight_decay=0.2) == 5.0 - 0.5 * 3.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_first_momentum_step_clones_the_gradient_without_dampening(variant):
    buffers = [None]
    grad = torch.tensor([2.0], requires_grad=True)
    param = torch.tensor([5.0])
    variant([param], [grad], buffers, lr=0.5, momentum=0.9, dampening=0.5)
    assert buffers[0] is not grad and not buffers[0].requires_grad
    assert buffers[0].item() == 2.0 and param.item() == 4.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_second_momentum_step_applies_dampening(variant):
    buffers = [torch.tensor([2.0], dtype=torch.float64)]
    new = step_scalar(variant, 5.0, 4.0, buffers, lr=0.5, momentum=0.5, dampening=0.25)
    assert buffers[0].item() == 0.5 * 2.0 + 0.75 * 4.0
    assert new == 5.0 - 0.5 * 4.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_nesterov_looks_ahead(variant):
    buffers = [torch.tensor([2.0], dtype=torch.float64)]
    new = step_scalar(variant, 5.0, 4.0, buffers, lr=0.5, momentum=0.5, nesterov=True)
    buffer = 0.5 * 2.0 + 4.0
    assert buffers[0].item() == buffer
    assert new == 5.0 - 0.5 * (4.0 + 0.5 * buffer)


def test_foreach_fills_only_missing_buffers_in_place():
    params = [torch.tensor([1.0]), torch.tensor([1.0])]
    old = torch.tensor([1.0])
    buffers = [old, None]
    sgd_foreach(params, [torch.tensor([1.0]), torch.tensor([3.0])], buffers, lr=1.0, momentum=0.5)
    assert buffers[0] is old and old.item() == 1.5
    assert buffers[1].item() == 3.0


def test_foreach_groups_mixed_dtypes_and_keeps_order():
    params = [torch.ones(2), torch.ones(2, dtype=torch.float64), torch.ones(3)]
    grads = [torch.full_like(p, i + 1.0) for i, p in enumerate(params)]
    buffers = [None, None, None]
    sgd_foreach(params, grads, buffers, lr=1.0, momentum=0.9)
    for param, grad, buffer in zip(params, grads, buffers):
        assert torch.equal(buffer, grad) and buffer.dtype == param.dtype
        assert torch.equal(param, 1.0 - grad)


@pytest.mark.parametrize("foreach", [True, False])
def test_dispatcher_picks_the_variant(monkeypatch, foreach):
    import sgdlab.update as update

    called = []
    monkeypatch.setattr(update, "_foreach", lambda *a, **k: called.append("foreach"))
    monkeypatch.setattr(update, "_single_tensor", lambda *a, **k: called.append("single"))
    sgd([torch.zeros(1)], [torch.zeros(1)], [], lr=1.0, foreach=foreach)
    assert called == ["foreach" if foreach else "single"]


def test_dispatcher_default_follows_torch(monkeypatch, device):
    import sgdlab.update as update
    from torch.optim.optimizer import _default_to_fused_or_foreach

    called = []
    monkeypatch.setattr(update, "_foreach", lambda *a, **k: called.append(True))
    monkeypatch.setattr(update, "_single_tensor", lambda *a, **k: called.append(False))
    params = [torch.zeros(1, device=device)]
    sgd(params, [torch.zeros(1, device=device)], [], lr=1.0)
    assert called == [_default_to_fused_or_foreach(params, False, False)[1]]


@pytest.mark.parametrize("variant", VARIANTS)
def test_tensor_lr_matches_float_lr(variant):
    a, b = torch.tensor([5.0]), torch.tensor([5.0])
    variant([a], [torch.tensor([2.0])], [], lr=torch.tensor([0.25]))
    variant([b], [torch.tensor([2.0])], [], lr=0.25)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(lr=-0.1), "Invalid learning rate: -0.1 \\(lr must be >= 0"),
        (dict(lr=math.nan), "lr must be finite, got nan"),
        (dict(lr=torch.tensor([0.1, 0.2])), "Tensor lr must be 1-element"),
        (dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
        (dict(lr=0.1, weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
        (dict(lr=0.1, dampening=math.inf), "dampening must be finite, got inf"),
        (dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
        (dict(lr=1e39), None),
    ],
)
def test_bad_hyperparameters_raise_value_error(settings, message):
    if message is None:  # fine as a setting; refused by a float32 step, before it moves
        check_hyperparameters(**settings)
        param = torch.ones(1)
        with pytest.raises(ValueError, match="overflows torch.float32"):
            sgd([param], [torch.ones(1)], [], **settings)
        assert param.item() == 1.0
        return
    with pytest.raises(ValueError, match=message):
        check_hyperparameters(**settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(lr="0.1"), "'<' not supported between instances of 'str' and 'float'"),
        (dict(lr=True), "lr must be a real number, got bool"),
        (dict(lr=0.1, momentum=None), "'<' not supported .* \\(momentum must be a real number"),
        (dict(lr=0.1, maximize=2), "maximize must be True or False, got int: 2"),
    ],
)
def test_bad_hyperparameter_types_raise_type_error(settings, message):
    with pytest.raises(TypeError, match=message):
        check_hyperparameters(**settings)


def test_dispatcher_rejects_non_bool_foreach():
    with pytest.raises(TypeError, match="foreach must be True, False or None, got str"):
        sgd([torch.zeros(1)], [torch.zeros(1)], [], lr=1.0, foreach="yes")


@pytest.mark.parametrize("variant", [*VARIANTS, sgd])
def test_list_checks_name_the_argument_and_leave_params_alone(variant):
    param = torch.zeros(2)
    cases = [
        ((param,), [torch.zeros(2)], [], TypeError, "params must be a list, got tuple"),
        ([param], [], [], ValueError, "grads has 0 entries but params has 1"),
        ([param], [torch.zeros(3)], [], ValueError, r"grads\[0\] has shape \(3,\)"),
        ([param], [torch.zeros(2, dtype=torch.float64)], [], ValueError, "torch.float64"),
        ([param], ["g"], [], TypeError, r"grads\[0\] must be a tensor, got str"),
        ([2.0], [torch.zeros(2)], [], TypeError, r"params\[0\] must be a tensor, got float"),
    ]
    for params, grads, buffers, error, message in cases:
        with pytest.raises(error, match=message):
            variant(params, grads, buffers, lr=1.0)
    with pytest.raises(ValueError, match="momentum_buffers has 0 entries"):
        variant([param], [torch.ones(2)], [], lr=1.0, momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum_buffers\[0\] has shape \(5,\)"):
        variant([param], [torch.ones(2)], [torch.zeros(5)], lr=1.0, momentum=0.9)
    assert torch.equal(param, torch.zeros(2))
