r"""The SGD update rule written out, exactly as ``torch.optim.SGD`` applies it.

One step, for a parameter :math:`p` with gradient :math:`g`, learning rate :math:`\eta`,
weight decay :math:`\mathrm{wd}`, momentum :math:`\mu` and dampening :math:`\tau` (the
site's notation; PyTorch's documentation writes :math:`\theta`, :math:`\gamma`,
:math:`\lambda` and :math:`b` for :math:`p`, :math:`\eta`, :math:`\mathrm{wd}` and the
buffer :math:`v`):

1. :math:`g \leftarrow -g` when maximizing;
2. :math:`g \leftarrow g + \mathrm{wd}\,p` when :math:`\mathrm{wd} \neq 0` (coupled weight
   decay);
3. when :math:`\mu \neq 0`: on the first step the buffer is a detached copy of :math:`g`,
   :math:`v \leftarrow g`; later :math:`v \leftarrow \mu v + (1 - \tau) g`; then
   :math:`g \leftarrow g + \mu v` with Nesterov, else :math:`g \leftarrow v`;
4. :math:`p \leftarrow p - \eta g`.

:func:`~sgdlab.sgd` is the one public function. Behind it, as in PyTorch, two private kernels
share one signature: ``_single_tensor`` walks the tensors one at a time through the four
stage functions below, ``_foreach`` applies each stage to whole lists with
``torch._foreach_*`` kernels, grouped by device and dtype. Both perform the same
floating-point operations in the same order as PyTorch's own paths, so their results are
bit-identical to PyTorch's. The kernels check nothing: ``sgdlab._checks`` does, at the
boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, cast

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer

from . import _checks

__all__ = ["sgd"]


class Settings(NamedTuple):
    """The six settings of the rule, together (one parameter group's worth)."""

    lr: float | Tensor
    momentum: float | Tensor = 0.0
    dampening: float | Tensor = 0.0
    weight_decay: float | Tensor = 0.0
    nesterov: bool = False
    maximize: bool = False

    @classmethod
    def of(cls, group: Mapping[str, Any]) -> Settings:
        """Read the settings out of a parameter group."""
        return cls(*(group[key] for key in _checks.RULE_KEYS))


# ---------------------------------------------------------------------------
# The four stages of the rule, one tensor at a time
# ---------------------------------------------------------------------------


def _direction(grad: Tensor, maximize: bool) -> Tensor:
    """Stage 1: the gradient, negated when maximizing."""
    return -grad if maximize else grad


def _decay(g: Tensor, param: Tensor, weight_decay: Any) -> Tensor:
    """Stage 2: add the coupled weight decay ``weight_decay * param``."""
    if weight_decay == 0:
        return g
    if isinstance(weight_decay, Tensor) and weight_decay.requires_grad:
        # torch's differentiable form, in place on g as torch does it
        return g.addcmul_(param.clone(), weight_decay)
    return g.add(param, alpha=weight_decay)


def _momentum(
    g: Tensor, buffer: Tensor | None, momentum: Any, dampening: Any
) -> Tensor:
    """Stage 3a: the buffer starts as a detached copy of g, then advances."""
    if buffer is None:
        return g.detach().clone()
    return buffer.mul_(momentum).add_(g, alpha=1 - dampening)


def _look_ahead(
    g: Tensor, buffer: Tensor, momentum: Any, nesterov: bool
) -> Tensor:
    """Stage 3b: the buffer, or with Nesterov ``g + momentum * buffer``."""
    return g.add(buffer, alpha=momentum) if nesterov else buffer


def _move(param: Tensor, g: Tensor, lr: float | Tensor) -> None:
    """Stage 4: ``param -= lr * g``, in place."""
    if isinstance(lr, Tensor) and lr.requires_grad:
        param.addcmul_(g, lr, value=-1)  # keeps lr in the autograd graph
    else:
        param.add_(g, alpha=-lr)


def _as_scalar(lr: float | Tensor) -> float | Tensor:
    """Squeeze a one-element lr tensor to 0-d, as torch's ``_to_scalar`` does."""
    if isinstance(lr, Tensor) and lr.dim() != 0:
        return lr.squeeze()
    return lr


# ---------------------------------------------------------------------------
# The two kernels (private, unchecked: callers check at the boundary)
# ---------------------------------------------------------------------------


def _single_tensor(
    params: list[Tensor],
    grads: list[Tensor],
    buffers: list[Tensor | None],
    s: Settings,
) -> None:
    """One SGD step, tensor by tensor, through the four stages."""
    lr = _as_scalar(s.lr)
    for i, param in enumerate(params):
        g = _decay(_direction(grads[i], s.maximize), param, s.weight_decay)
        if s.momentum != 0:
            buffers[i] = _momentum(g, buffers[i], s.momentum, s.dampening)
            g = _look_ahead(g, buffers[i], s.momentum, s.nesterov)
        _move(param, g, lr)


def _foreach_momentum(
    buffers: list[Tensor | None],
    grads: list[Tensor],
    all_buffers: list[Tensor | None],
    indices: list[int],
    s: Settings,
) -> list[Tensor]:
    """Stage 3a over one device/dtype group; one by one on a first step."""
    if all(buffer is not None for buffer in buffers):
        existing = cast(list[Tensor], buffers)
        torch._foreach_mul_(existing, s.momentum)
        torch._foreach_add_(existing, grads, alpha=1 - s.dampening)
        return existing
    advanced = []
    for i, buffer in enumerate(buffers):
        new = _momentum(grads[i], buffer, s.momentum, s.dampening)
        buffers[i] = all_buffers[indices[i]] = new
        advanced.append(new)
    return advanced


def _foreach(
    params: list[Tensor],
    grads: list[Tensor],
    buffers: list[Tensor | None],
    s: Settings,
) -> None:
    """One SGD step with ``torch._foreach_*`` kernels, per device and dtype."""
    if not params:
        return
    lr = _as_scalar(s.lr)
    grouped = Optimizer._group_tensors_by_device_and_dtype(
        [params, grads, buffers], with_indices=True  # type: ignore[list-item]
    )
    for (ps, gs, bs), indices in grouped.values():
        ps, gs = cast(list[Tensor], ps), cast(list[Tensor], gs)
        has_sparse_grad = any(g.is_sparse for g in gs)
        if s.maximize:  # stage 1
            gs = torch._foreach_neg(gs)
        if s.weight_decay != 0:  # stage 2
            if s.maximize:  # the negated copies are ours: reuse their memory
                torch._foreach_add_(gs, ps, alpha=s.weight_decay)
            else:
                gs = torch._foreach_add(gs, ps, alpha=s.weight_decay)
        if s.momentum != 0:  # stage 3
            advanced = _foreach_momentum(bs, gs, buffers, indices, s)
            if s.nesterov:
                torch._foreach_add_(gs, advanced, alpha=s.momentum)
            else:
                gs = advanced
        if has_sparse_grad:  # stage 4; foreach kernels take no sparse tensors
            for param, g in zip(ps, gs):
                param.add_(g, alpha=-lr)
        else:
            torch._foreach_add_(ps, gs, alpha=-lr)


_default_foreach = _checks.default_foreach


def _run(
    params: list[Tensor], grads: list[Tensor], buffers: list[Tensor | None], s: Settings,
    foreach: bool | None,
) -> None:
    """Pick the kernel as torch does (``foreach=None``: foreach where supported) and run it."""
    if foreach is None:
        foreach = _default_foreach(params)
    (_foreach if foreach else _single_tensor)(params, grads, buffers, s)


# ---------------------------------------------------------------------------
# The public function
# ---------------------------------------------------------------------------


def sgd(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    lr: float | Tensor,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float | Tensor = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    foreach: bool | None = None,
) -> None:
    r"""Apply one SGD step to ``params`` in place, the functional form of :class:`sgdlab.SGD`.

    ``momentum_buffers`` holds one entry per parameter when ``momentum != 0`` (it may be
    empty otherwise); a ``None`` entry is a first step and is replaced by the new buffer.
    ``foreach=None`` picks as torch does: the foreach kernels when every tensor is a plain
    tensor on a device that has them (CUDA does, the CPU does not), else the for-loop.
    Call it under ``torch.no_grad()`` when the parameters require grad.

    Every tensor and setting is checked before the first parameter moves, so a refused call
    (a ``TypeError`` or ``ValueError`` naming the argument) changes nothing. torch's own
    functional ``sgd`` checks nothing: it updates the parameters in order and fails at the
    first it cannot update (an integer dtype, an expanded tensor), after moving those before.

    Args:
        params: the tensors to update.
        grads: their gradients, same shapes, dtypes and devices.
        momentum_buffers: the momentum buffers, updated in place.
        lr: learning rate :math:`\eta`.
        momentum: momentum factor :math:`\mu`.
        dampening: dampening :math:`\tau`, applied from the second step on.
        weight_decay: L2 penalty :math:`\mathrm{wd}`, added to the gradient.
        nesterov: use the Nesterov look-ahead :math:`g + \mu v`.
        maximize: ascend instead of descend.
        foreach: ``True`` for the foreach kernels, ``False`` for the for-loop.

    >>> x = torch.tensor([5.0])
    >>> buffers = [None]
    >>> sgd([x], [torch.tensor([2.0])], buffers, lr=0.5, momentum=0.9)
    >>> x, buffers
    (tensor([4.]), [tensor([2.])])
    >>> grads = [torch.tensor([2.0])]
    >>> sgd([x], grads, buffers, lr=0.5, momentum=0.9, foreach=True)
    >>> x, buffers
    (tensor([2.1000]), [tensor([3.8000])])
    """
    s = Settings(lr, momentum, dampening, weight_decay, nesterov, maximize)
    group = {**s._asdict(), "foreach": foreach}
    _checks.check_group(group)
    _checks.check_tensor_lists(params, grads, momentum_buffers, group)
    _checks.check_foreach_settings(group, params)
    _run(params, grads, momentum_buffers, s, foreach)
