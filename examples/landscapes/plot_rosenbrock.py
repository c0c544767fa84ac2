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


def paths_and_losses(objective, runs, **contour_options):
    """Paths over the contour lines (top) and the value along each path
    (bottom)."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 9), layout="constrained", height_ratios=[3, 2]
    )
    sgdlab.plot_paths(objective, runs, top, **contour_options)
    handles = top.get_legend().legend_handles
    top.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=2,
    )
    sgdlab.plot_loss(
        runs, bottom, ylabel=f"f({', '.join(objective.variables)})"
    )
    if bottom.get_legend() is not None:
        bottom.get_legend().remove()  # colours as in the legend above
    return fig, top, bottom


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

fig, left, right = paths_and_losses(objective, results)
left.set_title(f"{objective.name}: paths, {STEPS} steps")
# The diverging run's values reach astronomic sizes; keep the axis on the
# others.
right.set(title="f along each path", ylim=(1e-8, 1e4))
plt.show()
