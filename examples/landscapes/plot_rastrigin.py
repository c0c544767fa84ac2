"""
SGD among Rastrigin's local minima
==================================

Rastrigin's function :math:`20 + \\sum_i \\left(x_i^2 - 10 \\cos(2 \\pi x_i)\\right)` is a bowl
covered in a regular grid of local minima; the global one is :math:`0` at the origin.
Gradient descent follows the slope downhill, so it settles in whichever dimple it starts in,
with or without momentum, unless the step is so large that it no longer settles anywhere.
The gradient is exact here: what SGD adds on a real problem is noise, and that noise, not
the update rule, is what sometimes lets it leave a poor minimum.

The paths come from ``sgdlab.minimize``: plain steps, no gradient clipping, no
schedule. This is a picture of four settings from one start, not a ranking of optimizers.

Requires: ``pip install sgdlab``
"""

# %%
# Four settings from a start away from the origin
# -----------------------------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


def paths_and_losses(objective, runs, **contour_options):
    """Paths over the contour lines (top) and the value along each path (bottom)."""
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
        bottom.get_legend().remove()  # the colours are those of the legend above
    return fig, top, bottom


objective = sgdlab.rastrigin()
START, STEPS = (2.3, -1.6), 200
SETTINGS = {
    "lr 1e-3": {"lr": 1e-3},
    "lr 1e-3, momentum 0.9": {"lr": 1e-3, "momentum": 0.9},
    "lr 4e-3, momentum 0.9": {"lr": 4e-3, "momentum": 0.9},
    "lr 1e-2": {"lr": 1e-2},
}
print(f"start {START}, global minimum {objective.minimum}, {STEPS} steps each")


def runs():
    return {
        name: sgdlab.minimize(
            objective,
            lambda params: torch.optim.SGD(params, **settings),
            STEPS,
            start=START,
            device=device,
        )
        for name, settings in SETTINGS.items()
    }


results = runs()
for name, trajectory in results.items():
    path = trajectory.path()
    end, last_step = path[-1], (path[-1] - path[-2]).norm().item()
    if last_step < 1e-4:
        print(
            f"{name:<22}: settles at ({end[0]:.4f}, {end[1]:.4f}), "
            f"f = {objective(end).item():.4f}"
        )
    else:
        # Where a run that never settles stands after 200 steps depends on rounding.
        print(
            f"{name:<22}: still moving after {STEPS} steps (last step > 1e-4)"
        )

# %%
# The three small-step runs end in the same local minimum next to the start, whose value
# is printed above; the largest rate never settles. Why: the curvature at the bottom of a
# dimple is about :math:`2 + 40\pi^2`, and the stability bound :math:`2 / \lambda` from the
# learning-rate section, printed below, lies between the small rates and the large one.

curvature = 2 + 40 * torch.pi**2
print(
    f"curvature at a dimple's bottom 2 + 40 pi^2 = {curvature:.1f}; "
    f"2 / curvature = {2 / curvature:.4f}"
)

fig, left, right = paths_and_losses(
    objective, results, bounds=((-1.0, 3.5), (-3.0, 1.5))
)
left.set_title(f"{objective.name}: paths, {STEPS} steps")
right.set_title("f along each path")
plt.show()
