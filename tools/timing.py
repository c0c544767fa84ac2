"""Timing one SGD step: the parts ``tools/bench.py`` is built from.

The clock is ``torch.utils.benchmark.Timer``, which synchronizes CUDA around what it times
and runs it with a set number of threads (here all of torch's, as a training run would).
The implementations take turns, round after round, so a slow-down of the machine hits all
of them alike; the caller keeps each one's median or best round.

The yardstick is :func:`add_seconds`: an in-place ``a.add_(b, alpha=...)`` over as many
values as the step updates. It reads two values and writes one, 12 bytes per float32 value,
with no extra read of a destination it does not also update, which is what a step does too.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim import Optimizer
from torch.utils.benchmark import Timer

import sgdlab
import sgdlab.fused

BYTES_PER_ADD = 12  # read a and b, write a: three float32 values


def check_device(device: Any) -> torch.device:
    """Turn ``device`` (a name or a ``torch.device``) into a CPU or CUDA device this machine has.

    >>> check_device("cpu")
    device(type='cpu')
    """
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}: {device!r}")
    try:
        checked = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device must name a device such as 'cpu' or 'cuda', got {device!r}") from error
    if checked.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device is {device!r}, but CUDA is not available on this machine")
    if checked.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device, got {device!r}")
    return checked


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """Check that ``value`` is an int (not a bool) of at least ``minimum``.

    >>> check_count("repeats", 3)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return value


def devices() -> list[torch.device]:
    """The devices to measure on: the CPU, and CUDA when this machine has it.

    >>> devices()[0]
    device(type='cpu')
    """
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def torch_fused_supported(device: str | torch.device = "cpu") -> bool:
    """Say whether ``torch.optim.SGD(..., fused=True)`` can step a float32 tensor on ``device``.

    >>> torch_fused_supported("cpu")
    True
    """
    checked = check_device(device)
    probe = torch.zeros(2, device=checked, requires_grad=True)
    probe.grad = torch.ones(2, device=checked)
    try:
        torch.optim.SGD([probe], lr=0.1, momentum=0.9, fused=True).step()
    except (RuntimeError, NotImplementedError):
        return False
    return True


def step_implementations(
    device: str | torch.device = "cpu", fused: bool = True, **settings: Any
) -> dict[str, Callable[[list[torch.Tensor]], Optimizer]]:
    """Name each SGD implementation to compare, with a function that builds it over parameters.

    ``torch.optim.SGD`` for-loop, foreach and (where supported) fused, and ``sgdlab.SGD``
    for-loop, foreach and, with ``fused=True`` and a working compiler, its compiled step.

    >>> list(step_implementations("cpu", fused=False, lr=0.01, momentum=0.9))
    ['torch for-loop', 'torch foreach', 'torch fused', 'sgdlab for-loop', 'sgdlab foreach']
    """
    checked = check_device(device)
    settings = {"lr": 1e-3, **settings}
    sgdlab.SGD([torch.zeros(1, requires_grad=True)], **settings)  # bad settings fail here, by name
    built: dict[str, Callable[[list[torch.Tensor]], Optimizer]] = {
        "torch for-loop": lambda params: torch.optim.SGD(params, foreach=False, **settings),
        "torch foreach": lambda params: torch.optim.SGD(params, foreach=True, **settings),
    }
    if torch_fused_supported(checked):
        built["torch fused"] = lambda params: torch.optim.SGD(params, fused=True, **settings)
    built["sgdlab for-loop"] = lambda params: sgdlab.SGD(params, foreach=False, **settings)
    built["sgdlab foreach"] = lambda params: sgdlab.SGD(params, foreach=True, **settings)
    if fused and sgdlab.fused.compiler_problem(checked) is None:
        built["sgdlab fused"] = lambda params: sgdlab.SGD(params, fused=True, **settings)
    return built


def make_parameters(
    total: int, tensors: int = 1, device: str | torch.device = "cpu", seed: int = 0
) -> list[torch.Tensor]:
    """Make ``total`` float32 parameters split over ``tensors`` leaf tensors, each with a gradient.

    >>> params = make_parameters(10, tensors=3)
    >>> [p.numel() for p in params], all(p.is_leaf and p.grad is not None for p in params)
    ([4, 3, 3], True)
    """
    check_count("total", total)
    check_count("tensors", tensors)
    if tensors > total:
        raise ValueError(f"tensors must be at most total ({total}), got {tensors!r}")
    checked = check_device(device)
    generator = torch.Generator(device=checked).manual_seed(seed)
    base, extra = divmod(total, tensors)
    params = []
    for index in range(tensors):
        size = base + (index < extra)
        param = torch.randn(size, generator=generator, device=checked).requires_grad_()
        param.grad = torch.randn(size, generator=generator, device=checked)
        params.append(param)
    return params


