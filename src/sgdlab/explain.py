"""Say, before ``step()``, what an SGD step will do to each parameter, with the numbers.

:func:`~sgdlab.explain_step` writes each parameter's update as the article does,
``x: 5.0000 - 1.0 x 1337.7185 = -1332.7185`` (value, minus the learning rate times the
step direction, equals the new value), followed by how the direction was built when
maximize, weight decay, momentum or Nesterov take part (``g`` is the direction, ``b`` the
momentum buffer, ``p`` the parameter). The new values are predicted by
running the step on copies with the kernel ``step()`` picks (for ``torch.optim.SGD``
too: sgdlab's for-loop and foreach kernels are bit-identical to torch's), so they are
the values ``step()`` then produces.
:func:`~sgdlab.describe` lays out an optimizer's parameter groups as a table.
"""

from __future__ import annotations

import math
from numbers import Real
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.optim.sgd import sgd as torch_sgd

from . import _checks, _dispatch
from . import update as _update
from ._common import named_tensors, parameter_names, require_optimizer
from .optim import SGD

__all__ = ["explain_step", "StepExplanation", "ParamUpdate", "describe", "format_number"]

#: How many entries of a non-scalar tensor a formula shows.
SHOWN_ENTRIES = 3

_SGD_KINDS = (torch.optim.SGD, SGD)


# ---------------------------------------------------------------------------
# Formatting numbers and tensors
# ---------------------------------------------------------------------------


def format_number(value: float) -> str:
    """Format one number as torch prints a float tensor element: 4 decimals, or e-notation.

    Follows ``torch.set_printoptions`` (precision and ``sci_mode``); like torch, it switches
    to scientific notation for magnitudes above 1e8 or below 1e-4. Unlike torch it keeps the
    decimals on whole numbers (``5.0000``, where ``print(torch.tensor(5.))`` shows ``5.``),
    so every number in a formula reads alike.

    >>> format_number(1337.71850586), format_number(5.0), format_number(-2e-6)
    ('1337.7185', '5.0000', '-2.0000e-06')
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"value must be a real number, got {type(value).__name__}: {value!r}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"value must fit in a float, got an int of {int(value).bit_length()} bits") from None
    except Exception as error:  # a Real whose __float__ fails: say so, naming the argument
        raise TypeError(f"value must convert to a float, but float(value) raised "
                        f"{type(error).__name__}: {error}") from None
    options = torch._tensor_str.PRINT_OPTS  # torch's own print settings
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    scientific = options.sci_mode
    if scientific is None:
        scientific = magnitude != 0 and (magnitude > 1e8 or magnitude < 1e-4)
    style = "e" if scientific else "f"
    return f"{value:.{options.precision}{style}}"


def _format_hyperparameter(value: float | Tensor) -> str:
    """A hyperparameter as the user wrote it: ``1.0``, ``0.9``; a tensor lr by its value."""
    if isinstance(value, Tensor):
        value = value.item()
    return repr(value)


def _format_entry(value: complex) -> str:
    """One entry: a real number, or a complex one as ``(re+imj)``."""
    if isinstance(value, complex):
        sign = "-" if math.copysign(1.0, value.imag) < 0 else "+"
        return f"({format_number(value.real)}{sign}{format_number(abs(value.imag))}j)"
    return format_number(value)


def _format_tensor(tensor: Tensor, operand: bool = False) -> str:
    """A scalar as a number (in parentheses when negative and ``operand``), else its first entries."""
    if tensor.is_sparse:  # a sparse gradient (e.g. from nn.Embedding(sparse=True))
        tensor = tensor.to_dense()
    if tensor.dim() == 0:
        text = _format_entry(tensor.item())
        return f"({text})" if operand and text.startswith("-") else text
    flat = tensor.detach().reshape(-1)
    shown = [_format_entry(value) for value in flat[:SHOWN_ENTRIES].tolist()]
    more = ", ..." if flat.numel() > SHOWN_ENTRIES else ""
    return "[" + ", ".join(shown) + more + "]"


def _shape_note(tensor: Tensor, elementwise: bool = True) -> str:
    """Give a non-scalar's shape and which entries are shown; nothing for a scalar."""
    if tensor.dim() == 0:
        return ""
    notes = [f"shape {tuple(tensor.shape)}"]
    if tensor.numel() > SHOWN_ENTRIES:
        notes.append(f"first {SHOWN_ENTRIES} of {tensor.numel()} entries")
    if elementwise:
        notes.append("elementwise")
    return " (" + ", ".join(notes) + ")"


