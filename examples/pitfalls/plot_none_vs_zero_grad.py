"""
``None`` gradients against zero gradients
=========================================

``optimizer.zero_grad()`` sets every ``.grad`` to ``None`` by default
(``set_to_none=True``); with ``set_to_none=False`` it fills them with zeros instead. For plain
SGD the two are the same, but not once momentum or weight decay is on: SGD *skips* a
parameter whose gradient is ``None``, while a zero gradient still goes through the update,
so weight decay shrinks the parameter and the momentum buffer keeps pushing it.

That matters for parameters that take no part in some steps: a frozen branch, an unused
embedding row, a head trained every other step.

Every cause of a tensor that does not move, as a checklist to walk down:
:doc:`/guide/troubleshooting`.

Requires: ``pip install torch matplotlib``
"""

# %%
# Two steps, the second without a gradient
# ----------------------------------------
# The parameter gets a gradient of 1 on the first step. Before the second step,
# ``zero_grad`` runs and no backward pass reaches the parameter.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

SETTINGS = {
    "plain SGD": {},
    "momentum 0.9": {"momentum": 0.9},
    "weight decay 0.1": {"weight_decay": 0.1},
}


def path_after_gradient(set_to_none, steps=2, **settings):
    """p after a step with gradient 1, then steps after zero_grad()."""
    p = torch.tensor(1.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.5, **settings)
    p.grad = torch.tensor(1.0, device=device)
    path = [p.item()]
    optimizer.step()
    path.append(p.item())
    for _ in range(steps - 1):
        optimizer.zero_grad(set_to_none=set_to_none)
        optimizer.step()
        path.append(p.item())
    return path, p.grad


for name, settings in SETTINGS.items():
    for set_to_none in (True, False):
        path, grad = path_after_gradient(set_to_none, **settings)
        shown = "None" if grad is None else f"{grad.item():.1f}"
        print(
            f"{name:<16} set_to_none={set_to_none!s:<5}  p.grad = "
            f"{shown:<4}  "
            f"p: {path[1]:.4f} -> {path[2]:.4f}"
        )

# %%
# Reading the results
# -------------------
# With ``None`` the second step leaves the parameter where it was in every setting. With a
# zero gradient, momentum moves it by ``lr * mu * v`` (the buffer v decays but is not zero),
# and weight decay moves it by ``lr * wd * p``. Neither is wrong in itself; choose on
# purpose. To keep a parameter still, leave its gradient ``None`` (the default), or take it
# out of the optimizer; to let decay and momentum act on it, zero the gradient instead.

# %%
# Over more steps
# ---------------
# Twenty steps after the one with a gradient. With ``None`` every setting stays put; with
# zero gradients momentum keeps coasting (the buffer shrinks by 0.9 per step) and weight
# decay keeps shrinking p.

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
with_state = list(SETTINGS.items())[1:]
for (name, settings), color in zip(with_state, ["C0", "C1"]):
    for set_to_none, style in ((True, "o-"), (False, "s--")):
        path, _ = path_after_gradient(set_to_none, steps=21, **settings)
        label = f"{name}, set_to_none={set_to_none}"
        ax.plot(
            path,
            style,
            ms=3,
            color=color,
            alpha=1.0 if set_to_none else 0.7,
            label=label,
        )
ax.set(
    xlabel="step (a gradient of 1 only at step 1)",
    ylabel="p",
    title="zero_grad(): None gradients against zero gradients",
)
ax.legend(loc="lower left")
plt.show()
