"""sgdlab.SGD against torch.optim.SGD: bit-identical steps, state dicts both ways, checks."""

from __future__ import annotations

import contextlib
import copy
import warnings
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import sgdlab
from helpers import DEVICE_PARAMS, article_tensors

SHAPES = [(), (3,), (2, 3), (4, 1, 2)]


@st.composite
def sgd_settings(draw) -> dict:
    """Any valid combination of SGD's flags, with awkward values included."""
    momentum = draw(st.sampled_from([0.0, 0.9]) | st.floats(0.01, 0.99))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(st.sampled_from([0.0, 0.1]) | st.floats(0.0, 1.0))
    return dict(
        lr=draw(st.sampled_from([1.0, 0.1]) | st.floats(1e-4, 2.0)),
        momentum=momentum,
        dampening=dampening,
        weight_decay=draw(st.sampled_from([0.0, 1e-2]) | st.floats(0.0, 0.5)),
        nesterov=nesterov,
        maximize=draw(st.booleans()),
        foreach=draw(st.sampled_from([None, True, False])),
    )


def make_params(seed: int, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
    """Leaf tensors of several shapes, with values from a seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randn(shape, generator=generator, dtype=dtype).to(device).requires_grad_()
        for shape in SHAPES
    ]


def two_groups(params: list[torch.Tensor], lr: float) -> list[dict]:
    """Split params into two groups, the second with its own lr."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": lr * 0.5}]


def set_grads(params_a, params_b, generator, step: int) -> None:
    """Give both parameter lists the same random grads, leaving params[1] without one."""
    for index, (a, b) in enumerate(zip(params_a, params_b)):
        if index == 1:
            continue  # a parameter without grad: both optimizers must skip it
        grad = torch.randn(a.shape, generator=generator, dtype=a.dtype).to(a.device)
        a.grad, b.grad = grad.clone(), grad.clone()


def assert_same_state(ours, theirs, params_a, params_b) -> None:
    """Parameters and momentum buffers equal bit for bit."""
    for a, b in zip(params_a, params_b):
        assert torch.equal(a, b)
        assert ours.state[a].keys() == theirs.state[b].keys()
        if "momentum_buffer" in ours.state[a]:
            assert torch.equal(ours.state[a]["momentum_buffer"], theirs.state[b]["momentum_buffer"])


def run_pair(config: dict, dtype, device, steps: int, seed: int = 0):
    """Step sgdlab.SGD and torch.optim.SGD side by side, checking equality after each step."""
    params_a = make_params(seed, dtype, device)
    params_b = [p.detach().clone().requires_grad_() for p in params_a]
    ours = sgdlab.SGD(two_groups(params_a, config["lr"]), **config)
    theirs = torch.optim.SGD(two_groups(params_b, config["lr"]), **config)
    generator = torch.Generator().manual_seed(seed + 1)
    for step in range(steps):
        if step == 2:  # edit lr mid-run, as the article does through param_groups
            for optimizer in (ours, theirs):
                optimizer.param_groups[0]["lr"] = config["lr"] * 0.3
        set_grads(params_a, params_b, generator, step)
        ours.step()
        theirs.step()
        assert_same_state(ours, theirs, params_a, params_b)
    return ours, theirs, params_a, params_b


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@settings(max_examples=60, deadline=None)
@given(
    config=sgd_settings(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    steps=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_bit_identical_to_torch_over_the_flag_grid(device, config, dtype, steps, seed):
    run_pair(config, dtype, device, steps, seed)


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bit_identical_with_every_flag_on(device, foreach, dtype):
    config = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01,
                  nesterov=True, maximize=True, foreach=foreach)
    run_pair(config, dtype, device, steps=4)


# Large CPU tensors are stepped in blocks (sgdlab.update.CPU_BLOCK_BYTES); a block size of
# 64 bytes makes these small tensors large, so every way a tensor splits is tried cheaply.
BLOCKED_SHAPES = [(5,), (37,), (10, 10), (3, 333)]


def blocked_pair(config: dict, dtype, steps: int, seed: int, threads: int) -> int:
    """Step both SGDs over BLOCKED_SHAPES with 64-byte blocks; return how many tensors went in blocks."""
    generator = torch.Generator().manual_seed(seed)
    params_a = [torch.randn(shape, generator=generator, dtype=dtype).requires_grad_()
                for shape in BLOCKED_SHAPES]
    params_b = [p.detach().clone().requires_grad_() for p in params_a]
    ours = sgdlab.SGD(two_groups(params_a, config["lr"]), **config)
    theirs = torch.optim.SGD(two_groups(params_b, config["lr"]), **config)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with counting_blocks() as taken, mock.patch.object(sgdlab.update, "CPU_BLOCK_BYTES", 64):
            for step in range(steps):
                set_grads(params_a, params_b, generator, step)
                ours.step()
                theirs.step()
                assert_same_state(ours, theirs, params_a, params_b)
    finally:
        torch.set_num_threads(threads_before)
    return sum(taken)


@contextlib.contextmanager
def counting_blocks():
    """Record, for each tensor the for-loop or foreach kernel might split, whether it did."""
    taken: list[bool] = []
    original = sgdlab.update._blocks

    def counted(*args):
        parts = original(*args)
        taken.append(parts is not None)
        return parts

    with mock.patch.object(sgdlab.update, "_blocks", counted):
        yield taken


@settings(max_examples=60, deadline=None)
@given(
    config=sgd_settings(),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.complex64]),
    steps=st.integers(2, 4),
    seed=st.integers(0, 2**16),
    threads=st.sampled_from([1, 2]),
)
def test_blocked_steps_are_bit_identical_to_torch(config, dtype, steps, seed, threads):
    # the opposite: blocks were taken, not whole tensors (by either kernel)
    assert blocked_pair(config, dtype, steps, seed, threads) > 0


