"""
A tensor moved after ``requires_grad=True`` is not a leaf
=========================================================

``torch.tensor(5.0, requires_grad=True).to(...)`` looks like a parameter, but when ``.to()``
has to convert anything, the result is the *output of an operation* on the tensor you
created: a non-leaf tensor. ``torch.optim.SGD`` refuses it, because the gradient of the
graph is stored on the leaf (the tensor before ``.to()``), never on the converted copy.

The twist: on the CPU, ``.to("cpu")`` has nothing to do and returns the very same tensor, so
the mistake stays hidden until the code runs on a GPU. A dtype change shows it on any
device.
"""

# %%
# ``.to(device)``: a no-op on the CPU, a new tensor on CUDA
# ---------------------------------------------------------

import torch

import sgdlab

print(sgdlab.device_report())


def try_sgd(tensor):
    """Build an SGD optimizer over ``tensor``; return 'accepted' or the error it raised."""
    try:
        torch.optim.SGD([tensor], lr=0.1)
    except ValueError as error:
        return f"{type(error).__name__}: {error}"
    return "accepted"


def move_after_creation(device):
    """Create with requires_grad=True, then move: leaf or not depends on the device."""
    created = torch.tensor(5.0, requires_grad=True)
    moved = created.to(device)
    return {"same object": moved is created, "is_leaf": moved.is_leaf, "SGD": try_sgd(moved)}


for device, found in sgdlab.run_on_devices(move_after_creation).items():
    for key, value in found.items():
        print(f"[{device}] .to({device!r}) -> {key}: {value}")

# %%
# A dtype change shows the error everywhere
# -----------------------------------------
# ``.to(torch.float64)`` must make a new tensor on every device, so every device reports the
# error. The converted tensor has a ``grad_fn``: it remembers it came from the float32 leaf.


def convert_dtype(device):
    """Create a float32 leaf on ``device`` with requires_grad=True, then convert it."""
    converted = torch.tensor(5.0, requires_grad=True, device=device).to(torch.float64)
    return {"is_leaf": converted.is_leaf, "grad_fn": type(converted.grad_fn).__name__,
            "SGD": try_sgd(converted)}


for device, found in sgdlab.run_on_devices(convert_dtype).items():
    for key, value in found.items():
        print(f"[{device}] .to(torch.float64) -> {key}: {value}")

# %%
# The fix: create the tensor where and as it will live
# ----------------------------------------------------
# Pass ``device=`` and ``dtype=`` to the factory function, so the tensor you keep *is* the
# leaf. When the tensor already exists, move it first and ask for gradients afterwards,
# with ``.requires_grad_()``. Both are accepted by SGD and move when it steps.


def create_in_place(device):
    """The two fixes, each followed by one SGD step on (p - 1)^2."""
    made_there = torch.tensor(5.0, requires_grad=True, device=device, dtype=torch.float64)
    moved_then_marked = torch.tensor(5.0).to(device, torch.float64).requires_grad_()
    found = {}
    for name, p in [("created on device", made_there), ("moved, then requires_grad_()", moved_then_marked)]:
        optimizer = torch.optim.SGD([p], lr=0.1)
        ((p - 1.0) ** 2).backward()
        optimizer.step()
        found[name] = f"is_leaf {p.is_leaf}, dtype {p.dtype}, after one step p = {p.item():.4f}"
    return found


for device, found in sgdlab.run_on_devices(create_in_place).items():
    for name, text in found.items():
        print(f"[{device}] {name}: {text}")
