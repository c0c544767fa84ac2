"""What PyTorch's own optimizer tests (test/optim, test_optim.py) exercise, run on sgdlab.SGD.

Covered: state dict round trips (incl. older saves without newer keys, weights-only
torch.save/torch.load), closures, complex parameters (against torch and against the real
view), maximize, tensor lr (and an lr scheduler), parameter groups edited mid-run (momentum
switched on, a group added), step/state-dict/load hooks, deepcopy and pickle, printing,
a step without gradients, going the right direction.
"""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import sgdlab

KINDS = [sgdlab.SGD, torch.optim.SGD]


def twins(*shapes, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    first = [torch.randn(s, generator=generator, dtype=dtype, requires_grad=True) for s in shapes]
    return first, [p.detach().clone().requires_grad_() for p in first]


def grads_for(params_a, params_b, seed):
    generator = torch.Generator().manual_seed(seed)
    for a, b in zip(params_a, params_b):
        grad = torch.randn(a.shape, generator=generator, dtype=a.dtype)
        a.grad, b.grad = grad.clone(), grad.clone()


def assert_equal_runs(ours, theirs, params_a, params_b):
    for a, b in zip(params_a, params_b):
        assert torch.equal(a, b)
        buffers = ours.state[a].get("momentum_buffer"), theirs.state[b].get("momentum_buffer")
        assert (buffers[0] is None) == (buffers[1] is None)
        if buffers[0] is not None:
            assert torch.equal(*buffers)


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("maximize", [False, True])
def test_complex_params_match_torch_and_the_real_view(foreach, maximize):
    (a, b), _ = twins(3, 2, dtype=torch.complex64)
    real = [torch.view_as_real(p.detach()).clone().requires_grad_() for p in (a, b)]
    settings = dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True,
                    maximize=maximize, foreach=foreach)
    twin = [p.detach().clone().requires_grad_() for p in (a, b)]
    ours, theirs = sgdlab.SGD([a, b], **settings), torch.optim.SGD(twin, **settings)
    on_real = sgdlab.SGD(real, **settings)
    for step in range(3):
        grads_for([a, b], twin, step)
        for p, r in zip((a, b), real):
            r.grad = torch.view_as_real(p.grad).clone()
        ours.step(), theirs.step(), on_real.step()
        assert_equal_runs(ours, theirs, [a, b], twin)
        for p, r in zip((a, b), real):
            # as torch's own test_complex: close (complex arithmetic may round differently)
            torch.testing.assert_close(torch.view_as_real(p.detach()), r.detach())


@pytest.mark.parametrize("kind", KINDS)
def test_closure_is_called_once_with_grad_enabled(kind):
    w = torch.ones(2, requires_grad=True)
    optimizer = kind([w], lr=0.1)
    calls = []

    def closure():
        calls.append(torch.is_grad_enabled())
        optimizer.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = optimizer.step(closure)
    assert calls == [True] and loss.item() == 2.0


def test_tensor_lr_and_scheduler_match_torch():
    (a,), (b,) = twins(4)
    ours = sgdlab.SGD([a], lr=torch.tensor(0.1), momentum=0.5)
    theirs = torch.optim.SGD([b], lr=torch.tensor(0.1), momentum=0.5)
    schedulers = [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
                  for opt in (ours, theirs)]
    for step in range(4):
        grads_for([a], [b], step)
        ours.step(), theirs.step()
        for scheduler in schedulers:
            scheduler.step()
        assert_equal_runs(ours, theirs, [a], [b])
    assert torch.equal(ours.param_groups[0]["lr"], theirs.param_groups[0]["lr"])


def test_groups_edited_mid_run_match_torch():
    params_a, params_b = twins(3, 2, 5)
    ours = sgdlab.SGD([params_a[0]], lr=0.1)
    theirs = torch.optim.SGD([params_b[0]], lr=0.1)
    for step in range(6):
        if step == 2:  # momentum switched on: the buffer starts from this step's gradient
            for opt in (ours, theirs):
                opt.param_groups[0].update(momentum=0.9, dampening=0.1, weight_decay=0.01)
        if step == 3:
            ours.add_param_group({"params": params_a[1:], "lr": 0.05, "nesterov": True,
                                  "momentum": 0.8, "dampening": 0})
            theirs.add_param_group({"params": params_b[1:], "lr": 0.05, "nesterov": True,
                                    "momentum": 0.8, "dampening": 0})
        if step == 4:
            for opt in (ours, theirs):
                opt.param_groups[1]["maximize"] = True
                opt.param_groups[0]["foreach"] = True
        grads_for(params_a, params_b, step)
        ours.step(), theirs.step()
        assert_equal_runs(ours, theirs, params_a, params_b)


