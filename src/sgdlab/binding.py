"""Check which Python variables are the tensors an optimizer updates, and change them safely.

An optimizer keeps references to tensor objects. Rebinding a variable
(``x = torch.tensor(10.)``) or putting a new tensor into ``param_groups`` silently breaks
the link between the name you read and the tensor ``step()`` writes.
:func:`~sgdlab.check_binding` finds such breaks (and non-leaf, no-grad, duplicate and
misplaced-grad tensors); :func:`~sgdlab.assign_`, :func:`~sgdlab.replace_param` and
:func:`~sgdlab.set_lr` make the changes people reach for without breaking anything.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ._common import default_name, named_tensors, require_optimizer
from ._checks import check_number

__all__ = [
    "check_binding", "BindingReport", "Finding", "assign_", "replace_param", "set_lr",
]

#: The kinds of finding :func:`check_binding` reports, and what each means.
FINDING_KINDS = {
    "not_held": "a given tensor the optimizer does not hold",
    "not_given": "a tensor the optimizer holds that is none of the given ones",
    "non_leaf": "a held tensor that is not a leaf, so backward() leaves its .grad empty",
    "no_requires_grad": "a held tensor that does not require grad, so it never gets one",
    "grad_mismatch": "a held tensor whose .grad has another device or dtype",
    "duplicate": "the same tensor held twice, or given under two names",
    "missing": "a given tensor the optimizer was never given (nothing holds its place)",
    "no_grad": "a held tensor whose .grad is None after backward(): the loss does not use it",
    "state_mismatch": "a held tensor whose momentum buffer has another device or dtype",
}


#: A report's lines are wrapped to this many columns (a code box's width on the site).
REPORT_WIDTH = 72


@dataclass(frozen=True)
class Finding:
    """One problem :func:`check_binding` found: its ``kind`` (a key of ``FINDING_KINDS``) and a message.

    >>> print(Finding("not_held", "x is not held"))
    not_held: x is not held
    """

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class BindingReport:
    """What :func:`check_binding` found; ``ok`` when nothing, and a readable ``str()``.

    >>> x = torch.tensor(5.0, requires_grad=True)
    >>> report = check_binding(torch.optim.SGD([x], lr=0.1), x=x)
    >>> report.ok, report.findings
    (True, ())
    >>> print(report)
    binding ok: x is a tensor the optimizer updates
    """

    findings: tuple[Finding, ...]
    names: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether there were no findings."""
        return not self.findings

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __str__(self) -> str:
        if self.ok:
            if not self.names:
                return "binding ok: no problem found in the optimizer's tensors"
            verb = "is a tensor" if len(self.names) == 1 else "are tensors"
            return textwrap.fill(f"binding ok: {', '.join(self.names)} {verb} the optimizer updates",
                                 REPORT_WIDTH, subsequent_indent="    ", break_long_words=False)
        count = len(self.findings)
        lines = [f"binding: {count} problem{'s' if count > 1 else ''}"]
        lines += [
            textwrap.fill(str(finding), REPORT_WIDTH, initial_indent="  - ", subsequent_indent="    ",
                          break_long_words=False, break_on_hyphens=False)
            for finding in self.findings
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# check_binding
# ---------------------------------------------------------------------------


def _held(optimizer: torch.optim.Optimizer) -> list[tuple[str, Tensor]]:
    """Every (default name, tensor) the optimizer holds, in group order, duplicates kept."""
    return [
        (default_name(group_index, param_index, group), param)
        for group_index, group in enumerate(optimizer.param_groups)
        for param_index, param in enumerate(group["params"])
    ]


def _describe_tensor(tensor: Tensor) -> str:
    """A short description: the value for a scalar, else shape and dtype."""
    if tensor.dim() == 0:
        return f"tensor({tensor.detach().item():.4f})"
    return f"a {str(tensor.dtype).removeprefix('torch.')} tensor of shape {tuple(tensor.shape)}"


def _link_findings(given: Mapping[str, Tensor], held: list[tuple[str, Tensor]]) -> list[Finding]:
    """Given tensors the optimizer lacks, and held tensors none of the given ones are.

    A given tensor the optimizer lacks is ``not_held`` (rebound or replaced) when some held
    tensor is none of the given ones, the tensor it lost its place to; else it is
    ``missing``: it was never handed to the optimizer.
    """
    held_ids = {id(tensor) for _, tensor in held}
    given_ids = {id(tensor) for tensor in given.values()}
    orphans = [(name, tensor) for name, tensor in held if id(tensor) not in given_ids] if given else []
    findings = [
        Finding("not_held", f"{name} = {_describe_tensor(tensor)} is not a tensor the optimizer "
                "holds, so step() never changes it; it was rebound (or replaced in param_groups) "
                "after the optimizer was built")
        if orphans else
        Finding("missing", f"{name} = {_describe_tensor(tensor)} was never given to the optimizer, "
                "so step() never changes it; pass it to the constructor or to add_param_group()")
        for name, tensor in given.items()
        if id(tensor) not in held_ids and tensor.is_leaf  # a computed copy is a non_leaf finding
    ]
    # With nothing given, every held tensor would be "not given": say nothing.
    findings += [
        Finding("not_given", f"the optimizer updates {name} = {_describe_tensor(tensor)}, "
                "which is none of the given tensors (a tensor put into param_groups, "
                "or the old tensor behind a rebound variable)")
        for name, tensor in orphans
    ]
    return findings


def _duplicate_findings(given: Mapping[str, Tensor], held: list[tuple[str, Tensor]]) -> list[Finding]:
    """The same tensor held twice, or given under two names."""
    findings = []
    first_held: dict[int, str] = {}
    for name, tensor in held:
        if id(tensor) in first_held:
            findings.append(Finding("duplicate", f"{name} is the same tensor as {first_held[id(tensor)]}: "
                                    "step() would update it twice"))
        first_held.setdefault(id(tensor), name)
    first_given: dict[int, str] = {}
    for name, tensor in given.items():
        if id(tensor) in first_given:
            findings.append(Finding("duplicate", f"{name} and {first_given[id(tensor)]} are the same tensor"))
        first_given.setdefault(id(tensor), name)
    return findings


def _tensor_findings(
    optimizer: torch.optim.Optimizer,
    given: Mapping[str, Tensor],
    held: list[tuple[str, Tensor]],
    names: Mapping[int, str],
    after_backward: bool,
) -> list[Finding]:
    """Tensors that cannot be trained as they are: non-leaf (held or given), no grad, misplaced grad or state.

    A held tensor that should have a ``.grad`` but has none is reported only when
    ``after_backward`` says backward() has just run: a ``.grad`` left by an earlier pass
    says nothing about the tensors held now.
    """
    findings = []
    seen = set()
    unique = []
    for default, tensor in held:
        if id(tensor) not in seen:
            seen.add(id(tensor))
            unique.append((names.get(id(tensor), default), tensor))
    for name, tensor in unique:
        if not tensor.is_leaf:
            findings.append(Finding("non_leaf", f"{name} is not a leaf tensor (it has grad_fn "
                                    f"{type(tensor.grad_fn).__name__}), so backward() fills no .grad for it"))
        if not tensor.requires_grad:
            findings.append(Finding("no_requires_grad", f"{name} does not require grad, so it never "
                                    "gets a .grad and step() skips it; call .requires_grad_()"))
        grad = tensor.grad if tensor.is_leaf else None  # a non-leaf's .grad only warns
        if grad is not None and (grad.device, grad.dtype) != (tensor.device, tensor.dtype):
            findings.append(Finding("grad_mismatch", f"{name} is {tensor.dtype} on {tensor.device} but "
                                    f"its .grad is {grad.dtype} on {grad.device}"))
        if after_backward and grad is None and tensor.is_leaf and tensor.requires_grad:
            findings.append(Finding("no_grad", f"{name}.grad is None after backward(), so step() skips "
                                    f"{name}: the loss does not depend on it (unused, or reached "
                                    "only through .detach(), .data or torch.no_grad())"))
        findings += _state_findings(name, tensor, optimizer.state.get(tensor, {}))
    for name, tensor in given.items():  # a given copy of a held tensor, made by .to() or arithmetic
        if id(tensor) not in seen and not tensor.is_leaf:
            seen.add(id(tensor))
            findings.append(Finding("non_leaf", f"{name} is not a leaf tensor (it has grad_fn "
                                    f"{type(tensor.grad_fn).__name__}): it is computed from a tensor, "
                                    "not the tensor itself, so step() never changes it"))
    return findings


def _state_findings(name: str, tensor: Tensor, state: Mapping) -> list[Finding]:
    """A held tensor's state entries shaped like it (its momentum buffer) on another device or dtype.

    A buffer of another dtype silently rounds every step to its precision; one on another
    device makes step() fail.
    """
    return [
        Finding("state_mismatch", f"{name} is {tensor.dtype} on {tensor.device} but its {key} is "
                f"{value.dtype} on {value.device}: the tensor was changed after the optimizer "
                "made its state (use sgdlab.replace_param)")
        for key, value in state.items()
        if isinstance(value, Tensor) and value.shape == tensor.shape
        and (value.device, value.dtype) != (tensor.device, tensor.dtype)
    ]


def check_binding(
    optimizer: torch.optim.Optimizer,
    names: Mapping[str, Tensor] | torch.nn.Module | None = None,
    *,
    after_backward: bool = False,
    **named: Tensor,
) -> BindingReport:
    """Check that the given variables are the tensors ``optimizer`` updates, and that those can train.

    Args:
        optimizer: any ``torch.optim`` optimizer.
        names: a mapping name -> tensor, or a module whose ``named_parameters()`` are used.
        after_backward: say that ``backward()`` has just run, so that every held tensor that
            requires grad but whose ``.grad`` is None is reported.
        **named: more tensors, by name (``x=x, c=c``).

    Returns:
        A :class:`BindingReport`; its findings say what is wrong and why (the kinds are
        listed in ``sgdlab.binding.FINDING_KINDS``).

    The article's second trap: rebinding ``x`` after building the optimizer.

    >>> x = torch.tensor(5.0, requires_grad=True)
    >>> c = torch.tensor(3.0, requires_grad=True)
    >>> optimizer = torch.optim.SGD([x, c], lr=1.0)
    >>> x = torch.tensor(10.0, requires_grad=True)
    >>> report = check_binding(optimizer, x=x, c=c)
    >>> report.ok, [finding.kind for finding in report.findings]
    (False, ['not_held', 'not_given'])
    >>> print(report.findings[1].message)  # doctest: +ELLIPSIS
    the optimizer updates group0.param0 = tensor(5.0000), which is none of the given tensors ...

    A model's layer left out of the optimizer, and one the loss does not reach:

    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> optimizer = torch.optim.SGD(model[1].parameters(), lr=0.1)
    >>> [finding.kind for finding in check_binding(optimizer, model)]
    ['missing', 'missing']
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> model[1](torch.ones(2)).sum().backward()  # model[0] unused
    >>> print(check_binding(optimizer, model, after_backward=True))  # doctest: +ELLIPSIS
    binding: 2 problems
      - no_grad: 0.weight.grad is None after backward(), so step() skips
        0.weight: the loss does not depend on it (unused, or reached only
        through .detach(), .data or torch.no_grad())
      - no_grad: 0.bias.grad is None ...

    A copy made by ``.to()`` is not the tensor, and a tensor whose dtype changed after the
    first step no longer matches its momentum buffer:

    >>> w = torch.ones(2, requires_grad=True)
    >>> optimizer = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> [finding.kind for finding in check_binding(optimizer, w=w.to(torch.float64))]
    ['not_given', 'non_leaf']
    >>> w.grad = torch.ones(2)
    >>> optimizer.step()
    >>> w.data = w.data.double()
    >>> print(check_binding(optimizer, w=w).findings[-1].message)  # doctest: +ELLIPSIS
    w is torch.float64 on cpu but its momentum_buffer is torch.float32 on cpu: ...
    """
    require_optimizer(optimizer)
    if not isinstance(after_backward, bool):
        raise TypeError(f"after_backward must be True or False, got {type(after_backward).__name__}: "
                        f"{after_backward!r}")
    given = named_tensors(names)
    extra = named_tensors(named, argument="named tensor")
    clash = sorted(given.keys() & extra.keys())
    if clash:
        raise ValueError(f"names and the keyword arguments both name {', '.join(clash)}")
    given.update(extra)
    held = _held(optimizer)
    names_by_id = {id(tensor): name for name, tensor in given.items()}
    findings = [
        *_link_findings(given, held),
        *_duplicate_findings(given, held),
        *_tensor_findings(optimizer, given, held, names_by_id, after_backward),
    ]
    return BindingReport(tuple(findings), tuple(given))


# ---------------------------------------------------------------------------
# Safe mutations
# ---------------------------------------------------------------------------


def _require_tensor(value: object, argument: str) -> Tensor:
    """Raise ``TypeError`` naming ``argument`` unless ``value`` is a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{argument} must be a tensor, got {type(value).__name__}: {value!r}")
    return value


def _as_value_tensor(value: object) -> Tensor:
    """Turn ``value`` (tensor, number or nested list of numbers) into a tensor."""
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, bool):
        raise TypeError(f"value must be a tensor or numbers, got bool: {value!r}")
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"value must be a tensor or numbers, got {type(value).__name__}: {value!r}") from error


def _check_fits(source: Tensor, dtype: torch.dtype) -> None:
    """Refuse values ``dtype`` cannot hold: beyond an integer's range, or overflowing to inf."""
    if source.numel() == 0 or dtype == source.dtype:
        return
    converted = source.to(dtype)
    if dtype.is_floating_point or dtype.is_complex:
        fits = bool(converted.isfinite().all())
    else:
        fits = bool((converted.to(source.dtype) == source).all())
    if not fits:
        info = torch.finfo(dtype) if dtype.is_floating_point or dtype.is_complex else torch.iinfo(dtype)
        raise ValueError(
            f"value holds numbers outside the range of tensor's dtype {dtype} "
            f"[{info.min:g}, {info.max:g}]; writing them would wrap around or become inf"
        )


def assign_(tensor: Tensor, value: Tensor | float | list) -> Tensor:
    """Write ``value`` into ``tensor`` in place, so every reference to it (an optimizer's too) sees it.

    The write runs under ``torch.no_grad()``. ``value`` must have ``tensor``'s shape (or be a
    single number), finite values within the range of ``tensor``'s dtype, and a dtype that
    casts to ``tensor``'s without loss of kind (no float into an integer tensor).
    ``Tensor.copy_`` itself would take nan and inf, wrap 300 around to 44 in an int8 tensor
    and turn 1e6 into inf in a float16 one.

    Returns:
        ``tensor`` itself.

    >>> x = torch.tensor(5.0, requires_grad=True)
    >>> optimizer = torch.optim.SGD([x], lr=0.1)
    >>> assign_(x, 10.0)
    tensor(10., requires_grad=True)
    >>> optimizer.param_groups[0]["params"][0] is x
    True
    """
    _require_tensor(tensor, "tensor")
    if tensor.layout is not torch.strided:
        raise ValueError(f"tensor must be a dense (strided) tensor, got layout {tensor.layout}")
    if tensor.numel() > 1 and any(
        stride == 0 and size > 1 for stride, size in zip(tensor.stride(), tensor.shape)
    ):
        raise ValueError("tensor has elements that share memory (an expanded tensor), so one "
                         "write would change several of its values; pass a tensor of its own")
    source = _as_value_tensor(value)
    if source.is_sparse:
        source = source.to_dense()
    if source.shape != tensor.shape and source.dim() != 0:
        raise ValueError(
            f"value has shape {tuple(source.shape)} but tensor has shape {tuple(tensor.shape)}; "
            "pass a value of the same shape or a single number"
        )
    if not torch.can_cast(source.dtype, tensor.dtype):
        raise TypeError(
            f"value of dtype {source.dtype} cannot be written into tensor of dtype "
            f"{tensor.dtype} without changing its kind (e.g. dropping fractions)"
        )
    if source.is_meta:
        raise ValueError("value is a meta tensor, which holds no values to write")
    if (source.is_floating_point() or source.is_complex()) and not bool(source.isfinite().all()):
        raise ValueError(f"value must be finite, got {value!r}")
    _check_fits(source, tensor.dtype)
    with torch.no_grad():
        tensor.copy_(source)
    return tensor


def _find(optimizer: torch.optim.Optimizer, target: Tensor) -> tuple[int, int] | None:
    """The first (group, position) of ``target`` in ``param_groups``, by identity."""
    places = _places(optimizer, target)
    return places[0] if places else None


def _places(optimizer: torch.optim.Optimizer, target: Tensor) -> list[tuple[int, int]]:
    """Every (group, position) of ``target`` in ``param_groups``, by identity."""
    return [
        (group_index, param_index)
        for group_index, group in enumerate(optimizer.param_groups)
        for param_index, param in enumerate(group["params"])
        if param is target
    ]


def _moved_state(state: Mapping, old: Tensor, new: Tensor) -> dict:
    """A parameter's state for ``new``: per-entry tensors shaped like it go to its device and dtype."""
    moved = {}
    for key, value in state.items():
        if isinstance(value, Tensor) and value.shape == old.shape and (
            value.is_floating_point() or value.is_complex()
        ):
            try:
                value = value.to(device=new.device, dtype=new.dtype)
            except (RuntimeError, NotImplementedError) as error:
                raise ValueError(
                    f"old's state entry {key!r} cannot move to new ({new.dtype} on "
                    f"{new.device}): {str(error).splitlines()[0]}"
                ) from None
        moved[key] = value
    return moved


def _check_replacement(
    optimizer: torch.optim.Optimizer, old: Tensor, new: Tensor
) -> list[tuple[int, int]]:
    """Check ``old`` can be swapped for ``new``; return every place ``old`` sits."""
    places = _places(optimizer, old)
    if not places:
        raise ValueError(f"old ({_describe_tensor(old)}) is not a tensor this optimizer holds")
    if new.shape != old.shape:
        raise ValueError(
            f"new has shape {tuple(new.shape)} but old has shape {tuple(old.shape)}; "
            "the optimizer's state for old would not fit"
        )
    if new.layout != old.layout:
        raise ValueError(f"new has layout {new.layout} but old has {old.layout}")
    if new.layout is torch.strided and any(
        stride == 0 and size > 1 for stride, size in zip(new.stride(), new.shape)
    ):
        raise ValueError("new has elements that share memory (an expanded tensor), which a "
                         "step cannot write in place; pass new.clone()")
    if (old.is_floating_point() or old.is_complex()) and not (
        new.is_floating_point() or new.is_complex()
    ):
        raise TypeError(f"new has dtype {new.dtype}; an optimizer steps floating-point tensors")
    if new.is_complex() != old.is_complex():
        raise ValueError(
            f"new is {new.dtype} but old is {old.dtype}: a real tensor cannot take a complex "
            "one's place (or the reverse), its state would not fit"
        )
    if new.is_meta != old.is_meta:
        raise ValueError("new and old must both be meta tensors or both hold values; "
                         f"old is on {old.device}, new on {new.device}")
    if not new.is_leaf:
        raise ValueError(
            f"new must be a leaf tensor (an optimizer cannot update a computed tensor), got one "
            f"with grad_fn {type(new.grad_fn).__name__}; pass new.detach().requires_grad_()"
        )
    if old.requires_grad and not new.requires_grad:
        raise ValueError("new does not require grad, so step() would never update it; "
                         "call new.requires_grad_() first")
    if _find(optimizer, new) is not None:
        raise ValueError("new is already held by this optimizer; holding it twice would update it twice")
    return places


def replace_param(optimizer: torch.optim.Optimizer, old: Tensor, new: Tensor) -> Tensor:
    """Swap ``old`` for ``new`` inside ``optimizer``, carrying ``old``'s state (momentum buffer) over.

    State entries shaped like the parameter move to ``new``'s device and dtype. Every place
    that holds ``old`` (a tensor held twice included) gets ``new``. ``new`` must be the same
    kind of tensor as ``old`` (same shape and layout, real or complex as it is). Nothing
    changes if a check fails.

    Returns:
        ``new``.

    >>> x = torch.tensor(5.0, requires_grad=True)
    >>> optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9)
    >>> x.grad = torch.tensor(1.0)
    >>> optimizer.step()
    >>> x64 = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
    >>> _ = replace_param(optimizer, x, x64)
    >>> optimizer.param_groups[0]["params"][0] is x64, optimizer.state[x64]["momentum_buffer"]
    (True, tensor(1., dtype=torch.float64))
    """
    require_optimizer(optimizer)
    _require_tensor(old, "old")
    _require_tensor(new, "new")
    if new is old:
        return new
    places = _check_replacement(optimizer, old, new)
    state = optimizer.state.get(old)
    moved = _moved_state(state, old, new) if state else None  # may refuse: nothing changed yet
    optimizer.state.pop(old, None)
    if moved:
        optimizer.state[new] = moved
    for group_index, param_index in places:
        optimizer.param_groups[group_index]["params"][param_index] = new
    return new


def _check_group_index(optimizer: torch.optim.Optimizer, group: object) -> None:
    """Accept ``None`` or a valid index into ``param_groups``."""
    if group is None:
        return
    if isinstance(group, bool) or not isinstance(group, int):
        raise TypeError(f"group must be an int or None, got {type(group).__name__}: {group!r}")
    count = len(optimizer.param_groups)
    if not 0 <= group < count:
        raise ValueError(f"group must be between 0 and {count - 1}, got {group}")


def _check_lr_fits(lr: float, param_group: Mapping, where: str) -> None:
    """Refuse an lr the group cannot use: a tensor lr it cannot be stored in, or params it overflows."""
    held = param_group.get("lr")
    if isinstance(held, Tensor):
        if not held.is_floating_point():
            raise TypeError(
                f"lr of {where} is a {held.dtype} tensor, which would store {lr!r} as an "
                "integer; give the group a floating-point lr tensor"
            )
        if held.requires_grad:
            raise ValueError(
                f"lr of {where} is a tensor that requires grad (part of an autograd graph), "
                "which set_lr will not change in place; set param_groups' lr yourself"
            )
        if not held.is_meta:
            stored = torch.tensor(lr, dtype=held.dtype).item()
            if not math.isfinite(stored) or (stored == 0) != (lr == 0):
                raise ValueError(
                    f"lr={lr!r} does not fit {where}'s lr tensor of dtype {held.dtype} "
                    f"(it would be stored as {stored!r})"
                )
    for param in param_group.get("params", []):
        if isinstance(param, Tensor) and (param.is_floating_point() or param.is_complex()):
            real = param.real.dtype if param.is_complex() else param.dtype
            if abs(lr) > torch.finfo(real).max:
                raise ValueError(f"lr={lr!r} overflows {real}, the dtype of a parameter of {where}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float, group: int | None = None) -> None:
    """Set the learning rate of every parameter group, or of group ``group`` only.

    ``lr`` must be a finite number ``>= 0`` (an int or a float, not a ``Fraction``) that the
    groups' parameters and lr tensors can hold. A group whose lr is a tensor keeps that
    tensor, refilled in place; such a tensor must not require grad, nor be shared with a
    group ``group`` leaves alone. A bad ``lr`` or ``group`` leaves every group unchanged.

    >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> set_lr(optimizer, 0.1)
    >>> optimizer.param_groups[0]["lr"]
    0.1
    """
    require_optimizer(optimizer)
    check_number("lr", lr)
    _check_group_index(optimizer, group)
    if isinstance(lr, Tensor) or not isinstance(lr, (int, float)):
        lr = lr.item()  # a one-value tensor or a numpy number: store the plain number
    indices = range(len(optimizer.param_groups)) if group is None else [group]
    for index in indices:
        _check_lr_fits(lr, optimizer.param_groups[index], f"param_groups[{index}]")
    if group is not None:
        held = optimizer.param_groups[group].get("lr")
        for index, other in enumerate(optimizer.param_groups):
            if index != group and isinstance(held, Tensor) and other.get("lr") is held:
                raise ValueError(
                    f"group {group}'s lr tensor is also the lr of param_groups[{index}]; "
                    "filling it would change both: pass group=None, or give the groups "
                    "tensors of their own"
                )
    filled = set()
    for index in indices:
        param_group = optimizer.param_groups[index]
        held = param_group.get("lr")
        if isinstance(held, Tensor):
            if id(held) not in filled:
                with torch.no_grad():
                    held.fill_(lr)
                filled.add(id(held))
        else:
            param_group["lr"] = lr
