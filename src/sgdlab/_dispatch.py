"""The one way through a step, for ``step()``, :func:`sgdlab.sgd` and ``explain_step``.

:func:`gather_checked` collects each group's parameters with a gradient, their gradients and
their momentum buffers, and holds them to the one rule set of :mod:`sgdlab._checks` before
anything moves. :func:`kernel` decides as ``torch.optim.SGD`` does: ``fused`` when the group
asks for it, else ``foreach`` as asked, and with ``foreach=None`` the foreach kernels where torch would
pick them (every tensor a plain tensor on a device that has them). :func:`step` runs
checked groups with their kernels, compiling whatever the fused ones need before the first
write. :meth:`sgdlab.SGD.step` and :func:`sgdlab.explain_step` both go through all three,
so the prediction is made by the code that steps; :func:`sgdlab.sgd` picks its kernel and
steps here too. Not public API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.autograd import forward_ad
from torch.optim import Optimizer

from . import _checks, update
from . import fused as _fused
from ._settings import Settings

_NO_STATE: dict = {}

#: Skips autograd's dispatch layer for the calls made under it (see :func:`autograd_idle`).
below_autograd = torch._C._AutoDispatchBelowAutograd
_NO_GUARD = contextlib.nullcontext()


def autograd_idle() -> bool:
    """Whether autograd records nothing here, so a kernel may run below its dispatch layer.

    With grad mode off and no forward-mode level open, autograd's layer of every call only
    checks that it has nothing to record and passes the call on: about 0.15 µs per call,
    so the four calls of a small tensor's step lose a tenth of its time there. Below it the
    calls are the same kernels, an in-place write still moves the version counter, and an
    inference tensor is still refused (both happen in the layer underneath). Not while
    dynamo traces, which compiles Python calls.

    >>> with torch.no_grad():
    ...     autograd_idle()
    True
    >>> autograd_idle()  # grad mode on: autograd may record
    False
    """
    return not (torch.is_grad_enabled() or forward_ad._current_level >= 0
                or torch.compiler.is_compiling())


#: The kernels, by the names :func:`kernel` gives them.
KERNELS = ("for-loop", "foreach", "fused")


def gather_checked(
    optimizer: Optimizer, passed: dict | None = None
) -> tuple[list[tuple[list[Tensor], list[Tensor], list]], list[_checks.Found]]:
    """Each group's ``(params, grads, buffers)``, all checked, and what the checks found.

    ``params`` are the group's parameters with a gradient, in order; ``buffers`` their
    momentum buffers (None before a first step), empty for a group without momentum. What
    ``optimizer.step()`` cannot take is refused before anything moves: torch's fused checks
    first, as in torch; then every group's settings, before anything reads them (a group's
    momentum says whether to read buffers); then every tensor
    (:func:`sgdlab._checks.check_groups`). ``passed`` lets settings that passed and are the
    same objects skip their check. The optimizer's state is read, never written.

    >>> import torch
    >>> w = torch.zeros(2, requires_grad=True)
    >>> w.grad = torch.ones(2)
    >>> optimizer = torch.optim.SGD([w, torch.zeros(1, requires_grad=True)], momentum=0.9)
    >>> gathered, found = gather_checked(optimizer)
    >>> gathered, found[0].missing_buffers
    ([([tensor([0., 0.], requires_grad=True)], [tensor([1., 1.])], [None])], True)
    """
    groups, state = optimizer.param_groups, optimizer.state
    with_grad = [[p for p in group["params"] if p.grad is not None] for group in groups]
    grads = [[p.grad for p in params] for params in with_grad]
    for index, (group, params, group_grads) in enumerate(zip(groups, with_grad, grads)):
        if group.get("fused"):
            where = _checks.group_prefix(index, len(groups))
            _fused.check_tensors(params, group_grads, where)
    checked = _checks.check_settings(optimizer, passed)
    gathered = [
        (params, group_grads,
         [state.get(p, _NO_STATE).get("momentum_buffer") for p in params]
         if group["momentum"] != 0 else [])
        for group, params, group_grads in zip(groups, with_grad, grads)
    ]
    return gathered, _checks.check_groups(optimizer, gathered, checked, passed)


def kernel(group: Mapping[str, Any], params: list[Tensor]) -> str:
    """The kernel ``step()`` uses for ``group`` whose parameters with a gradient are ``params``.

    >>> import torch
    >>> kernel({"fused": None, "foreach": None}, [torch.zeros(2)])  # torch's choice on the CPU
    'for-loop'
    """
    if group.get("fused"):
        return "fused"
    foreach = group.get("foreach")
    if foreach is None:
        foreach = _checks.default_foreach(params)
    return "foreach" if foreach else "for-loop"


class Entry(NamedTuple):
    """One checked group's step: its tensors, settings, kernel, and what the checks found."""

    params: list[Tensor]
    grads: list[Tensor]
    buffers: list
    settings: Settings
    kernel: str
    found: _checks.Found = _checks.Found()


def step(
    entries: list[Entry],
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
) -> bool:
    """Step checked groups in order, each with its kernel.

    The fused groups' compilations are made first, so a compiler warning raised as an error
    leaves every group as it was. ``grad_scale`` and ``found_inf`` (a ``GradScaler``'s) are
    honoured as torch's fused step honours them. Returns False when ``found_inf`` skipped
    the step.
    """
    fused = [entry[:4] for entry in entries if entry.kernel == "fused"]
    plans = iter(_fused.plan(fused) if fused else ())
    if (grad_scale is not None or found_inf is not None) and _fused.skip_or_unscale(
            [entry.grads for entry in entries], grad_scale, found_inf):
        return False
    fell_back: list = []
    for params, grads, buffers, settings, name, found in entries:
        if name == "fused":
            _fused.run_planned(params, grads, buffers, settings, next(plans), fell_back)
            continue
        with below_autograd() if autograd_idle() else _NO_GUARD:
            if name == "foreach":
                update._foreach(params, grads, buffers, settings, found=found)
            else:
                update._single_tensor(params, grads, buffers, settings, found=found)
    if fell_back:
        _fused.warn_fallbacks(fell_back)
    return True
