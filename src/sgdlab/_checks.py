"""Every argument check of sgdlab's SGD, in one place at the boundary (not public API).

The optimizer calls these from its constructor, ``add_param_group``, ``load_state_dict``
and, before anything moves, ``step()``; :func:`sgdlab.sgd` calls them on its own
arguments; :func:`sgdlab.explain_step` calls the same step check, so it refuses exactly
what ``step()`` refuses. The kernels themselves check nothing.

Order matters: torch's own constructor checks run first, verbatim, so for any input
``torch.optim.SGD`` refuses, sgdlab raises the same exception type with a message that
starts with torch's (a sentence naming the argument may follow). sgdlab then refuses a
few inputs torch accepts and only fails on later, or never: a non-finite number, a value
beyond the parameters' dtype range, a bool where a number belongs, a non-bool flag.
``fused=True`` is accepted: sgdlab's own compiled step (:mod:`sgdlab.fused`) runs it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from itertools import chain
from numbers import Integral, Real
from operator import is_
from typing import Any, NamedTuple, cast

import torch
from torch import Tensor
from torch.optim.optimizer import _default_to_fused_or_foreach

from ._settings import FLAG_KEYS, KEYS, NONE_OK_KEYS, NUMBER_KEYS, REQUIRED_KEYS, RULE_KEYS, with_defaults

_INT64 = 2**63


def _torch_checks(lr: Any, momentum: Any, weight_decay: Any, nesterov: Any, dampening: Any) -> None:
    """torch.optim.SGD's constructor checks, verbatim and in torch's order."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if momentum < 0.0:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")


def check_like_torch(
    lr: Any, momentum: Any, dampening: Any, weight_decay: Any, nesterov: Any, where: str = ""
) -> None:
    """Run torch's checks; re-raise what they raise (same type, torch's words first) with a hint.

    An error of another kind (a number whose comparison raises ``ZeroDivisionError``, say)
    becomes a ``TypeError`` naming the argument.

    >>> check_like_torch(-0.5, 0, 0, 0, False)
    Traceback (most recent call last):
    ...
    ValueError: Invalid learning rate: -0.5 (lr must be >= 0)
    """
    try:
        _torch_checks(lr, momentum, weight_decay, nesterov, dampening)
    except Exception as error:
        hint = _hint(error, lr, momentum, dampening, weight_decay, nesterov)
        kind = type(error) if isinstance(error, (TypeError, ValueError, RuntimeError)) else TypeError
        if not isinstance(error, (TypeError, ValueError)):
            # torch fails deep inside on a tensor with no comparable value: say which one
            settings = (lr, momentum, dampening, weight_decay)
            problem = next((value for value in settings if _tensor_problem(value)), None)
            if problem is not None:
                kind = TypeError if problem.is_complex() else ValueError
        raise kind(f"{error} ({where}{hint})") from None


def _hint(
    error: Exception, lr: Any, momentum: Any, dampening: Any, weight_decay: Any, nesterov: Any
) -> str:
    """The sentence sgdlab adds after torch's message: which argument, and what it needs."""
    message = str(error)
    if "Tensor lr" in message:
        return f"lr is a tensor of shape {tuple(lr.shape)}; pass one value"
    if "learning rate" in message:
        return "lr must be >= 0"
    if "momentum value" in message:
        return "momentum must be >= 0"
    if "weight_decay value" in message:
        return "weight_decay must be >= 0"
    numbers = (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay),
               ("dampening", dampening))
    for name, value in numbers:
        problem = _tensor_problem(value)
        if problem:
            return f"{name} is {problem}; pass one real value"
    if "Nesterov" in message:
        return "nesterov=True needs momentum > 0 and dampening == 0"
    for name, value in numbers:
        if not _is_number_or_tensor(value):
            return f"{name} must be a real number or a tensor, got {type(value).__name__}"
        try:
            bool(value < 0.0)
        except Exception:  # noqa: BLE001 (any failure means: this one cannot be compared)
            return f"{name} cannot be compared with 0"
    return f"nesterov must be True or False, got {type(nesterov).__name__}"


