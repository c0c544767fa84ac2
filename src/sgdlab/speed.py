"""How long one optimizer step takes, and how close it comes to the memory's speed.

The gallery's performance example and ``make bench`` are built from these parts: the
SGD implementations to compare, parameters of a given size and layout, an interleaved
timer that reports the median seconds per ``step()``, the bytes a step must move at the
least, and a copy bandwidth to compare that traffic with.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim import Optimizer

from .optim import SGD

__all__ = [
    "fused_sgd_supported",
    "step_implementations",
    "make_parameters",
    "time_steps",
    "step_bytes",
    "copy_bandwidth",
]


def _check_device(device: Any) -> torch.device:
    """Turn ``device`` (a name or a ``torch.device``) into a device this machine has."""
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


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    """Check that ``value`` is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return value


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a clock read after it includes that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fused_sgd_supported(device: str | torch.device = "cpu") -> bool:
    """Say whether ``torch.optim.SGD(..., fused=True)`` can step a float32 tensor on ``device``.

    The answer comes from trying one step on a tiny tensor, not from a version table.

    >>> fused_sgd_supported("cpu")
    True
    """
    checked = _check_device(device)
    probe = torch.zeros(2, device=checked, requires_grad=True)
    probe.grad = torch.ones(2, device=checked)
    try:
        torch.optim.SGD([probe], lr=0.1, momentum=0.9, fused=True).step()
    except (RuntimeError, NotImplementedError):
        return False
    return True


def step_implementations(
    device: str | torch.device = "cpu", **hyperparameters: Any
) -> dict[str, Callable[[list[torch.Tensor]], Optimizer]]:
    """Name each SGD implementation to compare, with a function that builds it over parameters.

    ``torch.optim.SGD`` for-loop, foreach and (where :func:`fused_sgd_supported`) fused, and
    ``sgdlab.SGD`` on both its paths; ``hyperparameters`` (``lr``, ``momentum``, ...) go to each.

    >>> list(step_implementations("cpu", lr=0.01, momentum=0.9))
    ['torch for-loop', 'torch foreach', 'torch fused', 'sgdlab for-loop', 'sgdlab foreach']
    """
    checked = _check_device(device)
    settings = {"lr": 1e-3, **hyperparameters}
    SGD([torch.zeros(1, requires_grad=True)], **settings)  # bad settings fail here, by name
    built: dict[str, Callable[[list[torch.Tensor]], Optimizer]] = {
        "torch for-loop": lambda params: torch.optim.SGD(params, foreach=False, **settings),
        "torch foreach": lambda params: torch.optim.SGD(params, foreach=True, **settings),
    }
    if fused_sgd_supported(checked):
        built["torch fused"] = lambda params: torch.optim.SGD(params, fused=True, **settings)
    built["sgdlab for-loop"] = lambda params: SGD(params, foreach=False, **settings)
    built["sgdlab foreach"] = lambda params: SGD(params, foreach=True, **settings)
    return built


def make_parameters(
    total: int, tensors: int = 1, device: str | torch.device = "cpu", seed: int = 0
) -> list[torch.Tensor]:
    """Make ``total`` float32 parameters split over ``tensors`` leaf tensors, each with a gradient.

    The sizes differ by at most one; values and gradients are drawn from ``seed``.

    >>> params = make_parameters(10, tensors=3)
    >>> [p.numel() for p in params], all(p.is_leaf and p.grad is not None for p in params)
    ([4, 3, 3], True)
    """
    _check_count("total", total)
    _check_count("tensors", tensors)
    if tensors > total:
        raise ValueError(f"tensors must be at most total ({total}), got {tensors!r}")
    checked = _check_device(device)
    generator = torch.Generator(device=checked).manual_seed(seed)
    base, extra = divmod(total, tensors)
    params = []
    for index in range(tensors):
        size = base + (index < extra)
        param = torch.randn(size, generator=generator, device=checked).requires_grad_()
        param.grad = torch.randn(size, generator=generator, device=checked)
        params.append(param)
    return params


