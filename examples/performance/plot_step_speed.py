"""
How fast is one SGD step?
=========================

``torch.optim.SGD`` has three implementations of the same update: a Python for-loop over
the parameters, a *foreach* path that hands whole lists of tensors to one call, and a
*fused* kernel that does the whole update in one pass over memory. ``sgdlab.SGD`` has the
first two. This script times one ``step()`` of each, with momentum and weight decay, for a
few parameter counts split into one tensor or into a hundred, on every device that
:func:`sgdlab.devices` lists. The timings come from the machine that built this page, so
they change from build to build; the shape of the curves is the lesson.

The page :doc:`/performance` shows the full benchmark (``make bench``), with the bandwidth
each step reaches.
"""

# %%
# Time the implementations, interleaved
# -------------------------------------
# :func:`sgdlab.time_steps` runs the optimizers in turn, several rounds, and keeps each
# one's median, so a machine that slows down for a moment slows them all alike.

import matplotlib.pyplot as plt

import sgdlab

print(sgdlab.device_report())

SIZES = [10**3, 10**4, 10**5, 10**6]
LAYOUTS = [1, 100]  # how many tensors the parameters are split over
SETTINGS = {"lr": 1e-3, "momentum": 0.9, "weight_decay": 1e-4}


def step_times(device):
    """Median milliseconds per step of each implementation, per layout and size."""
    times = {}
    for tensors in LAYOUTS:
        for total in SIZES:
            builders = sgdlab.step_implementations(device, **SETTINGS)
            optimizers = {
                name: build(sgdlab.make_parameters(total, tensors=tensors, device=device))
                for name, build in builders.items()
            }
            seconds = sgdlab.time_steps(optimizers, repeats=3, min_batch_seconds=2e-4)
            times[tensors, total] = {name: s * 1e3 for name, s in seconds.items()}
    return times


results = sgdlab.run_on_devices(step_times)
for device, times in results.items():
    for (tensors, total), per_name in times.items():
        measured = ", ".join(f"{name} {ms:.3f} ms" for name, ms in per_name.items())
        print(f"[{device}] {tensors} tensor(s), {total} params, timed: {measured}")

# %%
# Time against size
# -----------------
# One panel per device and layout; both axes are logarithmic. A flat stretch on the left
# is fixed cost per step (Python and one call per tensor); the rise on the right is memory
# traffic, proportional to the parameter count.

fig, axes = plt.subplots(
    len(results), len(LAYOUTS), figsize=(10, 3.8 * len(results)),
    sharey=True, squeeze=False, layout="constrained",
)
for row, (device, times) in zip(axes, results.items()):
    for ax, tensors in zip(row, LAYOUTS):
        names = times[tensors, SIZES[0]]
        for name in names:
            style = "o-" if name.startswith("torch") else "s--"
            ax.plot(SIZES, [times[tensors, total][name] for total in SIZES], style, label=name)
        layout = "one tensor" if tensors == 1 else f"{tensors} tensors"
        ax.set(xscale="log", yscale="log", xlabel="parameters",
               title=f"{device}: parameters in {layout}")
    row[0].set_ylabel("time per step (ms)")
axes[0][-1].legend(fontsize="small")
plt.show()

# %%
# Which one to choose
# -------------------
# * **Many small tensors** (a real model: weights and biases of many layers): the for-loop
#   pays a fixed cost for every tensor, several operations each. Foreach groups those
#   calls and fused does the whole update per tensor in one call, so both pull ahead.
# * **One big tensor**: there is no per-tensor cost to save; for-loop and foreach do the
#   same passes over memory. Fused reads and writes each value once instead of once per
#   operation, which shows once the tensors no longer fit in the caches.
# * **On CUDA**, ``torch.optim.SGD`` already picks foreach when you pass neither
#   ``foreach`` nor ``fused``; on the CPU it picks the for-loop. ``fused=True`` is worth a
#   try on either device (PyTorch 2.13 has a CPU kernel for it too): see :doc:`/devices`.
# * ``sgdlab.SGD`` is written to be read and is checked to give the same numbers as
#   PyTorch; its timings follow PyTorch's for-loop and foreach paths, with a little more
#   Python per step, and it has no fused path. Train with ``torch.optim.SGD``.
