"""sgdlab.SGD as a drop-in for torch.optim.SGD: the same input accepted or refused the same way.

For each input over the constructor grid (and the same settings given in a parameter group):
where torch refuses, sgdlab raises the same exception type with a message that starts with
torch's own; where torch accepts, sgdlab accepts, or refuses with a TypeError/ValueError
naming the argument (a value torch takes and then fails on or silently uses: nan, inf, a
bool for a number, a non-bool flag). When both accept, one step gives the same
result bit for bit, or is refused by both, sgdlab before anything moves.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import sgdlab

BASE = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=False,
            maximize=False, foreach=None, differentiable=False, fused=None)


def _values():
    """For each argument, the values people pass, right and wrong."""
    return {
        "lr": [0.1, 0, 1, -1.0, math.nan, math.inf, 1e39, 2**70, True, "0.1", None, 1 + 1j,
               np.float32(0.1), np.float64(0.5), np.array([0.1]), np.array([0.1, 0.2]),
               torch.tensor(0.1), torch.tensor([0.1]), torch.tensor([0.1, 0.2]),
               torch.tensor(0.1, dtype=torch.float64), torch.tensor(1), torch.tensor(-0.1)],
        "momentum": [0, 0.9, 1, -0.5, math.nan, "x", None, torch.tensor(0.9),
                     np.array([0.1, 0.2]), True],
        "dampening": [0, 0.1, 1.0, -1.0, math.inf, "x", None, 1e39],
        "weight_decay": [0, 0.01, -0.1, math.nan, "x", torch.tensor(0.1), torch.tensor([0.1]),
                         torch.tensor(-0.1), np.float32(0.01)],
        "nesterov": [False, True, 1, "yes", None],
        "maximize": [False, True, 0, "no"],
        "foreach": [None, True, False, "yes", 1],
        "differentiable": [False, True, 0],
        "fused": [None, False, True],
    }


def _cases():
    cases = []
    for name, values in _values().items():
        for value in values:
            cases.append({name: value})
    # the combinations torch itself checks together
    for momentum in (0, 0.9):
        for dampening in (0, 0.5):
            cases.append(dict(nesterov=True, momentum=momentum, dampening=dampening))
    cases += [dict(fused=True, differentiable=True), dict(fused=True, foreach=True),
              dict(lr=-1, momentum=-1), dict(momentum="x", lr=-1)]
    return cases


CASES = _cases()


def _ids(case):
    return ",".join(f"{key}={value!r}"[:40] for key, value in case.items())


def outcome(function):
    """("ok", result) or ("raised", the exception)."""
    try:
        return "ok", function()
    except Exception as error:  # noqa: BLE001 (compared below)
        return "raised", error


def make_params():
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(3, generator=generator, requires_grad=True),
            torch.randn(2, 2, generator=generator, requires_grad=True)]


def give_grads(params):
    generator = torch.Generator().manual_seed(1)
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator)


def build(kind, case, where):
    """The optimizer with ``case`` given to its constructor, or to its one parameter group."""
    params = make_params()
    if where == "constructor":
        return params, lambda: kind(params, **{**BASE, **case})
    return params, lambda: kind([{"params": params, **case}], **BASE)


def names_argument(error: Exception, case: dict) -> bool:
    text = str(error)
    return any(key in text for key in case) or "Nesterov" in text


def assert_same_refusal(ours, theirs, case):
    """sgdlab refuses as torch does: same type, torch's words first."""
    assert type(ours) is type(theirs), (case, ours, theirs)
    assert str(ours).startswith(str(theirs)), (case, str(ours), str(theirs))


def compare_step(ours_opt, theirs_opt, ours_params, theirs_params, case):
    give_grads(ours_params)
    give_grads(theirs_params)
    before = [p.detach().clone() for p in ours_params]
    ours = outcome(ours_opt.step)
    theirs = outcome(theirs_opt.step)
    if ours[0] == "raised":
        # refused by sgdlab before anything moved; torch refused too, or sgdlab says why
        assert all(torch.equal(a, b) for a, b in zip(ours_params, before))
        if theirs[0] == "raised":
            return
        assert isinstance(ours[1], (TypeError, ValueError)) and names_argument(ours[1], case), (
            case, ours[1])
        return
    assert theirs[0] == "ok", (case, theirs[1])
    for a, b in zip(ours_params, theirs_params):
        assert torch.equal(a, b), case


