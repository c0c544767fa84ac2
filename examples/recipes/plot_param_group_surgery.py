"""
Parameter groups: per-layer settings, adding a group, duplicates
================================================================

``optimizer.param_groups`` is a list of dicts, one per group, each with its own ``params``
and its own ``lr``, ``momentum``, ``weight_decay`` and so on. Settings given to the
constructor are defaults; a key inside a group wins over them. This script gives two layers
different learning rates, adds a third layer later with ``add_param_group``, and shows what
PyTorch says when one parameter is put in two groups.
"""

# %%
# One learning rate per layer
# ---------------------------
# The first layer gets ``lr = 0.01`` in its own group; the second has no ``lr`` key and
# takes the constructor's default, ``0.1``.

import warnings

import torch
from torch import nn

import sgdlab

print(sgdlab.device_report())


def per_layer(device):
    """Two layers, two groups; one step; how far did each layer's weight move?"""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).to(device)
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr": 0.01}, {"params": model[2].parameters()}],
        lr=0.1, momentum=0.9,
    )
    before = [model[0].weight.detach().clone(), model[2].weight.detach().clone()]
    model(torch.ones(8, 3, device=device)).pow(2).mean().backward()
    grads = [model[0].weight.grad.clone(), model[2].weight.grad.clone()]
    optimizer.step()
    after = [model[0].weight.detach(), model[2].weight.detach()]
    # On the first step the momentum buffer is the gradient, so the move is lr * grad.
    ratios = [((b - a).norm() / g.norm()).item() for b, a, g in zip(before, after, grads)]
    return {"groups": sgdlab.describe(optimizer, model).splitlines(), "ratios": ratios,
            "model": model, "optimizer": optimizer}


results = sgdlab.run_on_devices(per_layer)
for device, found in results.items():
    for line in found["groups"]:
        print(f"[{device}] {line}")
    for layer, ratio in zip(("first", "second"), found["ratios"]):
        print(f"[{device}] {layer} layer: |weight change| / |grad| = {ratio:.4f}")

# %%
# The ratio of each layer's move to its gradient is that layer's learning rate (the first
# step of momentum SGD is ``lr * grad``).
#
# Adding a group later
# --------------------
# ``add_param_group`` takes a dict like the constructor's; missing keys are filled from the
# constructor's defaults (here the momentum). A common use: train a new head, then unfreeze
# a layer. :func:`sgdlab.describe` lays out the groups with the names of their parameters.


def add_group(device):
    """Add a new layer's parameters to the optimizer from ``per_layer``."""
    model, optimizer = results[str(device)]["model"], results[str(device)]["optimizer"]
    head = nn.Linear(1, 1).to(device)
    optimizer.add_param_group({"params": head.parameters(), "lr": 0.001})
    names = dict(model.named_parameters())
    names.update({f"head.{name}": p for name, p in head.named_parameters()})
    return sgdlab.describe(optimizer, names).splitlines()


for device, lines in sgdlab.run_on_devices(add_group).items():
    for line in lines:
        print(f"[{device}] {line}")

# %%
# One parameter in two groups
# ---------------------------
# Adding a tensor that another group already holds is an error: the optimizer would not know
# which settings apply to it. Listing a tensor twice inside one group is only a warning
# (for now): PyTorch keeps both entries and steps the tensor twice, as the last line shows.


def duplicates(device):
    """Try both ways of giving the optimizer the same tensor twice."""
    model = results[str(device)]["model"]
    optimizer = results[str(device)]["optimizer"]
    found = {}
    try:
        optimizer.add_param_group({"params": model[0].weight})
    except ValueError as error:
        found["add_param_group"] = f"{type(error).__name__}: {error}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = torch.zeros(1, device=device, requires_grad=True)
        twice = torch.optim.SGD([p, p], lr=0.1)
    found["SGD([p, p])"] = "; ".join(f"{w.category.__name__}: {w.message}" for w in caught)
    p.grad = torch.ones(1, device=device)
    twice.step()
    found["one step, lr 0.1, grad 1"] = f"p = {p.item():.4f}"
    return found


for device, found in sgdlab.run_on_devices(duplicates).items():
    for call, message in found.items():
        print(f"[{device}] {call} -> {message}")