@pytest.mark.parametrize("foreach", [False, True])
def test_a_real_block_size_steps_bit_identically_at_two_threads(foreach):
    # torch splits each whole-tensor operation among its threads at its own boundaries
    size = 3 * sgdlab.update.CPU_BLOCK_BYTES // 4 + 13
    params_a = [torch.randn(size, generator=torch.Generator().manual_seed(0)).requires_grad_()]
    params_b = [p.detach().clone().requires_grad_() for p in params_a]
    config = dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True, foreach=foreach)
    ours, theirs = sgdlab.SGD(params_a, **config), torch.optim.SGD(params_b, **config)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with counting_blocks() as taken:
            for step in range(3):
                set_grads(params_a, params_b, torch.Generator().manual_seed(step), 0)
                ours.step()
                theirs.step()
                assert_same_state(ours, theirs, params_a, params_b)
    finally:
        torch.set_num_threads(threads_before)
    assert taken == [False, True, True]  # the first step makes the buffer whole


@pytest.mark.parametrize("foreach", [False, True])
def test_article_step(foreach):
    x, c, y = article_tensors()
    optimizer = sgdlab.SGD([x, c], lr=1.0, foreach=foreach)
    y.backward()
    optimizer.step()
    assert str(x) == "tensor(-1332.7185, requires_grad=True)"
    assert str(c) == "tensor(-442.2395, requires_grad=True)"


def test_mixed_dtypes_in_one_group_match_torch():
    params_a = [torch.ones(3, requires_grad=True), torch.ones(2, dtype=torch.float64, requires_grad=True)]
    params_b = [p.detach().clone().requires_grad_() for p in params_a]
    ours = sgdlab.SGD(params_a, lr=0.1, momentum=0.9, foreach=True)
    theirs = torch.optim.SGD(params_b, lr=0.1, momentum=0.9, foreach=True)
    for step in range(3):
        for a, b in zip(params_a, params_b):
            a.grad = torch.full_like(a, step + 0.3)
            b.grad = a.grad.clone()
        ours.step()
        theirs.step()
    assert_same_state(ours, theirs, params_a, params_b)


