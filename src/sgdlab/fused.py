"""sgdlab's fused step: its own update rule compiled by ``torch.compile`` into one pass.

``sgdlab.SGD(..., fused=True)`` steps through :func:`~sgdlab.fused_step`. It does not call
PyTorch's hand-written fused kernel: it hands the rule of :mod:`sgdlab.update`, written for
one tensor, to ``torch.compile``, whose compiler (inductor) generates one loop that reads
the parameter, its gradient and its momentum buffer once and writes the parameter and the
buffer once. The rule stays the single source; the kernel is generated from it.

Four things to know:

- It compiles a bounded number of graphs: one per device, dtype, kind of tensor (with or
  without a momentum buffer, one value or more) and chunk length (1, 4 or 16 tensors). A
  group's tensors are stepped in chunks of that many (a tensor alone, the only one of its
  kind in its group, in a call of its own), each tensor over its own memory with its own
  symbolic size, a short chunk padded with scratch tensors; so no list of shapes compiles
  anything new, and nothing is copied. The settings reach the compiled loop as
  integer arguments (their float64 bits), held in registers, so a new learning rate,
  momentum, weight decay or flag compiles nothing. Each compilation takes seconds (tens on
  two CPU cores: the performance page has the time measured) and says so with a
  :class:`FusedCompileWarning`; inductor keeps the generated code in its on-disk cache, so
  the next process loads it instead. A step calls the generated code directly: dynamo's
  checks of every call (tens of microseconds) are made by the step's own, cheaper ones.
- Whatever the compiler cannot serve runs the for-loop rule instead, after one
  :class:`FusedFallbackWarning`: a step never fails in the middle of training because of
  the compiler. Tensors whose memory is not one dense block (a slice with gaps), or holds
  the negation of their values (a negative view), run the for-loop rule too, without a
  warning; so does a step that creates momentum buffers, and a step under a dispatch mode
  (a ``TorchDispatchMode``, which then sees the for-loop's operations).
- Everything is checked before anything is written: every group's settings, every tensor's
  device and dtype (floating point only, as torch's fused step requires, with torch's
  message), and the compilations the step needs are made (on small stand-in tensors)
  before the first parameter moves. A refused step changes nothing.
- Each ``a + c * b`` of the rule is rounded as PyTorch's kernels round
  ``a.add(b, alpha=c)`` on this machine: once (a fused multiply-add) with the AVX2 and
  AVX-512 kernels and on CUDA, twice with the portable ``default`` kernels. For float32
  and float64 the results are the for-loop's bit for bit on the CPU; float16 and
  bfloat16 keep the intermediate values in float32 where the for-loop rounds each one,
  so they may differ by a rounding. The performance page shows the differences measured
  over every combination of settings.

Like torch's fused step, it takes the ``grad_scale`` and ``found_inf`` tensors of automatic
mixed precision's ``GradScaler``: with ``found_inf`` nonzero nothing moves (not even the
momentum buffers, which torch's fused step leaves uninitialised on a first step); otherwise
the gradients are divided by ``grad_scale`` in place, then stepped.

The step needs a working compiler: a C++ compiler and Python's headers on the CPU, Triton
on CUDA. :func:`~sgdlab.compiler_problem` says what is missing, and
:func:`~sgdlab.fused_step` refuses to start without it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import shutil
import struct
import sysconfig
import types
import warnings
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from . import _checks, update
from ._settings import RULE_KEYS, Settings, with_defaults

__all__ = ["FusedCompileWarning", "FusedFallbackWarning", "compiler_problem", "fused_step"]


class FusedCompileWarning(UserWarning):
    """Issued when the fused step compiles: the first step of a new kind of tensor.

    A warning, so that it shows once per place in the code and can be silenced as usual,
    with ``warnings.simplefilter("ignore", FusedCompileWarning)``:

    >>> issubclass(FusedCompileWarning, UserWarning)
    True
    """


class FusedFallbackWarning(FusedCompileWarning):
    """Issued once per kind of tensor when the compiler cannot serve it: the for-loop steps it.

    A kind of :class:`FusedCompileWarning`, so that silencing that silences this too:

    >>> issubclass(FusedFallbackWarning, FusedCompileWarning)
    True
    """


def _cpu_compiler_problem() -> str | None:
    """What the CPU backend of ``torch.compile`` lacks on this machine, or None."""
    missing = []
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        compiler = get_cpp_compiler()
    except Exception as error:  # inductor raises several kinds when no compiler is found
        compiler, reason = None, str(error).splitlines()[0] if str(error) else type(error).__name__
    else:
        reason = f"{compiler!r} is not on PATH"
    if compiler is None or shutil.which(compiler) is None:
        missing.append(f"a C++ compiler (g++ or clang++; set CXX to choose one): {reason}")
    include = sysconfig.get_paths().get("include", "")
    if not (Path(include) / "Python.h").exists():
        missing.append(f"Python's C headers (Python.h, not found in {include}; "
                       "on Debian or Ubuntu: apt install python3-dev)")
    return "; ".join(missing) or None


def compiler_problem(device: str | torch.device = "cpu") -> str | None:
    """Say what ``torch.compile`` lacks to build the fused step on ``device``; None when nothing.

    On the CPU it needs a C++ compiler and Python's C headers; on CUDA it needs a torch
    built with CUDA, a GPU, and Triton.

    >>> compiler_problem("cpu") is None  # this machine has g++ and Python.h
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        if torch.version.cuda is None:
            return f"a CUDA build of torch (torch {torch.__version__} was built without CUDA)"
        if not torch.cuda.is_available():
            return "a CUDA GPU (torch.cuda.is_available() is False)"
        from torch.utils._triton import has_triton

        return None if has_triton() else "Triton (pip install triton), which torch.compile uses on CUDA"
    if device.type == "cpu":
        return _cpu_compiler_problem()
    return f"a torch.compile backend for {device.type} devices"