@pytest.mark.parametrize("where", ["constructor", "group"])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_same_answer_as_torch(case, where):
    ours_params, make_ours = build(sgdlab.SGD, case, where)
    theirs_params, make_theirs = build(torch.optim.SGD, case, where)
    ours, theirs = outcome(make_ours), outcome(make_theirs)
    if theirs[0] == "raised":
        assert ours[0] == "raised", (case, "torch refuses, sgdlab accepts")
        assert_same_refusal(ours[1], theirs[1], case)
        return
    if ours[0] == "raised":  # stricter than torch: only with a clear error naming the argument
        assert isinstance(ours[1], (TypeError, ValueError)), (case, ours[1])
        assert names_argument(ours[1], case), (case, ours[1])
        return
    assert ours[1].defaults == theirs[1].defaults
    if case.get("fused"):  # a compiled step: tests/test_fused.py compares it, within its bound
        return
    compare_step(ours[1], theirs[1], ours_params, theirs_params, case)


def test_torch_defaults_splat_into_sgdlab():
    params = make_params()
    reference = torch.optim.SGD(params)
    optimizer = sgdlab.SGD(params, **reference.defaults)
    assert optimizer.defaults == reference.defaults
    assert optimizer.state_dict() == reference.state_dict()


def test_every_torch_argument_is_accepted_with_its_default():
    import inspect

    theirs = inspect.signature(torch.optim.SGD).parameters
    ours = inspect.signature(sgdlab.SGD).parameters
    assert list(ours) == list(theirs)
    for name, parameter in theirs.items():
        assert ours[name].default == parameter.default, name
        assert ours[name].kind == parameter.kind, name


@pytest.mark.parametrize(
    "enter",
    ["constructor", "param group", "add_param_group", "load_state_dict", "edit"],
)
def test_fused_true_is_accepted_the_same_way_wherever_it_enters(enter):
    """sgdlab runs fused=True with its own compiled step (stepping it: tests/test_fused.py)."""
    params = make_params()
    if enter == "constructor":
        optimizer = sgdlab.SGD(params, lr=0.1, fused=True)
    elif enter == "param group":
        optimizer = sgdlab.SGD([{"params": params, "fused": True}], lr=0.1)
    else:
        optimizer = sgdlab.SGD(params[:1], lr=0.1)
    if enter == "add_param_group":
        optimizer.add_param_group({"params": params[1:], "fused": True})
    elif enter == "load_state_dict":
        optimizer.load_state_dict(torch.optim.SGD(params[:1], lr=0.1, fused=True).state_dict())
    elif enter == "edit":
        optimizer.param_groups[0]["fused"] = True
        sgdlab._dispatch.gather_checked(optimizer)  # what step() checks first
    assert optimizer.param_groups[-1]["fused"] is True


# ---------------------------------------------------------------------------
# differentiable: the step stays in the autograd graph, bit for bit as torch's
# ---------------------------------------------------------------------------

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def rule_settings(draw) -> dict:
    """Any valid combination of the rule's settings."""
    momentum = draw(st.sampled_from([0.0, 0.9]) | st.floats(0.01, 0.99))
    nesterov = momentum > 0 and draw(st.booleans())
    return dict(
        lr=draw(st.sampled_from([1.0, 0.1]) | st.floats(1e-3, 2.0)),
        momentum=momentum,
        dampening=0.0 if nesterov else draw(st.sampled_from([0.0, 0.1]) | st.floats(0.0, 1.0)),
        weight_decay=draw(st.sampled_from([0.0, 1e-2]) | st.floats(0.0, 0.5)),
        nesterov=nesterov,
        maximize=draw(st.booleans()),
        foreach=draw(st.sampled_from([None, True, False])),
    )


