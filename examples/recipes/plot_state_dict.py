"""
Saving and loading an optimizer with ``state_dict``
===================================================

An SGD optimizer with momentum carries state between steps: one momentum buffer per
parameter. To pause training and resume it, save ``optimizer.state_dict()`` beside the
model's, and load both into fresh objects. This script saves into an in-memory file
(``io.BytesIO``), loads onto every device :func:`sgdlab.devices` lists, and checks that the
resumed run matches one that never stopped.
"""

# %%
# What the state dict holds
# -------------------------
# Parameters appear as numbers (their position in the optimizer), not as tensors: loading
# matches saved state to parameters by order, so the new optimizer must list its parameters
# in the same order.

import io

import torch
from torch import nn

import sgdlab

print(sgdlab.device_report())


def make(device):
    """The same small model and optimizer every time (fixed seed)."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    return model, optimizer


def train(model, optimizer, steps):
    """A few steps on fixed data; the data lives where the model does."""
    device = model.weight.device
    inputs = torch.linspace(-1, 1, 12, device=device).reshape(4, 3)
    target = torch.tensor([[1.0], [0.0], [-1.0], [2.0]], device=device)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(inputs), target).backward()
        optimizer.step()


model, optimizer = make("cpu")
train(model, optimizer, steps=3)
saved = optimizer.state_dict()
print("keys:", list(saved))
print("param_groups[0]['params']:", saved["param_groups"][0]["params"])
print("state[0]['momentum_buffer']:", saved["state"][0]["momentum_buffer"])

# %%
# A round trip through ``io.BytesIO``, onto each device
# -----------------------------------------------------
# ``torch.save`` writes to any file-like object. ``map_location`` puts the loaded tensors on
# the target device, and ``load_state_dict`` casts each buffer to its parameter's device and
# dtype in any case.

file = io.BytesIO()
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, file)
print(f"saved {file.tell()} bytes")


def resume(device):
    """Load the CPU checkpoint on ``device``, train on, and compare with a run that never stopped."""
    file.seek(0)
    checkpoint = torch.load(file, map_location=device)
    resumed_model, resumed_optimizer = make(device)
    resumed_model.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    buffer = resumed_optimizer.state[resumed_model.weight]["momentum_buffer"]
    train(resumed_model, resumed_optimizer, steps=5)

    straight_model, straight_optimizer = make(device)
    train(straight_model, straight_optimizer, steps=8)
    difference = (resumed_model.weight - straight_model.weight).abs().max().item()
    return {"buffer device": str(buffer.device), "difference": difference,
            "weight": resumed_model.weight.detach().cpu()}


for device, found in sgdlab.run_on_devices(resume).items():
    print(f"[{device}] momentum buffer loaded onto {found['buffer device']}")
    print(f"[{device}] 3 steps + save/load + 5 steps vs 8 steps: largest weight difference "
          f"{found['difference']:.3g}")
    print(f"[{device}] weight after 8 steps: {found['weight']}")

# %%
# Without the optimizer's state
# -----------------------------
# Reloading only the model and starting a new optimizer resets the momentum buffers to
# nothing, so the next steps differ from the uninterrupted run.


def model_only(device):
    """Resume with the model's weights but a fresh optimizer."""
    file.seek(0)
    checkpoint = torch.load(file, map_location=device)
    resumed_model, fresh_optimizer = make(device)
    resumed_model.load_state_dict(checkpoint["model"])
    train(resumed_model, fresh_optimizer, steps=5)
    straight_model, straight_optimizer = make(device)
    train(straight_model, straight_optimizer, steps=8)
    return (resumed_model.weight - straight_model.weight).abs().max().item()


for device, difference in sgdlab.run_on_devices(model_only).items():
    print(f"[{device}] model state only: largest weight difference {difference:.4f}")
