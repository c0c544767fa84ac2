"""
SGD on a plain function, over many steps
========================================

The article's function :math:`y = 3 c e^x + 2 x + 4` has no minimum: with learning rate
1.0 the first step throws :math:`x` from 5 to -1332.7185, and every later step lowers
:math:`y` further. Its bounded relative :math:`y = 9 e^x - 2 x + 4` (the sign of
:math:`b` flipped, :math:`c = 3` held fixed) has a minimum at :math:`x^* = \\ln(2/9)`, which
SGD reaches with small learning rates. The plots show the paths and the loss curves.

The page :doc:`/article/beyond-networks` explains the choice of the variant and of the
learning rates.

Requires: ``pip install torch matplotlib``
"""

# %%
# The article's function: descending forever
# ------------------------------------------

import math

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


def article_y(x, c):
    return c * 3 * torch.exp(x) + 2.0 * x + 4.0


def bounded_y(x):
    return 3.0 * 3 * torch.exp(x) - 2.0 * x + 4.0


ARTICLE_STEPS = 20


def article_run(lr=1.0, steps=ARTICLE_STEPS):
    """x, c and y after each SGD step on the article's function."""
    x = torch.tensor(5.0, requires_grad=True, device=device)
    c = torch.tensor(3.0, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([x, c], lr=lr)
    rows = []
    for _ in range(steps):
        optimizer.zero_grad()
        article_y(x, c).backward()
        optimizer.step()
        with torch.no_grad():
            rows.append((x.item(), c.item(), article_y(x, c).item()))
    return rows


article = article_run()
for step, (x, c, y) in enumerate(article[:4], 1):
    print(f"lr 1.0, step {step}: x = {x:.4f}, c = {c:.4f}, y = {y:.4f}")

# %%
# A bounded variant: converging
# -----------------------------
# The largest stable learning rate near a point is :math:`2 / y''(x) = 2 / (9 e^x)`: tiny
# at the start, 1 at the minimum.

x_star = math.log(2 / 9)
y_star = bounded_y(torch.tensor(x_star, dtype=torch.float64)).item()
print(f"minimum of 9 e^x - 2x + 4: x* = {x_star:.4f}, y* = {y_star:.4f}")
print(
    f"largest stable lr at x = 5: {2 / (9 * math.exp(5.0)):.5f}; "
    f"at x*: {2 / (9 * math.exp(x_star)):.5f}"
)

STEPS = 2000
RATES = (0.001, 0.01)


def bounded_run(lr, steps=STEPS):
    """x after each SGD step on the bounded variant, from x = 5 (x itself
    first)."""
    x = torch.tensor(5.0, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([x], lr=lr)
    path = [x.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        bounded_y(x).backward()
        optimizer.step()
        path.append(x.detach().clone())
    return torch.stack(path).cpu()


bounded = {lr: bounded_run(lr) for lr in RATES}
for lr, path in bounded.items():
    end = path[-1]
    # y is printed as its distance to y* (in float64): at lr 0.01 y sits
    # within a few float32 units of 9.00815, where four decimals could round
    # either way.
    above = bounded_y(end.double()).item() - y_star
    print(
        f"lr {lr}: first step x = {path[1].item():.4f}\n    after "
        f"{STEPS} steps x = {end.item():.4f}, y - y* = {above:.4f}"
    )

# %%
# What "converges" means here: the first step within a tolerance of :math:`x^*`.

TOLERANCE = 1e-3
for lr, path in bounded.items():
    close = ((path - x_star).abs() < TOLERANCE).nonzero()
    when = (
        f"first at step {close[0].item()}"
        if len(close)
        else f"not within {STEPS} steps"
    )
    print(f"lr {lr}: |x - x*| < {TOLERANCE:g} {when}")

# %%
# How each rate gets there: whether x ever goes past :math:`x^*`, whether it falls at every
# step, and, for lr 0.01, whether it only rises after its lowest point. Last, where the lr
# 0.01 run stops: once lr times the gradient is less than half the gap between neighbouring
# float32 numbers, a step leaves x unchanged.

for lr, path in bounded.items():
    below = bool((path < x_star).any())
    falls = bool((path.diff() < 0).all())
    print(f"lr {lr}: ever below x*: {below}; falls at every step: {falls}")
fast = bounded[0.01]
lowest = int(fast.argmin())
rises = bool((fast.diff()[lowest:] >= 0).all())
print(f"lr 0.01: lowest x at step {lowest}, then only rises: {rises}")
last_move = int((fast.diff() != 0).nonzero()[-1]) + 1
near = abs(fast[-1].item() - x_star) < 1e-4
print(
    f"lr 0.01: x stops moving before step {STEPS}: {last_move < STEPS}; "
    f"within 1e-4 of x*: {near}"
)

# %%
# The article's function
# ----------------------
# x leaves for -1332.7185 at once (the axis of x is symmetric-logarithmic so that 5 fits
# too), then walks down by 2 per step (the printed steps above) while y keeps falling.

steps = range(ARTICLE_STEPS + 1)
fig, (article_x, article_loss) = plt.subplots(
    2, 1, figsize=(6.4, 6.4), layout="constrained"
)
article_x.plot(
    steps, [5.0] + [row[0] for row in article], marker=".", color="C3"
)
article_x.set_yscale("symlog")
article_x.set(
    xlabel="step",
    ylabel="x (symlog scale)",
    title="Article's function, lr = 1.0: x",
)
article_loss.plot(
    steps[1:], [row[2] for row in article], marker=".", color="C3"
)
article_loss.set(
    xlabel="step", ylabel="y", title="Article's function, lr = 1.0: y"
)
plt.show()

# %%
# The bounded variant
# -------------------
# lr 0.01 overshoots far past x*, to where y is nearly a straight line of slope -2, and
# climbs back; lr 0.001 slides down without overshooting, but slowly (both checked above).
# The floor of the lr 0.01 curve is where its steps round to nothing in float32.

fig, (bounded_x, bounded_loss) = plt.subplots(
    2, 1, figsize=(6.4, 6.4), layout="constrained"
)
for lr, path in bounded.items():
    bounded_x.plot(range(STEPS + 1), path, label=f"lr = {lr}")
    gap = (bounded_y(path.double()) - y_star).clamp_min(1e-12)
    bounded_loss.plot(range(STEPS + 1), gap, label=f"lr = {lr}")
bounded_x.axhline(x_star, color="grey", linestyle=":", label="x* = ln(2/9)")
bounded_x.set(
    xlabel="step", ylabel="x", title="Bounded variant 9eˣ − 2x + 4: x"
)
bounded_x.legend(loc="upper right")
bounded_loss.set_yscale("log")
bounded_loss.set(
    xlabel="step",
    ylabel="y − y* (log scale)",
    title="Bounded variant: distance to the minimum",
)
bounded_loss.legend(loc="upper right")
plt.show()