def _tensor_problem(value: object) -> str | None:
    """Why a tensor setting holds no comparable value (meta, complex, empty, several), or None."""
    if not isinstance(value, Tensor):
        return None
    if value.is_meta:
        return "a meta tensor, which holds no value"
    if value.is_complex():
        return f"a {value.dtype} tensor"
    if value.numel() != 1:
        return f"a tensor of shape {tuple(value.shape)}"
    return None


def is_number(value: object) -> bool:
    """Whether ``value`` is a plain real number: an int or float (or numpy's), not a bool.

    ``fractions.Fraction``, ``decimal.Decimal`` and other ``numbers.Real`` types are not:
    the kernels' ``alpha=`` arguments refuse them mid-step.

    >>> from fractions import Fraction
    >>> is_number(0.5), is_number(True), is_number(Fraction(1, 2))
    (True, False, False)
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return type(value).__module__ == "numpy" and isinstance(value, Real) and not isinstance(
        value, _np_bool())


def _np_bool() -> type:
    import numpy

    return numpy.bool_


def _is_number_or_tensor(value: object) -> bool:
    return is_number(value) or isinstance(value, Tensor)


def check_number(name: str, value: Any, where: str = "") -> None:
    """A real, finite, non-bool number (or a one-value real tensor where allowed), >= 0 when it must be."""
    if isinstance(value, Tensor):
        if value.numel() != 1 or (name != "lr" and value.dim() != 0):
            raise ValueError(
                f"{where}{name} as a tensor must be {'one-element' if name == 'lr' else '0-d'}, "
                f"got shape {tuple(value.shape)}"
            )
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{where}{name} must be a real tensor, got dtype {value.dtype}")
        if value.is_meta:
            raise ValueError(f"{where}{name} is a meta tensor, which holds no value")
        number = value.item()
    elif not is_number(value):
        raise TypeError(
            f"{where}{name} must be a real number, got {type(value).__name__}: {value!r} "
            "(an int, a float or a one-value tensor)"
        )
    else:
        number = value.item() if hasattr(value, "item") else value
    if isinstance(number, Integral) and not -_INT64 <= int(number) < _INT64:
        raise ValueError(f"{where}{name}={number!r} does not fit in 64 bits")
    if not math.isfinite(number):
        raise ValueError(f"{where}{name} must be finite, got {number!r}")
    if name != "dampening" and number < 0:
        raise ValueError(f"{where}{name} must be >= 0, got {number!r}")


def check_flag(name: str, value: Any, where: str = "", none_ok: bool = False) -> None:
    """A flag is True or False (or None where ``none_ok``); an int 0 or 1 passes, as in torch.

    >>> check_flag("nesterov", "yes")
    Traceback (most recent call last):
    ...
    TypeError: nesterov must be True or False, got str: 'yes'
    """
    if value is None and none_ok:
        return
    if not (isinstance(value, bool) or isinstance(value, Integral) and value in (0, 1)):
        wanted = "True, False or None" if none_ok else "True or False"
        raise TypeError(f"{where}{name} must be {wanted}, got {type(value).__name__}: {value!r}")


def check_combos(defaults: Mapping[str, Any]) -> None:
    """The checks torch's constructor (and nothing else) makes of ``fused`` with the other flags."""
    if defaults.get("fused") and defaults.get("differentiable"):
        raise RuntimeError("`fused` does not support `differentiable`")
    if defaults.get("fused") and defaults.get("foreach"):
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def check_group(group: Mapping[str, Any], where: str = "") -> None:
    """Check one parameter group's settings: torch's checks first, then sgdlab's.

    ``where`` prefixes messages, e.g. ``"param_groups[1]: "``.

    >>> check_group({"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0,
    ...              "nesterov": "yes", "maximize": False})
    Traceback (most recent call last):
    ...
    TypeError: nesterov must be True or False, got str: 'yes'
    """
    missing = [key for key in RULE_KEYS if key not in group]
    if missing:
        raise ValueError(f"{where}missing settings {missing}; an SGD group needs {list(RULE_KEYS)}")
    lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
    weight_decay, nesterov = group["weight_decay"], group["nesterov"]
    check_like_torch(lr, momentum, dampening, weight_decay, nesterov, where)
    for name in NUMBER_KEYS:
        check_number(name, group[name], where)
    group = with_defaults(group)
    for name in FLAG_KEYS:
        check_flag(name, group[name], where, none_ok=name in NONE_OK_KEYS)


