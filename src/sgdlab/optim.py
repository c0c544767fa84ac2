"""``sgdlab.SGD``: stochastic gradient descent as a ``torch.optim.Optimizer``, built on :mod:`sgdlab.update`.

Same constructor, checks, parameter-group keys and state layout as ``torch.optim.SGD``
(``state[p]["momentum_buffer"]``), so state dicts load both ways, and the same results,
bit for bit, on the for-loop and the foreach paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from . import fused as _fused
from .update import _check_bool, _default_foreach, _foreach, _single_tensor, check_hyperparameters

__all__ = ["SGD"]

#: Group keys torch.optim.SGD keeps that sgdlab.SGD does not implement; they may be dropped
#: when they hold their off value, and refused otherwise.
_UNSUPPORTED_KEYS = ("differentiable",)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, dampening, Nesterov and weight decay.

    The update is :func:`sgdlab.update.sgd`; see :mod:`sgdlab.update` for the rule.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate.
        momentum: momentum factor.
        dampening: dampening of the momentum, applied from the second step on.
        weight_decay: L2 penalty added to the gradient.
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: ascend the objective instead of descending it.
        foreach: use the ``torch._foreach_*`` path; ``None`` picks as torch does.

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

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
    ) -> None:
        check_hyperparameters(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov, maximize=maximize,
        )
        if foreach is not None:
            _check_bool("foreach", foreach)
        if fused is not None:
            _check_bool("fused", fused)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
        }
        if fused:  # sgdlab's own compiled step (sgdlab.fused), not torch's fused kernel
            defaults["fused"] = True
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, checking its own settings as the constructor checks the defaults.

        >>> optimizer = SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> optimizer.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": 0.5})
        >>> [group["lr"] for group in optimizer.param_groups]
        [0.1, 0.5]
        """
        super().add_param_group(param_group)
        try:
            self._check_group(self.param_groups[-1])
        except (TypeError, ValueError):
            self.param_groups.pop()  # leave the optimizer as it was
            raise

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore state (also used by ``load_state_dict``), filling keys older saves lack."""
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            for key in (*_UNSUPPORTED_KEYS, "fused"):  # off in a torch.optim.SGD save
                if not group.get(key):
                    group.pop(key, None)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict saved by this class or by ``torch.optim.SGD``.

        Groups that turn on ``fused`` or ``differentiable`` are refused, since this class
        implements neither; the optimizer is then left unchanged.

        >>> w = torch.ones(2, requires_grad=True)
        >>> reference = torch.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = torch.ones(2)
        >>> reference.step()
        >>> optimizer = SGD([w], lr=0.1)
        >>> optimizer.load_state_dict(reference.state_dict())
        >>> optimizer.state[w]["momentum_buffer"], optimizer.param_groups[0]["momentum"]
        (tensor([1., 1.]), 0.9)
        """
        for index, group in enumerate(state_dict.get("param_groups", [])):
            for key in _UNSUPPORTED_KEYS:
                if group.get(key):
                    raise ValueError(
                        f"state_dict param_groups[{index}] has {key}={group[key]!r}; "
                        f"sgdlab.SGD does not implement {key}, load it into torch.optim.SGD"
                    )
        super().load_state_dict(state_dict)

    @staticmethod
    def _check_group(group: dict[str, Any]) -> None:
        """Check a group's settings, which a user may have edited through ``param_groups``."""
        check_hyperparameters(**{key: group[key] for key in _HYPERPARAMETERS})
        if group["foreach"] is not None:
            _check_bool("foreach", group["foreach"])
        if group.get("fused") is not None:
            _check_bool("fused", group["fused"])

    def _check_groups(self) -> None:
        """Check every group's settings, skipping a group whose settings passed unchanged before.

        Re-checking costs a few microseconds per step, which shows on small models. A tensor
        lr is always re-checked: it can change in place without changing identity (the other
        settings must be plain numbers and flags, which the check itself enforces).
        """
        passed = self.__dict__.setdefault("_passed_settings", {})
        for index, group in enumerate(self.param_groups):
            settings = tuple(group.get(key) for key in _CHECKED_KEYS)
            if isinstance(settings[0], Tensor) or passed.get(index) != settings:
                passed.pop(index, None)
                self._check_group(group)
                passed[index] = settings

    def _collect(
        self, group: dict[str, Any]
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor | None]]:
        """List a group's parameters that have a gradient, their gradients and momentum buffers."""
        params, grads, buffers = [], [], []
        with_momentum = group["momentum"] != 0
        for param in group["params"]:
            if param.grad is None:
                continue  # no gradient: step() leaves this parameter alone
            if param.grad.is_sparse and group["weight_decay"] != 0:
                raise ValueError(
                    f"weight_decay={group['weight_decay']!r} needs dense gradients, but a parameter "
                    f"of shape {tuple(param.shape)} has a sparse one; use weight_decay=0"
                )
            params.append(param)
            grads.append(param.grad)
            if with_momentum:
                buffers.append(self.state[param].get("momentum_buffer"))
        return params, grads, buffers

    def _step_group(
        self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor], buffers: list
    ) -> None:
        """Apply one step to one parameter group and store the new momentum buffers."""
        foreach = group["foreach"]
        if foreach is None:
            foreach = _default_foreach(params)
        update = _foreach if foreach else _single_tensor
        if group.get("fused"):
            update = _fused._step  # checked above, in _check_groups
        update(
            params, grads, buffers,
            lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        if group["momentum"] != 0:
            for param, buffer in zip(params, buffers):
                self.state[param]["momentum_buffer"] = buffer

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Perform one optimization step; ``closure`` (optional) re-evaluates and returns the loss.

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
        self._check_groups()  # all checked first, so a bad edit changes nothing
        collected = [self._collect(group) for group in self.param_groups]
        with torch.no_grad():
            for group, (params, grads, buffers) in zip(self.param_groups, collected):
                self._step_group(group, params, grads, buffers)
        return loss


_HYPERPARAMETERS = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
_CHECKED_KEYS = (*_HYPERPARAMETERS, "foreach", "fused")
