"""
The largest stable learning rate: 2 / lambda
============================================

On :math:`f(x) = \\frac{\\lambda}{2} x^2` a gradient step is
:math:`x_{t+1} = x_t - \\text{lr}\\,\\lambda x_t = (1 - \\text{lr}\\,\\lambda)\\, x_t`. The
iterates shrink when :math:`|1 - \\text{lr}\\,\\lambda| < 1`, that is when
:math:`0 < \\text{lr} < 2 / \\lambda`; at :math:`2 / \\lambda` they flip sign forever without
shrinking, and above it they grow geometrically. Near any minimum a smooth loss looks like
such a bowl, with :math:`\\lambda` the largest curvature (the largest Hessian eigenvalue),
which is why this bound matters well beyond quadratics.
"""

# %%
# Three learning rates around the bound
# -------------------------------------
# :math:`\lambda = 4`, so the bound is 0.5. Each run is :func:`sgdlab.minimize` with
# ``torch.optim.SGD``, 30 steps from :math:`x = 1`.

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())

LAM, STEPS = 4.0, 30
BOUND = 2 / LAM
print(f"lambda = {LAM}, bound 2 / lambda = {BOUND}")
LRS = {"below: 0.9 x bound": 0.9 * BOUND, "at the bound": BOUND, "above: 1.1 x bound": 1.1 * BOUND}


def bowl(x):
    return 0.5 * LAM * (x**2).sum()


def runs(device):
    """|x_t| for each learning rate, as CPU tensors."""
    found = {}
    for name, lr in LRS.items():
        trajectory = sgdlab.minimize(bowl, lambda params: torch.optim.SGD(params, lr=lr),
                                     STEPS, start=[1.0], device=device)
        found[name] = trajectory.path()[:, 0].abs()
    return found


results = sgdlab.run_on_devices(runs)
for device, found in results.items():
    for name, sizes in found.items():
        print(f"[{device}] lr = {LRS[name]:.2f} ({name}): |x| after {STEPS} steps = {sizes[-1]:.4g}")

# %%
# The factor per step
# -------------------
# Each run multiplies :math:`x` by the same factor at every step; the measured ratio
# :math:`|x_{t+1} / x_t|` equals :math:`|1 - \text{lr}\,\lambda|`.

for name, sizes in results["cpu"].items():
    measured = (sizes[1] / sizes[0]).item()
    print(f"{name}: |1 - lr lambda| = {abs(1 - LRS[name] * LAM):.2f}, measured |x_1 / x_0| = {measured:.2f}")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
sgdlab.plot_loss({f"lr = {LRS[name]:.2f} ({name})": sizes for name, sizes in results["cpu"].items()},
                 ax=ax, ylabel="|x_t|")
ax.set_title(f"(lambda / 2) x^2 with lambda = {LAM:g}: bound 2 / lambda = {BOUND:g}")
plt.show()

# %%
# A learning rate of exactly :math:`1 / \lambda` lands on the minimum in one step: the best
# rate for a one-dimensional bowl, and half the bound.

one_step = sgdlab.run_on_devices(
    lambda device: sgdlab.minimize(bowl, lambda params: torch.optim.SGD(params, lr=1 / LAM), 1,
                                   start=[1.0], device=device).path()[-1, 0].item()
)
for device, x in one_step.items():
    print(f"[{device}] lr = 1 / lambda = {1 / LAM}: x after one step = {x}")