def _fits(value: Any, dtype: torch.dtype) -> bool:
    """Whether ``value`` (a number or one-value tensor) converts to ``dtype`` without overflow."""
    number = value.item() if isinstance(value, Tensor) else value
    return abs(number) <= torch.finfo(dtype).max


def default_foreach(params: list[Tensor]) -> bool:
    """Say whether torch would pick the foreach path for ``params`` by default."""
    return _default_to_fused_or_foreach(params, differentiable=False, use_fused=False)[1]


def _in_use(group: Mapping[str, Any], key: str) -> bool:
    """Whether the step uses setting ``key``: dampening goes with momentum, lr always counts."""
    if key == "lr":
        return True
    return bool(group["momentum" if key == "dampening" else key] != 0)


def check_foreach_settings(group: Mapping[str, Any], params: list[Tensor], where: str = "") -> None:
    """The foreach kernels take numbers, not tensors that carry autograd history.

    Only a setting the step uses counts: as in torch, a weight decay (or momentum) that is zero
    (a tensor whose value rounded to zero included) is skipped, so it may be tracked.
    """
    tracked = [key for key in NUMBER_KEYS
               if isinstance(group[key], Tensor) and group[key].requires_grad and _in_use(group, key)]
    if not tracked:
        return
    foreach = group.get("foreach")
    if default_foreach(params) if foreach is None else foreach:
        raise ValueError(
            f"{where}{tracked[0]} is a tensor that requires grad, which the foreach kernels "
            "cannot take (torch.optim.SGD fails on it mid-step); use foreach=False"
        )


class Found(NamedTuple):
    """What :func:`check_tensors` found about a group's tensors, so a kernel need not look again.

    The defaults are what a kernel must assume when nothing was checked.
    """

    #: every parameter, gradient and buffer on one device with one dtype (no grouping needed)
    one_device_dtype: bool = False
    #: some gradient is sparse
    sparse_grads: bool = True
    #: some momentum buffer is None (a first step)
    missing_buffers: bool = True
    #: the bytes of the largest dense parameter (the kernels step large ones in blocks)
    largest_bytes: int = sys.maxsize


