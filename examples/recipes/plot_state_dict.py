"""
Saving and loading an optimizer with ``state_dict``
===================================================

An SGD optimizer with momentum carries state between steps: one momentum buffer per
parameter. To pause training and resume it, save ``optimizer.state_dict()`` beside the
model's, and load both into fresh objects. This script saves into an in-memory file
(``io.BytesIO``), loads it back, and checks that the resumed run matches one that never
stopped, and that a run resumed without the optimizer's state does not.

Requires: ``pip install torch matplotlib``
"""

# %%
# What the state dict holds
# -------------------------
# Built from ``model.parameters()``, the optimizer knows its parameters only by position:
# the state dict lists them as numbers, and loading matches saved state to parameters by
# order, so the new optimizer must list its parameters in the same order.

import io

import matplotlib.pyplot as plt
import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

INPUTS = torch.linspace(-1, 1, 12, device=device).reshape(4, 3)
TARGET = torch.tensor([[1.0], [0.0], [-1.0], [2.0]], device=device)


def make(named=False):
    """The same small model and optimizer every time (fixed seed)."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1).to(device)
    params = model.named_parameters() if named else model.parameters()
    optimizer = torch.optim.SGD(
        params, lr=0.1, momentum=0.9, weight_decay=1e-3
    )
    return model, optimizer


def train(model, optimizer, steps):
    """A few full-batch steps on fixed data; return the loss before each
    step."""
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(INPUTS), TARGET)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return losses


model, optimizer = make()
first_losses = train(model, optimizer, steps=3)
saved = optimizer.state_dict()
print("keys:", list(saved))
print("param_groups[0]['params']:", saved["param_groups"][0]["params"])
print(
    "state[0]['momentum_buffer']:",
    saved["state"][0]["momentum_buffer"].cpu(),
)

# %%
# Built from ``model.named_parameters()`` instead, each group also carries the names, in
# the same order as the positions:

_, named_optimizer = make(named=True)
print(
    "with named_parameters(): param_names =",
    named_optimizer.state_dict()["param_groups"][0]["param_names"],
)

# %%
# A round trip through ``io.BytesIO``
# -----------------------------------
# ``torch.save`` writes to any file-like object. ``map_location`` puts the loaded tensors on
# the chosen device, and ``load_state_dict`` casts each buffer to its parameter's device and
# dtype in any case.

file = io.BytesIO()
torch.save(
    {"model": model.state_dict(), "optimizer": optimizer.state_dict()}, file
)

file.seek(0)
checkpoint = torch.load(file, map_location=device)
resumed_model, resumed_optimizer = make()
resumed_model.load_state_dict(checkpoint["model"])
resumed_optimizer.load_state_dict(checkpoint["optimizer"])
buffer = resumed_optimizer.state[resumed_model.weight]["momentum_buffer"]
print(f"momentum buffer loaded onto {buffer.device.type}")
resumed_losses = train(resumed_model, resumed_optimizer, steps=5)

straight_model, straight_optimizer = make()
straight_losses = train(straight_model, straight_optimizer, steps=8)
same = torch.equal(resumed_model.weight, straight_model.weight)
print(
    f"3 steps + save/load + 5 steps against 8 steps: weights equal: {same}"
)
print(f"weight after 8 steps: {straight_model.weight.detach().cpu()}")

# %%
# The cast, checked: the saved float32 state loaded on the CPU (``map_location="cpu"``)
# into an optimizer over a float64 copy of the model on ``device``. The buffer comes out
# with its parameter's dtype and on its device (on a machine without a GPU both are the
# CPU, so only the dtype is put to the test there).

file.seek(0)
on_cpu = torch.load(file, map_location="cpu")
wide_model = nn.Linear(3, 1).to(device, torch.float64)
wide_optimizer = torch.optim.SGD(
    wide_model.parameters(), lr=0.1, momentum=0.9
)
wide_optimizer.load_state_dict(on_cpu["optimizer"])
saved_buffer = on_cpu["optimizer"]["state"][0]["momentum_buffer"]
loaded_buffer = wide_optimizer.state[wide_model.weight]["momentum_buffer"]
print(f"saved buffer: {saved_buffer.dtype}; loaded: {loaded_buffer.dtype}")
same_device = loaded_buffer.device == wide_model.weight.device
print(f"on its parameter's device: {same_device}")

# %%
# Without the optimizer's state
# -----------------------------
# Reloading only the model and starting a new optimizer resets the momentum buffers to
# nothing, so the next steps differ from the uninterrupted run.

model_only, fresh_optimizer = make()
model_only.load_state_dict(checkpoint["model"])
model_only_losses = train(model_only, fresh_optimizer, steps=5)
difference = (model_only.weight - straight_model.weight).abs().max().item()
print(
    "model state only: largest weight difference after 8 steps "
    f"{difference:.4f}"
)

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
ax.plot(
    range(8),
    straight_losses,
    "o-",
    lw=3,
    alpha=0.4,
    label="8 steps without a pause",
)
ax.plot(
    range(3, 8),
    resumed_losses,
    "k.--",
    label="resumed with the optimizer's state",
)
ax.plot(
    range(3, 8),
    model_only_losses,
    "s:",
    color="C3",
    label="resumed with the model's state only",
)
ax.axvline(2.5, color="gray", lw=0.8)
# Left of the line, where the legend does not cover it.
ax.text(2.45, max(straight_losses), "save, load ", ha="right", va="top")
ax.set(
    xlabel="step",
    ylabel="mean squared error",
    title="Pausing and resuming SGD with momentum",
)
ax.legend(loc="upper right")
plt.show()
