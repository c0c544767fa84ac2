"""``sgdlab.SGD``: stochastic gradient descent as a ``torch.optim.Optimizer``, built on :mod:`sgdlab.update`.

A drop-in for ``torch.optim.SGD``: the same constructor arguments and defaults, the same
parameter-group keys (``fused`` and ``differentiable`` included) and state layout
(``state[p]["momentum_buffer"]``), so state dicts load both ways, and the same results,
bit for bit, on the for-loop and foreach paths, with ``differentiable`` off or on.
``fused=True`` runs sgdlab's own rule compiled into one pass by ``torch.compile``
(:mod:`sgdlab.fused`), not torch's fused kernel; like torch's fused step, it may round
differently from the for-loop (the performance page measures by how much).

Every call checks all of its input before it changes anything: a refused ``step()``,
``add_param_group`` or ``load_state_dict`` leaves the optimizer, its parameters and their
gradients as they were.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from . import _checks, _dispatch, _settings
from . import fused as _fused
from ._settings import Settings

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, dampening, Nesterov and weight decay.

    The update is :func:`sgdlab.sgd`; see :mod:`sgdlab.update` for the rule.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate, a number or a one-element tensor.
        momentum: momentum factor.
        dampening: dampening of the momentum, applied from the second step on.
        weight_decay: L2 penalty added to the gradient, a number or a 0-d tensor.
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: ascend the objective instead of descending it.
        foreach: use the ``torch._foreach_*`` path; ``None`` picks as torch does.
        differentiable: keep the step in the autograd graph, so a gradient can flow
            through ``step()`` into lr or the parameters it started from.
        fused: ``True`` compiles sgdlab's rule into one pass per tensor (see
            :mod:`sgdlab.fused`); ``None`` or ``False`` runs it as written.

    Beyond torch's checks it refuses, with a ``TypeError`` or ``ValueError`` naming the
    argument, a few inputs torch accepts and then fails on or silently uses: non-finite
    numbers, numbers beyond the parameters' dtype, bools for numbers, non-bool flags.

    The article's example: one step with ``lr=1`` from ``x = 5``, ``c = 3``.

    >>> x = torch.tensor(5.0, requires_grad=True)
    >>> c = torch.tensor(3.0, requires_grad=True)
    >>> y = c * 3 * torch.exp(x) + 2.0 * x + 4.0
    >>> optimizer = SGD([x, c], lr=1.0)
    >>> y.backward()
    >>> optimizer.step()
    >>> x, c
    (tensor(-1332.7185, requires_grad=True), tensor(-442.2395, requires_grad=True))
    """

    # torch.Tensor in full: the API page shows a class's hints as written, and links them.
    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | torch.Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        arguments = locals()
        _checks.check_like_torch(lr, momentum, dampening, weight_decay, nesterov)
        defaults = {key: arguments[key] for key in _settings.KEYS}
        self._constructing = True  # add_param_group then also checks as torch's constructor does
        try:
            super().__init__(params, defaults)
        finally:
            del self._constructing
        if fused:  # GradScaler hands this step grad_scale and found_inf, as torch's fused step
            self._step_supports_amp_scaling = True

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, checking its settings as the constructor checks the defaults.

        A refused group leaves the optimizer (and the dict passed in) as they were.

        >>> optimizer = SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> optimizer.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": 0.5})
        >>> [group["lr"] for group in optimizer.param_groups]
        [0.1, 0.5]
        """
        work = dict(param_group) if isinstance(param_group, dict) else param_group
        count = len(self.param_groups)
        try:
            super().add_param_group(work)
            if hasattr(self, "_constructing"):
                _checks.check_combos(self.defaults)
            _checks.check_group(self.param_groups[-1])
        except BaseException:
            del self.param_groups[count:]
            raise
        param_group.clear()
        param_group.update(work)
        self.param_groups[-1] = param_group

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore state (also used by ``load_state_dict``), filling keys older saves lack."""
        super().__setstate__(state)
        for group in self.param_groups:
            for key, default in _settings.LOAD_DEFAULTS.items():
                group.setdefault(key, default)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict saved by this class or by ``torch.optim.SGD``, after checking it fits.

        The dict must be an SGD state dict for this optimizer (same number of groups and of
        parameters per group, momentum buffers shaped like their parameters); otherwise a
        ``TypeError`` or ``ValueError`` says what does not match, and nothing is loaded.

        >>> w = torch.ones(2, requires_grad=True)
        >>> reference = torch.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = torch.ones(2)
        >>> reference.step()
        >>> optimizer = SGD([w], lr=0.1)
        >>> optimizer.load_state_dict(reference.state_dict())
        >>> optimizer.state[w]["momentum_buffer"], optimizer.param_groups[0]["momentum"]
        (tensor([1., 1.]), 0.9)
        """
        hooks = self._optimizer_load_state_dict_pre_hooks
        if isinstance(state_dict, dict):  # run the pre-hooks first, as torch does
            state_dict = state_dict.copy()
            for hook in list(hooks.values()):
                state_dict = hook(self, state_dict) or state_dict
        _checks.check_state_dict(self, state_dict)
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()  # ran above
        try:
            super().load_state_dict(state_dict)
        finally:
            self._optimizer_load_state_dict_pre_hooks = hooks

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Perform one optimization step; ``closure`` (optional) re-evaluates and returns the loss.

        Every group's settings, every parameter's gradient and every momentum buffer are
        checked before the first tensor moves.

        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = SGD([w], lr=0.1)
        >>> def closure():
        ...     optimizer.zero_grad()
        ...     loss = (w ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> optimizer.step(closure)
        tensor(5., grad_fn=<SumBackward0>)
        >>> w
        tensor([0.8000, 1.6000], requires_grad=True)
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # gather each group's tensors and check all of them before any moves
        gathered, found = _dispatch.gather_checked(
            self, self.__dict__.setdefault("_passed_settings", {}))
        groups, state = self.param_groups, self.state
        grad_scale, found_inf = getattr(self, "grad_scale", None), getattr(self, "found_inf", None)
        if grad_scale is not None or found_inf is not None:  # set by a GradScaler
            _fused.check_scaler(grad_scale, found_inf)
        entries, created = [], []
        for group, (params, grads, buffers), facts in zip(groups, gathered, found):
            entries.append(_dispatch.Entry(params, grads, buffers, Settings.of(group),
                                           _dispatch.kernel(group, params), facts))
            # only a first step makes new buffers; the others are advanced in place
            created.append([i for i, buffer in enumerate(buffers) if buffer is None]
                           if facts.missing_buffers else [])
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            _dispatch.step(entries, grad_scale, found_inf)
        for (params, _, buffers, *_), new in zip(entries, created):
            for i in new:
                if buffers[i] is not None:  # None: a first step that found_inf skipped
                    state[params[i]]["momentum_buffer"] = buffers[i]
        return loss