def check_tensors(
    params: object, grads: object, buffers: object, group: Mapping[str, Any], where: str = "",
    *, in_step: bool = False, ranged: set[torch.dtype] | None = None,
) -> Found:
    """The one rule set for a step's tensors: every entry checked before the first is written.

    :meth:`sgdlab.SGD.step` (``in_step=True``: the tensors were gathered from its groups, the
    gradients from ``.grad``) and :func:`sgdlab.sgd` (three lists from the caller) both check
    here, so a parameter the step cannot write (an integer dtype, memory shared between its
    elements, a gradient or buffer that does not fit it) fails before anything moves, not
    after the parameters before it moved. ``ranged`` holds the dtypes whose range check these
    settings passed already (``step()`` keeps it while the settings are unchanged).

    Returns what it :class:`Found`, which spares the kernels looking again.
    """
    names = _STEP_NAMES if in_step else _SGD_NAMES
    if not in_step:
        _check_lists(params, grads, buffers, group)
    params, grads, buffers = cast(list, params), cast(list, grads), cast(list, buffers)
    with_momentum, decayed = group["momentum"] != 0, group["weight_decay"] != 0
    grad_mode = torch.is_grad_enabled() and not in_step
    ranged = set() if ranged is None else ranged
    seen: set[torch.dtype] = set()
    first_device, one_device, sparse, missing, largest = None, True, False, False, 0
    strided = torch.strided
    for index, param in enumerate(params):
        grad = grads[index]
        if not in_step:
            _check_types(param, grad, index)
        dtype, device, shape = param.dtype, param.device, param.shape
        if grad.shape != shape or grad.dtype is not dtype or grad.device != device:
            _refuse_grad(param, grad, names, index, where)
        if device != first_device:
            one_device, first_device = first_device is None, device
        if dtype not in seen:
            if not (dtype.is_floating_point or dtype.is_complex):
                raise TypeError(
                    f"{where}{names[0].format(index)} has dtype {dtype}; SGD steps "
                    "floating-point or complex tensors only"
                )
            if dtype not in ranged:
                check_range(group, param, names[0].format(index), where)
                ranged.add(dtype)
            seen.add(dtype)
        # a cheap pre-test first (an expanded tensor is not contiguous); the rule says why
        if (grad.layout is not strided or param.layout is not strided
                or not param.is_contiguous() or param.is_inference()):
            _check_writable(param, grad, decayed, names, index, where, group)
            sparse = sparse or grad.is_sparse
        if param.layout is strided:
            largest = max(largest, param.nbytes)
        if grad_mode and param.requires_grad and param.is_leaf:
            raise ValueError(
                f"{names[0].format(index)} is a leaf that requires grad, which cannot change in "
                "place while grad mode is on; call sgd() under torch.no_grad()"
            )
        if with_momentum:
            buffer = buffers[index]
            if buffer is not None and not (
                type(buffer) is Tensor and buffer.shape == shape and buffer.dtype is dtype
                and buffer.device == device and buffer.layout is strided
                and buffer.is_contiguous() and not buffer.is_inference()
                and not (grad_mode and buffer.requires_grad and buffer.is_leaf)
            ):
                _check_buffer_entry(buffer, param, grad, names, index, where, grad_mode)
                one_device = False  # one the fast test did not take: let the kernel group
            elif buffer is None:
                missing = True
    return Found(one_device and len(seen) <= 1, sparse, missing, largest)


#: How messages name the ``index``-th parameter, gradient and momentum buffer.
_STEP_NAMES = ("params[{}]", "params[{}].grad", "momentum buffer of params[{}]")
_SGD_NAMES = ("params[{}]", "grads[{}]", "momentum_buffers[{}]")


def _check_lists(params: object, grads: object, buffers: object, group: Mapping[str, Any]) -> None:
    """:func:`sgdlab.sgd`'s three arguments are lists that fit together."""
    for name, value in (("params", params), ("grads", grads), ("momentum_buffers", buffers)):
        if not isinstance(value, list):
            raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    params, grads, buffers = cast(list, params), cast(list, grads), cast(list, buffers)
    if len(grads) != len(params):
        raise ValueError(f"grads has {len(grads)} entries but params has {len(params)}")
    if group["momentum"] != 0 and len(buffers) != len(params):
        raise ValueError(
            f"momentum_buffers has {len(buffers)} entries but params has "
            f"{len(params)}; pass one buffer (or None) per parameter when momentum != 0"
        )


def _check_types(param: object, grad: object, index: int) -> None:
    if not isinstance(param, Tensor):
        raise TypeError(f"params[{index}] must be a tensor, got {type(param).__name__}")
    if not isinstance(grad, Tensor):
        raise TypeError(f"grads[{index}] must be a tensor, got {type(grad).__name__}")


def _refuse_grad(param: Tensor, grad: Tensor, names: tuple, index: int, where: str) -> None:
    """Say how a gradient does not fit its parameter."""
    param_name, grad_name = (f"{where}{name.format(index)}" for name in names[:2])
    if grad.shape != param.shape:
        raise ValueError(
            f"{grad_name} has shape {tuple(grad.shape)} but {param_name} has "
            f"{tuple(param.shape)}"
        )
    raise ValueError(
        f"{grad_name} is {grad.dtype} on {grad.device} but {param_name} is "
        f"{param.dtype} on {param.device}"
    )