# ---------------------------------------------------------------------------
# The explanation objects
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamUpdate:
    """What one step will do to one parameter.

    Attributes:
        name: the parameter's name.
        group: index of its parameter group.
        value: its value now (a copy).
        grad: its gradient now (a copy), or ``None``: then ``step()`` skips it.
        direction: the step direction :math:`g` in ``new = value - lr x g``.
        new_value: the value ``step()`` will give it (equal to ``value`` without a grad).
        momentum_buffer: the momentum buffer after the step, or ``None`` without momentum.
        first_step: whether this step creates the momentum buffer (``b = g``).
        lines: the formatted explanation.

    >>> x = torch.tensor(2.0, requires_grad=True)
    >>> optimizer = torch.optim.SGD([x], lr=0.5)
    >>> (x ** 2).backward()
    >>> entry = explain_step(optimizer, {"x": x})["x"]
    >>> entry.new_value, entry.direction
    (tensor(0.), tensor(4.))
    """

    name: str
    group: int
    value: Tensor
    grad: Tensor | None
    direction: Tensor | None
    new_value: Tensor
    momentum_buffer: Tensor | None
    first_step: bool
    lines: tuple[str, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.lines, (tuple, list)) or not all(isinstance(line, str) for line in self.lines):
            raise TypeError(f"lines must be a tuple of str, got {type(self.lines).__name__}: {self.lines!r}")

    def __str__(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class StepExplanation:
    """The coming step of an SGD optimizer, parameter by parameter; ``str()`` reads as formulas.

    Index it by parameter name, iterate over its :class:`ParamUpdate` entries, or take
    :attr:`predicted` (name -> predicted new value).

    >>> x = torch.tensor(2.0, requires_grad=True)
    >>> optimizer = torch.optim.SGD([x], lr=0.5)
    >>> (x ** 2).backward()
    >>> explanation = explain_step(optimizer)
    >>> print(explanation)
    group0.param0: 2.0000 - 0.5 x 4.0000 = 0.0000
    >>> len(explanation), explanation.predicted
    (1, {'group0.param0': tensor(0.)})
    """

    entries: tuple[ParamUpdate, ...]

    def __str__(self) -> str:
        return "\n".join(str(entry) for entry in self.entries)

    def __iter__(self) -> Iterator[ParamUpdate]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, name: str) -> ParamUpdate:
        for entry in self.entries:
            if entry.name == name:
                return entry
        known = ", ".join(entry.name for entry in self.entries)
        raise KeyError(f"no parameter named {name!r}; the names are: {known}")

    @property
    def predicted(self) -> dict[str, Tensor]:
        """Each parameter's predicted value after the step, by name."""
        return {entry.name: entry.new_value for entry in self.entries}


# ---------------------------------------------------------------------------
# Predicting the step
# ---------------------------------------------------------------------------


def _predict_group(
    optimizer: torch.optim.Optimizer, group: Mapping[str, Any], params: list[Tensor],
    values: list[Tensor], grads: list[Tensor], buffers: list,
) -> None:
    """Run the group's step on the copies ``values``/``buffers``, in place, with the kernel
    ``step()`` picks for ``params`` (the dispatcher both use)."""
    settings = _update.Settings.of(group)
    kernel = _dispatch.kernel(group, params)
    if kernel == "fused" and not isinstance(optimizer, SGD):  # torch's own fused kernel
        torch_sgd(values, grads, buffers, fused=True, **settings._asdict())
        return
    _dispatch.step([_dispatch.Entry(values, grads, buffers, settings, kernel)])


