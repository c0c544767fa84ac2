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

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from itertools import repeat
from typing import Any, cast

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer

from . import _checks
from ._settings import Settings

__all__ = ["sgd"]


# ---------------------------------------------------------------------------
# The four stages of the rule, one tensor at a time
# ---------------------------------------------------------------------------


def _stage(check: Callable[..., None]) -> Callable[[Callable], Callable]:
    """Make a rule function a public stage: a call from outside is checked by ``check`` first.

    The kernels run the unchecked function itself, kept as the stage's ``rule`` attribute
    (their callers have checked every tensor and setting already); everything else, such as
    :func:`sgdlab.explain_step` and readers, calls the checked stage.
    """

    def make(rule: Callable) -> Callable:
        signature = inspect.signature(rule)

        @functools.wraps(rule)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                arguments = signature.bind(*args, **kwargs).arguments
            except TypeError as error:
                raise TypeError(f"{rule.__name__}(): {error}") from None
            check(**arguments)
            return rule(*args, **kwargs)

        checked.rule = rule  # type: ignore[attr-defined]
        return checked

    return make


def _check_direction(grad: Any, maximize: Any) -> None:
    _checks.check_stage_tensors(grad=grad)
    _checks.check_flag("maximize", maximize)


def _check_decay(g: Any, param: Any, weight_decay: Any) -> None:
    _checks.check_stage_tensors(g=g, param=param)
    _checks.check_stage_number("weight_decay", weight_decay, param)


def _check_advance_buffer(g: Any, buffer: Any, momentum: Any, dampening: Any) -> None:
    _checks.check_stage_tensors(g=g, buffer=buffer, none_ok=("buffer",), written=("buffer",))
    _checks.check_stage_number("momentum", momentum, g)
    _checks.check_stage_number("dampening", dampening, g)


def _check_look_ahead(g: Any, buffer: Any, momentum: Any, nesterov: Any) -> None:
    _checks.check_stage_tensors(g=g, buffer=buffer)
    _checks.check_stage_number("momentum", momentum, g)
    _checks.check_flag("nesterov", nesterov)


def _check_move(param: Any, g: Any, lr: Any) -> None:
    _checks.check_stage_tensors(param=param, g=g, written=("param",))
    _checks.check_stage_number("lr", lr, param)


@_stage(_check_direction)
def direction(grad: Tensor, maximize: bool) -> Tensor:
    """Stage 1: the gradient, negated when maximizing.

    >>> direction(torch.tensor([2.0, -1.0]), maximize=True)
    tensor([-2.,  1.])
    """
    return -grad if maximize else grad


@_stage(_check_decay)
def decay(g: Tensor, param: Tensor, weight_decay: float | Tensor) -> Tensor:
    """Stage 2: the coupled weight decay, ``g + weight_decay * param``.

    The kernels skip it when ``weight_decay`` is 0.

    >>> decay(torch.tensor([1.0]), torch.tensor([10.0]), weight_decay=0.01)
    tensor([1.1000])
    """
    if isinstance(weight_decay, Tensor) and weight_decay.requires_grad:
        # torch's differentiable form, in place on g as torch does it
        return g.addcmul_(param.clone(), weight_decay)
    return g.add(param, alpha=weight_decay)


@_stage(_check_advance_buffer)
def advance_buffer(
    g: Tensor, buffer: Tensor | None,
    momentum: float | Tensor, dampening: float | Tensor,
) -> Tensor:
    """Stage 3a: the buffer starts as a detached copy of g, then advances.

    >>> g = torch.tensor([1.0])
    >>> buffer = advance_buffer(g, None, momentum=0.9, dampening=0)
    >>> advance_buffer(g, buffer, momentum=0.9, dampening=0)  # in place
    tensor([1.9000])
    """
    if buffer is None:
        return g.detach().clone()
    return buffer.mul_(momentum).add_(g, alpha=1 - dampening)


@_stage(_check_look_ahead)
def look_ahead(
    g: Tensor, buffer: Tensor, momentum: float | Tensor, nesterov: bool
) -> Tensor:
    """Stage 3b: the buffer, or with Nesterov ``g + momentum * buffer``.

    >>> g, buffer = torch.tensor([1.0]), torch.tensor([2.0])
    >>> look_ahead(g, buffer, momentum=0.9, nesterov=True)
    tensor([2.8000])
    """
    return g.add(buffer, alpha=momentum) if nesterov else buffer