def _check_writable(
    param: Tensor, grad: Tensor, decayed: bool, names: tuple, index: int, where: str,
    group: Mapping[str, Any],
) -> None:
    """A parameter the step can write in place: no elements sharing memory, sparse with sparse."""
    param_name, grad_name = (f"{where}{name.format(index)}" for name in names[:2])
    _refuse_inference(param, param_name)
    if param.is_sparse and not grad.is_sparse:
        raise ValueError(f"{param_name} is sparse but {grad_name} is dense")
    if grad.is_sparse and not param.is_sparse and decayed:
        raise ValueError(
            f"{where}weight_decay={group['weight_decay']!r} needs dense gradients, but "
            f"{grad_name} is sparse; use weight_decay=0"
        )
    if _overlaps(param):
        raise ValueError(
            f"{param_name} has elements that share memory (an expanded tensor), which an "
            f"in-place step cannot write; hold a .clone() of it instead"
        )


def _refuse_inference(tensor: Tensor, name: str) -> None:
    """Refuse an inference tensor with torch's error, raised before the write rather than after.

    Outside ``torch.inference_mode()`` torch writes it in place and only then raises, so a
    step would stop with this tensor moved and the ones after it not.
    """
    if tensor.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError(
            f"{name}: Inplace update to inference tensor outside InferenceMode is not allowed."
            "You can make a clone to get a normal tensor before doing inplace update."
            "See https://github.com/pytorch/rfcs/pull/17 for more details."
        )


def _check_buffer_entry(
    buffer: object, param: Tensor, grad: Tensor, names: tuple, index: int, where: str,
    grad_mode: bool,
) -> None:
    """Say how a momentum buffer does not fit its parameter (or accept one that converts)."""
    name = f"{where}{names[2].format(index)}"
    check_buffer(buffer, param, name)
    buffer = cast(Tensor, buffer)
    _refuse_inference(buffer, name)
    if buffer.device != param.device or _overlaps(buffer) or buffer.is_sparse != grad.is_sparse:
        raise ValueError(
            f"{name} must be a {'sparse' if grad.is_sparse else 'dense'} tensor on "
            f"{param.device} whose elements do not share memory"
        )
    if grad_mode and buffer.requires_grad and buffer.is_leaf:
        raise ValueError(
            f"{name} is a leaf that requires grad, which cannot change in place while grad "
            "mode is on"
        )


def check_range(group: Mapping[str, Any], param: Tensor, name: str, where: str = "") -> None:
    """Refuse settings the parameter's dtype cannot hold (torch would fail mid-step)."""
    for key in NUMBER_KEYS:
        _check_fits(key, group[key], param, name, where)


def _check_fits(key: str, value: Any, tensor: Tensor, whose: str, where: str = "") -> None:
    """Refuse a number setting that overflows ``tensor``'s dtype as the rule uses it.

    The rule computes with ``1 - dampening``, and with every other setting as it is.
    """
    real = tensor.real.dtype if tensor.is_complex() else tensor.dtype
    used = 1 - value if key == "dampening" else value
    if real.is_floating_point and not _fits(used, real):
        raise ValueError(f"{where}{key}={value!r} overflows {real}, the dtype of {whose}")


def check_buffer(buffer: object, param: Tensor, name: str) -> None:
    """A momentum buffer is None or a tensor shaped like its parameter, of a kind it converts to."""
    if buffer is None:
        return
    if type(buffer) is Tensor and buffer.shape == param.shape and buffer.dtype == param.dtype:
        return  # the usual case, checked fast
    if not isinstance(buffer, Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(buffer).__name__}")
    if buffer.shape != param.shape:
        raise ValueError(
            f"{name} has shape {tuple(buffer.shape)} but the parameter "
            f"has {tuple(param.shape)}"
        )
    if buffer.is_complex() != param.is_complex() or not (
        buffer.is_floating_point() or buffer.is_complex()
    ):
        raise ValueError(
            f"{name} has dtype {buffer.dtype}, which does not fit a "
            f"{param.dtype} parameter"
        )


_PLAIN = frozenset((bool, int, float, str, type(None)))


