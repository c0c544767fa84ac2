"""
What each argument of SGD does
==============================

``torch.optim.SGD(params, lr, momentum, dampening, weight_decay, nesterov, *, maximize,
foreach, differentiable, fused)`` minimises :math:`y = x^2` from :math:`x = 5` with
:math:`\\eta = 0.1`, once per setting. The plot shows where each setting takes :math:`x`
over 30 steps; the printed lines give the first three steps.

The page :doc:`/article/constructor` explains each argument.

Requires: ``pip install torch matplotlib``
"""

# %%
# Run every setting
# -----------------
# Each run gets a fresh tensor and a fresh optimizer; only the settings differ.

import inspect

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

SETTINGS = {
    "plain": {"lr": 0.1},
    "momentum=0.9": {"lr": 0.1, "momentum": 0.9},
    "momentum=0.9, dampening=0.5": {
        "lr": 0.1,
        "momentum": 0.9,
        "dampening": 0.5,
    },
    "momentum=0.9, nesterov=True": {
        "lr": 0.1,
        "momentum": 0.9,
        "nesterov": True,
    },
    "weight_decay=0.5": {"lr": 0.1, "weight_decay": 0.5},
    "maximize=True": {"lr": 0.1, "maximize": True},
}
STEPS = 30


def trajectory(settings, steps=STEPS):
    """x at every step of SGD(**settings) on x**2 from x = 5."""
    x = torch.tensor(5.0, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([x], **settings)
    values = [x.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        (x**2).backward()
        optimizer.step()
        values.append(x.detach().clone())
    return torch.stack(values).cpu()


paths = {
    label: trajectory(settings) for label, settings in SETTINGS.items()
}
for label, path in paths.items():
    first = ", ".join(f"{value:.4f}" for value in path[1:4].tolist())
    print(f"{label}: x after steps 1-3 = {first}")

# %%
# The switches that change how, not what
# --------------------------------------
# ``foreach`` and ``fused`` pick the implementation. ``foreach=True`` gives the same bits as
# the plain loop. The fused kernel need not round as the loop does (whether it does
# depends on the CPU kernels PyTorch picked: :doc:`/article/constructor` checks when), so
# it is compared with a tolerance, not bit for bit.

momentum = {"lr": 0.1, "momentum": 0.9}
reference = trajectory({**momentum, "foreach": False})
same_bits = torch.equal(
    reference, trajectory({**momentum, "foreach": True})
)
print(
    f"foreach=True vs foreach=False over {STEPS} steps: bit-identical: "
    f"{same_bits}"
)
fused_path = trajectory({**momentum, "fused": True})
gap = (reference - fused_path).abs().max().item()
print(
    f"fused=True vs foreach=False over {STEPS} steps: within 1e-5: "
    f"{gap <= 1e-5}"
)

# %%
# The defaults, and the keyword-only arguments
# --------------------------------------------

parameters = inspect.signature(torch.optim.SGD).parameters
print(
    "keyword-only:",
    [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY],
)
print("defaults:")
for name, value in torch.optim.SGD(
    [torch.zeros(1, requires_grad=True)]
).defaults.items():
    print(f"    {name} = {value}")

# %%
# Where each setting takes x
# --------------------------
# Top: the settings that minimise. Momentum overshoots the minimum at 0 and swings back;
# dampening makes the swing slower and a little smaller, Nesterov's look-ahead damps it
# quickly; weight decay adds a pull towards 0 on top of the gradient. Bottom:
# ``maximize=True`` climbs away, each step multiplying x by 1.2.

steps = range(STEPS + 1)
fig, (minimise, maximise) = plt.subplots(
    2, 1, figsize=(6.4, 9), layout="constrained"
)
for label, path in paths.items():
    if label != "maximize=True":
        minimise.plot(steps, path, marker=".", label=label)
minimise.axhline(0.0, color="grey", linewidth=0.8)
minimise.set(
    xlabel="step",
    ylabel="x",
    title="Minimising y = x² from x = 5, lr = 0.1",
)
minimise.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2)

maximise.plot(steps, paths["plain"], marker=".", label="plain")
maximise.plot(
    steps, paths["maximize=True"], marker=".", label="maximize=True"
)
maximise.set_yscale("log")
maximise.set(
    xlabel="step",
    ylabel="x (log scale)",
    title="maximize=True climbs instead",
)
maximise.legend(loc="lower left")
plt.show()

ratio = (paths["maximize=True"][1] / paths["maximize=True"][0]).item()
print(f"maximize=True: x_1 / x_0 = {ratio:.4f}")

# %%
# The swings in numbers: the lowest point of each momentum run, and the step from which
# :math:`|x|` stays below 0.1. Then weight decay's first step against the plain one: the
# factor :math:`1 - \eta\,(2 + \text{wd})` instead of :math:`1 - 2\eta`.

SWINGS = [
    "momentum=0.9",
    "momentum=0.9, dampening=0.5",
    "momentum=0.9, nesterov=True",
]
for label in SWINGS:
    path = paths[label]
    lowest = int(path.argmin())
    outside = (path.abs() >= 0.1).nonzero()
    settled = int(outside[-1]) + 1
    when = f"from step {settled}" if settled <= STEPS else "not by step 30"
    print(
        f"{label}: lowest {path[lowest].item():.3f} (step {lowest}),"
        f"\n    |x| < 0.1 {when}"
    )
for label in ("plain", "weight_decay=0.5"):
    factor = (paths[label][1] / paths[label][0]).item()
    print(f"{label}: x_1 / x_0 = {factor:.4f}")
print(f"1 - 0.1 (2 + 0.5) = {1 - 0.1 * (2 + 0.5):.4f}")
