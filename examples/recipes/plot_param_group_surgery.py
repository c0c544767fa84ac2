"""
Parameter groups: per-layer settings, adding a group, duplicates
================================================================

``optimizer.param_groups`` is a list of dicts, one per group, each with its own ``params``
and its own ``lr``, ``momentum``, ``weight_decay`` and so on. Settings given to the
constructor are defaults; a key inside a group wins over them. This script gives two layers
different learning rates, adds a third layer later with ``add_param_group``, and shows what
PyTorch says when one parameter is put in two groups.

Requires: ``pip install torch matplotlib``
"""

# %%
# One learning rate per layer
# ---------------------------
# The first layer gets ``lr = 0.01`` in its own group; the second has no ``lr`` key and
# takes the constructor's default, ``0.1``. The groups are given ``(name, parameter)``
# pairs, as ``model.named_parameters()`` yields them, so each group also keeps the names
# (in ``param_names``).

import textwrap
import warnings

import matplotlib.pyplot as plt
import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


def named(prefix, module):
    """The module's (name, parameter) pairs, names prefixed by ``prefix``.
    """
    return [
        (f"{prefix}.{name}", p) for name, p in module.named_parameters()
    ]


def show_groups(optimizer):
    """One line per group: lr, momentum, names of its parameters."""
    for index, group in enumerate(optimizer.param_groups):
        names = ", ".join(group["param_names"])
        print(
            f"group {index}: lr={group['lr']}, "
            f"momentum={group['momentum']}: {names}"
        )


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
model = model.to(device)
optimizer = torch.optim.SGD(
    [
        {"params": named("0", model[0]), "lr": 0.01},
        {"params": named("2", model[2])},
    ],
    lr=0.1,
    momentum=0.9,
)
show_groups(optimizer)

before = [
    model[0].weight.detach().clone(),
    model[2].weight.detach().clone(),
]
model(torch.ones(8, 3, device=device)).pow(2).mean().backward()
grads = [model[0].weight.grad.clone(), model[2].weight.grad.clone()]
optimizer.step()
after = [model[0].weight.detach(), model[2].weight.detach()]
# On the first step the momentum buffer is the gradient, so the move is lr *
# grad.
ratios = [
    ((b - a).norm() / g.norm()).item()
    for b, a, g in zip(before, after, grads)
]
for layer, ratio in zip(("first", "second"), ratios):
    print(f"{layer} layer: |weight change| / |grad| = {ratio:.4f}")

# %%
# The ratio of each layer's move to its gradient is that layer's learning rate (the first
# step of momentum SGD is ``lr * grad``).

fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
positions = range(len(ratios))
bars = ax.bar(
    positions,
    ratios,
    color=["C0", "C1"],
    label="measured |weight change| / |grad|",
)
ax.bar_label(bars, fmt="%.3g", padding=4)
ax.plot(positions, [0.01, 0.1], "k_", ms=40, mew=2, label="_nolegend_")
# A shorter mark for the legend: the one on the bars is as wide as a bar.
ax.plot([], [], "k_", ms=14, mew=2, label="the group's lr (0.01, 0.1)")
ax.set_xticks(
    list(positions), ["first layer\n(group 0)", "second layer\n(group 1)"]
)
ax.set(
    yscale="log",
    ylim=(3e-3, 1.0),
    ylabel="step / gradient (log scale)",
    title="One step of SGD with two parameter groups",
)
ax.legend(loc="upper left")
plt.show()

# %%
# Adding a group later
# --------------------
# ``add_param_group`` takes a dict like the constructor's; missing keys are filled from the
# constructor's defaults (here the momentum). A common use: train a new head, then unfreeze
# a layer.

head = nn.Linear(1, 1).to(device)
optimizer.add_param_group({"params": named("head", head), "lr": 0.001})
show_groups(optimizer)

# %%
# One parameter in two groups
# ---------------------------
# Adding a tensor that another group already holds is an error: the optimizer would not know
# which settings apply to it. Listing a tensor twice inside one group is only a warning
# (for now): PyTorch keeps both entries and steps the tensor twice, as the last line shows.

try:
    optimizer.add_param_group({"params": [("0.weight", model[0].weight)]})
except ValueError as error:
    text = f"add_param_group -> {type(error).__name__}: {error}"
    print(textwrap.fill(text, width=78, subsequent_indent="    "))

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    p = torch.zeros(1, device=device, requires_grad=True)
    twice = torch.optim.SGD([p, p], lr=0.1)
for warning in caught:
    text = f"SGD([p, p]) -> {warning.category.__name__}: {warning.message}"
    print(
        textwrap.fill(
            text, width=78, subsequent_indent="    ", break_long_words=False
        )
    )
p.grad = torch.ones(1, device=device)
twice.step()
print(f"one step, lr 0.1, grad 1 -> p = {p.item():.4f}")
