"""
SGD on Beale's function
=======================

Beale's function, a sum of three squared polynomials in :math:`x` and :math:`y`, has its
minimum :math:`0` at :math:`(3, 0.5)`, a flat basin around it, and walls that rise like
:math:`y^6` towards the corners. The gradient therefore spans many orders of magnitude
(its size is 28 at the start used here, and grows past :math:`10^7` within two steps of
the largest rate's run). Without gradient clipping (none is applied here: the paths
come from ``sgdlab.minimize``'s plain steps), one large gradient is enough to send a run
to infinity.

Four settings from the start :math:`(1, 1)`: a picture of what each does from there, not a
ranking of optimizers.

Requires: ``pip install sgdlab``
"""

# %%
# The runs
# --------

import matplotlib.pyplot as plt
import torch

import sgdlab

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


objective = sgdlab.beale()
STEPS = 500
SETTINGS = {
    "lr 1e-3": {"lr": 1e-3},
    "lr 1e-2": {"lr": 1e-2},
    "lr 1e-2, momentum 0.9": {"lr": 1e-2, "momentum": 0.9},
    "lr 1e-1": {"lr": 1e-1},
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
    """The end point and value, or where the run diverged and its gradients.
    """
    if trajectory.diverged:
        sizes = trajectory.grads().norm(dim=1)[: trajectory.diverged_at + 1]
        norms = ", ".join(f"{size:.2g}" for size in sizes.tolist())
        return (
            f"diverged (inf or nan) at step {trajectory.diverged_at}\n"
            f"{'':24}gradient norms {norms}"
        )
    end = trajectory.path()[-1]
    value = objective(end).item()
    # Below 1e-10 the value is float32 rounding around the minimum, not a
    # property of the run.
    shown = f"= {value:.3g}" if value > 1e-10 else "below 1e-10"
    return f"ends at ({end[0]:.4f}, {end[1]:.4f}), f {shown}"


results = runs()
for name, trajectory in results.items():
    print(f"{name:<22}: {summary(trajectory)}")

# %%
# The largest rate takes a step that lands high on a wall, where the next gradient is far
# larger; each step then multiplies the distance, until the numbers overflow. The gradient
# norms printed above show the growth.

fig, (left, right) = sgdlab.compare(
    objective, results, log=True, layout="column"
)
left.set_title(f"{objective.name}: paths, {STEPS} steps")
right.set(title="f along each path", ylim=(1e-14, 1e6))
plt.show()
