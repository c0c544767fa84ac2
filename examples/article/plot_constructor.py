"""
What each argument of SGD does
==============================

``torch.optim.SGD(params, lr, momentum, dampening, weight_decay, nesterov, *, maximize,
foreach, differentiable, fused)`` minimises :math:`y = x^2` from :math:`x = 5` with
:math:`\\eta = 0.1`, once per setting. The plot shows where each setting takes :math:`x`
over 30 steps; the printed lines give the first three steps, computed on every device
that :func:`sgdlab.devices` lists.

The page :doc:`/article/constructor` explains each argument.
"""

# %%
# Run every setting on each device
# --------------------------------
# Each run gets a fresh tensor and a fresh optimizer; only the settings differ.

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())

SETTINGS = {
    "plain": {"lr": 0.1},
    "momentum=0.9": {"lr": 0.1, "momentum": 0.9},
    "momentum=0.9, dampening=0.5": {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    "momentum=0.9, nesterov=True": {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    "weight_decay=0.5": {"lr": 0.1, "weight_decay": 0.5},
    "maximize=True": {"lr": 0.1, "maximize": True},
}
STEPS = 30


def trajectory(device, settings, steps=STEPS):
    """Minimise x**2 from x = 5 with SGD(**settings); return x before and after each step."""
    x = torch.tensor(5.0, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([x], **settings)
    values = [x.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        (x**2).backward()
        optimizer.step()
        values.append(x.detach().clone())
    return torch.stack(values).cpu()


def every_setting(device):
    return {label: trajectory(device, settings) for label, settings in SETTINGS.items()}


results = sgdlab.run_on_devices(every_setting)
for device, paths in results.items():
    for label, path in paths.items():
        first = ", ".join(f"{value:.4f}" for value in path[1:4].tolist())
        print(f"[{device}] {label}: x after steps 1-3 = {first}")

# %%
# The switches that change how, not what
# --------------------------------------
# ``foreach`` and ``fused`` pick the implementation. ``foreach`` gives bit-identical
# results; the fused kernel rounds differently inside, so its float32 results may differ
# in the last bit.


def largest_differences(device):
    """The largest |x| difference over 30 momentum steps, against foreach=False."""
    settings = {"lr": 0.1, "momentum": 0.9}
    reference = trajectory(device, {**settings, "foreach": False})
    return {
        name: (reference - trajectory(device, {**settings, name: True})).abs().max().item()
        for name in ("foreach", "fused")
    }


for device, differences in sgdlab.run_on_devices(largest_differences).items():
    for name, difference in differences.items():
        print(f"[{device}] {name}=True vs foreach=False, largest difference over {STEPS} steps: "
              f"{difference:.4g}")

# %%
# The defaults, and the keyword-only arguments
# --------------------------------------------

import inspect  # noqa: E402

parameters = inspect.signature(torch.optim.SGD).parameters
print("keyword-only:", [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY])
print("defaults:", torch.optim.SGD([torch.zeros(1, requires_grad=True)]).defaults)

# %%
# Where each setting takes x
# --------------------------
# Left: the settings that minimise. Momentum overshoots the minimum at 0 and swings back;
# dampening makes the swing slower and a little smaller, Nesterov's look-ahead damps it
# quickly; weight decay adds a pull towards 0 on top of the gradient. Right: ``maximize=True`` climbs away, each step multiplying x by 1.2.

cpu = results["cpu"]
steps = range(STEPS + 1)
fig, (minimise, maximise) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for label, path in cpu.items():
    if label != "maximize=True":
        minimise.plot(steps, path, marker=".", label=label)
minimise.axhline(0.0, color="grey", linewidth=0.8)
minimise.set(xlabel="step", ylabel="x", title="Minimising y = x² from x = 5, lr = 0.1")
minimise.legend(fontsize="small")

maximise.plot(steps, cpu["plain"], marker=".", label="plain")
maximise.plot(steps, cpu["maximize=True"], marker=".", label="maximize=True")
maximise.set_yscale("log")
maximise.set(xlabel="step", ylabel="x (log scale)", title="maximize=True climbs instead")
maximise.legend()
plt.show()
