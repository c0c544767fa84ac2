"""
Nesterov against classical momentum
===================================

With ``nesterov=True``, ``torch.optim.SGD`` keeps the same buffer
:math:`v \\leftarrow \\mu v + g` but steps along :math:`g + \\mu v` instead of :math:`v`.
Written out, :math:`g + \\mu v = (1 + \\mu) g + \\mu^2 v_{\\text{previous}}`: the current
gradient weighs :math:`1 + \\mu` instead of 1, which amounts to evaluating the gradient a
little ahead, where the momentum is about to carry the parameters. On a narrow valley this
damps the zigzag across it. This script runs both on the same ill-conditioned bowl, with
the same ``lr`` and ``momentum``, and draws the paths.

Requires: ``pip install torch matplotlib``
"""

# %%
# Both runs
# ---------
# The bowl :math:`f(x, y) = (\lambda_1 x^2 + \lambda_2 y^2) / 2` with :math:`\lambda_1 = 1`
# and :math:`\lambda_2 = 25`, from (-2.5, 2).

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

SMALL, LARGE = 1.0, 25.0
START = [-2.5, 2.0]
LR, MU, STEPS = 0.04, 0.9, 60
SETTINGS = {"classical momentum": False, "Nesterov": True}


def bowl(points):
    """The bowl's value at each row (x, y) of ``points``."""
    return 0.5 * (SMALL * points[..., 0] ** 2 + LARGE * points[..., 1] ** 2)


def descend(lr, nesterov, steps=STEPS):
    """The points visited by SGD with momentum MU from START, as a CPU
    tensor."""
    point = torch.tensor(START, device=device, requires_grad=True)
    optimizer = torch.optim.SGD(
        [point], lr=lr, momentum=MU, nesterov=nesterov
    )
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        bowl(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path).cpu()


def steps_to(losses, threshold=1e-3):
    """The first step whose loss is below ``threshold``, or "never"."""
    below = (losses < threshold).nonzero()
    return f"step {int(below[0])}" if len(below) else "never"


paths = {name: descend(LR, nesterov) for name, nesterov in SETTINGS.items()}
for name, path in paths.items():
    losses = bowl(path)
    print(
        f"{name:<18}: loss after {STEPS} steps {losses[-1].item():.1g}, "
        f"first below 1e-3: {steps_to(losses)}"
    )

# %%
# The paths
# ---------
# Classical momentum overshoots across the steep direction again and again; Nesterov's
# extra gradient term damps the overshoots, and its loss falls below 1e-3 within the 60
# steps (printed above) while classical momentum's does not. Below, how often each run
# crosses :math:`y = 0` (counting only points with :math:`|y| > 10^{-3}`), and how far
# past :math:`x = 0` it goes in the flat direction: at this rate, which is below both
# bounds printed at the end, both converge.

for name, path in paths.items():
    y = path[:, 1][path[:, 1].abs() > 1e-3]
    crossings = int((y[1:] * y[:-1] < 0).sum())
    print(
        f"{name:<18}: sign changes of y {crossings:2d}, "
        f"largest x {path[:, 0].max().item():.2f}"
    )

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
    top.plot(path[:, 0], path[:, 1], ".-", ms=4, label=name)
    bottom.plot(bowl(path), label=name)
top.plot(0, 0, "k*", ms=10, label="minimum")
top.set(
    xlabel="x",
    ylabel="y",
    aspect="equal",
    title=f"Paths, lr {LR}, momentum {MU}, condition number 25",
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

# %%
# What each step adds
# -------------------
# On the first step the buffer is the gradient in both runs, so Nesterov's step
# :math:`g + \mu g` is :math:`1 + \mu` times the classical one.

lengths = {}
for name, path in paths.items():
    lengths[name] = (path[1:4] - path[:3]).norm(dim=1)
    print(
        f"{name:<18}: first step lengths "
        f"{[round(v, 2) for v in lengths[name].tolist()]}"
    )
ratio = (lengths["Nesterov"][0] / lengths["classical momentum"][0]).item()
print(f"ratio of the first steps {ratio:.4f}, 1 + mu = {1 + MU}")

# %%
# Not a free lunch
# ----------------
# That extra gradient term also lowers the largest stable learning rate: on a bowl, Nesterov
# converges only for :math:`\text{lr}\,\lambda < (2 + 2\mu) / (1 + 2\mu)`, against
# :math:`2 + 2\mu` for classical momentum. With a larger rate, between the two bounds for the
# steep direction, classical momentum still converges and Nesterov diverges.

print(
    f"bounds on lr for lambda_2 = {LARGE:g}: classical "
    f"{(2 + 2 * MU) / LARGE:.4f}, "
    f"Nesterov {(2 + 2 * MU) / (1 + 2 * MU) / LARGE:.4f}"
)
BIG_LR = 0.07
for name, nesterov in SETTINGS.items():
    end = descend(BIG_LR, nesterov)[-1]
    print(
        f"lr {BIG_LR}, {name}: loss after {STEPS} steps "
        f"{bowl(end).item():.1g}"
    )
