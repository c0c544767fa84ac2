"""
SGD among Rastrigin's local minima
==================================

Rastrigin's function :math:`20 + \\sum_i \\left(x_i^2 - 10 \\cos(2 \\pi x_i)\\right)` is a bowl
covered in a regular grid of local minima; the global one is :math:`0` at the origin.
Plain gradient descent follows the slope downhill: at each rate tried below the stability
bound of the dimples, every run settles in the dimple it starts in. Momentum
changes that. A run with momentum can carry its speed over a ridge and settle in another
dimple, even at a rate every dimple's bottom would accept. The gradient is exact here; on
a real problem SGD adds noise too, which this script does not model.

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


objective = sgdlab.rastrigin()
START, STEPS = (2.3, -1.6), 200
SETTINGS = {
    "lr 1e-3": {"lr": 1e-3},
    "lr 1e-3, momentum 0.9": {"lr": 1e-3, "momentum": 0.9},
    "lr 4e-3, momentum 0.9": {"lr": 4e-3, "momentum": 0.9},
    "lr 1e-2": {"lr": 1e-2},
}
print(
    f"start {START}, global minimum {objective.minimum}, "
    f"{STEPS} steps each"
)


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
        # Where a run that never settles stands after 200 steps depends on
        # rounding.
        print(
            f"{name:<22}: still moving after {STEPS} steps (last step > "
            "1e-4)"
        )

# %%
# The three small-step runs end in the same local minimum next to the start, whose value
# is printed above; the largest rate never settles. Why: the curvature at the bottom of a
# dimple is about :math:`\lambda = 2 + 40\pi^2`, and each run that settles is below its
# own stability bound: :math:`2 / \lambda` without momentum (printed below), and
# :math:`(2 + 2\mu) / \lambda` with momentum :math:`\mu` (0.0096 at 0.9, in the grid
# below). The largest rate, 1e-2 without momentum, is above its bound.

curvature = 2 + 40 * torch.pi**2
print(
    f"curvature at a dimple's bottom 2 + 40 pi^2 = {curvature:.1f}; "
    f"2 / curvature = {2 / curvature:.4f}"
)

fig, (left, right) = sgdlab.compare(
    objective,
    results,
    log=True,
    layout="column",
    bounds=((-1.0, 3.5), (-3.0, 1.5)),
)
left.set_title(f"{objective.name}: paths, {STEPS} steps")
# The lr 1e-2 path bounces over the short paths of the other three: draw it
# pale and beneath them, so that they stay visible.
for line in left.lines:
    if line.get_label() == "lr 1e-2":
        line.set(alpha=0.35, zorder=2)
left.annotate(
    "three runs end here",
    xy=(2.0, -2.0),
    xytext=(1.2, -2.75),
    arrowprops=dict(arrowstyle="->"),
)
right.set_title("f along each path")
plt.show()

# %%
# Every start, not one
# --------------------
# One start proves little, so each setting below runs from every point of a grid around
# the start, 0.2 apart and at least 0.1 away from the ridges between dimples (near the
# half-integers), for 600 steps (2500 at momentum 0.99, whose oscillations fade more
# slowly). A run *settles* when its last step is shorter than 1e-4; its own dimple is the
# one around the whole-number point nearest its start. All the rates are below the bound
# :math:`(2 + 2\mu) / \lambda` of the dimples' bottoms, except the last one.

offsets = (-0.4, -0.2, 0.0, 0.2, 0.4)
axis_x = [n + d for n in (1, 2, 3) for d in offsets]
axis_y = [n + d for n in (-3, -2, -1) for d in offsets]
starts = torch.tensor(
    [(x, y) for x in axis_x for y in axis_y], device=device
)
GRID_SETTINGS = {
    "lr 1e-3": {"lr": 1e-3},
    "lr 4e-3": {"lr": 4e-3},
    "lr 4.9e-3": {"lr": 4.9e-3},
    "lr 1e-3, momentum 0.9": {"lr": 1e-3, "momentum": 0.9},
    "lr 4e-3, momentum 0.9": {"lr": 4e-3, "momentum": 0.9},
    "lr 9e-3, momentum 0.9": {"lr": 9e-3, "momentum": 0.9},
    "lr 4e-3, momentum 0.99": {"lr": 4e-3, "momentum": 0.99},
    "lr 1e-2": {"lr": 1e-2},
}


def where_each_ends(settings):
    """Run SGD from every start at once: row i of ``points`` is run i."""
    steps = 2500 if settings.get("momentum") == 0.99 else 600
    points = starts.clone().requires_grad_()
    optimizer = torch.optim.SGD([points], **settings)
    for _ in range(steps):
        before = points.detach().clone()
        optimizer.zero_grad()
        objective(points).sum().backward()  # row i's gradient is run i's
        optimizer.step()
    ends = points.detach()
    settled = (ends - before).norm(dim=1) < 1e-4
    own = (ends.round() == starts.round()).all(dim=1)
    return settled & own, settled & ~own


def verdict(own, other):
    if own.all():
        return "every run settles in its own dimple"
    if other.any():
        return "some runs settle in another dimple"
    return "no run settles" if not own.any() else "some runs do not settle"


print(f"{len(starts)} starts per setting")
verdicts = {}
for name, settings in GRID_SETTINGS.items():
    bound = (2 + 2 * settings.get("momentum", 0.0)) / curvature
    verdicts[name] = verdict(*where_each_ends(settings))
    print(f"{name:<22} (bound {bound:.4f}): {verdicts[name]}")

# %%
# Without momentum, every rate below :math:`2 / \lambda` keeps every start in its own
# dimple, and the rate above the bound settles nowhere. With momentum 0.9 the two smaller
# rates keep every start too, but at lr 9e-3, still under its bound, some runs cross a
# ridge and settle in another dimple; at momentum 0.99 some do even at lr 4e-3. The bound
# says whether a run can come to rest at a dimple's bottom, not which dimple it reaches.

own_dimple = "every run settles in its own dimple"
print(
    "no momentum, below 2 / lambda, every run stays in its own dimple:",
    all(
        verdicts[name] == own_dimple
        for name, settings in GRID_SETTINGS.items()
        if "momentum" not in settings and settings["lr"] < 2 / curvature
    ),
)
print(
    "with momentum, below the bound, some run settles in another dimple:",
    any(
        verdicts[name] == "some runs settle in another dimple"
        for name, settings in GRID_SETTINGS.items()
        if "momentum" in settings
    ),
)