@pytest.mark.parametrize("foreach", [False, True])
def test_sparse_gradients_match_torch(foreach):
    torch.manual_seed(0)
    embeddings = [torch.nn.Embedding(5, 3, sparse=True) for _ in range(2)]
    embeddings[1].load_state_dict(embeddings[0].state_dict())
    ours = sgdlab.SGD(embeddings[0].parameters(), lr=0.1, momentum=0.9, foreach=foreach)
    theirs = torch.optim.SGD(embeddings[1].parameters(), lr=0.1, momentum=0.9, foreach=foreach)
    for optimizer, embedding in zip((ours, theirs), embeddings):
        for indices in ([0, 2], [2, 4]):
            embedding(torch.tensor(indices)).sum().backward()
            optimizer.step()
    assert torch.equal(embeddings[0].weight, embeddings[1].weight)


@pytest.mark.parametrize("source, target", [(sgdlab.SGD, torch.optim.SGD), (torch.optim.SGD, sgdlab.SGD)])
@pytest.mark.parametrize("foreach", [False, True])
def test_state_dict_round_trip_continues_bit_identical(source, target, foreach):
    config = dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, foreach=foreach)
    generator = torch.Generator().manual_seed(3)
    params_a = make_params(5, torch.float32, torch.device("cpu"))
    params_b = [p.detach().clone().requires_grad_() for p in params_a]
    first = source(params_a, **config)
    for step in range(2):
        set_grads(params_a, params_b, generator, step)
        first.step()
    # hand the run over: fresh optimizers of both kinds, loaded from the first one's state
    params_c = [p.detach().clone().requires_grad_() for p in params_a]
    continued = target(params_a, lr=0.5)
    # deep copies: load_state_dict may keep the very buffer tensors it is given
    continued.load_state_dict(copy.deepcopy(first.state_dict()))
    reference = source(params_c, lr=0.5)
    reference.load_state_dict(copy.deepcopy(first.state_dict()))
    assert continued.param_groups[0]["momentum"] == 0.9
    for step in range(3):
        set_grads(params_a, params_c, generator, step)
        continued.step()
        reference.step()
        assert_same_state(continued, reference, params_a, params_c)


def test_state_layout_matches_torch():
    x, c, y = article_tensors()
    optimizer = sgdlab.SGD([x, c], lr=1.0, momentum=0.9)
    y.backward()
    optimizer.step()
    saved = optimizer.state_dict()
    assert set(saved["state"][0]) == {"momentum_buffer"}
    assert optimizer.defaults == torch.optim.SGD([x], lr=1.0, momentum=0.9).defaults
    assert saved["param_groups"] == torch.optim.SGD([x, c], lr=1.0, momentum=0.9).state_dict()["param_groups"]


def test_load_state_dict_takes_fused_to_sgdlab_s_own_fused_step():
    w = torch.ones(2, requires_grad=True)
    saved = torch.optim.SGD([w], lr=0.1, fused=True).state_dict()
    optimizer = sgdlab.SGD([w], lr=0.5)
    optimizer.load_state_dict(saved)  # stepping compiles: tests/test_fused.py does that
    assert optimizer.param_groups[0]["fused"] is True and optimizer.param_groups[0]["lr"] == 0.1


def test_params_without_grad_are_left_alone():
    x, c, y = article_tensors()
    optimizer = sgdlab.SGD([x, c], lr=1.0, momentum=0.9)
    (3 * x).backward()
    optimizer.step()
    assert c.item() == 3.0 and c not in optimizer.state


def test_closure_runs_with_grad_enabled_and_its_loss_is_returned():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    optimizer = sgdlab.SGD([w], lr=0.1)

    def closure():
        optimizer.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = optimizer.step(closure)
    assert loss.item() == 5.0 and torch.equal(w, torch.tensor([0.8, 1.6]))


def test_step_hooks_fire():
    w = torch.ones(1, requires_grad=True)
    optimizer = sgdlab.SGD([w], lr=0.1)
    seen = []
    optimizer.register_step_post_hook(lambda opt, args, kwargs: seen.append(w.item()))
    w.grad = torch.ones(1)
    optimizer.step()
    assert seen == [pytest.approx(0.9)]



# The non-fused kernels run below autograd's dispatch layer where it records nothing
# (sgdlab._dispatch.autograd_idle); these pin what that must not change.