class _Passed(NamedTuple):
    """Settings that passed :func:`check_group`, kept while they stay the same objects."""

    values: tuple
    #: the dtypes whose range these settings passed
    ranged: set


def _passed_before(group: Mapping[str, Any], kept: _Passed | None) -> tuple[tuple, bool]:
    """The group's setting values, and whether they are the very objects that passed before.

    Only plain immutable values are kept (see :func:`check_settings`), so the same objects are
    the same settings; a float or flag set since, even to an equal value, is a new object.
    """
    values = tuple(map(group.get, KEYS))
    return values, kept is not None and all(map(is_, values, kept.values))


def group_prefix(index: int, groups: int) -> str:
    """How a message names the group it is about: not at all when there is one group.

    >>> group_prefix(1, 2), group_prefix(0, 1)
    ('param_groups[1]: ', '')
    """
    return f"param_groups[{index}]: " if groups > 1 else ""


class Checked(NamedTuple):
    """What :func:`check_settings` leaves for :func:`check_groups`, for one group."""

    #: the dtypes whose range these settings passed
    ranged: set
    #: every setting a plain immutable value (no tensor that could carry autograd history)
    plain: bool


def check_settings(optimizer: torch.optim.Optimizer, passed: dict | None = None) -> list[Checked]:
    """Check every group's settings, before anything reads the group's tensors or state.

    ``passed`` (group index -> :class:`_Passed`) remembers settings that passed and are
    still the same objects, which need no second check: checking a group's settings costs
    several microseconds, a fixed cost that dominates the step of a small model. Settings
    that are tensors or arrays (which can change in place) are checked at every step.
    """
    groups = optimizer.param_groups
    checked = []
    for index, group in enumerate(groups):
        kept = passed.get(index) if passed is not None else None
        values, same = _passed_before(group, kept)
        if same:
            checked.append(Checked(kept.ranged, True))
            continue
        check_group(group, group_prefix(index, len(groups)))
        is_plain = _PLAIN.issuperset(map(type, values))
        entry = _Passed(values, set())
        if passed is not None:
            if is_plain:
                passed[index] = entry
            else:
                passed.pop(index, None)
        checked.append(Checked(entry.ranged, is_plain))
    return checked


def check_groups(
    optimizer: torch.optim.Optimizer, gathered: list[tuple[list, list, list]],
    checked: list[Checked], passed: dict | None = None,
) -> list[Found]:
    """Check every group's gathered ``(params, grads, buffers)``, settings checked already.

    Returns, per group, what :func:`check_tensors` found. With ``passed`` (the store
    :func:`check_settings` keeps), a step whose tensors carry the very metadata of the last
    step that passed, under the same settings, is let through on one comparison made in C++
    (:class:`_Witness`); anything else is checked tensor by tensor, and names what fails.
    """
    # dynamo cannot trace TensorGuards; it guards a compiled step on the metadata itself
    witnessed = passed is not None and not torch.compiler.is_compiling()
    witness = passed.get(_WITNESS) if witnessed else None
    if witness is not None and _outside_dynamo(_Witness.admits)(witness, gathered, checked):
        return witness.found
    groups = optimizer.param_groups
    found = []
    for index, (group, (params, grads, buffers), settings) in enumerate(
            zip(groups, gathered, checked)):
        where = group_prefix(index, len(groups))
        if not settings.plain:  # only a tensor setting can carry autograd history
            check_foreach_settings(group, params, where)
        found.append(check_tensors(params, grads, buffers, group, where, in_step=True,
                                   ranged=settings.ranged))
    if witnessed:
        passed[_WITNESS] = _outside_dynamo(_Witness.of)(gathered, checked, found)
    return found


_UNTRACED: dict = {}


