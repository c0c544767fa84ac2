"""sgdlab.SGD and torch.optim.SGD driven side by side by hypothesis: a failed call changes nothing.

A rule-based state machine steps both optimizers, edits their ``param_groups`` (valid and
invalid values), adds parameter groups, round-trips state dicts and loads bad ones. After
every action:

(a) an action refused by one is refused by the other, or refused by sgdlab with a
    TypeError/ValueError (a clearer message for something torch takes and then fails on
    or silently uses);
(b) whenever sgdlab raises, parameters, gradients, state and ``param_groups`` equal their
    snapshot from before the call;
(c) otherwise both hold bit-identical parameters, gradients, state and settings.

After a refusal torch's twin may be half-changed (it fails mid-step), so it is rebuilt from
sgdlab's side before the next action.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import sgdlab

SETTING_KEYS = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize",
                "foreach", "differentiable", "fused")

GOOD = {
    "lr": [0.1, 0.5, 1.0, torch.tensor(0.25)],
    "momentum": [0, 0.9, 0.5],
    "dampening": [0, 0.1],
    "weight_decay": [0, 0.01],
    "nesterov": [False, True],
    "maximize": [False, True],
    "foreach": [None, False, True],
    "differentiable": [False, True],
}


class BadFloat:
    """A number whose conversion to float fails."""

    def __float__(self):
        raise ArithmeticError("no float for you")

    def __lt__(self, other):
        return False

    def __le__(self, other):
        return False


BAD = {
    "lr": [-1.0, math.nan, "fast", 1e39, 2**70, 10**400, np.array([0.1]), BadFloat(),
           torch.tensor([0.1, 0.2])],
    "momentum": [-0.5, np.array([0.1, 0.2]), 1e39, math.inf],
    "dampening": [1e39, "x", -1e39],
    "weight_decay": [-0.1, torch.tensor([0.1]), math.nan],
    "nesterov": ["yes"],
    "foreach": ["yes"],
    "fused": ["yes"],  # fused=True itself is accepted: it compiles (tests/test_fused.py)
    "differentiable": ["yes"],
}

EDITS = st.sampled_from(
    [(key, value) for key, values in GOOD.items() for value in values]
    + [(key, value) for key, values in BAD.items() for value in values]
)


def twin_value(value):
    """The same setting for the other optimizer (a tensor is cloned, never shared)."""
    return value.clone() if isinstance(value, torch.Tensor) else value


def outcome(function):
    try:
        return "ok", function()
    except Exception as error:  # noqa: BLE001 (compared by the caller)
        return "raised", error


def frozen(value):
    """A comparable stand-in for a setting (tensors and arrays by content, nan equal to nan)."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value.dtype, tuple(value.shape), repr(value.tolist()))
    if isinstance(value, np.ndarray):
        return ("array", repr(value.tolist()))
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, BadFloat):
        return "BadFloat"
    return (type(value).__name__, repr(value))


def groups_of(optimizer, params_index):
    return [
        ([params_index[id(p)] for p in group["params"]],
         {key: frozen(group.get(key)) for key in SETTING_KEYS})
        for group in optimizer.param_groups
    ]


def tensors_of(optimizer, params):
    """Parameters, gradients and momentum buffers, cloned."""
    out = []
    for p in params:
        buffer = optimizer.state.get(p, {}).get("momentum_buffer")
        out.append((
            p.detach().clone(),
            None if p.grad is None else p.grad.detach().clone(),
            None if buffer is None else buffer.detach().clone(),
            tuple(sorted(optimizer.state.get(p, {}))),
        ))
    return out