def _direction_lines(
    value: Tensor, grad: Tensor, buffer: Tensor | None, group: Mapping[str, Any]
) -> tuple[list[str], Tensor, Tensor | None]:
    """Build the step direction with the update's own stages, writing one line per stage.

    Returns the lines, the direction and the new momentum buffer.
    """
    s = _update.Settings.of(group)
    show, arg = _format_tensor, lambda t: _format_tensor(t, operand=True)
    lines = []
    g = _update.direction(grad, s.maximize)
    if s.maximize:
        lines.append(f"g = -grad = {show(g)}  [maximize: step uphill]")
    if s.weight_decay != 0:
        new_g = _update.decay(g.clone(), value, s.weight_decay)
        wd = _format_hyperparameter(s.weight_decay)
        lines.append(
            f"g = g + {wd} x p = {show(g)} + {wd} x {arg(value)} = {show(new_g)}  [weight decay]"
        )
        g = new_g
    new_buffer = None
    if s.momentum != 0:
        mu, tau = _format_hyperparameter(s.momentum), _format_hyperparameter(s.dampening)
        old = None if buffer is None else buffer.clone()
        new_buffer = _update.advance_buffer(g, old, s.momentum, s.dampening)
        if buffer is None:
            lines.append(f"b = g = {show(new_buffer)}  [momentum, first step: the buffer starts as g]")
        else:
            damped = f"(1 - {tau}) x " if s.dampening != 0 else ""
            lines.append(
                f"b = {mu} x b + {damped}g = {mu} x {arg(buffer)} + {damped}{arg(g)}"
                f" = {show(new_buffer)}  [momentum]"
            )
        new_g = _update.look_ahead(g, new_buffer, s.momentum, s.nesterov)
        if s.nesterov:
            lines.append(
                f"g = g + {mu} x b = {show(g)} + {mu} x {arg(new_buffer)} = {show(new_g)}"
                "  [Nesterov look-ahead]"
            )
        else:
            lines.append(f"g = b = {show(new_g)}")
        g = new_g
    return lines, g, new_buffer


def _explain_param(
    name: str, group_index: int, group: Mapping[str, Any], value: Tensor,
    grad: Tensor | None, buffer: Tensor | None, new_value: Tensor, new_buffer: Tensor | None,
) -> ParamUpdate:
    """Format one parameter's update: the headline formula, then how g was built."""
    if grad is None:
        return ParamUpdate(
            name, group_index, value, None, None, value, buffer, False,
            (f"{name}: no grad, so step() leaves it at {_format_tensor(value)}"
             f"{_shape_note(value, elementwise=False)}",),
        )
    stages, direction, _ = _direction_lines(value, grad, buffer, group)
    lr = _format_hyperparameter(group["lr"])
    headline = (
        f"{name}: {_format_tensor(value)} - {lr} x {_format_tensor(direction, operand=True)}"
        f" = {_format_tensor(new_value)}{_shape_note(value)}"
    )
    lines = (headline, *(f"    {stage}" for stage in stages))
    first_step = group["momentum"] != 0 and buffer is None
    return ParamUpdate(
        name, group_index, value, grad, direction, new_value, new_buffer, first_step, lines
    )


def _explain_group(
    optimizer: torch.optim.Optimizer, group_index: int,
    tensors: tuple[list[Tensor], list[Tensor], list], names: dict[int, str],
) -> list[ParamUpdate]:
    """Predict and explain one parameter group's step (``tensors`` as gathered), on copies."""
    group = optimizer.param_groups[group_index]
    with_momentum = group["momentum"] != 0
    with_grad, gathered_grads, gathered_buffers = tensors
    with torch.no_grad():
        values = [_copy_like(param) for param in with_grad]
        grads = [_copy_like(grad) for grad in gathered_grads]
        buffers = [_clone_or_none(buffer) for buffer in gathered_buffers]
        buffers_before = [_clone_or_none(buffer) for buffer in buffers]
        _predict_group(optimizer, group, with_grad, values, grads, buffers)
        predicted = {id(param): index for index, param in enumerate(with_grad)}
        entries = []
        for param in group["params"]:
            index = predicted.get(id(param))
            if index is None:
                buffer = optimizer.state.get(param, {}).get("momentum_buffer")
                entries.append(_explain_param(
                    names[id(param)], group_index, group, param.detach().clone(), None,
                    _clone_or_none(buffer), None, None,
                ))
                continue
            entries.append(_explain_param(
                names[id(param)], group_index, group, param.detach().clone(), grads[index],
                buffers_before[index] if with_momentum else None, values[index],
                buffers[index] if with_momentum else None,
            ))
    return entries


def _clone_or_none(tensor: Tensor | None) -> Tensor | None:
    """Copy a tensor so predictions never write into the optimizer's own state."""
    return None if tensor is None else _copy_like(tensor)


def _copy_like(tensor: Tensor) -> Tensor:
    """A detached copy with the same strides, so the step takes the same path on it."""
    tensor = tensor.detach()
    if tensor.layout != torch.strided:
        return tensor.clone()
    copy = torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype, device=tensor.device)
    return copy.copy_(tensor)


