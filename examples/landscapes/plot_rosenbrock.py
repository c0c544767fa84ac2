"""
SGD in Rosenbrock's valley
==========================

Rosenbrock's function :math:`(1 - x)^2 + 100 (y - x^2)^2` has its minimum at
:math:`(1, 1)`, at the end of a long, curved, nearly flat valley with steep walls. The walls
limit the learning rate; the flat floor then makes plain SGD crawl. Momentum builds up speed
along the floor, but too large a rate, with momentum, throws the point up a wall and out.

Every path here comes from ``sgdlab.minimize``, which runs plain steps
(``zero_grad``, loss, ``backward``, ``step``): no gradient clipping, no schedule, no
restarts. A run that produces inf or nan stops there, and the printout says at which step.

A picture like this is not a ranking of optimizers: each setting was tried at a handful of
learning rates, from one starting point, for a fixed number of steps; other choices would
order the curves differently.

Requires: ``pip install sgdlab``
"""

# %%
# Five settings from the usual start
# ----------------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


objective = sgdlab.rosenbrock()
STEPS = 500
SETTINGS = {
    "lr 1e-3": {"lr": 1e-3},
    "lr 1e-3, momentum 0.9": {"lr": 1e-3, "momentum": 0.9},
    "lr 1e-3, Nesterov 0.9": {
        "lr": 1e-3,
        "momentum": 0.9,
        "nesterov": True,
    },
    "lr 3e-3, momentum 0.9": {"lr": 3e-3, "momentum": 0.9},
    "lr 5e-3, momentum 0.9": {"lr": 5e-3, "momentum": 0.9},
}
print(
    f"start {objective.start}, minimum {objective.minimum}, {STEPS} steps "
    "each"
)


def runs():
    return {
        name: sgdlab.minimize(
            objective,
            lambda params: torch.optim.SGD(params, **settings),
            STEPS,
            device=device,
        )
        for name, settings in SETTINGS.items()
    }


def summary(trajectory):
    """The end point and its value, or the step at which the run diverged.
    """
    if trajectory.diverged:
        return f"diverged (inf or nan) at step {trajectory.diverged_at}"
    end = trajectory.path()[-1]
    value = objective(end).item()
    return f"ends at ({end[0]:.4f}, {end[1]:.4f}), f = {value:.3g}"


results = runs()
for name, trajectory in results.items():
    print(f"{name:<22}: {summary(trajectory)}")

# %%
# The paths
# ---------

fig, (left, right) = sgdlab.compare(
    objective, results, log=True, layout="column"
)
left.set_title(f"{objective.name}: paths, {STEPS} steps")
# The diverging run's values reach astronomic sizes; keep the axis on the
# others.
right.set(title="f along each path", ylim=(1e-8, 1e4))
plt.show()

# %%
# What caps the rate
# ------------------
# At the minimum the valley's walls give the Hessian a largest eigenvalue near 1000, so
# plain SGD cannot settle there above :math:`2 / \lambda_{max} \approx 0.002`. From the
# same start, plain SGD at 1e-2 diverges; at 3e-3 it gets no closer to the minimum between
# step 500 and step 2000 (it bounces across the valley); at 1.9e-3, under the cap, it
# keeps crawling down the floor.

minimum = torch.tensor(objective.minimum, dtype=torch.float64)
hessian = torch.autograd.functional.hessian(objective, minimum)
cap = 2 / torch.linalg.eigvalsh(hessian).max().item()
print(f"2 / lambda_max at the minimum = {cap:.4f}")
for lr in (1e-2, 3e-3, 1.9e-3):
    plain = sgdlab.minimize(
        objective,
        lambda params: torch.optim.SGD(params, lr=lr),
        2000,
        device=device,
    )
    if plain.diverged:
        print(f"plain SGD, lr {lr:g}: diverged at step {plain.diverged_at}")
        continue
    path = plain.path()
    f_500, f_2000 = objective(path[500]).item(), objective(path[-1]).item()
    print(
        f"plain SGD, lr {lr:g}: f lower at step 2000 than at step 500: "
        f"{f_2000 < f_500}"
    )
