"""
Rebinding the Python variable
=============================

The article's second experiment: after building ``SGD([x, c], lr=1.0)``, the name ``x``
is pointed at a new tensor holding 10. ``y.backward()`` and ``step()`` then update the
*old* tensor, from 5 to -1332.7185, while the new ``x`` keeps its value and its ``grad``
stays ``None``. The plot shows the two tensors that were called ``x``.

The page :doc:`/article/rebinding` explains why.

Every cause of a tensor that does not move, as a checklist to walk down:
:doc:`/guide/troubleshooting`.

Requires: ``pip install torch matplotlib``
"""

# %%
# The experiment
# --------------
# ``first_x`` keeps a handle on the tensor ``x`` named before the rebinding, so that we
# can see where the update went.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

x = torch.tensor(5.0, requires_grad=True, device=device)
c = torch.tensor(3.0, requires_grad=True, device=device)
b = torch.tensor(2.0, device=device)
y = c * 3 * torch.exp(x) + b * x + 4.0
optimizer = torch.optim.SGD([x, c], lr=1.0)
first_x = x
x = torch.tensor(10.0, requires_grad=True, device=device)

# %%
# Before the step, ask the optimizer which tensors it holds: the old one, not the new.

held = optimizer.param_groups[0]["params"]
print("the optimizer holds the new x:", any(p is x for p in held))
print("the optimizer holds first_x:  ", any(p is first_x for p in held))

before = {
    "x (new)": x.item(),
    "first_x (old)": first_x.item(),
    "c": c.item(),
}
y.backward()
optimizer.step()
after = {
    "x (new)": x.item(),
    "first_x (old)": first_x.item(),
    "c": c.item(),
}
for name in before:
    print(f"{name}: {before[name]:.4f} -> {after[name]:.4f}")
print(f"x.grad = {x.grad}")

# %%
# Two tensors called x
# --------------------
# The old tensor took the worked example's step; the new one never took part. The y axis
# is symmetric-logarithmic so that 10 and -1332.7185 both show.

names = list(before)
positions = torch.arange(len(names))
fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
left = ax.bar(
    positions - 0.2,
    [before[n] for n in names],
    width=0.4,
    label="before step()",
)
right = ax.bar(
    positions + 0.2,
    [after[n] for n in names],
    width=0.4,
    label="after step()",
)
# On a symlog axis the heights do not read as numbers: each bar says its
# value.
for bars in (left, right):
    ax.bar_label(bars, fmt="%.6g", padding=2, fontsize=9)
ax.axhline(0.0, color="grey", linewidth=0.8)
ax.set_yscale("symlog")
ax.set_xticks(
    positions.tolist(),
    ["x\n(the new tensor)", "first_x\n(the old tensor)", "c"],
)
ax.set(
    ylabel="value (symlog scale)",
    title="Rebinding x after building SGD, lr = 1.0",
)
ax.legend(loc="lower left")
plt.show()
