"""sgdlab's fused step: its own update rule compiled by ``torch.compile`` into one pass.

``sgdlab.SGD(..., fused=True)`` steps through :func:`~sgdlab.fused_step`. It does not call
PyTorch's hand-written fused kernel: it hands the for-loop rule of :mod:`sgdlab.update`
to ``torch.compile``, whose compiler (inductor) generates one loop per tensor that reads
the parameter, its gradient and its momentum buffer once and writes the parameter and the
buffer once. The rule stays the single source; the kernel is generated from it.

Three things to know:

- The first step of a new shape of problem compiles (tens of seconds on two CPU cores:
  the performance page has the time measured), and says so with a
  :class:`FusedCompileWarning`. Inductor keeps what it compiled in its
  on-disk cache, so the next run with the same shapes loads it instead.
- The learning rate enters the compiled code as a tensor, so a scheduler that changes it
  every step causes no recompilation. The other settings are constants in the compiled
  code: changing momentum, dampening or weight decay compiles again.
- Results can differ from the for-loop's by a few float32 units. With its AVX2 or AVX-512
  CPU kernels, PyTorch computes ``a.add_(b, alpha=c)`` as one fused multiply-add (a single
  rounding), with its portable ``default`` kernels it rounds twice; the compiled code
  rounds the product ``c * b`` before adding it. The performance page checks which kernels
  round once and shows the largest difference measured over every combination of
  settings.

The step needs a working compiler: a C++ compiler and Python's headers on the CPU, Triton
on CUDA. :func:`~sgdlab.compiler_problem` says what is missing, and
:func:`~sgdlab.fused_step` refuses to start without it.
"""

from __future__ import annotations

import functools
import os
import shutil
import sysconfig
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from . import _checks, update

__all__ = ["FusedCompileWarning", "compiler_problem", "fused_step"]


class FusedCompileWarning(UserWarning):
    """Issued when the fused step compiles: the first step of a new shape of problem.

    A warning, so that it shows once per place in the code and can be silenced as usual,
    with ``warnings.simplefilter("ignore", FusedCompileWarning)``:

    >>> issubclass(FusedCompileWarning, UserWarning)
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

    On the CPU it needs a C++ compiler and Python's C headers; on CUDA it needs Triton.

    >>> compiler_problem("cpu") is None  # this machine has g++ and Python.h
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "Triton (pip install triton), which torch.compile uses on CUDA"
    if device.type == "cpu":
        return _cpu_compiler_problem()
    return f"a torch.compile backend for {device.type} devices"


def _rule(groups: list[tuple[list[Tensor], list[Tensor], list[Tensor | None], dict]]) -> None:
    """Apply sgdlab's for-loop rule to every group: the function ``torch.compile`` compiles."""
    for params, grads, buffers, settings in groups:
        update._single_tensor(params, grads, buffers, update.Settings(**settings))


@functools.cache
def _compiled():
    """The compiled rule and the dynamo settings it runs under, made on first use.

    One compiled function for the process: dynamo keeps one compiled graph per shape of problem
    (tensor sizes, settings) and inductor caches the generated code on disk. The lr tensor
    reaches ``alpha=`` as a number read inside the graph (``capture_scalar_outputs``); each
    compiled call may compile, so each runs under these settings, a patch object made once (it
    costs tens of microseconds to build). Made lazily: ``torch.compile`` imports dynamo, which
    would add about a second to ``import sgdlab`` for everyone who never steps fused.
    """
    compiled = torch.compile(_rule, fullgraph=True)
    settings = torch._dynamo.config.patch(capture_scalar_outputs=True, recompile_limit=64)
    return compiled, settings