@pytest.mark.parametrize("foreach", [False, True])
def test_a_step_below_autograd_moves_version_counters_and_leaves_autograd_as_it_was(foreach):
    w = torch.ones(3, requires_grad=True)
    w.grad = torch.ones(3)
    optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1, foreach=foreach)
    versions = [w._version]
    for _ in range(2):
        optimizer.step()
        versions.append(w._version)
    buffer = optimizer.state[w]["momentum_buffer"]
    assert versions[0] < versions[1] < versions[2] and not buffer.requires_grad
    assert (w * 2).grad_fn is not None  # recording again after the step


@pytest.mark.parametrize("foreach", [False, True])
def test_forward_mode_tangents_step_as_torch_steps_them(foreach):
    import torch.autograd.forward_ad as fwAD

    def step(cls):
        with fwAD.dual_level():
            w = fwAD.make_dual(torch.ones(3), torch.ones(3))
            w.grad = fwAD.make_dual(torch.ones(3), torch.full((3,), 2.0))
            optimizer = cls([torch.zeros(1, requires_grad=True)], lr=0.5, weight_decay=0.1,
                            foreach=foreach)
            optimizer.param_groups[0]["params"] = [w]  # a dual tensor is no leaf to construct with
            with torch.no_grad():
                optimizer.step()
            return fwAD.unpack_dual(w)

    ours, theirs = step(sgdlab.SGD), step(torch.optim.SGD)
    assert torch.equal(ours.primal, theirs.primal) and torch.equal(ours.tangent, theirs.tangent)
    # the opposite: below autograd the tangent would stay where it was
    with fwAD.dual_level():
        w = fwAD.make_dual(torch.ones(3), torch.ones(3))
        with torch.no_grad(), sgdlab._dispatch.below_autograd():
            w.add_(fwAD.make_dual(torch.ones(3), torch.ones(3)))
        assert not torch.equal(fwAD.unpack_dual(w).tangent, theirs.tangent)
        assert torch.equal(fwAD.unpack_dual(w).tangent, torch.ones(3))


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("which", ["param", "buffer"])
def test_an_inference_tensor_is_refused_with_torch_s_message_before_anything_moves(
        foreach, which):
    def make(cls):
        # torch writes an inference tensor in place outside inference_mode, then raises
        w, v = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
        optimizer = cls([v, w], lr=0.1, momentum=0.9, foreach=foreach)
        with torch.inference_mode():
            made = torch.zeros(3)
        if which == "param":
            optimizer.param_groups[0]["params"][1] = w = made
        else:
            optimizer.state[w]["momentum_buffer"] = made
        v.grad, w.grad = torch.ones(3), torch.ones(3)
        optimizer.state[v]["momentum_buffer"] = torch.ones(3)
        with pytest.raises(RuntimeError) as raised:
            optimizer.step()
        return str(raised.value), v, optimizer.state[v]["momentum_buffer"]

    ours, theirs = make(sgdlab.SGD), make(torch.optim.SGD)
    name = "params[1]" if which == "param" else "momentum buffer of params[1]"
    assert ours[0] == f"{name}: {theirs[0]}" and "inference tensor" in theirs[0]
    assert torch.equal(ours[1], torch.zeros(3)) and torch.equal(ours[2], torch.ones(3))
    assert not torch.equal(theirs[2], torch.ones(3))  # torch moved what came before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(lr=-1.0), "Invalid learning rate: -1.0"),
        (dict(momentum=-0.1), "Invalid momentum value: -0.1"),
        (dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
        (dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
        (dict(nesterov=True, momentum=0.9, dampening=0.5), "Nesterov momentum requires"),
    ],
)
def test_constructor_rejects_what_torch_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sgdlab.SGD([torch.zeros(1, requires_grad=True)], **kwargs)


def test_constructor_rejects_non_bool_foreach():
    with pytest.raises(TypeError, match="foreach must be True, False or None, got str"):
        sgdlab.SGD([torch.zeros(1, requires_grad=True)], foreach="yes")


def test_add_param_group_with_bad_lr_leaves_optimizer_unchanged():
    optimizer = sgdlab.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -2"):
        optimizer.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": -2})
    assert len(optimizer.param_groups) == 1


def test_step_refuses_a_negative_lr_edited_into_param_groups():
    w = torch.ones(1, requires_grad=True)
    w.grad = torch.ones(1)
    optimizer = sgdlab.SGD([w], lr=0.1)
    optimizer.param_groups[0]["lr"] = -0.1
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optimizer.step()
    assert w.item() == 1.0


