"""Time sgdlab.SGD against torch.optim.SGD: 10 tensors of 1M float32, momentum and weight decay.

Runs the two optimizers in interleaved rounds (so machine load hits both alike) and prints
the median step time of each, their ratio and the median of per-round ratios, for the for-loop and the foreach paths.
Usage: python bench/sgd_speed.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

import sgdlab

SETTINGS = dict(lr=0.01, momentum=0.9, weight_decay=1e-4)


def make_optimizer(cls, foreach: bool):
    """Build an optimizer over 10 fresh 1M-element tensors with gradients set."""
    generator = torch.Generator().manual_seed(0)
    params = [torch.randn(1_000_000, generator=generator, requires_grad=True) for _ in range(10)]
    for param in params:
        param.grad = torch.randn(1_000_000, generator=generator)
    optimizer = cls(params, foreach=foreach, **SETTINGS)
    optimizer.step()  # the first step creates the momentum buffers; time the steady state
    return optimizer


def time_steps(optimizer, steps: int) -> float:
    """Return the mean seconds per step over ``steps`` steps."""
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - start) / steps


def compare(foreach: bool, rounds: int, steps: int = 5) -> None:
    """Print the median step time of torch's and sgdlab's optimizer and their ratio."""
    optimizers = {"torch": make_optimizer(torch.optim.SGD, foreach),
                  "sgdlab": make_optimizer(sgdlab.SGD, foreach)}
    times = {name: [] for name in optimizers}
    for round_index in range(rounds):
        order = list(optimizers) if round_index % 2 == 0 else list(optimizers)[::-1]
        for name in order:
            times[name].append(time_steps(optimizers[name], steps))
    medians = {name: statistics.median(values) for name, values in times.items()}
    # the ratio within each round cancels load that drifts between rounds
    paired = statistics.median(ours / theirs for ours, theirs in zip(times["sgdlab"], times["torch"]))
    label = "foreach" if foreach else "for-loop"
    print(f"{label:8}  torch {medians['torch'] * 1e3:7.3f} ms  "
          f"sgdlab {medians['sgdlab'] * 1e3:7.3f} ms  "
          f"ratio of medians {medians['sgdlab'] / medians['torch']:.3f}  "
          f"median paired ratio {paired:.3f}  ({rounds} rounds x {steps} steps)")


if __name__ == "__main__":
    torch.set_num_threads(1)  # shared machine: one thread keeps the comparison steady
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 41
    for foreach in (False, True):
        compare(foreach, rounds)