def same_tensor(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def same_tensors(first, second):
    return len(first) == len(second) and all(
        same_tensor(x[0], y[0]) and same_tensor(x[1], y[1]) and same_tensor(x[2], y[2])
        and x[3] == y[3]
        for x, y in zip(first, second)
    )


class SideBySide(RuleBasedStateMachine):
    @initialize(momentum=st.sampled_from([0, 0.9, 0.9]), lr=st.sampled_from([0.1, 1.0]),
                foreach=st.sampled_from([None, False, True]))
    def start(self, momentum, lr, foreach):
        generator = torch.Generator().manual_seed(0)
        self.ours_params = [torch.randn(s, generator=generator, requires_grad=True)
                            for s in [(3,), (2, 2)]]
        self.theirs_params = [p.detach().clone().requires_grad_() for p in self.ours_params]
        self.defaults = dict(lr=lr, momentum=momentum, foreach=foreach)
        self.ours = sgdlab.SGD(self.ours_params, **self.defaults)
        self.theirs = torch.optim.SGD(self.theirs_params, **self.defaults)
        self.seed = 0

    # --- the machinery -------------------------------------------------------------

    def index(self):
        return {id(p): i for i, p in enumerate(self.ours_params)}, {
            id(p): i for i, p in enumerate(self.theirs_params)}

    def snapshot(self):
        return tensors_of(self.ours, self.ours_params), groups_of(self.ours, self.index()[0])

    def resync(self):
        """Rebuild torch's twin from sgdlab's side (after a refusal torch may be half-changed)."""
        ours_index = self.index()[0]
        for a, b in zip(self.ours_params, self.theirs_params):
            with torch.no_grad():
                b.copy_(a)
            b.grad = None if a.grad is None else a.grad.detach().clone()
        groups = []
        for group in self.ours.param_groups:
            settings_ = {k: twin_value(group[k]) for k in SETTING_KEYS if k in group}
            params = [self.theirs_params[ours_index[id(p)]] for p in group["params"]]
            groups.append({"params": params, **settings_})
        self.theirs = torch.optim.SGD(groups, **self.defaults)
        for p, q in zip(self.ours_params, self.theirs_params):
            if p in self.ours.state:
                self.theirs.state[q] = {k: v.detach().clone() if isinstance(v, torch.Tensor)
                                        else v for k, v in self.ours.state[p].items()}

    def act(self, ours_action, theirs_action):
        before = self.snapshot()
        ours, theirs = outcome(ours_action), outcome(theirs_action)
        if ours[0] == "raised":
            after = self.snapshot()
            assert same_tensors(before[0], after[0]), f"tensors changed by a refused call: {ours[1]!r}"
            assert before[1] == after[1], f"param_groups changed by a refused call: {ours[1]!r}"
            if theirs[0] == "ok" or type(theirs[1]) is not type(ours[1]):
                assert isinstance(ours[1], (TypeError, ValueError)), (
                    f"torch: {theirs!r}; sgdlab: {ours[1]!r}")
            self.resync()
            return
        assert theirs[0] == "ok", f"sgdlab accepted what torch refuses: {theirs[1]!r}"
        assert same_tensors(tensors_of(self.ours, self.ours_params),
                            tensors_of(self.theirs, self.theirs_params))
        ours_index, theirs_index = self.index()
        assert groups_of(self.ours, ours_index) == groups_of(self.theirs, theirs_index)

    def add_params(self, shapes, dtype):
        generator = torch.Generator().manual_seed(len(self.ours_params))
        new = [torch.randn(s, generator=generator).to(dtype) for s in shapes]
        new = [p.requires_grad_() if p.is_floating_point() else p for p in new]
        self.ours_params += new
        self.theirs_params += [p.detach().clone().requires_grad_(p.requires_grad) for p in new]
        return new, self.theirs_params[-len(new):]

    # --- the rules -----------------------------------------------------------------

    @rule(missing=st.integers(-1, 3), scale=st.sampled_from([1.0, 1e3]))
    def step(self, missing, scale):
        self.seed += 1
        generator = torch.Generator().manual_seed(self.seed)
        for i, (a, b) in enumerate(zip(self.ours_params, self.theirs_params)):
            if i == missing:
                a.grad = b.grad = None
                continue
            grad = (torch.randn(a.shape, generator=generator) * scale).to(a.dtype)
            a.grad, b.grad = grad.clone(), grad.clone()
        self.act(self.ours.step, self.theirs.step)

    @rule(edit=EDITS, group=st.integers(0, 3))
    def edit_then_step(self, edit, group):
        """Edit a setting through param_groups, step, and put a refused value back."""
        key, value = edit
        group %= len(self.ours.param_groups)
        old = self.ours.param_groups[group].get(key)
        self.ours.param_groups[group][key] = value
        self.theirs.param_groups[group][key] = twin_value(value)
        self.step(missing=-1, scale=1.0)
        if outcome(lambda: sgdlab.explain_step(self.ours))[0] == "raised":
            self.ours.param_groups[group][key] = old
            self.resync()

    @rule(edits=st.lists(EDITS, max_size=3), shapes=st.lists(
        st.sampled_from([(2,), (1, 3), ()]), min_size=1, max_size=2),
        dtype=st.sampled_from([torch.float32, torch.float32, torch.float64, torch.int64]))
    def add_param_group(self, edits, shapes, dtype):
        ours_new, theirs_new = self.add_params(shapes, dtype)
        settings_ = dict(edits)
        self.act(
            lambda: self.ours.add_param_group({"params": ours_new, **settings_}),
            lambda: self.theirs.add_param_group(
                {"params": theirs_new, **{k: twin_value(v) for k, v in settings_.items()}}),
        )

    @rule(cross=st.booleans())
    def state_dict_round_trip(self, cross):
        source = self.theirs if cross else self.ours
        saved = copy.deepcopy(source.state_dict())
        self.act(lambda: self.ours.load_state_dict(copy.deepcopy(saved)),
                 lambda: self.theirs.load_state_dict(copy.deepcopy(saved)))

    @rule(kind=st.sampled_from(["adam", "none", "shape", "groups", "params", "not a dict"]))
    def bad_load(self, kind):
        saved = copy.deepcopy(self.theirs.state_dict())
        if kind == "adam":
            saved = torch.optim.Adam(self.theirs_params[:1]).state_dict()
            saved["param_groups"] = saved["param_groups"] * len(self.theirs.param_groups)
        elif kind == "none":
            saved = None
        elif kind == "shape":
            for p in range(len(self.theirs_params)):
                saved["state"][p] = {"momentum_buffer": torch.zeros(7)}
        elif kind == "groups":
            saved["param_groups"].append(copy.deepcopy(saved["param_groups"][0]))
        elif kind == "params":
            saved["param_groups"][0]["params"] = saved["param_groups"][0]["params"][:1]
        else:
            saved = [saved]
        self.act(lambda: self.ours.load_state_dict(copy.deepcopy(saved)),
                 lambda: self.theirs.load_state_dict(copy.deepcopy(saved)))
        if kind in ("adam", "shape"):  # torch takes these and fails later: step both
            self.step(missing=-1, scale=1.0)

    @invariant()
    def explain_refuses_what_step_refuses(self):
        if not hasattr(self, "ours"):
            return
        explained = outcome(lambda: sgdlab.explain_step(self.ours))
        snapshot = self.snapshot()
        clone = copy.deepcopy(self.ours)
        stepped = outcome(clone.step)
        assert explained[0] == stepped[0], (explained, stepped)
        assert same_tensors(snapshot[0], self.snapshot()[0])


SideBySide.TestCase.settings = settings(
    max_examples=120, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSideBySide = SideBySide.TestCase
