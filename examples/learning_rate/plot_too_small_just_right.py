"""
Too small, just right, divergent
================================

On a two-dimensional bowl with curvatures :math:`\\lambda_1 < \\lambda_2`, each direction has
its own factor per step, :math:`1 - \\text{lr}\\,\\lambda_i`. A small rate is safe but crawls
along the flat direction; above :math:`2 / \\lambda_2` the steep direction blows up. In
between, the rate :math:`2 / (\\lambda_1 + \\lambda_2)` makes the two factors equal in size
and gives the fastest worst-case progress for plain gradient descent.

Requires: ``pip install torch matplotlib``
"""

# %%
# Three runs on a bowl with condition number 10
# ---------------------------------------------
# The bowl :math:`f(x, y) = (\lambda_1 x^2 + \lambda_2 y^2) / 2` with :math:`\lambda_1 = 1`
# and :math:`\lambda_2 = 10`, from (-2.5, 2).

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

SMALL, LARGE = 1.0, 10.0
START = [-2.5, 2.0]
LRS = {
    "too small": 0.1 / LARGE,
    "just right": 2 / (SMALL + LARGE),
    "divergent": 1.1 * 2 / LARGE,
}
STEPS = 40
print(
    f"eigenvalues {SMALL:g} and {LARGE:g}; bound 2 / lambda_2 = "
    f"{2 / LARGE:.4f}"
)
for name, lr in LRS.items():
    factors = [abs(1 - lr * eigenvalue) for eigenvalue in (SMALL, LARGE)]
    print(
        f"{name:<10}: lr = {lr:.4f}, |1 - lr lambda_i| = "
        f"{factors[0]:.4f} (flat), {factors[1]:.4f} (steep)"
    )


def bowl(points):
    """The bowl's value at each row (x, y) of ``points``."""
    return 0.5 * (SMALL * points[..., 0] ** 2 + LARGE * points[..., 1] ** 2)


def descend(lr, steps=STEPS):
    """The points visited by plain SGD from START, as a CPU tensor."""
    point = torch.tensor(START, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([point], lr=lr)
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        bowl(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path).cpu()


paths = {name: descend(lr) for name, lr in LRS.items()}
for name, path in paths.items():
    loss = bowl(path[-1]).item()
    print(f"{name:<10}: loss after {STEPS} steps {loss:.2g}")

# %%
# The fastest worst case
# ----------------------
# The slower direction sets the worst-case progress: the larger of the two factors.
# Nudging the "just right" rate either way makes that worst factor larger, and over a fine
# grid of rates up to the bound it is smallest at :math:`2 / (\lambda_1 + \lambda_2)`.


def worst(lr):
    """The larger of the two factors |1 - lr lambda_i|: the slower
    direction."""
    return max(abs(1 - lr * eigenvalue) for eigenvalue in (SMALL, LARGE))


best = 2 / (SMALL + LARGE)
for scale in (0.95, 1.0, 1.05):
    print(
        f"lr = {scale:.2f} x 2 / (lambda_1 + lambda_2): worst factor "
        f"{worst(scale * best):.4f}"
    )
grid = [i / 10000 for i in range(1, 2000)]  # rates up to the bound
fastest = min(grid, key=worst)
print(f"smallest worst factor on a grid of step 1e-4: lr = {fastest:.4f}")

# %%
# The paths and the loss along them
# ---------------------------------
# The "just right" run zigzags across the steep direction (its factor there is negative, so
# the sign flips every step) and still arrives first. The divergent run's zigzag grows.

xs, ys = torch.meshgrid(
    torch.linspace(-3, 3, 200), torch.linspace(-3, 3, 200), indexing="xy"
)
fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(6.4, 8.5), layout="constrained"
)
top.contour(
    xs, ys, bowl(torch.stack([xs, ys], -1)), levels=15, colors="lightgrey"
)
for name, path in paths.items():
    label = f"{name}, lr = {LRS[name]:.3f}"
    # The divergent path's zigzag would paint a band over the bowl: a thin,
    # faint line, under the others.
    wild = name not in ("too small", "just right")
    style = {"zorder": 2}
    if wild:
        style = {"lw": 0.6, "alpha": 0.5, "zorder": 1}
    top.plot(path[:, 0], path[:, 1], ".-", ms=4, label=label, **style)
    bottom.plot(bowl(path), label=label)
top.plot(0, 0, "k*", ms=14, mec="white", label="minimum", zorder=5)
top.set(
    xlabel="x",
    ylabel="y",
    xlim=(-3, 3),
    ylim=(-3, 3),
    aspect="equal",
    title="Paths on the bowl, condition number 10",
)
top.legend(loc="lower right")
bottom.set(
    yscale="log",
    xlabel="step",
    ylabel="f(x, y)",
    title="Loss along each path",
)
bottom.legend(loc="lower left")
plt.show()
