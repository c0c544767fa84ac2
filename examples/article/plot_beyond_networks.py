"""
SGD on a plain function, over many steps
========================================

The article's function :math:`y = 3 c e^x + 2 x + 4` has no minimum: with learning rate
1.0 the first step throws :math:`x` from 5 to -1332.7185, and every later step lowers
:math:`y` further. Its bounded relative :math:`y = 9 e^x - 2 x + 4` (the sign of
:math:`b` flipped, :math:`c = 3` held fixed) has a minimum at :math:`x^* = \\ln(2/9)`, which
SGD reaches with small learning rates. Both run on every device that
:func:`sgdlab.devices` lists; the plots show the paths and the loss curves.

The page :doc:`/article/beyond-networks` explains the choice of the variant and of the
learning rates.
"""

# %%
# The article's function: descending forever
# ------------------------------------------

import math

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())


def article_y(x, c):
    return c * 3 * torch.exp(x) + 2.0 * x + 4.0


def bounded_y(x):
    return 3.0 * 3 * torch.exp(x) - 2.0 * x + 4.0


ARTICLE_STEPS = 20


def article_run(device, lr=1.0, steps=ARTICLE_STEPS):
    """x, c and y after each SGD step on the article's function, from x = 5, c = 3."""
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


article = sgdlab.run_on_devices(article_run)
for device, rows in article.items():
    for step, (x, c, y) in enumerate(rows[:4], 1):
        print(f"[{device}] lr 1.0, step {step}: x = {x:.4f}, c = {c:.4f}, y = {y:.4f}")

# %%
# A bounded variant: converging
# -----------------------------
# The largest stable learning rate near a point is :math:`2 / y''(x) = 2 / (9 e^x)`: tiny
# at the start, 1 at the minimum.

x_star = math.log(2 / 9)
y_star = bounded_y(torch.tensor(x_star, dtype=torch.float64)).item()
print(f"minimum of 9 e^x - 2x + 4: x* = {x_star:.4f}, y* = {y_star:.4f}")
print(f"largest stable lr at x = 5: {2 / (9 * math.exp(5.0)):.5f}; at x*: {2 / (9 * math.exp(x_star)):.5f}")

STEPS = 2000
RATES = (0.001, 0.01)


def bounded_run(device, lr, steps=STEPS):
    """x after each SGD step on the bounded variant, from x = 5 (x itself first)."""
    x = torch.tensor(5.0, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([x], lr=lr)
    path = [x.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        bounded_y(x).backward()
        optimizer.step()
        path.append(x.detach().clone())
    return torch.stack(path).cpu()


bounded = sgdlab.run_on_devices(lambda device: {lr: bounded_run(device, lr) for lr in RATES})
for device, paths in bounded.items():
    for lr, path in paths.items():
        end = path[-1]
        print(f"[{device}] lr {lr}: first step x = {path[1].item():.4f}; after {STEPS} steps "
              f"x = {end.item():.4f}, y = {bounded_y(end).item():.4f}")

# %%
# What "converges" means here: the first step within a tolerance of :math:`x^*`.

TOLERANCE = 1e-3
for lr, path in bounded["cpu"].items():
    close = ((path - x_star).abs() < TOLERANCE).nonzero()
    when = f"first at step {close[0].item()}" if len(close) else f"not within {STEPS} steps"
    print(f"lr {lr}: |x - x*| < {TOLERANCE:g} {when}")

# %%
# Paths and loss curves
# ---------------------
# Top: the article's function with lr 1.0. x leaves for -1332.7185 at once (the x axis of
# values is symmetric-logarithmic so that 5 fits too), then walks down by 2 per step while
# y keeps falling. Bottom: the bounded variant. lr 0.01 overshoots to where the slope is
# nearly flat and climbs back; lr 0.001 slides down without overshooting, but slowly. The
# floor of the lr 0.01 curve is float32: x cannot get any closer to x*.

cpu_article = article["cpu"]
fig, ((article_x, article_loss), (bounded_x, bounded_loss)) = plt.subplots(
    2, 2, figsize=(11, 8), layout="constrained"
)
steps = range(ARTICLE_STEPS + 1)
article_x.plot(steps, [5.0] + [row[0] for row in cpu_article], marker=".", color="C3")
article_x.set_yscale("symlog")
article_x.set(xlabel="step", ylabel="x (symmetric log scale)",
              title="Article's function, lr = 1.0: x")
article_loss.plot(steps[1:], [row[2] for row in cpu_article], marker=".", color="C3")
article_loss.set(xlabel="step", ylabel="y", title="Article's function, lr = 1.0: y, no minimum")

for lr, path in bounded["cpu"].items():
    bounded_x.plot(range(STEPS + 1), path, label=f"lr = {lr}")
    gap = (bounded_y(path.double()) - y_star).clamp_min(1e-12)
    bounded_loss.plot(range(STEPS + 1), gap, label=f"lr = {lr}")
bounded_x.axhline(x_star, color="grey", linestyle=":", label="x* = ln(2/9)")
bounded_x.set(xlabel="step", ylabel="x", title="Bounded variant 9eˣ − 2x + 4: x")
bounded_x.legend()
bounded_loss.set_yscale("log")
bounded_loss.set(xlabel="step", ylabel="y − y* (log scale)",
                 title="Bounded variant: distance to the minimum")
bounded_loss.legend()
plt.show()
