"""
How fast is one SGD step?
=========================

``torch.optim.SGD`` has three implementations of the same update: a Python for-loop over
the parameters, a *foreach* path that hands whole lists of tensors to one call per
operation, and a *fused* kernel that does the whole update in one pass over memory. This
script times one ``step()`` of each with ``torch.utils.benchmark``, with momentum and
weight decay, for a few parameter counts held in one tensor or split over a hundred. The
timings come from the machine that built this page, so they change from build to build
and are not checked; the operation counts printed at the end are. The page
:doc:`/performance` has the full benchmark, with the memory limit drawn.

Requires: ``pip install torch matplotlib``
"""

# sphinx_gallery_parallel = False

# %%
# Time the three paths
# --------------------
# ``torch.utils.benchmark.Timer`` runs a statement in a loop and reports the time per run;
# ``blocked_autorange`` picks how many runs make a measurement. The timer runs on one
# thread unless told otherwise, which keeps a busy machine's scheduling out of the
# figures. Each optimizer takes two steps first: the first creates the momentum buffers.

import matplotlib.pyplot as plt
import torch
from torch.utils.benchmark import Timer

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

torch.manual_seed(0)
SIZES = [10**3, 10**4, 10**5, 10**6]
LAYOUTS = [1, 100]  # how many tensors the parameters are split over
PATHS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
         "fused": {"fused": True}}


def make_parameters(total, tensors):
    """``total`` float32 values split over ``tensors`` leaves, each with a
    grad."""
    params = []
    for size in [total // tensors] * tensors:
        param = torch.randn(size, device=device, requires_grad=True)
        param.grad = torch.randn(size, device=device)
        params.append(param)
    return params


def step_ms(path, total, tensors):
    """Milliseconds per ``step()`` of one path of torch.optim.SGD."""
    optimizer = torch.optim.SGD(make_parameters(total, tensors), lr=1e-3,
                                momentum=0.9, weight_decay=1e-4,
                                **PATHS[path])
    optimizer.step()
    optimizer.step()
    timer = Timer("optimizer.step()", globals={"optimizer": optimizer})
    return timer.blocked_autorange(min_run_time=0.01).median * 1e3


times = {
    (tensors, path): [step_ms(path, total, tensors) for total in SIZES]
    for tensors in LAYOUTS for path in PATHS
}
for (tensors, path), row in times.items():
    measured = ", ".join(f"{ms:.3f} ms" for ms in row)
    print(f"{tensors} tensor(s), {path}, timed: {measured}")

# %%
# Time against size
# -----------------
# Both axes are logarithmic. Where a curve is flat, the step's time is a fixed cost
# (Python, and one call per tensor and operation); where it rises in proportion to the
# parameter count, it is memory traffic. These timings are the building machine's and are
# not checked: a busy machine bends any curve, and :doc:`/performance` explains how its
# benchmark copes with that.

fig, axes = plt.subplots(
    2, 1, figsize=(6.4, 7), sharex=True, layout="constrained"
)
for ax, tensors in zip(axes, LAYOUTS):
    for path in PATHS:
        ax.plot(SIZES, times[tensors, path], "o-", label=path)
    layout = "one tensor" if tensors == 1 else f"{tensors} tensors"
    ax.set(xscale="log", yscale="log", ylabel="time per step (ms)",
           title=f"{device}: parameters in {layout}")
    ax.legend()
axes[-1].set_xlabel("parameters")
plt.show()

# %%
# What the fixed cost pays for
# ----------------------------
# The number of PyTorch operations one ``step()`` dispatches, counted with a dispatch mode
# (it sees every operation), for the parameters in one tensor and in a hundred:

from torch.utils._python_dispatch import TorchDispatchMode


class CountCalls(TorchDispatchMode):
    """Count the operations PyTorch runs while the mode is on."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def calls_per_step(path, tensors):
    """Operations in one ``step()`` once the buffers exist."""
    params = make_parameters(1000, tensors)
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9,
                                weight_decay=1e-4, **PATHS[path])
    optimizer.step()
    with CountCalls() as counter:
        optimizer.step()
    return counter.calls


for tensors in LAYOUTS:
    counts = {path: calls_per_step(path, tensors) for path in PATHS}
    print(f"{tensors} tensor(s), operations a step: {counts}")

# %%
# Which one to choose
# -------------------
# * **Many small tensors** (a real model: weights and biases of many layers): the
#   for-loop makes four operations per tensor, so its count grows with the number of
#   tensors; foreach makes the same few for the whole list, and fused fewer still
#   (counted above). That count times the cost of a call is the fixed cost.
# * **One big tensor**: there is no per-tensor cost to save; for-loop and foreach make
#   the same four passes over memory, fused one (:doc:`/performance` counts the bytes
#   each moves, and measures what that buys).
# * **On CUDA**, ``torch.optim.SGD`` picks foreach when you pass neither ``foreach`` nor
#   ``fused``; on the CPU it picks the for-loop (:doc:`/devices` shows the choice).
