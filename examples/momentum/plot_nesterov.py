"""
Nesterov against classical momentum
===================================

With ``nesterov=True``, ``torch.optim.SGD`` keeps the same buffer
:math:`v \\leftarrow \\mu v + g` but steps along :math:`g + \\mu v` instead of :math:`v`:
it applies the current gradient once more, which amounts to evaluating the gradient a
little ahead, where the momentum is about to carry the parameters. On a narrow valley this
damps the zigzag across it. This script runs both on the same ill-conditioned bowl, with
the same ``lr`` and ``momentum``, and draws the paths.
"""

# %%
# Both runs, on every device
# --------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())

bowl = sgdlab.quadratic(condition_number=25.0)
LR, MU, STEPS = 0.04, 0.9, 60
SETTINGS = {"classical momentum": False, "Nesterov": True}


def runs(device):
    return {
        name: sgdlab.minimize(
            bowl, lambda params: torch.optim.SGD(params, lr=LR, momentum=MU, nesterov=nesterov),
            STEPS, device=device,
        )
        for name, nesterov in SETTINGS.items()
    }


def steps_to(losses, threshold=1e-3):
    """The first step whose loss is below ``threshold``, or "never"."""
    below = (losses < threshold).nonzero()
    return f"step {int(below[0])}" if len(below) else "never"


results = sgdlab.run_on_devices(runs)
for device, found in results.items():
    for name, trajectory in found.items():
        losses = trajectory.losses()
        print(f"[{device}] {name:<18}: loss after {STEPS} steps {bowl(trajectory.path()[-1]).item():.3g}, "
              f"first below 1e-3: {steps_to(losses)}")

# %%
# The paths
# ---------
# Classical momentum overshoots across the steep direction again and again; Nesterov's
# extra gradient term corrects each overshoot one step earlier.

fig, (left, right) = sgdlab.compare(bowl, results["cpu"])
left.set_title(f"Paths, lr {LR}, momentum {MU}")
fig.suptitle(bowl.name)
right.set_title("Loss along each path")
plt.show()

# %%
# What each step adds
# -------------------
# On the first step the buffer is the gradient in both runs, so Nesterov's step
# :math:`g + \mu g` is :math:`1 + \mu` times the classical one.

lengths = {}
for name, trajectory in results["cpu"].items():
    path = trajectory.path()
    lengths[name] = (path[1:4] - path[:3]).norm(dim=1)
    print(f"{name:<18}: first step lengths {[round(v, 4) for v in lengths[name].tolist()]}")
ratio = (lengths["Nesterov"][0] / lengths["classical momentum"][0]).item()
print(f"ratio of the first steps {ratio:.4f}, 1 + mu = {1 + MU}")

# %%
# Not a free lunch
# ----------------
# That extra gradient term also lowers the largest stable learning rate: on a bowl, Nesterov
# converges only for :math:`\text{lr}\,\lambda < (2 + 2\mu) / (1 + 2\mu)`, against
# :math:`2 + 2\mu` for classical momentum. With a larger rate, between the two bounds for the
# steep direction, classical momentum still converges and Nesterov diverges.

large = bowl.constants["eigenvalues"][1]
print(f"bounds on lr for lambda_2 = {large:g}: classical {(2 + 2 * MU) / large:.4f}, "
      f"Nesterov {(2 + 2 * MU) / (1 + 2 * MU) / large:.4f}")
BIG_LR = 0.07


def big_rate(device):
    return {
        name: sgdlab.minimize(
            bowl, lambda params: torch.optim.SGD(params, lr=BIG_LR, momentum=MU, nesterov=nesterov),
            STEPS, device=device,
        ).path()[-1]
        for name, nesterov in SETTINGS.items()
    }


for device, found in sgdlab.run_on_devices(big_rate).items():
    for name, end in found.items():
        print(f"[{device}] lr {BIG_LR}, {name}: loss after {STEPS} steps {bowl(end).item():.3g}")
