"""
SGD on a small network: model.parameters() and per-group rates
==============================================================

A one-hidden-layer network learns :math:`\\sin` on 64 points of :math:`[-3, 3]` with
``torch.optim.SGD`` three ways: ``SGD(model.parameters(), lr=0.1)`` (no brackets),
two parameter groups (hidden layer at 0.5, output layer at 0.1), and one rate with
``momentum=0.9``. Each trains on every device that :func:`sgdlab.devices` lists; the
plots show the loss curves and the fitted curves.

The page :doc:`/article/networks` explains each setup.
"""

# %%
# Train each setup on each device
# -------------------------------
# ``fresh_model`` seeds torch, so every setup starts from the same weights.

import matplotlib.pyplot as plt
import torch
from torch import nn

import sgdlab

print(sgdlab.device_report())

STEPS = 500


def fresh_model(device):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).to(device)


SETUPS = {
    "model.parameters(), lr 0.1": lambda model: torch.optim.SGD(model.parameters(), lr=0.1),
    "groups: hidden 0.5, output 0.1": lambda model: torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.5}, {"params": model[2].parameters()}], lr=0.1
    ),
    "lr 0.1, momentum 0.9": lambda model: torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
}


def train(device, make_optimizer, steps=STEPS):
    """Full-batch training; returns the loss at every step and the final predictions."""
    inputs = torch.linspace(-3, 3, 64, device=device).unsqueeze(1)
    targets = torch.sin(inputs)
    model = fresh_model(device)
    optimizer = make_optimizer(model)
    losses = []
    for step in range(steps + 1):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(inputs), targets)
        losses.append(loss.item())
        if step < steps:
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        fitted = model(inputs).squeeze(1).cpu()
    return {"losses": losses, "fitted": fitted, "groups": [g["lr"] for g in optimizer.param_groups]}


results = sgdlab.run_on_devices(
    lambda device: {label: train(device, make) for label, make in SETUPS.items()}
)
for device, runs in results.items():
    for label, run in runs.items():
        every_100 = ", ".join(f"{loss:.4f}" for loss in run["losses"][::100])
        print(f"[{device}] {label} (group lrs {run['groups']}): loss at steps 0, 100, ..., {STEPS} = {every_100}")

# %%
# Loss curves and fitted curves
# -----------------------------
# The hidden layer's larger rate (0.5) speeds training up but sits near the edge of
# stability: its loss jumps once late in the run, then recovers. Momentum does far better
# than either with a single rate.

cpu = results["cpu"]
inputs = torch.linspace(-3, 3, 64)
fig, (curves, fits) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for label, run in cpu.items():
    curves.plot(range(STEPS + 1), run["losses"], label=label)
    fits.plot(inputs, run["fitted"], label=label)
curves.set_yscale("log")
curves.set(xlabel="step", ylabel="mean squared error (log scale)", title="Training loss")
curves.legend()
fits.plot(inputs, torch.sin(inputs), "k:", label="sin(x), the target")
fits.set(xlabel="input", ylabel="output", title=f"The fitted curve after {STEPS} steps")
fits.legend(fontsize="small")
plt.show()
