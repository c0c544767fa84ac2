"""
Forgetting ``zero_grad()``: gradients add up
============================================

``backward()`` *adds* to ``.grad``; it never overwrites it. A loop that leaves out
``optimizer.zero_grad()`` steps with the sum of every gradient computed so far: that is
momentum 1, a buffer whose old gradients never decay. On a simple bowl it overshoots and
keeps swinging instead of settling, at every rate tried below.

Every cause of a tensor that does not move, as a checklist to walk down:
:doc:`/guide/troubleshooting`.

Requires: ``pip install torch matplotlib``
"""

# %%
# The same loop with and without ``zero_grad()``
# ----------------------------------------------
# Minimise :math:`f(p) = (p - 3)^2` from :math:`p = 0` with ``lr = 0.1``.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

STEPS, LR = 40, 0.1


def descend(zero_grad):
    """Run the loop; return p and the .grad that step() used, after each
    step."""
    p = torch.tensor(0.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=LR)
    path, grads = [p.item()], []
    for _ in range(STEPS):
        if zero_grad:
            optimizer.zero_grad()
        ((p - 3.0) ** 2).backward()
        grads.append(p.grad.item())
        optimizer.step()
        path.append(p.item())
    return {"path": path, "grads": grads}


runs = {zero_grad: descend(zero_grad) for zero_grad in (True, False)}
for zero_grad, run in runs.items():
    label = "with zero_grad()   " if zero_grad else "without zero_grad()"
    print(f"{label}: p after {STEPS} steps = {run['path'][-1]:.4f}")

# %%
# What ``.grad`` held
# -------------------
# Without ``zero_grad()`` the second step's ``.grad`` is the first gradient plus the second,
# and so on.

for zero_grad in (True, False):
    grads = runs[zero_grad]["grads"]
    label = "with zero_grad()   " if zero_grad else "without zero_grad()"
    first = [round(g, 4) for g in grads[:4]]
    print(f"{label}: .grad at steps 1-4 = {first}")

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
for zero_grad in (True, False):
    path = runs[zero_grad]["path"]
    ax.plot(
        range(len(path)),
        path,
        "o-",
        ms=3,
        label="zero_grad() every step"
        if zero_grad
        else "zero_grad() forgotten",
    )
ax.axhline(3.0, color="gray", ls="--", label="minimum, p = 3")
ax.set(xlabel="step", ylabel="p", title=f"f(p) = (p - 3)², lr = {LR}")
# Below the axes: inside, it would hide the swinging run's last steps.
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2)
plt.show()

# %%
# Momentum 1, and no settling
# ---------------------------
# The sum in ``.grad`` is the buffer of ``momentum=1.0``, :math:`v_t = v_{t-1} + g_t`, so the
# forgetful loop follows the path of ``torch.optim.SGD(momentum=1.0)`` with ``zero_grad()``.
# Its two roots lie on the unit circle for :math:`0 < \text{lr}\,\lambda < 4` (here
# :math:`\lambda = 2`): the swing never shrinks. Over 400 steps at three rates, the
# forgetful run still swings from below 0.1 to above 5.9 in its last 100 steps, while the
# loop with ``zero_grad()`` has settled at 3.


def path(lr, zero_grad, momentum=0.0, steps=400):
    """p after each of ``steps`` steps on (p - 3)^2 from p = 0."""
    p = torch.tensor(0.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=lr, momentum=momentum)
    found = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        ((p - 3.0) ** 2).backward()
        optimizer.step()
        found.append(p.item())
    return found


for lr in (0.01, 0.1, 0.5):
    forgetful = path(lr, zero_grad=False)
    heavy = path(lr, zero_grad=True, momentum=1.0)
    plain = path(lr, zero_grad=True)
    gap = max(abs(a - b) for a, b in zip(forgetful, heavy))
    late = forgetful[300:]
    swings = min(late) < 0.1 and max(late) > 5.9
    settled = abs(plain[-1] - 3.0) < 0.01
    print(
        f"lr {lr}: path of momentum=1.0 {gap < 1e-3}, swings {swings},"
        f"\n    zero_grad() run settles {settled}"
    )

# %%
# The fix is one line at the top of the loop: ``optimizer.zero_grad()`` (or
# ``model.zero_grad()``) before each ``backward()``. Accumulating on purpose, to simulate a
# larger batch, is fine, but then call ``zero_grad()`` after each ``step()``.