def differentiable_run(kind, config, seed, dtype, steps, tensor_lr, tensor_decay, differentiable):
    """Run ``steps`` steps from fresh leaves; return the final params and d(loss)/d(inputs)."""
    generator = torch.Generator().manual_seed(seed)
    leaves = [torch.randn(shape, generator=generator, dtype=dtype, requires_grad=True)
              for shape in [(3,), (2, 2)]]
    settings_ = dict(config)
    inputs = list(leaves)
    if tensor_lr:
        settings_["lr"] = torch.tensor(config["lr"], dtype=dtype, requires_grad=differentiable)
        inputs.append(settings_["lr"])
    if tensor_decay and config["weight_decay"] != 0:
        settings_["weight_decay"] = torch.tensor(
            config["weight_decay"], dtype=dtype, requires_grad=differentiable)
        inputs.append(settings_["weight_decay"])
    params = [leaf.clone() if differentiable else leaf.detach().clone() for leaf in leaves]
    optimizer = kind(params, differentiable=differentiable, **settings_)
    for _ in range(steps):
        for param in params:
            grad = torch.randn(param.shape, generator=generator, dtype=dtype,
                               requires_grad=differentiable)
            if differentiable:
                inputs.append(grad)
                grad = grad * 1  # not a leaf, so torch's in-place weight decay may write to it
            param.grad = grad
        optimizer.step()
    if not differentiable:
        return params, []
    loss = sum((param**2).sum() for param in params)
    return params, torch.autograd.grad(loss, inputs, allow_unused=True)


@settings(max_examples=40, deadline=None)
@given(
    config=rule_settings(),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    steps=st.integers(1, 3),
    tensor_lr=st.booleans(),
    tensor_decay=st.booleans(),
    differentiable=st.booleans(),
)
# A weight decay that rounds to zero in float32: torch skips it, so its foreach path takes the
# tracked tensor; sgdlab once refused it up front.
@example(config=dict(lr=1.0, momentum=0.0, dampening=0.0, weight_decay=1e-268, nesterov=False,
                     maximize=False, foreach=True),
         seed=0, dtype=torch.float32, steps=1, tensor_lr=False, tensor_decay=True, differentiable=True)
def test_step_and_its_gradients_are_bit_identical_to_torch(
    config, seed, dtype, steps, tensor_lr, tensor_decay, differentiable
):
    args = (config, seed, dtype, steps, tensor_lr, tensor_decay, differentiable)
    ours = outcome(lambda: differentiable_run(sgdlab.SGD, *args))
    theirs = outcome(lambda: differentiable_run(torch.optim.SGD, *args))
    if theirs[0] == "raised":  # torch fails: sgdlab refuses up front, or fails as torch does
        assert ours[0] == "raised", theirs[1]
        assert type(ours[1]) is type(theirs[1]) or isinstance(ours[1], ValueError), ours[1]
        return
    assert ours[0] == "ok", ours[1]
    (ours, ours_grads), (theirs, theirs_grads) = ours[1], theirs[1]
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
        assert a.requires_grad == b.requires_grad and (a.grad_fn is None) == (b.grad_fn is None)
    assert len(ours_grads) == len(theirs_grads)
    for a, b in zip(ours_grads, theirs_grads):
        assert (a is None and b is None) or torch.equal(a, b)


def test_gradient_flows_through_a_step_into_lr():
    """d(theta - lr g)/d lr = -g, checked numerically by torch's gradcheck."""
    grad = torch.tensor([1.5, -2.0], dtype=torch.float64)

    def one_step(start, lr):
        param = start.clone()
        optimizer = sgdlab.SGD([param], lr=lr, weight_decay=0.1,
                               differentiable=True)
        param.grad = grad.clone()
        optimizer.step()
        return param

    start = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    lr = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(one_step, (start, lr))
    param = one_step(start, lr)
    (d_lr,) = torch.autograd.grad(param.sum(), lr)
    assert d_lr.item() == -(grad + 0.1 * start.detach()).sum().item()


def test_without_differentiable_the_step_leaves_no_graph():
    param = torch.ones(2, requires_grad=True)
    param.grad = torch.ones(2)
    sgdlab.SGD([param], lr=0.1).step()
    assert param.grad_fn is None and param.is_leaf