def _signature(groups: list) -> tuple:
    """What a compiled graph depends on: each tensor's layout and each group's constants."""
    return tuple(
        (tuple((p.device, p.dtype, tuple(p.shape), p.stride()) for p in params),
         tuple(sorted((k, v) for k, v in settings.items() if k != "lr")))
        for params, _, _, settings in groups
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


def _as_tensor_lr(lr: float | Tensor) -> Tensor:
    """The learning rate as a 0-d float64 CPU tensor, so that changing it does not recompile.

    float64 holds any Python float exactly, so the step sees the same value as with a number.
    """
    if isinstance(lr, Tensor):
        return lr.detach().to(device="cpu", dtype=torch.float64).reshape(())
    return _lr_tensor(float(lr))


@functools.lru_cache(maxsize=64)
def _lr_tensor(lr: float) -> Tensor:
    """One shared tensor per learning rate (the compiled code only reads it)."""
    return torch.tensor(lr, dtype=torch.float64)


def fused_step(
    params: list[Tensor],
    grads: list[Tensor],
    momentum_buffers: list[Tensor | None],
    **settings: Any,
) -> None:
    """Apply one SGD step with sgdlab's rule compiled into one pass per tensor.

    Same arguments and in-place updates as :func:`sgdlab.sgd` with ``foreach=False``,
    whose rule it compiles. A step that creates momentum buffers (the first) runs the rule as it
    is: it happens once, and compiling it would cost a second compilation.

    >>> x = torch.tensor([5.0])
    >>> fused_step([x], [torch.tensor([2.0])], [None], lr=0.5, momentum=0.9)
    >>> x  # a first step: the buffer is created, nothing is compiled
    tensor([4.])
    """
    step_groups([(params, grads, momentum_buffers, settings)])


def step_groups(groups: list[tuple[list[Tensor], list[Tensor], list[Tensor | None], dict]]) -> None:
    """Step several ``(params, grads, momentum_buffers, settings)`` groups in one compiled call.

    Every group is checked before any is stepped. Groups that create momentum buffers run
    the rule as it is; the others go through one compiled function together.

    >>> x, y = torch.tensor([1.0]), torch.tensor([2.0])
    >>> step_groups([([x], [torch.ones(1)], [None], {"lr": 0.5, "momentum": 0.9}),
    ...              ([y], [torch.ones(1)], [None], {"lr": 1.0, "momentum": 0.9})])
    >>> x, y
    (tensor([0.5000]), tensor([1.]))
    """
    for params, grads, buffers, settings in groups:
        group = {**_complete(settings), "foreach": None, "differentiable": False, "fused": True}
        _checks.check_group(group)
        _checks.check_tensor_lists(params, grads, buffers, group)
    _step_groups(groups)


def run(params: list[Tensor], grads: list[Tensor], momentum_buffers: list, settings: update.Settings) -> None:
    """:func:`fused_step` without the checks, for callers that checked already (the optimizer)."""
    _step_groups([(params, grads, momentum_buffers, settings._asdict())])


def _step_groups(groups: list) -> None:
    """:func:`step_groups` without the checks."""
    ready = []
    for params, grads, buffers, settings in groups:
        settings = _complete(settings)
        if not params:
            continue
        if settings["momentum"] != 0 and any(buffer is None for buffer in buffers):
            update._single_tensor(params, grads, buffers, update.Settings(**settings))  # a first step
            continue
        _check_compiler(params[0].device)
        ready.append((params, grads, buffers, {**settings, "lr": _as_tensor_lr(settings["lr"])}))
    if not ready:
        return
    signature = _signature(ready)
    first = signature not in compile_seconds
    if first:
        warnings.warn(
            f"sgdlab.SGD(fused=True) is compiling its update for "
            f"{sum(len(group[0]) for group in ready)} tensor(s) with torch.compile; this takes "
            f"a while once (inductor caches the result in {_cache_dir()})",
            FusedCompileWarning,
            stacklevel=3,
        )
        started = time.perf_counter()
    compiled, settings = _compiled()
    with settings:
        compiled(ready)
    if first:
        compile_seconds[signature] = time.perf_counter() - started


#: Seconds each first (compiling) call took, by problem signature: the benchmark reads it.
compile_seconds: dict[tuple, float] = {}


def _complete(settings: dict) -> dict:
    """Every setting the rule takes, with its default where absent."""
    return {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False,
            "maximize": False, **settings}


def _cache_dir() -> str:
    """Where inductor keeps its compiled code on disk."""
    try:
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        return cache_dir()
    except Exception:  # an internal module: fall back to its documented variable
        return os.environ.get("TORCHINDUCTOR_CACHE_DIR", "inductor's cache directory")
