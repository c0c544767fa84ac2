r"""The SGD update rule written out, exactly as ``torch.optim.SGD`` applies it.

One step, for a parameter :math:`\theta` with gradient :math:`\nabla`, learning rate
:math:`\gamma`, weight decay :math:`\lambda`, momentum :math:`\mu` and dampening :math:`\tau`:

1. :math:`g \leftarrow -\nabla` when maximizing, else :math:`g \leftarrow \nabla`;
2. :math:`g \leftarrow g + \lambda\theta` when :math:`\lambda \neq 0` (coupled weight decay);
3. when :math:`\mu \neq 0`: on the first step the buffer is a detached copy of :math:`g`,
   :math:`b \leftarrow g`; later :math:`b \leftarrow \mu b + (1 - \tau) g`; then
   :math:`g \leftarrow g + \mu b` with Nesterov, else :math:`g \leftarrow b`;
4. :math:`\theta \leftarrow \theta - \gamma g`.

Two variants share one signature: :func:`sgd_single_tensor` walks the tensors one at a
time; :func:`sgd_foreach` applies each stage to whole lists with ``torch._foreach_*``
kernels, grouped by device and dtype. :func:`sgd` picks one. All three update ``params``
and ``momentum_buffers`` in place, and perform the same floating-point operations in the
same order as PyTorch's own paths, so their results are bit-identical to PyTorch's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import cast

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, _default_to_fused_or_foreach

__all__ = ["sgd", "sgd_single_tensor", "sgd_foreach", "check_hyperparameters"]


# ---------------------------------------------------------------------------
# Checks shared by the update functions and the optimizer
# ---------------------------------------------------------------------------


def _check_real(name: str, value: object) -> float:
    """Return ``value`` as a float when it is a real, finite, non-bool number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _check_lr(lr: object) -> None:
    """Accept a finite ``lr >= 0``: a number or a one-element floating tensor (as torch does)."""
    if isinstance(lr, Tensor):
        if lr.numel() != 1 or not lr.is_floating_point():
            raise ValueError(
                f"lr as a tensor must hold one floating-point value, "
                f"got shape {tuple(lr.shape)} and dtype {lr.dtype}"
            )
        value = lr.item()
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"lr must be finite and >= 0, got {value!r}")
        return
    if _check_real("lr", lr) < 0:
        raise ValueError(f"Invalid learning rate: lr must be >= 0, got {lr!r}")