# ---------------------------------------------------------------------------
# The rule for a chunk of tensors, as the compiler sees it
# ---------------------------------------------------------------------------


def _setting(code: int, dtype: torch.dtype) -> Tensor:
    """The setting that :func:`_code` encoded, as a 0-d tensor of ``dtype``, inside the graph.

    The code reaches the compiled kernel as an integer argument, so the C++ loop reads the
    setting from a register (a loop invariant), never from memory on each iteration, and a
    new value compiles nothing.
    """
    return (torch.scalar_tensor(code, dtype=torch.int64) - _CODE_OFFSET).view(torch.float64).to(dtype)


#: Added to a setting's bits so that no code is 0 or 1, the integers dynamo specialises.
_CODE_OFFSET = 2


def _code(value: float) -> int:
    """A Python float as the integer the compiled rule takes: its float64 bits, offset.

    >>> _code(0.0), _code(1.0) == 0x3FF0000000000000 + _CODE_OFFSET
    (2, True)
    """
    if value != value:  # one NaN for all: no bit pattern near the integers' ends
        value = math.nan
    return struct.unpack("<q", struct.pack("<d", value))[0] + _CODE_OFFSET


def _rule(
    params: list[Tensor], grads: list[Tensor], buffers: list[Tensor] | None,
    lr: int, momentum: int, undamped: int, weight_decay: int,
    maximize: int, decay: int, nesterov: int, once: bool,
) -> None:
    """sgdlab's rule for a list of flat tensors, every setting a :func:`_code`: the function compiled.

    ``undamped`` is ``1 - dampening``; ``maximize``, ``decay`` (weight decay on) and
    ``nesterov`` are 1.0 or 0.0. Each branch of the rule is a ``torch.where`` on a flag, so
    one compiled graph serves every setting. The stages are those of :mod:`sgdlab.update`.
    With ``once``, each ``a + c * b`` is one fused multiply-add, rounded once, as PyTorch's
    vectorized kernels compute ``a.add(b, alpha=c)``; without, the product is rounded first,
    as its portable ``default`` kernels do. Each number is first rounded to the type those
    kernels compute in.
    """
    from torch._inductor.inductor_prims import fma

    dtype = params[0].dtype
    number = dtype if dtype == torch.float64 else torch.float32
    lr, momentum, undamped, weight_decay = (
        _setting(code, number) for code in (lr, momentum, undamped, weight_decay))
    maximize, decay, nesterov = (_setting(code, number) != 0 for code in (maximize, decay, nesterov))

    def add(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
        return fma(b, c, a).to(dtype) if once else a + b * c

    for index, (param, grad) in enumerate(zip(params, grads)):
        g = torch.where(maximize, -grad, grad)  # stage 1: direction
        g = torch.where(decay, add(g, param, weight_decay), g)  # stage 2: coupled weight decay
        if buffers is not None:  # stage 3: momentum, then Nesterov's look-ahead
            buffer = buffers[index]
            advanced = add((buffer * momentum).to(dtype), g, undamped)
            buffer.copy_(advanced)
            g = torch.where(nesterov, add(g, advanced, momentum), advanced)
        param.copy_(add(param, g, -lr))  # stage 4: move


#: The chunk lengths a compiled graph takes: a tensor alone, or a list of tensors, whose
#: last chunk is padded with scratch tensors.
CHUNKS = (1, 4, 16)


@functools.cache
def _compiled(kind: tuple):
    """The compiled rule for one kind of chunk, made on first use.

    Each kind gets its own copy of :func:`_rule`'s code, so dynamo keeps one graph per
    copy: it never searches, or recompiles, a shared list. Made lazily: ``torch.compile``
    imports dynamo, which would add about a second to ``import sgdlab`` for everyone who
    never steps fused. The backend is inductor's, as with ``torch.compile``'s default;
    it also keeps what it compiled for :func:`_direct_call`.
    """
    name = "_rule_" + "_".join(str(part).replace(".", "_").replace(":", "_") for part in kind)
    code = _rule.__code__.replace(co_name=name)
    return torch.compile(types.FunctionType(code, _rule.__globals__, name), fullgraph=True,
                         backend=functools.partial(_inductor_keeping, kind))


#: The rule's arguments as its compiled graph takes them: the tensor lists, then the codes
#: (``once`` is a constant of the graph, not an input).
_ARGUMENTS = tuple(inspect.signature(_rule).parameters)
_LISTS, _CODE_NAMES = _ARGUMENTS[:3], _ARGUMENTS[3:-1]


class _Direct(NamedTuple):
    """A graph inductor compiled for one kind, callable without dynamo (:func:`_direct_call`)."""

    #: the compiled graph in AOT autograd's wrappers (which count the writes in the
    #: version counters): called with the graph's inputs, as dynamo calls it
    wrapped: Any
    #: the code inductor generated inside them (:func:`_generated`), or None: called with
    #: the list of the graph's inputs, after the caller has counted the writes
    generated: Any
    #: per input of the graph: (which of params, grads, buffers or codes, index, its size?)
    inputs: tuple[tuple[int, int, bool], ...]
    #: the dispatch keys every tensor must have (a plain dense tensor of the kind's device)
    keys: Any


#: Per kind, the last graph dynamo compiled for it with no function mode active, ready for
#: :func:`_direct_call`.
_directs: dict[tuple, _Direct] = {}

#: The kinds being compiled now with no function mode active (see :func:`_through_dynamo`).
_plain: set[tuple] = set()


def _through_dynamo(kind: tuple, *args) -> None:
    """Call the compiled rule for ``kind`` through dynamo, keeping what it compiles meanwhile
    for direct calls only if no function mode is active.

    Dynamo traces through a function mode (a ``TorchFunctionMode``), so a graph traced
    under one may hold what the mode did; a direct call, made outside any mode, must not
    run it. The backend cannot tell: dynamo sets the modes aside while it compiles.
    """
    plain = not torch._C._is_torch_function_mode_enabled()
    if plain:
        _plain.add(kind)
    try:
        _compiled(kind)(*args)
    finally:
        _plain.discard(kind)


def _inductor_keeping(kind: tuple, graph: torch.fx.GraphModule, example_inputs: list) -> Any:
    """``torch.compile``'s backend: inductor's, keeping the result and where each input comes from.

    Dynamo names the source of every input of the graph it traced: a tensor of one of the
    three lists, a tensor's size, or a setting's code. When all of them are among these, the
    compiled graph can be called with the step's own tensors, without dynamo's frame
    evaluation and guards (:func:`_direct_call`); else only through dynamo. Kept only from
    a compilation made with no function mode active (:func:`_through_dynamo`).
    """
    from torch._inductor.compile_fx import compile_fx

    inputs = _graph_inputs(graph)
    compiled = compile_fx(graph, example_inputs)
    if kind not in _plain:  # traced under a function mode: not for direct calls
        return compiled
    _directs.pop(kind, None)
    if inputs is not None and len(inputs) == len(example_inputs):
        keys = torch._C._dispatch_keys(torch.empty(2, dtype=kind[1], device=kind[0]))
        written = {place for place, (which, _, size) in enumerate(inputs) if which in (0, 2) and not size}
        generated = _generated(compiled, written) if kind[0].type == "cpu" else None
        _directs[kind] = _Direct(compiled, generated, inputs, keys)
    return compiled


def _generated(compiled: Any, written: set[int]) -> Any:
    """The code inductor generated for a graph, inside the wrappers of ``compile_fx``'s result.

    AOT autograd's wrappers around it, for a graph like the rule's (no gradient, no output,
    every write made in the graph), count the writes in the inputs' version counters, turn
    grad mode off, and pass the inputs on as a list. Calling the generated code directly
    spares their time (the caller counts the writes and runs under ``no_grad``); measured
    over 1e7 values on one thread, the step then also took 2-3% less. None, to call
    ``compiled`` itself, unless the generated code writes exactly the ``written`` inputs
    (the parameters and buffers), so that nothing is left for the wrappers to write back.
    Used on the CPU, where it was measured; elsewhere the wrappers stay.
    """
    inner = compiled
    for _ in range(16):  # the wrappers say what they wrap; a bounded walk
        generated = getattr(inner, "current_callable", None)
        if generated is not None:
            mutated = getattr(inner, "mutated_input_idxs", None)
            boxed = getattr(inner, "_boxed_call", False)
            return generated if boxed and mutated is not None and set(mutated) == written else None
        inner = getattr(inner, "__wrapped__", None)
        if inner is None:
            return None
    return None


def _graph_inputs(graph: torch.fx.GraphModule) -> tuple[tuple[int, int, bool], ...] | None:
    """Where each input of dynamo's ``graph`` comes from, as :attr:`_Direct.inputs`; None if unknown."""
    from torch._dynamo.source import GetItemSource, LocalSource, TensorProperty, TensorPropertySource

    inputs = []
    for node in graph.graph.find_nodes(op="placeholder"):
        source = getattr(node.meta.get("grapharg"), "source", None)
        size = (isinstance(source, TensorPropertySource) and source.prop is TensorProperty.SIZE
                and source.idx == 0)
        if size:
            source = source.base
        if (isinstance(source, GetItemSource) and isinstance(source.base, LocalSource)
                and source.base.local_name in _LISTS and type(source.index) is int
                and not source.index_is_slice):
            inputs.append((_LISTS.index(source.base.local_name), source.index, size))
        elif not size and isinstance(source, LocalSource) and source.local_name in _CODE_NAMES:
            inputs.append((len(_LISTS), _CODE_NAMES.index(source.local_name), False))
        else:
            return None
    return tuple(inputs)


#: Inductor's settings for the C++ code: no contraction of ``a + b * c`` into a fused
#: multiply-add, whatever the environment says (the rule chooses where to round once).
_LOOPS = {"cpp.enable_floating_point_contract_flag": "off"}


class _dynamic:
    """The settings a compilation runs under: every size symbolic, each its own symbol.

    ``dynamic=True``'s settings, without duck sizing (which would give two tensors of one
    size the same symbol, and a new graph for each pattern of equal sizes). Entered to
    compile only: a graph compiled under them serves calls made outside them too.
    """

    def __enter__(self):
        import torch._dynamo
        import torch._inductor.config as inductor_config
        import torch.fx.experimental._config as shape_config

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(torch._dynamo.config.patch(
            assume_static_by_default=False, automatic_dynamic_shapes=False))
        self._stack.enter_context(shape_config.patch(use_duck_shape=False))
        self._stack.enter_context(inductor_config.patch(_LOOPS))
        return self

    def __exit__(self, *exc_info):
        return self._stack.__exit__(*exc_info)


#: The kinds compiled so far (True) or that the compiler could not serve (False).
_kinds: dict[tuple, bool] = {}


def _rounds_once(device: torch.device) -> bool:
    """Whether PyTorch's kernels on ``device`` compute ``a.add(b, alpha=c)`` with one rounding.

    CUDA's do; on the CPU, the AVX2 and AVX-512 kernels do and the portable ``default``
    ones do not.
    """
    return device.type != "cpu" or torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def _dense(tensor: Tensor) -> bool:
    """Whether ``tensor``'s values fill one block of memory, each once (any order of dims)."""
    if tensor.is_contiguous():
        return True
    expected = 1
    for size, stride in sorted(zip(tensor.shape, tensor.stride()), key=lambda pair: pair[1]):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def _compilable(param: Tensor, grad: Tensor, buffer: Tensor | None) -> bool:
    """Whether the compiled rule can step this tensor: dense, laid out alike, with values, and
    holding its values as they read (not a negative view, whose memory holds their
    negation: the compiled code would read and write the memory as it is)."""
    if param.numel() == 0 or grad.is_sparse:
        return False
    if param.is_neg() or grad.is_neg() or (buffer is not None and buffer.is_neg()):
        return False
    if param.is_contiguous() and grad.is_contiguous() and (buffer is None or buffer.is_contiguous()):
        return True
    if not _dense(param):
        return False
    stride = param.stride()
    return grad.stride() == stride and (buffer is None or buffer.stride() == stride)


def _flat(tensor: Tensor) -> Tensor:
    """A one-dimensional tensor over the same memory, not a view (so dynamo sees no base).

    ``detach`` shares the memory and the version counter; ``resize_`` to the same number of
    values keeps the memory and makes the tensor flat (a write, as far as the version
    counter knows: for the tensors the rule writes). A dense tensor's values start at its
    storage offset, whatever the order of its dimensions. Kept from step to step (see
    :func:`_kept`).
    """
    flat = _kept(tensor, _FLATS)
    return _keep(tensor, tensor.detach().resize_(tensor.numel()), _FLATS) if flat is None else flat


def _flat_read(tensor: Tensor) -> Tensor:
    """:func:`_flat` for a gradient, which the rule only reads: its version stays as it was.

    Not kept: a training loop's ``zero_grad()`` frees the gradients, and the next backward
    pass makes new ones. A gradient that is flat already, and neither a view nor recorded
    by autograd, is its own flat tensor.
    """
    if tensor.dim() == 1 and tensor._base is None and not tensor.requires_grad and tensor.is_contiguous():
        return tensor
    return tensor.as_strided((tensor.numel(),), (1,)).detach()


#: Flat tensors made for the parameters and buffers stepped, by ``id``: a tensor and its flat one.
_FLATS: dict[int, tuple[weakref.ref, Tensor]] = {}


def _kept(tensor: Tensor, kept: dict) -> Tensor | None:
    """The flat tensor made for ``tensor`` at an earlier step, if it still covers its memory.

    Parameters and momentum buffers are the same tensors from step to step; looking their
    flat tensors up costs less than making them again. The
    flat tensor holds the memory it covers, so no other tensor can start at that address
    while it is kept: the same address is the same memory.
    """
    entry = kept.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        flat = entry[1]
        if flat.data_ptr() == tensor.data_ptr() and flat.numel() == tensor.numel():
            return flat
    return None


def _keep(tensor: Tensor, flat: Tensor, kept: dict) -> Tensor:
    """Keep ``flat`` for ``tensor`` until ``tensor`` is freed; return it."""
    key = id(tensor)
    kept[key] = (weakref.ref(tensor, lambda _, key=key: kept.pop(key, None)), flat)
    return flat


@functools.cache
def _scratch(device: torch.device, dtype: torch.dtype, single: bool) -> tuple[list[Tensor], ...]:
    """Parameters, gradients and buffers that pad a chunk to its compiled length.

    Each its own memory (dynamo compiles apart the calls whose tensors share memory), with
    one value for chunks of one-value tensors (whose size dynamo specialises) and two else.
    The rule steps them like any other; nothing reads them.
    """
    size = 1 if single else 2
    return tuple([torch.zeros(size, dtype=dtype, device=device) for _ in range(max(CHUNKS))]
                 for _ in range(3))


# ---------------------------------------------------------------------------
# Checks, all before any write
# ---------------------------------------------------------------------------


def check_tensors(params: Iterable[Tensor], grads: Iterable[Tensor], where: str = "") -> None:
    """Refuse what torch's fused step refuses, with torch's messages, for every tensor.

    Torch checks the first parameter only; sgdlab checks them all, before anything moves.

    >>> check_tensors([torch.zeros(2, dtype=torch.int64)], [torch.zeros(2)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: `fused=True` requires all the params to be floating point Tensors of supported devices: [...] but torch.int64 and cpu
    """
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    supported = _get_fused_kernels_supported_devices()
    for param in params:
        if not (param.device.type in supported and torch.is_floating_point(param)):
            raise RuntimeError(
                f"{where}`fused=True` requires all the params to be floating point Tensors of "
                f"supported devices: {supported} but {param.dtype} and {param.device.type}"
            )
    if any(grad.is_sparse for grad in grads):
        raise RuntimeError(f"{where}`_fused_sgd` does not support sparse gradients")


def check_scaler(grad_scale: object, found_inf: object) -> None:
    """``grad_scale`` and ``found_inf`` are None or one-value floating-point tensors."""
    for name, value in (("grad_scale", grad_scale), ("found_inf", found_inf)):
        if value is None:
            continue
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be None or a tensor, got {type(value).__name__}")
        if value.numel() != 1 or value.is_meta or not value.is_floating_point():
            raise ValueError(
                f"{name} must be a one-value floating-point tensor with a value, got "
                f"{value.dtype} of shape {tuple(value.shape)} on {value.device}"
            )


# ---------------------------------------------------------------------------
# Stepping
# ---------------------------------------------------------------------------


def fused_step(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    *,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    **settings: Any,
) -> None:
    """Apply one SGD step with sgdlab's rule compiled into one pass per tensor.

    Same arguments and in-place updates as :func:`sgdlab.sgd` with ``foreach=False``,
    whose rule it compiles, plus torch's fused step's ``grad_scale`` and ``found_inf``. A
    step that creates momentum buffers (the first) runs the rule as it is.

    >>> x = torch.tensor([5.0])
    >>> fused_step([x], [torch.tensor([2.0])], [None], lr=0.5, momentum=0.9)
    >>> x  # a first step: the buffer is created, nothing is compiled
    tensor([4.])
    """
    step_groups([(params, grads, momentum_buffers, settings)], grad_scale=grad_scale,
                found_inf=found_inf)


def _complete(settings: object, where: str) -> dict:
    """Every setting the rule takes, with its default where absent."""
    if not isinstance(settings, dict):
        raise TypeError(f"{where}settings must be a dict, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(RULE_KEYS), key=str)
    if unknown:
        raise TypeError(f"{where}unknown settings {unknown}; the rule takes {list(RULE_KEYS)}")
    return {**Settings._field_defaults, **settings}


def step_groups(
    groups: Iterable[tuple[list[Tensor], list[Tensor], list[Tensor | None], dict]],
    *,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
) -> None:
    """Step several ``(params, grads, momentum_buffers, settings)`` groups, all or none.

    Every group is checked, and every compilation the step needs is made, before any
    tensor is written.

    >>> x, y = torch.tensor([1.0]), torch.tensor([2.0])
    >>> step_groups([([x], [torch.ones(1)], [None], {"lr": 0.5, "momentum": 0.9}),
    ...              ([y], [torch.ones(1)], [None], {"lr": 1.0, "momentum": 0.9})])
    >>> x, y
    (tensor([0.5000]), tensor([1.]))
    """
    if not isinstance(groups, (list, tuple)):
        groups = list(groups) if isinstance(groups, Iterable) else groups
    if not isinstance(groups, (list, tuple)):
        raise TypeError(f"groups must be a list of (params, grads, momentum_buffers, settings), "
                        f"got {type(groups).__name__}")
    ready = []
    for index, entry in enumerate(groups):
        where = f"groups[{index}]: " if len(groups) > 1 else ""
        if not (isinstance(entry, (tuple, list)) and len(entry) == 4):
            raise TypeError(f"{where}must be a (params, grads, momentum_buffers, settings) tuple")
        params, grads, buffers, settings = entry
        settings = _complete(settings, where)
        group = {**with_defaults(settings), "fused": True}
        _checks.check_group(group, where)
        _checks.check_tensors(params, grads, buffers, group, where)
        check_tensors(params, grads, where)
        ready.append((params, grads, buffers, Settings(**settings)))
    check_scaler(grad_scale, found_inf)
    run_groups(ready, grad_scale, found_inf)


def run(params: list[Tensor], grads: list[Tensor], momentum_buffers: list, settings: Settings) -> None:
    """:func:`fused_step` without the checks, for callers that checked already."""
    run_groups([(params, grads, momentum_buffers, settings)])


def run_groups(
    groups: list[tuple[list[Tensor], list[Tensor], list, Settings]],
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
) -> None:
    """Step checked groups: compile what is missing first, then write, all or none."""
    plans = plan(groups)  # compiles (and warns) before the first write
    if skip_or_unscale([grads for _, grads, _, _ in groups], grad_scale, found_inf):
        return
    fell_back: list[tuple] = []
    for group, group_plan in zip(groups, plans):
        run_planned(*group, group_plan, fell_back)
    warn_fallbacks(fell_back)


def skip_or_unscale(grads: list[list[Tensor]], grad_scale: Tensor | None, found_inf: Tensor | None) -> bool:
    """GradScaler's protocol, as torch's fused step follows it: True means skip this step.

    With ``found_inf`` nonzero nothing is written; otherwise the gradients are divided by
    ``grad_scale`` in place (torch's fused step leaves them unscaled too).
    """
    if found_inf is not None and found_inf.item() != 0:
        return True
    if grad_scale is not None:
        scale = grad_scale.item()
        with torch.no_grad():
            for group in grads:
                for grad in group:
                    grad.div_(scale)
    return False


def plan(groups: list[tuple[list[Tensor], list[Tensor], list, Settings]]) -> list[list]:
    """For each group and tensor, the compiled graph that will step it (None: the for-loop).

    Compiles, with a :class:`FusedCompileWarning` each, the graphs not compiled yet, so that
    the step that follows writes without compiling.
    """
    plans = [_plan(*group) for group in groups]
    _prepare(plans)
    return plans


def run_planned(
    params: list[Tensor], grads: list[Tensor], buffers: list, settings: Settings,
    group_plan: list, fell_back: list,
) -> None:
    """Step one checked group by its plan; a compiler failure steps a tensor by the for-loop.

    Kinds the compiler failed on are appended to ``fell_back`` for :func:`warn_fallbacks`,
    to be said after every write.
    """
    grad_mode = torch.is_grad_enabled()  # off already inside step(): no_grad() costs 1.4 us
    if grad_mode:
        torch._C._set_grad_enabled(False)
    try:
        _run_plan(params, grads, buffers, settings, group_plan, fell_back)
    finally:
        if grad_mode:
            torch._C._set_grad_enabled(True)


def warn_fallbacks(fell_back: list) -> None:
    """Say once per kind that the compiler failed (after the writes: a warning raised as an
    error then leaves no half step)."""
    for kind, error in fell_back:
        _warn_fallback(kind, error)


def _chunks(indices: list[int]) -> list[tuple[int, list[int]]]:
    """``indices`` cut into calls: ``(length, chunk)``, the chunk padded to the length.

    One tensor alone is a call of length 1, without scratch tensors (measured, they cost
    the call a few microseconds each). A list is cut into chunks of at most 16, each
    padded to 4 or 16 tensors, so that a list compiles no graph of length 1.

    >>> [(length, len(chunk)) for length, chunk in _chunks(list(range(37)))]
    [(16, 16), (16, 16), (4, 4), (4, 1)]
    >>> [(length, len(chunk)) for length, chunk in _chunks(list(range(12)))]
    [(16, 12)]
    >>> _chunks([7])
    [(1, [7])]
    """
    one, short, long = CHUNKS
    if len(indices) == one:
        return [(one, indices)]
    chunks = [indices[start:start + long] for start in range(0, len(indices), long)]
    if chunks and len(chunks[-1]) <= 2 * short and len(chunks[-1]) > short:  # two short calls
        last = chunks.pop()
        chunks += [last[:short], last[short:]]
    return [(short if len(chunk) <= short else long, chunk) for chunk in chunks]


def _plan(params: list[Tensor], grads: list[Tensor], buffers: list, settings: Settings) -> list:
    """The group's compiled calls: ``(kind, indices)``; kind None means the for-loop.

    Tensors of one device, dtype and kind (one value or more) share calls, in chunks over
    their own memory. A tensor whose values overlap another tensor's gets a call of its own
    (dynamo compiles a graph for each pattern of overlapping inputs); tensors that merely
    share a block of memory without overlapping (views of one flat buffer) share calls.
    """
    with_momentum = settings.momentum != 0
    loop, chosen = [], []
    owners: dict[int, list[tuple[Tensor, int]]] = {}  # per block of memory: its tensors, indices
    for index, (param, grad) in enumerate(zip(params, grads)):
        buffer = buffers[index] if with_momentum else None
        if with_momentum and buffer is None or not _compilable(param, grad, buffer):
            loop.append(index)
            continue
        tensors = (param, grad) if buffer is None else (param, grad, buffer)
        blocks = [tensor.untyped_storage().data_ptr() for tensor in tensors]
        if len(set(blocks)) < len(blocks):  # one tensor's own share memory: the for-loop
            loop.append(index)
            continue
        for block, tensor in zip(blocks, tensors):
            owners.setdefault(block, []).append((tensor, index))
        chosen.append(index)
    spans = {block: [(t.data_ptr(), t.data_ptr() + t.numel() * t.element_size(), index) for t, index in shared]
             for block, shared in owners.items() if len(shared) > 1}  # start, end, index
    alone = _overlapping(spans)
    together: dict[tuple, list[int]] = {}
    calls = []
    for index in chosen:
        param = params[index]
        key = (param.device, param.dtype, with_momentum, param.numel() == 1)
        if index in alone:
            calls.append(((*key, CHUNKS[0]), [index]))
        else:
            together.setdefault(key, []).append(index)
    calls[:0] = [((*key, length), chunk)
                 for key, indices in together.items() for length, chunk in _chunks(indices)]
    return [(None, loop), *calls] if loop else calls


def _overlapping(spans: dict[int, list[tuple[int, int, int]]]) -> set[int]:
    """Indices to call alone so that no two tensors called together overlap.

    Of every two overlapping spans of memory, the later-starting one's index, or the other's.

    >>> sorted(_overlapping({1: [(0, 8, 0), (8, 16, 1)], 2: [(0, 8, 2), (4, 12, 3)]}))
    [2, 3]
    """
    alone: set[int] = set()
    for block in spans.values():
        if len(block) < 2:
            continue
        block.sort()
        furthest, holder = block[0][1], block[0][2]
        for start, end, index in block[1:]:
            if start < furthest:
                alone.update((index, holder))
            if end > furthest:
                furthest, holder = end, index
    return alone


def _dispatch_mode() -> bool:
    """Whether a dispatch mode is active, under which the for-loop steps (see :func:`_run_plan`)."""
    return torch._C._len_torch_dispatch_stack() > 0


def _prepare(plans: list[list]) -> None:
    """Compile each kind the plans need and nothing has compiled yet, on scratch tensors.

    Not under a dispatch mode, where the for-loop steps (:func:`_run_plan`).
    """
    needed = {kind for plan in plans for kind, _ in plan if kind is not None and kind not in _kinds}
    if not needed or _dispatch_mode():
        return
    for device in {kind[0] for kind in needed}:
        _check_compiler(device)
    for kind in sorted(needed, key=str):
        device, dtype, with_buffer, single, length = kind
        warnings.warn(
            f"sgdlab.SGD(fused=True) is compiling its update for {dtype} tensors on {device} "
            f"with torch.compile; this takes a while once (inductor caches the result in "
            f"{_cache_dir()})",
            FusedCompileWarning,
            stacklevel=4,
        )
        params, grads, buffers = (tensors[:length] for tensors in _scratch(device, dtype, single))
        try:
            with torch.no_grad(), _dynamic():
                _through_dynamo(kind, params, grads, buffers if with_buffer else None,
                                *_codes(Settings(0.0)), _rounds_once(device))
        except Exception as error:  # the compiler failed: this kind runs the for-loop
            _kinds[kind] = False
            _warn_fallback(kind, error)
        else:
            _kinds[kind] = True


def _run_plan(params, grads, buffers, settings: Settings, group_plan: list, fell_back: list) -> None:
    """Make one group's calls; a call the compiler fails on steps its tensors by the for-loop.

    Under a dispatch mode (a ``TorchDispatchMode``, which sees every operation) the
    for-loop steps every tensor: the mode sees its operations, where dynamo would run the
    rule's Python code, writing, and then fail for want of a compiled frame.
    """
    with_momentum = settings.momentum != 0
    codes = None
    compiled = not _dispatch_mode()
    for kind, indices in group_plan:
        if compiled and kind is not None and _kinds.get(kind):
            device, dtype, _, single, length = kind
            codes = codes or _codes(settings)
            chosen = [_flat(params[i]) for i in indices]
            chosen_grads = [_flat_read(grads[i]) for i in indices]
            chosen_buffers = [_flat(buffers[i]) for i in indices] if with_momentum else None
            pad = length - len(indices)
            if pad:
                scratch = _scratch(device, dtype, single)
                chosen += scratch[0][:pad]
                chosen_grads += scratch[1][:pad]
                if with_momentum:
                    chosen_buffers += scratch[2][:pad]
            try:
                if not _direct_call(kind, len(indices), chosen, chosen_grads, chosen_buffers, codes):
                    _call(kind, chosen, chosen_grads, chosen_buffers, *codes, _rounds_once(device))
            except Exception as error:  # a recompilation that failed: nothing was written
                _kinds[kind] = False
                fell_back.append((kind, error))
            else:  # the flat tensors share their versions: the call counted the writes
                continue
        for index in indices:
            single = [buffers[index]] if with_momentum else []
            update._single_tensor([params[index]], [grads[index]], single, settings)
            if with_momentum:
                buffers[index] = single[0]


#: How dynamo's ``fail_on_recompile`` stance says that a call would compile.
_RECOMPILE = "Detected recompile when torch.compile stance is 'fail_on_recompile'"


def _direct_call(kind: tuple, count: int, params: list[Tensor], grads: list[Tensor],
                 buffers: list[Tensor] | None, codes: tuple[int, ...]) -> bool:
    """Call the graph compiled for ``kind`` without dynamo, if these tensors fit it; say whether.

    Dynamo would spend tens of microseconds per call evaluating its frame and its guards.
    What its guards check, the step ensures already (:func:`_plan`: the device, dtype and
    kind of tensor, sizes matching, no two inputs overlapping in memory; the calls run under
    ``no_grad``; no dispatch mode is active), except what is checked here: dynamo is not
    tracing the step, no function mode is active, and the first ``count`` tensors of each
    list (the rest is scratch) are plain tensors whose dispatch keys are a plain dense
    tensor's (no inference tensor, no wrapper of another). The compiled code checks every
    size and stride before it writes. Anything else goes through dynamo (:func:`_call`).
    """
    direct = _directs.get(kind)
    if (direct is None or torch._C._is_torch_function_mode_enabled()
            or torch.compiler.is_compiling()):
        return False
    keys, dispatch_keys = direct.keys, torch._C._dispatch_keys
    lists = (params, grads, buffers, codes)
    for tensors in lists[:3] if buffers is not None else lists[:2]:
        for index in range(count):
            tensor = tensors[index]
            if type(tensor) is not Tensor or dispatch_keys(tensor) != keys:
                return False
    arguments = [lists[which][index].size(0) if size else lists[which][index]
                 for which, index, size in direct.inputs]
    if direct.generated is None:
        direct.wrapped(*arguments)
        return True
    # the writes counted as AOT autograd's wrapper counts them: before the call
    torch.autograd.graph.increment_version(params[:count] + buffers[:count] if buffers is not None
                                           else params[:count])
    direct.generated(arguments)
    return True


def _call(kind: tuple, *args) -> None:
    """Call the compiled rule for ``kind`` through dynamo; compile again, with symbolic sizes,
    if it must.

    It runs under dynamo's ``fail_on_recompile`` stance, cheaper to enter than the settings
    of :class:`_dynamic`: a call whose inputs no longer fit the graph compiled in
    :func:`_prepare` (after a change of a global setting such as deterministic algorithms)
    fails before it writes, and is made again under those settings.
    """
    try:
        with torch.compiler.set_stance("fail_on_recompile"):
            _through_dynamo(kind, *args)
    except RuntimeError as error:
        if not str(error).startswith(_RECOMPILE):
            raise
        with _dynamic(), torch.compiler.set_stance("default"):
            _through_dynamo(kind, *args)


def _codes(settings: Settings) -> tuple[int, ...]:
    """The settings as the compiled rule takes them (:func:`_code`): numbers, then flags.

    A tensor learning rate is read once here, as torch's fused step reads it.
    """
    values = [settings.lr, settings.momentum, 1 - settings.dampening, settings.weight_decay]
    values = [value.item() if isinstance(value, Tensor) else float(value) for value in values]
    values = [math.nan if value != value else value for value in values]  # as _code does
    flags = [settings.maximize, settings.weight_decay != 0, settings.nesterov]
    bits = _AS_INTEGERS.unpack(_AS_FLOATS.pack(*values, *[float(bool(flag)) for flag in flags]))
    return tuple(code + _CODE_OFFSET for code in bits)


#: A float64 per code of the rule and the same bytes as integers: :func:`_code` for all the
#: settings at once.
_AS_FLOATS, _AS_INTEGERS = (struct.Struct(f"<{len(_CODE_NAMES)}{kind}") for kind in "dq")


def _warn_fallback(kind: tuple, error: BaseException | None = None) -> None:
    """Say, once per kind, that the compiler could not serve it and the for-loop steps it."""
    device, dtype = kind[0], kind[1]
    reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    warnings.warn(
        f"sgdlab.SGD(fused=True) could not compile its update for {dtype} tensors on "
        f"{device} ({reason[:300]}); it steps them with the for-loop rule from now on",
        FusedFallbackWarning,
        stacklevel=4,
    )


@functools.lru_cache(maxsize=None)
def _check_compiler(device: torch.device) -> None:
    """Raise a RuntimeError naming what is missing when ``device`` cannot compile."""
    problem = compiler_problem(device)
    if problem:
        raise RuntimeError(
            f"sgdlab.SGD(fused=True) compiles its update with torch.compile, which on {device} "
            f"needs {problem}. Install it, or use fused=False (or torch.optim.SGD(fused=True))."
        )


def _cache_dir() -> str:
    """Where inductor keeps its compiled code on disk."""
    try:
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        return cache_dir()
    except Exception:  # an internal module: fall back to its documented variable
        return os.environ.get("TORCHINDUCTOR_CACHE_DIR", "inductor's cache directory")