def step_bytes(total: int, momentum: bool = True, dtype: torch.dtype = torch.float32) -> int:
    """Return the fewest bytes one SGD step over ``total`` parameters must read and write.

    Read the parameter and its gradient, write the parameter; with momentum, also read and
    write the buffer. Weight decay reads only the parameter, which is read anyway.

    >>> step_bytes(1000), step_bytes(1000, momentum=False)
    (20000, 12000)
    """
    check_count("total", total)
    if not isinstance(momentum, bool):
        raise TypeError(f"momentum must be a bool, got {type(momentum).__name__}: {momentum!r}")
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {dtype!r}")
    return (5 if momentum else 3) * total * torch.empty((), dtype=dtype).element_size()


def timer(stmt: str, **names: Any) -> Timer:
    """A ``torch.utils.benchmark.Timer`` running ``stmt`` with all of torch's threads.

    ``names`` are the globals ``stmt`` sees.

    >>> timer("x + 1", x=torch.ones(3)).timeit(10).median > 0
    True
    """
    return Timer(stmt, globals=names, num_threads=torch.get_num_threads())


def _check_optimizers(optimizers: Any) -> Mapping[str, Optimizer]:
    """Check that ``optimizers`` maps names to optimizers, at least one."""
    if not isinstance(optimizers, Mapping):
        raise TypeError(f"optimizers must be a mapping of name to optimizer, got {type(optimizers).__name__}")
    if not optimizers:
        raise ValueError("optimizers is empty: there is nothing to time")
    for name, optimizer in optimizers.items():
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizers[{name!r}] must be a torch.optim.Optimizer, got {optimizer!r}")
    return optimizers


def interleaved_samples(
    timers: Mapping[str, Timer], repeats: int, min_batch_seconds: float
) -> dict[str, list[float]]:
    """Seconds per run of each timer in each of ``repeats`` rounds, the timers taking turns.

    Each timer first runs once untimed, then in each round runs a batch of runs long
    enough to last ``min_batch_seconds``; who goes first rotates from round to round.

    >>> samples = interleaved_samples({"pass": timer("pass")}, repeats=3, min_batch_seconds=1e-4)
    >>> list(samples), len(samples["pass"])
    (['pass'], 3)
    """
    check_count("repeats", repeats)
    if isinstance(min_batch_seconds, bool) or not isinstance(min_batch_seconds, (int, float)):
        raise TypeError(f"min_batch_seconds must be a number, got {min_batch_seconds!r}")
    if not min_batch_seconds > 0:
        raise ValueError(f"min_batch_seconds must be positive, got {min_batch_seconds!r}")
    batch = {}
    for name, each in timers.items():
        single = max(each.timeit(1).median, 1e-7)  # also the warm-up
        batch[name] = max(1, min(10_000, math.ceil(min_batch_seconds / single)))
    names = list(timers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)  # rotate who goes first: no one always runs cold
        for name in names[shift:] + names[:shift]:
            samples[name].append(timers[name].timeit(batch[name]).median)
    return samples


def interleaved(timers: Mapping[str, Timer], repeats: int, min_batch_seconds: float) -> dict[str, float]:
    """Median seconds per run of each timer over :func:`interleaved_samples`' rounds.

    >>> seconds = interleaved({"pass": timer("pass")}, repeats=2, min_batch_seconds=1e-4)
    >>> list(seconds), seconds["pass"] > 0
    (['pass'], True)
    """
    samples = interleaved_samples(timers, repeats, min_batch_seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def time_steps(
    optimizers: Mapping[str, Optimizer], repeats: int = 7, min_batch_seconds: float = 1e-3
) -> dict[str, float]:
    """Return the median seconds per ``step()`` of each optimizer, timed interleaved.

    Each optimizer first takes two untimed steps (the first creates the momentum buffers,
    the second compiles a fused sgdlab step). The parameters move: time on copies.

    >>> params = make_parameters(100)
    >>> times = time_steps({"torch": torch.optim.SGD(params, lr=0.1)}, repeats=3)
    >>> list(times), times["torch"] > 0
    (['torch'], True)
    """
    _check_optimizers(optimizers)
    check_count("repeats", repeats)
    for optimizer in optimizers.values():
        optimizer.step()
        optimizer.step()
    timers = {name: timer("optimizer.step()", optimizer=opt) for name, opt in optimizers.items()}
    return interleaved(timers, repeats, min_batch_seconds)


def add_timer(numel: int, device: str | torch.device = "cpu") -> Timer:
    """A timer of the memory-bound reference: ``a.add_(b, alpha=-1e-3)`` over ``numel`` float32.

    >>> add_timer(10).timeit(3).median > 0
    True
    """
    check_count("numel", numel)
    checked = check_device(device)
    a = torch.randn(numel, device=checked)
    b = torch.randn(numel, device=checked)
    return timer("a.add_(b, alpha=-1e-3)", a=a, b=b)