def test_older_state_dict_without_newer_keys_loads():
    (a,), (b,) = twins(3)
    theirs = torch.optim.SGD([b], lr=0.1, momentum=0.9)
    grads_for([a], [b], 0)
    theirs.step()
    saved = copy.deepcopy(theirs.state_dict())
    for key in ("nesterov", "maximize", "foreach", "differentiable", "fused"):
        del saved["param_groups"][0][key]
    ours = sgdlab.SGD([a], lr=0.5)
    ours.load_state_dict(saved)
    assert ours.param_groups[0]["nesterov"] is False and ours.param_groups[0]["fused"] is False


def test_weights_only_save_and_load_round_trip():
    (a,), _ = twins(3)
    optimizer = sgdlab.SGD([a], lr=0.1, momentum=0.9)
    a.grad = torch.ones(3)
    optimizer.step()
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    fresh = sgdlab.SGD([a], lr=1.0)
    fresh.load_state_dict(loaded)
    assert fresh.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    assert torch.equal(fresh.state[a]["momentum_buffer"], optimizer.state[a]["momentum_buffer"])


def test_all_hooks_fire_in_torch_order():
    (a,), _ = twins(2)
    optimizer = sgdlab.SGD([a], lr=0.1)
    seen = []
    optimizer.register_step_pre_hook(lambda *_: seen.append("pre"))
    optimizer.register_step_post_hook(lambda *_: seen.append("post"))
    handle = register_optimizer_step_pre_hook(
        lambda *_: seen.append("global pre"))
    optimizer.register_state_dict_pre_hook(lambda *_: seen.append("state_dict pre"))
    optimizer.register_state_dict_post_hook(lambda _, sd: seen.append("state_dict post"))
    optimizer.register_load_state_dict_pre_hook(lambda *_: seen.append("load pre"))
    optimizer.register_load_state_dict_post_hook(lambda *_: seen.append("load post"))
    try:
        a.grad = torch.ones(2)
        optimizer.step()
        optimizer.load_state_dict(optimizer.state_dict())
    finally:
        handle.remove()
    assert seen == ["global pre", "pre", "post", "state_dict pre", "state_dict post",
                    "load pre", "load post"]


def test_deepcopy_pickle_and_repr():
    (a,), _ = twins(2)
    optimizer = sgdlab.SGD([a], lr=0.1, momentum=0.9)
    a.grad = torch.ones(2)
    optimizer.step()
    copied = copy.deepcopy(optimizer)
    assert copied.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    unpickled = pickle.loads(pickle.dumps(optimizer))
    assert unpickled.defaults == optimizer.defaults
    assert repr(optimizer).replace("SGD (", "") == repr(
        torch.optim.SGD([a], lr=0.1, momentum=0.9)).replace("SGD (", "")


@pytest.mark.parametrize("kind", KINDS)
def test_step_without_grads_is_a_no_op(kind):
    (a,), _ = twins(3)
    before = a.detach().clone()
    optimizer = kind([a], lr=0.1, momentum=0.9)
    optimizer.step()
    assert torch.equal(a, before) and not optimizer.state


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("maximize", [False, True])
def test_goes_the_right_direction(foreach, maximize):
    w = torch.tensor([3.0, -2.0], requires_grad=True)
    optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.5, maximize=maximize, foreach=foreach)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = (w**2).sum() * (-1 if maximize else 1)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    assert losses == sorted(losses, reverse=True) if not maximize else losses == sorted(losses)


def test_a_load_pre_hook_may_fix_a_state_dict_before_it_is_checked():
    (a,), _ = twins(3)
    optimizer = sgdlab.SGD([a], lr=0.1, momentum=0.9)
    saved = copy.deepcopy(optimizer.state_dict())
    saved["param_groups"][0]["lr"] = -1.0  # refused as it is

    def fix(_, state_dict):
        state_dict["param_groups"] = [dict(state_dict["param_groups"][0], lr=0.5)]
        return state_dict

    optimizer.register_load_state_dict_pre_hook(fix)
    optimizer.load_state_dict(saved)
    assert optimizer.param_groups[0]["lr"] == 0.5
