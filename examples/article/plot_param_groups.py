"""
Reading and editing param_groups
================================

An optimizer keeps its tensors and settings in ``param_groups``, a list of dicts. This
script prints them for the article's tensors :math:`x = 5`, :math:`c = 3`, lowers the
learning rate from 1.0 to 0.1 by assignment, and takes a step with it. Then it edits the
rate in the middle of a run on :math:`y = z^2` and plots the effect.

The page :doc:`/article/param-groups` explains each value.

Requires: ``pip install torch matplotlib``
"""

# %%
# Read the groups, lower the rate, step
# -------------------------------------

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

x = torch.tensor(5.0, requires_grad=True, device=device)
c = torch.tensor(3.0, requires_grad=True, device=device)
b = torch.tensor(2.0, device=device)
y = c * 3 * torch.exp(x) + b * x + 4.0
optimizer = torch.optim.SGD([x, c], lr=1.0)

# The tensors themselves are in 'params'; we print their names (the repr of
# a tensor would also print its device).
names = {id(x): "x", id(c): "c"}
print("param_groups[0]:")
for key, value in optimizer.param_groups[0].items():
    if key == "params":
        value = "[" + ", ".join(names[id(p)] for p in value) + "]"
    print(f"    {key!r}: {value}")
print(
    "param_groups[0]['params'][0] is x:",
    optimizer.param_groups[0]["params"][0] is x,
)

optimizer.param_groups[0]["lr"] = 0.1
print(optimizer)
y.backward()
optimizer.step()
print(f"after one step with lr 0.1: x = {x.item():.4f}, c = {c.item():.4f}")

# %%
# The step used the edited rate: recompute it by hand from the stored gradients. The
# step's kernel and the hand formula need not round alike, so they are compared to
# float32 precision (``rtol=1e-6``) rather than bit for bit.

for name, start, tensor in (("x", 5.0, x), ("c", 3.0, c)):
    by_hand = torch.tensor(start, device=device) - 0.1 * tensor.grad
    print(
        f"{name}: {start:.4f} - 0.1 x {tensor.grad.item():.4f} = "
        f"{by_hand.item():.4f}",
        "(matches step: "
        f"{torch.allclose(by_hand, tensor.detach(), rtol=1e-6)})",
    )

# %%
# Edit the rate during a run
# --------------------------
# Minimise :math:`z^2` from 5. Its curvature is 2, so a rate above :math:`2 / 2 = 1` is too
# large: with lr 1.1 each step multiplies z by :math:`1 - 2 \times 1.1 = -1.2`, and z flips
# sign and grows. After three steps the group's rate is set to 0.1, the factor becomes
# :math:`1 - 2 \times 0.1 = 0.8`, and z shrinks towards 0.

STEPS, EDIT_AT = 20, 3


def run(schedule):
    """z at every step on z**2 from 5; ``schedule(step)`` sets the lr."""
    z = torch.tensor(5.0, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([z], lr=schedule(0))
    values = [z.detach().clone()]
    for step in range(STEPS):
        optimizer.param_groups[0]["lr"] = schedule(step)
        optimizer.zero_grad()
        (z**2).backward()
        optimizer.step()
        values.append(z.detach().clone())
    return torch.stack(values).cpu()


edited = f"lr 1.1, edited to 0.1 before step {EDIT_AT}"
SCHEDULES = {
    "lr 1.1 throughout": lambda step: 1.1,
    edited: lambda step: 1.1 if step < EDIT_AT else 0.1,
    "lr 0.1 throughout": lambda step: 0.1,
}
runs = {label: run(schedule) for label, schedule in SCHEDULES.items()}
for label, path in runs.items():
    shown = ", ".join(f"{value:.2f}" for value in path[1:7].tolist())
    print(f"{label}:")
    print(f"    z after steps 1-6 = {shown}")
    print(f"    |z| after {STEPS} steps = {path[-1].abs().item():.4g}")

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
for label, path in runs.items():
    ax.plot(range(STEPS + 1), path.abs(), marker=".", label=label)
ax.axvline(
    EDIT_AT,
    color="grey",
    linestyle=":",
    label="param_groups[0]['lr'] = 0.1",
)
ax.set_yscale("log")
ax.set(
    xlabel="step",
    ylabel="|z| (log scale)",
    title="Minimising z² from 5: editing the rate mid-run",
)
ax.legend(loc="upper left")
plt.show()