def _outside_dynamo(function: Callable) -> Callable:
    """``function``, kept out of what dynamo traces once dynamo is loaded (sgdlab never loads it).

    A step that dynamo compiles can run some of its frames in Python, and dynamo then tries
    to compile each function they call as a frame of its own: it cannot trace the witness's
    C++ calls, and warns. Wrapped in ``torch.compiler.disable``, they run as they are.
    """
    if "torch._dynamo" not in sys.modules:
        return function
    kept = _UNTRACED.get(function)
    if kept is None:
        kept = _UNTRACED[function] = torch.compiler.disable(function)
    return kept


#: The key of the :class:`_Witness` in the store of :func:`check_settings`.
_WITNESS = "tensors"


def _dispatch_state() -> tuple:
    """This thread's dispatch keys included and excluded, which a tensor's keys are read against."""
    return (torch._C._dispatch_tls_local_include_set(),
            torch._C._dispatch_tls_local_exclude_set())


class _Witness(NamedTuple):
    """The metadata of a step's tensors that passed :func:`check_tensors`, and what it found.

    Every rule of :func:`check_tensors` in a step reads only a tensor's metadata: its Python
    type, dispatch keys (layout, inference tensors), dtype, device, sizes and strides (so
    contiguity and overlap). dynamo's ``TensorGuards`` records these for each tensor, and
    ``requires_grad`` too (which the rules do not need: a change of it costs a full check),
    and compares them in C++, about 70 ns a tensor where the rules take about 1.2 µs in
    Python. A later step whose tensors all compare equal, position by position, in groups
    of the same lengths under the same settings (the very range sets that passed) and the
    same dispatch state, would pass again and find the same; anything else (a ``.data``
    rebound to another shape, a buffer replaced by one of another dtype, a group added, a
    None) is checked in full. A step with a missing buffer keeps no witness (TensorGuards
    takes tensors only), nor one with a tensor setting (checked again at every step).
    """

    guards: Any
    lengths: tuple
    ranged: tuple
    dispatch: tuple
    found: list

    @classmethod
    def of(cls, gathered: list, checked: list[Checked], found: list[Found]) -> _Witness | None:
        """The witness of tensors that passed, or None where none can be kept."""
        if (_TensorGuards is None or any(entry.missing_buffers for entry in found)
                or not all(entry.plain for entry in checked)):  # checked at every step
            return None
        guards = _TensorGuards(*_flat(gathered), dynamic_dims_sizes=None,
                               dynamic_dims_strides=None)
        return cls(guards, _lengths(gathered), tuple(entry.ranged for entry in checked),
                   _dispatch_state(), found)

    def admits(self, gathered: list, checked: list[Checked]) -> bool:
        """Whether ``gathered`` would pass as the tensors this witnessed did, and find the same."""
        return (_lengths(gathered) == self.lengths
                and all(map(is_, (entry.ranged for entry in checked), self.ranged))
                and _dispatch_state() == self.dispatch
                and self.guards.check(*_flat(gathered)))


def _flat(gathered: list) -> list:
    """Every tensor of the gathered groups in one list: params, grads, buffers, group by group."""
    return list(chain.from_iterable(chain.from_iterable(gathered)))


def _lengths(gathered: list) -> tuple:
    return tuple((len(params), len(buffers)) for params, _, buffers in gathered)


try:  # dynamo's C++ metadata guard; without it every step is checked in Python
    from torch._C._dynamo.guards import TensorGuards as _TensorGuards
except ImportError:  # pragma: no cover - torch builds without dynamo
    _TensorGuards = None


