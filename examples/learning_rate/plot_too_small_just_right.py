"""
Too small, just right, divergent
================================

On a two-dimensional bowl with curvatures :math:`\\lambda_1 < \\lambda_2` (the quadratic of
:func:`sgdlab.quadratic`), each direction has its own factor per step,
:math:`1 - \\text{lr}\\,\\lambda_i`. A small rate is safe but crawls along the flat direction;
above :math:`2 / \\lambda_2` the steep direction blows up. In between, the rate
:math:`2 / (\\lambda_1 + \\lambda_2)` makes the two factors equal in size and gives the
fastest worst-case progress for plain gradient descent.
"""

# %%
# Three runs on a bowl with condition number 10
# ---------------------------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())

bowl = sgdlab.quadratic(condition_number=10.0)
small, large = bowl.constants["eigenvalues"]
LRS = {
    "too small": 0.1 / large,
    "just right": 2 / (small + large),
    "divergent": 1.1 * 2 / large,
}
STEPS = 40
print(f"eigenvalues {small:g} and {large:g}; bound 2 / lambda_2 = {2 / large:.4f}")
for name, lr in LRS.items():
    factors = [abs(1 - lr * eigenvalue) for eigenvalue in (small, large)]
    print(f"{name:<10}: lr = {lr:.4f}, factors per step |1 - lr lambda_i| = "
          f"{factors[0]:.4f} (flat), {factors[1]:.4f} (steep)")


def runs(device):
    return {
        name: sgdlab.minimize(bowl, lambda params: torch.optim.SGD(params, lr=lr), STEPS, device=device)
        for name, lr in LRS.items()
    }


results = sgdlab.run_on_devices(runs)
for device, found in results.items():
    for name, trajectory in found.items():
        end = trajectory.path()[-1]
        print(f"[{device}] {name:<10}: loss after {STEPS} steps {bowl(end).item():.4g}, "
              f"end point ({end[0]:.4g}, {end[1]:.4g})")

# %%
# The paths and the loss along them
# ---------------------------------
# The "just right" run zigzags across the steep direction (its factor there is negative, so
# the sign flips every step) and still arrives first. The divergent run's zigzag grows.

labels = {f"{name}, lr = {LRS[name]:.3f}": trajectory for name, trajectory in results["cpu"].items()}
fig, (left, right) = sgdlab.compare(bowl, labels)
left.set_title(f"Paths on {bowl.name}")
right.set_title("Loss along each path")
plt.show()