def test_an_edit_after_a_good_step_is_still_refused():
    w = torch.ones(1, requires_grad=True)
    w.grad = torch.ones(1)
    optimizer = sgdlab.SGD([w], lr=0.1, momentum=0.9)
    optimizer.step()
    optimizer.param_groups[0]["momentum"] = -0.5
    with pytest.raises(ValueError, match="momentum"):
        optimizer.step()
    assert torch.equal(w.detach(), torch.tensor([0.9]))


# A step whose tensors carry the metadata of the last step that passed is let through on
# one C++ comparison (sgdlab._checks._Witness); every edit between steps must still be caught.


def _warm_optimizer(foreach):
    """An optimizer three steps in: its last step was admitted by a witness."""
    v, w = (torch.ones(2, 3, requires_grad=True) for _ in range(2))
    optimizer = sgdlab.SGD([v, w], lr=0.1, momentum=0.9, weight_decay=0.1, foreach=foreach)
    for _ in range(3):
        v.grad, w.grad = torch.ones(2, 3), torch.ones(2, 3)  # new gradients, as backward makes
        optimizer.step()
    return optimizer, v, w


def _inference_zeros(shape, grad=False):
    with torch.inference_mode():
        made = torch.zeros(shape)
    if grad:
        made.grad = torch.ones(shape)
    return made


TENSOR_EDITS = {
    "param rebound to another shape": lambda o, w: setattr(w, "data", torch.zeros(3, 2)),
    "param rebound to float64": lambda o, w: setattr(w, "data", w.data.double()),
    "param rebound to an expanded tensor": lambda o, w: setattr(
        w, "data", torch.zeros(1, 3).expand(2, 3)),
    "param replaced by an inference tensor": lambda o, w: o.param_groups[0]["params"].__setitem__(
        1, _inference_zeros((2, 3), grad=True)),
    # .grad's setter refuses these; a rebound .data does not
    "grad of another shape": lambda o, w: setattr(w.grad, "data", torch.ones(6)),
    "grad in float64": lambda o, w: setattr(w.grad, "data", torch.ones(2, 3).double()),
    "sparse grad with weight decay": lambda o, w: setattr(w, "grad", torch.ones(2, 3).to_sparse()),
    "buffer of another shape": lambda o, w: o.state[w].__setitem__(
        "momentum_buffer", torch.zeros(6)),
    "buffer in an integer dtype": lambda o, w: o.state[w].__setitem__(
        "momentum_buffer", torch.zeros(2, 3, dtype=torch.int64)),
    "buffer an inference tensor": lambda o, w: o.state[w].__setitem__(
        "momentum_buffer", _inference_zeros((2, 3))),
}


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("edit", list(TENSOR_EDITS))
def test_a_tensor_edit_after_admitted_steps_is_refused_as_a_full_check_refuses_it(edit, foreach):
    optimizer, v, w = _warm_optimizer(foreach)
    assert optimizer._passed_settings["tensors"] is not None  # a witness was kept
    TENSOR_EDITS[edit](optimizer, w)
    with pytest.raises(Exception) as expected:  # no store, so no witness: every rule runs
        sgdlab._dispatch.gather_checked(optimizer)
    before = [t.detach().clone() for t in (v, optimizer.state[v]["momentum_buffer"])]
    with pytest.raises(type(expected.value)) as raised:
        optimizer.step()
    assert str(raised.value) == str(expected.value)
    assert all(torch.equal(a, b) for a, b in
               zip(before, (v, optimizer.state[v]["momentum_buffer"])))  # nothing moved


def test_a_witness_made_under_inference_mode_admits_no_inference_tensor_outside_it():
    # under inference_mode a normal tensor's dispatch keys read as an inference tensor's do
    v, w = (torch.ones(2, 3, requires_grad=True) for _ in range(2))
    optimizer = sgdlab.SGD([v, w], lr=0.1)
    with torch.inference_mode():
        for _ in range(2):
            v.grad, w.grad = torch.ones(2, 3), torch.ones(2, 3)
            optimizer.step()
    assert optimizer._passed_settings["tensors"] is not None
    optimizer.param_groups[0]["params"][1] = _inference_zeros((2, 3), grad=True)
    before = v.detach().clone()
    with pytest.raises(RuntimeError, match="params\\[1\\]: Inplace update to inference tensor"):
        optimizer.step()
    assert torch.equal(v.detach(), before)