@_stage(_check_move)
def move(param: Tensor, g: Tensor, lr: float | Tensor) -> None:
    """Stage 4: ``param -= lr * g``, in place.

    >>> p = torch.tensor([1.0])
    >>> move(p, torch.tensor([2.0]), lr=0.25)
    >>> p
    tensor([0.5000])
    """
    if isinstance(lr, Tensor) and lr.requires_grad:
        param.addcmul_(g, lr, value=-1)  # keeps lr in the autograd graph
    else:
        param.add_(g, alpha=-lr)


#: The stages in the order one step runs them.
STAGES = (direction, decay, advance_buffer, look_ahead, move)
_RULES = tuple(stage.rule for stage in STAGES)


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
    *,
    found: _checks.Found = _checks.Found(),
) -> None:
    """One SGD step, tensor by tensor, through the four stages.

    A large tensor goes block by block. ``found`` is what the caller's
    checks found.
    """
    lr, maximize = _as_scalar(s.lr), s.maximize
    weight_decay = s.weight_decay
    momentum, dampening, nesterov = s.momentum, s.dampening, s.nesterov
    decayed, with_momentum = weight_decay != 0, momentum != 0
    # the stages' unchecked rules: the caller has checked everything
    direction_, decay_, advance_, look_ahead_, move_ = _RULES
    blocking = _blocking(found.largest_bytes)
    for i, whole in enumerate(params):
        grad, buffer = grads[i], buffers[i] if with_momentum else None
        parts = blocking and _blocks(whole, grad, buffer, with_momentum)
        for param, g, buffer in parts or ((whole, grad, buffer),):
            if maximize:  # stages 1 and 3b are skipped where they return g
                g = direction_(g, maximize)
            if decayed:
                g = decay_(g, param, weight_decay)
            if with_momentum:
                buffer = advance_(g, buffer, momentum, dampening)
                if nesterov:
                    g = look_ahead_(g, buffer, momentum, nesterov)
                else:
                    g = buffer
            move_(param, g, lr)
        if with_momentum and not parts:  # a first step's new buffer
            buffers[i] = buffer


#: On the CPU a tensor of at least twice this many bytes is stepped in
#: blocks of this size: all four stages run over a block while it is still
#: in the cache, where torch's for-loop streams each stage through the whole
#: tensor. An elementwise stage gives the same bits however a tensor is split.
CPU_BLOCK_BYTES = 1 << 19

#: The tensor types whose blocks are plain views (a subclass may redefine ``view``).
_PLAIN_TYPES = frozenset((Tensor, torch.nn.Parameter))


def _blocking(largest_bytes: int) -> bool:
    """Whether a step may cut tensors into blocks.

    Not with grad mode on (a differentiable step keeps whole tensors), nor
    where the checks found no parameter of two blocks or more.
    """
    return (not torch.is_grad_enabled()
            and largest_bytes >= 2 * CPU_BLOCK_BYTES)


def _blocks(
    param: Tensor, grad: Tensor, buffer: Tensor | None, with_momentum: bool,
) -> Iterator[tuple[Tensor, Tensor, Tensor | None]] | None:
    """Matching blocks of a large dense CPU parameter, gradient and buffer.

    None where the tensor is stepped whole: under two blocks, off the CPU,
    on a first step with momentum (the new buffer is made whole), or where
    a tensor is not a plain, dense, contiguous one.
    """
    if (param.layout is not torch.strided
            or param.nbytes < 2 * CPU_BLOCK_BYTES):
        return None
    tensors = (param, grad, buffer) if with_momentum else (param, grad)
    if (param.device.type != "cpu" or buffer is None and with_momentum
            or not _PLAIN_TYPES.issuperset(map(type, tensors))
            or grad.layout is not torch.strided
            or not all(tensor.is_contiguous() for tensor in tensors)):
        return None
    per = CPU_BLOCK_BYTES // param.element_size()
    pieces = [tensor.view(-1).split(per) for tensor in tensors]
    if not with_momentum:
        pieces.append(repeat(None))
    return zip(*pieces)


def _foreach_momentum(
    buffers: list[Tensor | None],
    grads: list[Tensor],
    all_buffers: list[Tensor | None],
    indices: list[int],
    s: Settings,
    maybe_missing: bool = True,
) -> list[Tensor]:
    """Stage 3a over one device/dtype group; one by one on a first step."""
    if not maybe_missing or all(buffer is not None for buffer in buffers):
        existing = cast(list[Tensor], buffers)
        torch._foreach_mul_(existing, s.momentum)
        torch._foreach_add_(existing, grads, alpha=1 - s.dampening)
        return existing
    advanced = []
    for i, buffer in enumerate(buffers):
        new = advance_buffer.rule(grads[i], buffer, s.momentum, s.dampening)
        buffers[i] = all_buffers[indices[i]] = new
        advanced.append(new)
    return advanced