def explain_step(
    optimizer: torch.optim.SGD | SGD,
    names: Mapping[str, Tensor] | torch.nn.Module | None = None,
) -> StepExplanation:
    """Explain the step ``optimizer.step()`` is about to take, one formula per parameter.

    Call it after ``backward()`` and before ``step()``. The optimizer, its parameters and its
    state are left untouched: the prediction runs the same update rule on copies.

    Args:
        optimizer: a ``torch.optim.SGD`` or :class:`sgdlab.SGD`.
        names: a mapping name -> tensor, or a module whose ``named_parameters()`` name the
            tensors; others are called ``group0.param1`` and so on.

    Returns:
        A :class:`StepExplanation`.

    The article's example (``y = 3 c e^x + 2 x + 4`` at ``x = 5``, ``c = 3``, ``lr = 1``):

    >>> x = torch.tensor(5.0, requires_grad=True)
    >>> c = torch.tensor(3.0, requires_grad=True)
    >>> y = c * 3 * torch.exp(x) + 2.0 * x + 4.0
    >>> optimizer = torch.optim.SGD([x, c], lr=1.0)
    >>> y.backward()
    >>> print(explain_step(optimizer, {"x": x, "c": c}))
    x: 5.0000 - 1.0 x 1337.7185 = -1332.7185
    c: 3.0000 - 1.0 x 445.2395 = -442.2395

    With momentum and weight decay the direction is built in stages:

    >>> optimizer = torch.optim.SGD([x], lr=0.1, momentum=0.9, weight_decay=0.01)
    >>> print(explain_step(optimizer, {"x": x}))
    x: 5.0000 - 0.1 x 1337.7686 = -128.7769
        g = g + 0.01 x p = 1337.7185 + 0.01 x 5.0000 = 1337.7686  [weight decay]
        b = g = 1337.7686  [momentum, first step: the buffer starts as g]
        g = b = 1337.7686
    """
    require_optimizer(optimizer, _SGD_KINDS)
    gathered, _ = _dispatch.gather_checked(optimizer)
    names_by_id = parameter_names(optimizer, named_tensors(names))
    entries = []
    for group_index, tensors in enumerate(gathered):
        entries.extend(_explain_group(optimizer, group_index, tensors, names_by_id))
    return StepExplanation(tuple(entries))


# ---------------------------------------------------------------------------
# describe
# ---------------------------------------------------------------------------


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-align ``rows`` in columns two spaces apart."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in rows
    ]


def _param_row(name: str, param: Tensor, state: Mapping[str, Any]) -> list[str]:
    """One table row: name, shape, dtype, device, requires_grad, has grad, state keys."""
    return [
        name,
        str(tuple(param.shape)),
        str(param.dtype).removeprefix("torch."),
        str(param.device),
        str(param.requires_grad),
        "yes" if param.grad is not None else "no",
        ", ".join(map(str, state)) or "-",
    ]


def _settings_line(group: Mapping[str, Any]) -> str:
    """A group's hyperparameters, ``key=value`` in the group's own order."""
    settings = (f"{key}={value!r}" for key, value in group.items() if key not in ("params", "param_names"))
    return ", ".join(settings)


def describe(
    optimizer: torch.optim.Optimizer, names: Mapping[str, Tensor] | torch.nn.Module | None = None
) -> str:
    """Lay out an optimizer's parameter groups: settings, then one table row per parameter.

    >>> x = torch.tensor(5.0, requires_grad=True)
    >>> w = torch.zeros(2, 3, requires_grad=True)
    >>> optimizer = torch.optim.SGD([x, w], lr=0.1)
    >>> print(describe(optimizer, {"x": x}))  # doctest: +ELLIPSIS
    SGD: 1 parameter group, 2 parameters
    group 0: lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False, ...
      name           shape   dtype    device  requires_grad  grad  state
      x              ()      float32  cpu     True           no    -
      group0.param1  (2, 3)  float32  cpu     True           no    -
    """
    require_optimizer(optimizer)
    names_by_id = parameter_names(optimizer, named_tensors(names))
    groups = optimizer.param_groups
    count = sum(len(group["params"]) for group in groups)
    groups_word = "group" if len(groups) == 1 else "groups"
    params_word = "parameter" if count == 1 else "parameters"
    lines = [f"{type(optimizer).__name__}: {len(groups)} parameter {groups_word}, {count} {params_word}"]
    header = ["name", "shape", "dtype", "device", "requires_grad", "grad", "state"]
    for index, group in enumerate(groups):
        lines.append(f"group {index}: {_settings_line(group)}")
        rows = [header] + [
            _param_row(names_by_id[id(param)], param, optimizer.state.get(param, {}))
            for param in group["params"]
        ]
        lines.extend(_table(rows))
    return "\n".join(lines)