def check_state_dict(optimizer: torch.optim.Optimizer, state_dict: object) -> None:
    """Check ``state_dict`` is an SGD state dict that fits ``optimizer``, before loading any of it."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"state_dict must be a dict with 'state' and 'param_groups', got "
            f"{type(state_dict).__name__}"
        )
    missing = {"state", "param_groups"} - set(state_dict)
    if missing:
        raise ValueError(f"state_dict lacks {sorted(missing)}; it is not an optimizer state dict")
    groups, state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(groups, (list, tuple)) or not isinstance(state, Mapping):
        raise TypeError("state_dict['param_groups'] must be a list and state_dict['state'] a dict")
    if len(groups) != len(optimizer.param_groups):
        raise ValueError(
            "loaded state dict has a different number of parameter groups "
            f"({len(groups)} saved, {len(optimizer.param_groups)} here)"
        )
    params = {}
    for index, (saved, group) in enumerate(zip(groups, optimizer.param_groups)):
        where = f"state_dict param_groups[{index}]: "
        if not isinstance(saved, Mapping):
            raise TypeError(f"{where}must be a dict, got {type(saved).__name__}")
        absent = [key for key in REQUIRED_KEYS if key not in saved]
        if absent:
            raise ValueError(f"{where}lacks {absent}; it is not an SGD state dict")
        if len(saved["params"]) != len(group["params"]):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                f"optimizer's group ({where}{len(saved['params'])} saved, "
                f"{len(group['params'])} here)"
            )
        check_group(with_defaults(saved), where)
        params.update(zip(saved["params"], group["params"]))
    for key, entry in state.items():
        if key not in params:
            raise ValueError(f"state_dict state has an entry {key!r} that names no parameter")
        if not isinstance(entry, Mapping):
            raise TypeError(f"state_dict state[{key!r}] must be a dict, got {type(entry).__name__}")
        check_buffer(entry.get("momentum_buffer"), params[key],
                     f"state_dict state[{key!r}]['momentum_buffer']")


def check_stage_tensors(
    *, none_ok: tuple[str, ...] = (), written: tuple[str, ...] = (), **tensors: object
) -> None:
    """The tensors of one stage of the rule fit together: the same shape, dtype and device.

    Each must be a floating-point or complex tensor (None where ``none_ok`` names it); those
    ``written`` names are changed in place, so their elements must not share memory, nor may
    they be leaves that require grad while grad mode is on.

    >>> check_stage_tensors(g=torch.zeros(2), param=torch.zeros(3))
    Traceback (most recent call last):
    ...
    ValueError: param has shape (3,) but g has shape (2,); a stage takes tensors of one shape
    """
    first_name, first = None, None
    for name, value in tensors.items():
        if value is None and name in none_ok:
            continue
        if not isinstance(value, Tensor):
            wanted = "a tensor or None" if name in none_ok else "a tensor"
            raise TypeError(f"{name} must be {wanted}, got {type(value).__name__}")
        if not (value.is_floating_point() or value.is_complex()):
            raise TypeError(f"{name} has dtype {value.dtype}; SGD steps floating-point or complex tensors only")
        if first is None:
            first_name, first = name, value
        elif value.shape != first.shape:
            raise ValueError(f"{name} has shape {tuple(value.shape)} but {first_name} has shape "
                             f"{tuple(first.shape)}; a stage takes tensors of one shape")
        elif (value.dtype, value.device) != (first.dtype, first.device):
            raise ValueError(f"{name} is {value.dtype} on {value.device} but {first_name} is "
                             f"{first.dtype} on {first.device}")
        if name in written:
            if _overlaps(value):
                raise ValueError(f"{name} has elements that share memory (an expanded tensor), "
                                 "which an in-place stage cannot write; pass a .clone()")
            if torch.is_grad_enabled() and value.requires_grad and value.is_leaf:
                raise ValueError(f"{name} is a leaf that requires grad, which cannot change in "
                                 "place while grad mode is on; call it under torch.no_grad()")


def check_stage_number(name: str, value: Any, like: Tensor) -> None:
    """A stage's number setting: real, finite, >= 0 (dampening aside), and within the range of
    ``like``'s dtype as the rule uses it.

    >>> check_stage_number("lr", 1e39, torch.zeros(1))
    Traceback (most recent call last):
    ...
    ValueError: lr=1e+39 overflows torch.float32, the dtype of the tensors
    """
    check_number(name, value)
    _check_fits(name, value, like, "the tensors")


def _overlaps(tensor: Tensor) -> bool:
    """Whether two elements of a dense ``tensor`` share memory (an ``expand``), so an in-place write fails."""
    return tensor.layout is torch.strided and any(
        stride == 0 and size > 1 for stride, size in zip(tensor.stride(), tensor.shape)
    )
