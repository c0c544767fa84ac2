"""
Replacing a tensor inside param_groups
======================================

The article's first experiment: with the learning rate at 0.1, the entry of
``param_groups`` that held :math:`x = 5` is overwritten with a new tensor holding 10,
then ``y.backward()`` and ``step()`` run. Neither :math:`x` nor the new tensor moves;
only :math:`c` does, to :math:`3 - 0.1 \\times 445.2395 = -41.5240`. The plot shows
which tensor moved.

The page :doc:`/article/replace-in-param-groups` explains why.

Every cause of a tensor that does not move, as a checklist to walk down:
:doc:`/guide/troubleshooting`.

Requires: ``pip install torch matplotlib``
"""

# %%
# The experiment
# --------------

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

x = torch.tensor(5.0, requires_grad=True, device=device)
c = torch.tensor(3.0, requires_grad=True, device=device)
b = torch.tensor(2.0, device=device)
y = c * 3 * torch.exp(x) + b * x + 4.0
optimizer = torch.optim.SGD([x, c], lr=1.0)
optimizer.param_groups[0]["lr"] = 0.1
optimizer.param_groups[0]["params"][0] = torch.tensor(
    10.0, requires_grad=True, device=device
)
new_x = optimizer.param_groups[0]["params"][0]

before = {"x": x.item(), "new tensor": new_x.item(), "c": c.item()}
y.backward()

# %%
# Before the step: what the optimizer holds, and which of those tensors has a gradient.
# ``step()`` skips a tensor whose ``grad`` is ``None``.

for name, tensor in (("x", x), ("new tensor", new_x), ("c", c)):
    is_held = any(p is tensor for p in optimizer.param_groups[0]["params"])
    grad = "None" if tensor.grad is None else f"{tensor.grad.item():.4f}"
    print(f"{name}: held by the optimizer: {is_held}, grad = {grad}")

optimizer.step()
after = {"x": x.item(), "new tensor": new_x.item(), "c": c.item()}
for name in before:
    print(f"{name}: {before[name]:.4f} -> {after[name]:.4f}")

c_by_hand = torch.tensor(3.0, device=device) - 0.1 * c.grad
print(
    f"c by hand: 3.0000 - 0.1 x {c.grad.item():.4f} = "
    f"{c_by_hand.item():.4f}"
)

# %%
# Which tensor moved
# ------------------
# Three tensors are involved: the original ``x`` (which the loss depends on), the new
# tensor put into ``param_groups`` (which the optimizer holds), and ``c``. Only the one
# that is both held and has a gradient moves.

names = list(before)
positions = torch.arange(len(names))
fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
bars_before = ax.bar(
    positions - 0.2,
    [before[n] for n in names],
    width=0.4,
    label="before step()",
)
bars_after = ax.bar(
    positions + 0.2,
    [after[n] for n in names],
    width=0.4,
    label="after step()",
)
# The values themselves: x and the new tensor keep theirs, c moves.
for bars in (bars_before, bars_after):
    ax.bar_label(bars, fmt="%.2f", padding=2)
ax.margins(y=0.12)
ax.axhline(0.0, color="grey", linewidth=0.8)
ax.set_xticks(
    positions.tolist(),
    ["x\n(the variable)", "new tensor\n(in param_groups)", "c"],
)
ax.set(ylabel="value", title="Replacing x inside param_groups, lr = 0.1")
ax.legend(loc="lower left")
plt.show()