def _device_of(optimizer: Optimizer) -> torch.device:
    """The device of an optimizer's first parameter (where its step runs)."""
    return optimizer.param_groups[0]["params"][0].device


def _time_batch(optimizer: Optimizer, steps: int) -> float:
    """Seconds per step over ``steps`` back-to-back steps (CUDA: measured with events)."""
    device = _device_of(optimizer)
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            optimizer.step()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000 / steps
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - started) / steps


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


def time_steps(
    optimizers: Mapping[str, Optimizer], repeats: int = 7, min_batch_seconds: float = 1e-3
) -> dict[str, float]:
    """Return the median seconds per ``step()`` of each optimizer, timed interleaved.

    Each optimizer first takes two untimed steps (the first one creates the momentum
    buffers). Then, ``repeats`` times, each optimizer in turn runs a batch of steps long
    enough to last ``min_batch_seconds``, so a slow-down of the machine hits all alike.
    The parameters move: time on copies you do not need.

    >>> params = make_parameters(100)
    >>> times = time_steps({"torch": torch.optim.SGD(params, lr=0.1)}, repeats=3)
    >>> list(times), times["torch"] > 0
    (['torch'], True)
    """
    _check_optimizers(optimizers)
    _check_count("repeats", repeats)
    if isinstance(min_batch_seconds, bool) or not isinstance(min_batch_seconds, (int, float)):
        raise TypeError(f"min_batch_seconds must be a number, got {min_batch_seconds!r}")
    if not min_batch_seconds > 0:
        raise ValueError(f"min_batch_seconds must be positive, got {min_batch_seconds!r}")
    batch = {}
    for name, optimizer in optimizers.items():
        _time_batch(optimizer, 2)  # warm-up, and the momentum buffers now exist
        single = max(_time_batch(optimizer, 1), 1e-7)
        batch[name] = max(1, min(10_000, math.ceil(min_batch_seconds / single)))
    names = list(optimizers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)  # rotate who goes first: no one always runs cold
        for name in names[shift:] + names[:shift]:
            samples[name].append(_time_batch(optimizers[name], batch[name]))
    return {name: statistics.median(samples[name]) for name in names}


def step_bytes(total: int, momentum: bool = True, dtype: torch.dtype = torch.float32) -> int:
    """Return the fewest bytes one SGD step over ``total`` parameters must read and write.

    Read the parameter and its gradient, write the parameter; with momentum, also read and
    write the buffer. Weight decay reads only the parameter, which is read anyway.

    >>> step_bytes(1000), step_bytes(1000, momentum=False)
    (20000, 12000)
    """
    _check_count("total", total)
    if not isinstance(momentum, bool):
        raise TypeError(f"momentum must be a bool, got {type(momentum).__name__}: {momentum!r}")
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {dtype!r}")
    tensors_touched = 5 if momentum else 3
    return tensors_touched * total * torch.empty((), dtype=dtype).element_size()


def copy_bandwidth(
    device: str | torch.device = "cpu", numel: int = 2**24, repeats: int = 5
) -> float:
    """Measure bytes per second of ``dst.copy_(src)`` for ``numel`` float32 values (median).

    A copy reads and writes each value once, so it moves ``2 * 4 * numel`` bytes.

    >>> copy_bandwidth("cpu", numel=1000, repeats=3) > 0
    True
    """
    checked = _check_device(device)
    _check_count("numel", numel)
    _check_count("repeats", repeats)
    source = torch.ones(numel, device=checked)
    target = torch.empty_like(source)
    target.copy_(source)  # warm-up: first touch of the pages
    seconds = []
    for _ in range(repeats):
        _synchronize(checked)
        started = time.perf_counter()
        target.copy_(source)
        _synchronize(checked)
        seconds.append(time.perf_counter() - started)
    return 2 * source.element_size() * numel / max(statistics.median(seconds), 1e-9)