def _foreach(
    params: list[Tensor],
    grads: list[Tensor],
    buffers: list[Tensor | None],
    s: Settings,
    *,
    found: _checks.Found = _checks.Found(),
) -> None:
    """One SGD step with ``torch._foreach_*`` kernels, per device and dtype.

    ``found`` is what the caller's checks found: with every tensor on one
    device with one dtype the lists are one group as they are, and dense
    gradients or complete buffers need no second look (each look at 300
    tensors costs tens of microseconds).
    """
    if not params:
        return
    lr = _as_scalar(s.lr)
    if found.one_device_dtype:
        grouped = {None: ((params, grads, buffers), range(len(params)))}
    else:
        grouped = Optimizer._group_tensors_by_device_and_dtype(
            [params, grads, buffers], with_indices=True  # type: ignore
        )
    for (ps, gs, bs), indices in grouped.values():
        for run in _runs(ps, gs, bs, indices, found.largest_bytes):
            _foreach_run(*run, buffers, s, lr, found)


#: On the CPU a foreach kernel is a loop over the tensors, so the stages go over runs of
#: tensors of about this many parameter bytes each: a run is still in the cache when its
#: next stage reads it (torch's foreach path streams every stage through the whole list).
CPU_RUN_BYTES = 1 << 18


def _runs(
    ps: list, gs: list, bs: list, indices: Any, largest_bytes: int = sys.maxsize,
) -> Iterator[tuple[list, list, list, Any]]:
    """Split one device/dtype group into runs of about :data:`CPU_RUN_BYTES` on the CPU.

    A tensor large enough to be stepped in blocks (:func:`_blocks`) goes block by block, a
    run each; ``largest_bytes`` (what the checks found) may say that none is. Elementwise
    stages give the same bits whichever way the list is split.
    """
    if ps[0].device.type != "cpu":
        yield ps, gs, bs, indices
        return
    blocking = _blocking(largest_bytes)
    start, size = 0, 0
    for end, param in enumerate(ps, 1):
        last = end - 1
        if blocking and (parts := _blocks(param, gs[last], bs[last] if bs else None, bool(bs))):
            if start < last:
                yield ps[start:last], gs[start:last], bs[start:last], indices[start:last]
            for p, g, b in parts:
                yield [p], [g], [b] if bs else [], indices[last:end]
            start, size = end, 0
            continue
        size += param.numel() * param.element_size()
        if size >= CPU_RUN_BYTES or end == len(ps):
            yield ps[start:end], gs[start:end], bs[start:end], indices[start:end]
            start, size = end, 0


def _foreach_run(
    ps: list[Tensor], gs: list[Tensor], bs: list, indices: Any,
    buffers: list,
    s: Settings, lr: float | Tensor, found: _checks.Found,
) -> None:
    """The four stages over one run of tensors of one device and dtype."""
    has_sparse_grad = found.sparse_grads and any(g.is_sparse for g in gs)
    if s.maximize:  # stage 1
        gs = torch._foreach_neg(gs)
    if s.weight_decay != 0:  # stage 2
        if s.maximize:  # the negated copies are ours: reuse their memory
            torch._foreach_add_(gs, ps, alpha=s.weight_decay)
        else:
            gs = torch._foreach_add(gs, ps, alpha=s.weight_decay)
    if s.momentum != 0:  # stage 3
        advanced = _foreach_momentum(
            bs, gs, buffers, indices, s, found.missing_buffers)
        if s.nesterov:
            torch._foreach_add_(gs, advanced, alpha=s.momentum)
        else:
            gs = advanced
    if has_sparse_grad:  # stage 4; foreach kernels take no sparse tensors
        for param, g in zip(ps, gs):
            param.add_(g, alpha=-lr)
    else:
        torch._foreach_add_(ps, gs, alpha=-lr)


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
    from . import _dispatch  # imports this module: import it when first needed

    s = Settings(lr, momentum, dampening, weight_decay, nesterov, maximize)
    group = {**s._asdict(), "foreach": foreach}
    _checks.check_group(group)
    found = _checks.check_tensors(params, grads, momentum_buffers, group)
    _checks.check_foreach_settings(group, params)
    kernel = _dispatch.kernel(group, params)
    _dispatch.step([_dispatch.Entry(params, grads, momentum_buffers, s, kernel, found)])
