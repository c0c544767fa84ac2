"""
``Module.to()`` keeps parameters, ``Tensor.to()`` makes new tensors
===================================================================

The two methods share a name but not a contract. ``nn.Module.to()`` converts each parameter
*in place*: the ``Parameter`` objects stay the same, so an optimizer built before the move
still updates the model. ``Tensor.to()`` returns a new tensor whenever it converts anything;
an optimizer built on the old tensor keeps updating the old one, and the new one never
moves.
"""

# %%
# ``Module.to()``: the same parameter objects before and after
# ------------------------------------------------------------

import torch
from torch import nn

import sgdlab

print(sgdlab.device_report())


def show(tensor):
    """A tensor's values with four decimals, e.g. [0.8000, -1.6000]."""
    return "[" + ", ".join(f"{v:.4f}" for v in tensor.detach().cpu().tolist()) + "]"


def module_to(device):
    """Build a layer and its optimizer, then convert the layer; does the optimizer follow?"""
    torch.manual_seed(0)
    layer = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    before = list(layer.parameters())
    layer.to(device, torch.float64)
    same = all(a is b for a, b in zip(before, layer.parameters()))
    tracked = optimizer.param_groups[0]["params"][0]
    weight_before = layer.weight.detach().clone()
    layer(torch.ones(1, 2, device=device, dtype=torch.float64)).sum().backward()
    optimizer.step()
    moved = not torch.equal(weight_before, layer.weight.detach())
    return {
        "same Parameter objects": same,
        "optimizer's weight": f"{tracked.device.type}, {tracked.dtype}",
        "weight moved after step()": moved,
    }


for device, found in sgdlab.run_on_devices(module_to).items():
    for key, value in found.items():
        print(f"[{device}] Module.to: {key}: {value}")

# %%
# ``Tensor.to()``: the optimizer keeps the old tensor
# ---------------------------------------------------
# Here the optimizer is built on ``w``, then ``w`` is rebound to its float64 copy. The
# gradient flows back through the copy to the original float32 leaf, the optimizer updates
# that leaf, and the tensor the code goes on using never changes.


def tensor_to(device):
    """Rebind a tensor to its converted copy after building the optimizer."""
    w = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    original = w
    w = w.to(torch.float64)  # a new tensor: the optimizer does not know it
    (w**2).sum().backward()
    optimizer.step()
    return {
        "same object": w is original,
        "w (the float64 copy)": show(w),
        "the tensor SGD updated": show(original),
    }


for device, found in sgdlab.run_on_devices(tensor_to).items():
    for key, value in found.items():
        print(f"[{device}] Tensor.to: {key}: {value}")

# %%
# The fix
# -------
# Move tensors before building the optimizer, create them on the right device and dtype
# from the start, or, for a model, call ``model.to(...)`` first (it works afterwards too,
# as shown above, but optimizer state such as momentum buffers made before the move stays
# where it was).


def fixed(device):
    """Create the tensor where it will live, then build the optimizer over it."""
    w = torch.tensor([1.0, -2.0], device=device, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    (w**2).sum().backward()
    optimizer.step()
    return show(w)


for device, values in sgdlab.run_on_devices(fixed).items():
    print(f"[{device}] created as float64 on {device}: w after one step = {values}")
