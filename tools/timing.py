"""Timing one SGD step: the parts ``tools/bench.py`` is built from.

The clock is ``torch.utils.benchmark.Timer``, which synchronizes CUDA around what it times
and runs it with all of torch's threads, as a training run would. The yardstick is
:func:`add_timer`: an in-place ``a.add_(b, alpha=...)``, which like a step reads and writes
each value it updates, with no extra read of the destination. Internal tools: torch and
sgdlab check their arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim import Optimizer
from torch.utils.benchmark import Timer

import sgdlab
import sgdlab.fused

BYTES_PER_ADD = 12  # read a and b, write a: three float32 values


def devices() -> list[torch.device]:
    """The devices to measure on: the CPU, and CUDA when this machine has it."""
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def step_implementations(
    device: str | torch.device = "cpu", fused: bool = True, **settings: Any
) -> dict[str, Callable[[list[torch.Tensor]], Optimizer]]:
    """Name each SGD implementation to compare, with a function that builds it over parameters.

    ``torch.optim.SGD`` for-loop, foreach and fused (torch 2.13 has it on the CPU and CUDA), and
    ``sgdlab.SGD`` for-loop, foreach and, with ``fused=True`` and a working compiler, its compiled step.

    >>> list(step_implementations("cpu", fused=False, lr=0.01, momentum=0.9))
    ['torch for-loop', 'torch foreach', 'torch fused', 'sgdlab for-loop', 'sgdlab foreach']
    """
    settings = {"lr": 1e-3, **settings}
    sgdlab.SGD([torch.zeros(1, requires_grad=True)], **settings)  # bad settings fail here, by name
    built: dict[str, Callable[[list[torch.Tensor]], Optimizer]] = {
        "torch for-loop": lambda params: torch.optim.SGD(params, foreach=False, **settings),
        "torch foreach": lambda params: torch.optim.SGD(params, foreach=True, **settings),
        "torch fused": lambda params: torch.optim.SGD(params, fused=True, **settings),
        "sgdlab for-loop": lambda params: sgdlab.SGD(params, foreach=False, **settings),
        "sgdlab foreach": lambda params: sgdlab.SGD(params, foreach=True, **settings),
    }
    if fused and sgdlab.fused.compiler_problem(device) is None:
        built["sgdlab fused"] = lambda params: sgdlab.SGD(params, fused=True, **settings)
    return built


def make_parameters(total: int, device: str | torch.device = "cpu", seed: int = 0) -> list[torch.Tensor]:
    """Make ``total`` random float32 parameters in one leaf tensor, with a random gradient.

    >>> [(p.numel(), p.is_leaf, p.grad.shape) for p in make_parameters(10)]
    [(10, True, torch.Size([10]))]
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    param = torch.randn(total, generator=generator, device=device).requires_grad_()
    param.grad = torch.randn(total, generator=generator, device=device)
    return [param]


def timer(stmt: str, **names: Any) -> Timer:
    """A ``torch.utils.benchmark.Timer`` running ``stmt`` over the globals ``names``, with all of torch's threads."""
    return Timer(stmt, globals=names, num_threads=torch.get_num_threads())


def add_timer(numel: int, device: str | torch.device = "cpu") -> Timer:
    """A timer of the memory-bound reference: ``a.add_(b, alpha=-1e-3)`` over ``numel`` float32."""
    a, b = torch.randn(numel, device=device), torch.randn(numel, device=device)
    return timer("a.add_(b, alpha=-1e-3)", a=a, b=b)


def interleaved_samples(
    timers: Mapping[str, Timer], repeats: int, min_batch_seconds: float
) -> dict[str, list[float]]:
    """Seconds per run of each timer in each of ``repeats`` rounds, the timers taking turns.

    Each timer first runs once untimed, then in each round runs a batch of runs long
    enough to last ``min_batch_seconds``; who goes first rotates from round to round.
    ``Timer.blocked_autorange`` would size the batches for us, but runs one timer to the end
    before the next starts: the turns are the point.

    >>> samples = interleaved_samples({"pass": timer("pass")}, repeats=3, min_batch_seconds=1e-4)
    >>> list(samples), len(samples["pass"])
    (['pass'], 3)
    """
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
