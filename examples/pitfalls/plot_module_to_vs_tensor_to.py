"""
``Module.to()`` keeps parameters, ``Tensor.to()`` makes new tensors
===================================================================

The two methods share a name but not a contract. ``nn.Module.to()`` converts each parameter
*in place*: the ``Parameter`` objects stay the same, so an optimizer built before the move
still updates the model. ``Tensor.to()`` returns a new tensor whenever it converts anything;
an optimizer built on the old tensor keeps updating the old one, and the new one never
moves.

Every cause of a tensor that does not move, as a checklist to walk down:
:doc:`/guide/troubleshooting`.

Requires: ``pip install torch matplotlib``
"""

# %%
# ``Module.to()``: the same parameter objects before and after
# ------------------------------------------------------------
# The layer is built in float32 on the CPU, its optimizer is built, and then the layer is
# moved to the chosen device and converted to float64.

import matplotlib.pyplot as plt
import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


def show(tensor):
    """A tensor's values with four decimals, e.g. [0.8000, -1.6000]."""
    return (
        "["
        + ", ".join(f"{v:.4f}" for v in tensor.detach().cpu().tolist())
        + "]"
    )


torch.manual_seed(0)
layer = nn.Linear(2, 1)
optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
before = list(layer.parameters())
layer.to(device, torch.float64)
tracked = optimizer.param_groups[0]["params"][0]
print(
    "Module.to: same Parameter objects:",
    all(a is b for a, b in zip(before, layer.parameters())),
)
print(
    "Module.to: the optimizer's weight is on "
    f"{tracked.device.type}, {tracked.dtype}"
)

weight_before = layer.weight.detach().clone()
layer(torch.ones(1, 2, device=device, dtype=torch.float64)).sum().backward()
optimizer.step()
module_moved = (layer.weight.detach() - weight_before).norm().item()
print(f"Module.to: the weight moved by {module_moved:.4f} in one step")

# %%
# What ``Module.to()`` does not convert: optimizer state made before the move. A momentum
# buffer created by a float32 step stays float32 after the model becomes float64, and
# stays so through later steps.

torch.manual_seed(0)
layer = nn.Linear(2, 1).to(device)
optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
layer(torch.ones(1, 2, device=device)).sum().backward()
optimizer.step()
layer.to(torch.float64)
optimizer.zero_grad()
layer(torch.ones(1, 2, device=device, dtype=torch.float64)).sum().backward()
optimizer.step()
buffer = optimizer.state[layer.weight]["momentum_buffer"]
print("a float32 step, then Module.to(torch.float64), then one more step:")
print(f"    weight {layer.weight.dtype}, momentum buffer {buffer.dtype}")

# %%
# ``Tensor.to()``: the optimizer keeps the old tensor
# ---------------------------------------------------
# Here the optimizer is built on ``w``, then ``w`` is rebound to its float64 copy. The
# gradient flows back through the copy to the original float32 leaf, the optimizer updates
# that leaf, and the tensor the code goes on using never changes.

w = torch.tensor([1.0, -2.0], device=device, requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)
original = w
w = w.to(torch.float64)  # a new tensor: the optimizer does not know it
copy_before, original_before = w.detach().clone(), original.detach().clone()
(w**2).sum().backward()
optimizer.step()
print("Tensor.to: same object:", w is original)
print(f"Tensor.to: w (the float64 copy) = {show(w)}")
print(f"Tensor.to: the tensor SGD updated = {show(original)}")

# %%
# The fix
# -------
# Move tensors before building the optimizer, create them on the right device and dtype
# from the start, or, for a model, call ``model.to(...)`` first (it works afterwards too,
# as shown above, but optimizer state such as momentum buffers made before the move stays
# where it was).

fixed = torch.tensor(
    [1.0, -2.0], device=device, dtype=torch.float64, requires_grad=True
)
optimizer = torch.optim.SGD([fixed], lr=0.1)
(fixed**2).sum().backward()
optimizer.step()
print(f"created as float64 on {device}: w after one step = {show(fixed)}")

# %%
# How far each tensor moved in one step: the model's weight and the leaf the optimizer
# holds move; the copy the code goes on using does not.

moves = {
    "layer.weight\nafter Module.to": module_moved,
    "the float64 copy\nw = w.to(...)": (w.detach() - copy_before)
    .norm()
    .item(),
    "the old leaf\nSGD holds": (original.detach() - original_before)
    .norm()
    .item(),
}
fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
bars = ax.bar(list(moves), list(moves.values()), color=["C0", "C3", "C2"])
# Every bar says its value: the copy's bar has no height at all.
ax.bar_label(bars, fmt="%.3g", padding=3)
ax.annotate(
    "0: the copy never moves",
    (1, 0),
    xytext=(0, 28),
    textcoords="offset points",
    ha="center",
    color="C3",
    arrowprops={"arrowstyle": "->", "color": "C3"},
)
ax.margins(y=0.15)
ax.set(
    ylabel="distance moved in one step",
    title="Which tensor does SGD update?",
)
plt.show()