def _check_bool(name: str, value: object) -> None:
    """Accept only a real ``bool``: a truthy string or number here is almost always a slip."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}: {value!r}")


def check_hyperparameters(
    *,
    lr: float | Tensor,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    """Raise ``ValueError``/``TypeError`` for the settings ``torch.optim.SGD`` rejects, and a few more.

    Negative ``lr``, ``momentum`` or ``weight_decay`` and Nesterov without momentum or with
    dampening are refused as in PyTorch; so are non-finite numbers and non-bool flags.

    >>> check_hyperparameters(lr=0.1, momentum=0.9, nesterov=True)
    >>> check_hyperparameters(lr=-0.1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid learning rate: lr must be >= 0, got -0.1
    """
    _check_lr(lr)
    if _check_real("momentum", momentum) < 0:
        raise ValueError(f"Invalid momentum value: momentum must be >= 0, got {momentum!r}")
    _check_real("dampening", dampening)
    if _check_real("weight_decay", weight_decay) < 0:
        raise ValueError(
            f"Invalid weight_decay value: weight_decay must be >= 0, got {weight_decay!r}"
        )
    _check_bool("nesterov", nesterov)
    _check_bool("maximize", maximize)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            "Nesterov momentum requires momentum > 0 and dampening == 0, "
            f"got nesterov=True with momentum={momentum!r} and dampening={dampening!r}"
        )


def _check_tensor_lists(
    params: object, grads: object, momentum_buffers: object, momentum: float
) -> None:
    """Check the three lists fit together, so no mismatch surfaces deep inside torch."""
    for name, value in (("params", params), ("grads", grads), ("momentum_buffers", momentum_buffers)):
        if not isinstance(value, list):
            raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    params, grads = cast(list, params), cast(list, grads)
    momentum_buffers = cast(list, momentum_buffers)
    if len(grads) != len(params):
        raise ValueError(f"grads has {len(grads)} entries but params has {len(params)}")
    if momentum != 0 and len(momentum_buffers) != len(params):
        raise ValueError(
            f"momentum_buffers has {len(momentum_buffers)} entries but params has "
            f"{len(params)}; pass one buffer (or None) per parameter when momentum != 0"
        )
    for index, (param, grad) in enumerate(zip(params, grads)):
        if not isinstance(param, Tensor):
            raise TypeError(f"params[{index}] must be a tensor, got {type(param).__name__}")
        if not isinstance(grad, Tensor):
            raise TypeError(f"grads[{index}] must be a tensor, got {type(grad).__name__}")
        if grad.shape != param.shape:
            raise ValueError(
                f"grads[{index}] has shape {tuple(grad.shape)} but params[{index}] "
                f"has {tuple(param.shape)}"
            )
        if (grad.device, grad.dtype) != (param.device, param.dtype):
            raise ValueError(
                f"grads[{index}] is {grad.dtype} on {grad.device} but params[{index}] "
                f"is {param.dtype} on {param.device}"
            )
        buffer = momentum_buffers[index] if momentum != 0 else None
        if buffer is not None and (not isinstance(buffer, Tensor) or buffer.shape != param.shape):
            got = tuple(buffer.shape) if isinstance(buffer, Tensor) else type(buffer).__name__
            raise ValueError(
                f"momentum_buffers[{index}] must be None or a tensor shaped like "
                f"params[{index}] {tuple(param.shape)}, got {got}"
            )


def _checked(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    hyperparameters: dict,
) -> None:
    """Run every input check of the public update functions."""
    check_hyperparameters(**hyperparameters)
    _check_tensor_lists(params, grads, momentum_buffers, hyperparameters["momentum"])


def _as_scalar(lr: float | Tensor) -> float | Tensor:
    """Squeeze a one-element lr tensor to 0-d, as torch's ``_to_scalar`` does."""
    if isinstance(lr, Tensor) and lr.dim() != 0:
        return lr.squeeze()
    return lr


# ---------------------------------------------------------------------------
# The two variants, unchecked (the optimizer calls these on inputs it built itself)
# ---------------------------------------------------------------------------


def _single_tensor(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    lr: float | Tensor,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    """Apply one SGD step tensor by tensor; the body of :func:`sgd_single_tensor`."""
    lr = _as_scalar(lr)
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if momentum != 0:
            buffer = momentum_buffers[i]
            if buffer is None:
                # First step: the buffer starts as the gradient itself, so dampening
                # does not scale it; detached so it never carries autograd history.
                buffer = grad.detach().clone()
                momentum_buffers[i] = buffer
            else:
                buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buffer, alpha=momentum) if nesterov else buffer
        param.add_(grad, alpha=-lr)


def _foreach_momentum(
    buffers: list[Tensor | None],
    grads: list[Tensor],
    all_buffers: list[Tensor | None],
    indices: list[int],
    momentum: float,
    dampening: float,
) -> list[Tensor]:
    """Advance one device/dtype group's momentum buffers; create the missing ones from ``grads``."""
    if all(buffer is not None for buffer in buffers):
        existing = cast(list[Tensor], buffers)
        torch._foreach_mul_(existing, momentum)
        torch._foreach_add_(existing, grads, alpha=1 - dampening)
        return existing
    # Some buffer is missing (a first step): go one tensor at a time, as torch does.
    advanced = []
    for i, buffer in enumerate(buffers):
        if buffer is None:
            buffer = grads[i].detach().clone()
            buffers[i] = all_buffers[indices[i]] = buffer
        else:
            buffer.mul_(momentum).add_(grads[i], alpha=1 - dampening)
        advanced.append(buffer)
    return advanced


def _foreach(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    lr: float | Tensor,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    """Apply one SGD step with ``torch._foreach_*`` kernels; the body of :func:`sgd_foreach`."""
    if not params:
        return
    lr = _as_scalar(lr)
    grouped = Optimizer._group_tensors_by_device_and_dtype(
        [params, grads, momentum_buffers],  # type: ignore[list-item]
        with_indices=True,
    )
    for (group_params, group_grads, group_buffers), indices in grouped.values():
        group_params = cast(list[Tensor], group_params)
        group_grads = cast(list[Tensor], group_grads)
        has_sparse_grad = any(grad.is_sparse for grad in group_grads)
        if maximize:
            group_grads = torch._foreach_neg(group_grads)
        if weight_decay != 0:
            if maximize:  # the negated copies are ours already: reuse their memory
                torch._foreach_add_(group_grads, group_params, alpha=weight_decay)
            else:
                group_grads = torch._foreach_add(group_grads, group_params, alpha=weight_decay)
        if momentum != 0:
            buffers = _foreach_momentum(
                group_buffers, group_grads, momentum_buffers, indices, momentum, dampening
            )
            if nesterov:
                torch._foreach_add_(group_grads, buffers, alpha=momentum)
            else:
                group_grads = buffers
        if has_sparse_grad:  # the foreach kernels take no sparse tensors
            for param, grad in zip(group_params, group_grads):
                param.add_(grad, alpha=-lr)
        else:
            torch._foreach_add_(group_params, group_grads, alpha=-lr)


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


def sgd_single_tensor(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    lr: float | Tensor,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    """Apply one SGD step to each tensor in turn, updating ``params`` in place.

    ``momentum_buffers`` holds one entry per parameter when ``momentum != 0`` (it may be
    empty otherwise); a ``None`` entry is a first step and is replaced by the new buffer.
    Call it under ``torch.no_grad()`` when the parameters require grad.

    Args:
        params: the tensors to update.
        grads: their gradients, same shapes.
        momentum_buffers: the momentum buffers, updated in place.
        lr: learning rate :math:`\\gamma`.
        momentum: momentum factor :math:`\\mu`.
        dampening: dampening :math:`\\tau`, applied from the second step on.
        weight_decay: L2 penalty :math:`\\lambda`, added to the gradient.
        nesterov: use the Nesterov look-ahead :math:`g + \\mu b`.
        maximize: ascend instead of descend.

    >>> x = torch.tensor([5.0])
    >>> buffers = [None]
    >>> sgd_single_tensor([x], [torch.tensor([2.0])], buffers, lr=0.5, momentum=0.9)
    >>> x, buffers
    (tensor([4.]), [tensor([2.])])
    >>> sgd_single_tensor([x], [torch.tensor([2.0])], buffers, lr=0.5, momentum=0.9)
    >>> x, buffers
    (tensor([2.1000]), [tensor([3.8000])])
    """
    hyperparameters = dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov, maximize=maximize,
    )
    _checked(params, grads, momentum_buffers, hyperparameters)
    _single_tensor(params, grads, momentum_buffers, **hyperparameters)


def sgd_foreach(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    lr: float | Tensor,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    """Apply one SGD step to whole lists of tensors with ``torch._foreach_*`` kernels.

    Same arguments and results as :func:`sgd_single_tensor`; the tensors are grouped by
    device and dtype and each stage runs once per group.

    >>> x, y = torch.tensor([5.0]), torch.tensor([1.0, -1.0])
    >>> sgd_foreach([x, y], [torch.tensor([2.0]), torch.tensor([1.0, 1.0])], [], lr=0.5)
    >>> x, y
    (tensor([4.]), tensor([ 0.5000, -1.5000]))
    """
    hyperparameters = dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov, maximize=maximize,
    )
    _checked(params, grads, momentum_buffers, hyperparameters)
    _foreach(params, grads, momentum_buffers, **hyperparameters)


def _default_foreach(params: Sequence[Tensor]) -> bool:
    """Say whether torch would pick the foreach path for ``params`` by default."""
    _, foreach = _default_to_fused_or_foreach(list(params), differentiable=False, use_fused=False)
    return foreach


def sgd(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    lr: float | Tensor,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    foreach: bool | None = None,
) -> None:
    """Apply one SGD step with :func:`sgd_foreach` or :func:`sgd_single_tensor`.

    ``foreach=None`` picks as torch does: foreach when every tensor is a plain tensor on a
    device with foreach kernels (CUDA is one, the CPU is not), else the single-tensor loop.

    >>> x = torch.tensor(5.0)
    >>> sgd([x], [torch.tensor(1337.7185)], [], lr=1.0, foreach=False)
    >>> x
    tensor(-1332.7185)
    """
    if foreach is not None:
        _check_bool("foreach", foreach)
    hyperparameters = dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov, maximize=maximize,
    )
    _checked(params, grads, momentum_buffers, hyperparameters)
    if foreach is None:
        foreach = _default_foreach(params)
    update = _foreach if foreach else _single_tensor
    update(params, grads, momentum_buffers, **hyperparameters)