def test_without_the_witness_s_comparison_an_edit_would_reach_the_kernel(monkeypatch):
    # the opposite of the test above: it is the comparison that catches the edit
    optimizer, v, w = _warm_optimizer(foreach=False)
    TENSOR_EDITS["grad of another shape"](optimizer, w)
    monkeypatch.setattr(sgdlab._checks._Witness, "admits", lambda self, *args: True)
    before = v.detach().clone()
    with pytest.raises(RuntimeError, match="must match"):  # torch's error, mid-step
        optimizer.step()
    assert not torch.equal(v.detach(), before)


@pytest.mark.parametrize("foreach", [False, True])
def test_steps_admitted_by_the_witness_stay_bit_identical_to_torch(foreach):
    optimizer, v, w = _warm_optimizer(foreach)
    reference_params = [t.detach().clone().requires_grad_() for t in (v, w)]
    reference = torch.optim.SGD(reference_params, lr=0.1, momentum=0.9, weight_decay=0.1,
                                foreach=foreach)
    reference.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    w.data = torch.full((2, 3), 2.0)  # a new tensor of the same metadata: admitted
    reference_params[1].data = torch.full((2, 3), 2.0)
    for step in range(3):
        for a, b in zip((v, w), reference_params):
            a.grad = torch.full((2, 3), float(step))
            b.grad = torch.full((2, 3), float(step))
        optimizer.step()
        reference.step()
    assert all(torch.equal(a, b) for a, b in zip((v, w), reference_params))
    assert optimizer._passed_settings["tensors"].admits(
        *_gathered_and_checked(optimizer))


def _gathered_and_checked(optimizer):
    checked = sgdlab._checks.check_settings(optimizer, optimizer._passed_settings)
    gathered, _ = sgdlab._dispatch.gather_checked(optimizer, optimizer._passed_settings)
    return gathered, checked


def test_an_optimizer_with_a_witness_copies_and_pickles_without_it():
    import pickle

    optimizer, v, w = _warm_optimizer(foreach=False)
    for copied in (copy.deepcopy(optimizer), pickle.loads(pickle.dumps(optimizer))):
        assert "_passed_settings" not in copied.__dict__
        copied.step()


def test_a_tensor_lr_changed_in_place_is_still_refused():
    w = torch.ones(1, requires_grad=True)
    w.grad = torch.ones(1)
    lr = torch.tensor(0.1)
    optimizer = sgdlab.SGD([w], lr=lr)
    optimizer.step()
    lr.fill_(-0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optimizer.step()


def test_sparse_gradient_with_weight_decay_is_a_value_error_and_changes_nothing():
    embedding = torch.nn.Embedding(4, 2, sparse=True)
    before = embedding.weight.detach().clone()
    optimizer = sgdlab.SGD(embedding.parameters(), lr=0.1, weight_decay=0.01)
    embedding(torch.tensor([0, 1])).sum().backward()
    with pytest.raises(ValueError, match=r"weight_decay=0.01 needs dense gradients, but params\[\d\]\.grad is sparse"):
        optimizer.step()
    assert torch.equal(embedding.weight, before)


def test_a_step_compiled_by_dynamo_warns_nothing_and_steps_as_torch():
    # the witness is C++ that dynamo cannot trace: it stays out of what dynamo compiles
    def train(optimizer_class):
        torch._dynamo.reset()
        torch.manual_seed(1)
        model = torch.nn.Linear(4, 1)
        optimizer = optimizer_class(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
        step = torch.compile(optimizer.step, backend="eager")
        for _ in range(4):
            optimizer.zero_grad()
            model(torch.ones(8, 4)).square().mean().backward()
            step()
            scheduler.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = train(sgdlab.SGD)
    assert [str(w.message) for w in caught if "Dynamo" in str(w.message)] == []
    assert torch.equal(ours, train(torch.optim.SGD))
