"""
``maximize=True``: gradient ascent, and where the decay goes
============================================================

With ``maximize=True``, ``torch.optim.SGD`` negates the gradient first and then runs the
usual update, so it climbs the objective instead of descending it. The result equals
minimising the negated objective. Weight decay is added *after* the negation, so it still
pulls the parameters towards zero: maximising :math:`f` with ``weight_decay=wd`` is
maximising :math:`f(p) - \\frac{\\text{wd}}{2} \\lVert p \\rVert^2`, a penalised objective,
not a rewarded one.

Requires: ``pip install torch matplotlib``
"""

# %%
# Ascent against descent on the negated function
# ----------------------------------------------
# :math:`f(p) = 1 - (p - 2)^2` has its maximum at :math:`p = 2`.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LR, STEPS = 0.1, 30


def f(p):
    return 1 - (p - 2) ** 2


def run(maximize, objective, **settings):
    """Step on ``objective`` from p = -1; return p after each step."""
    p = torch.tensor(-1.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=LR, maximize=maximize, **settings)
    path = [p.item()]
    for _ in range(STEPS):
        optimizer.zero_grad()
        objective(p).backward()
        optimizer.step()
        path.append(p.item())
    return torch.tensor(path)


ascent = run(True, f, momentum=0.5)
descent = run(False, lambda p: -f(p), momentum=0.5)
print(f"maximize f:  p after {STEPS} steps = {ascent[-1]:.4f}")
print(
    f"minimize -f: p after {STEPS} steps = {descent[-1]:.4f}; "
    f"same path at every step: {torch.equal(ascent, descent)}"
)

# %%
# Negating a float is exact, so the two paths are equal to the last bit.
#
# Weight decay with ``maximize``
# ------------------------------
# With ``weight_decay=wd`` the ascent climbs :math:`f(p) - \frac{\text{wd}}{2} p^2`, whose
# peak is at :math:`p = 4 / (2 + \text{wd})`; the ascent ends there, not at the maximum of
# :math:`f`.

WD = 1.0


decayed = run(True, f, weight_decay=WD)
print(
    f"maximize f with weight_decay={WD}: p after {STEPS} steps = "
    f"{decayed[-1]:.4f}"
)

peak = 4 / (2 + WD)
print(f"peak of f(p) - wd/2 p^2: p = 4 / (2 + wd) = {peak:.4f}")

fig, (left, right) = plt.subplots(
    2, 1, figsize=(6.4, 8), layout="constrained"
)
xs = torch.linspace(-1.5, 3.0, 200)
left.plot(xs, f(xs), label="f(p) = 1 - (p - 2)²")
left.plot(xs, f(xs) - WD / 2 * xs**2, label=f"f(p) - {WD:g}/2 p²")
left.plot(
    ascent, f(ascent), "o-", ms=3, label="maximize=True, momentum 0.5"
)
left.plot(
    decayed,
    f(decayed) - WD / 2 * decayed**2,
    "s-",
    ms=3,
    label=f"maximize=True, weight_decay={WD:g}",
)
left.set(
    xlabel="p",
    ylabel="objective",
    title="Gradient ascent with SGD(maximize=True)",
)
left.legend(loc="lower right")
right.plot(ascent, label="maximize=True, momentum 0.5")
right.plot(decayed, label=f"maximize=True, weight_decay={WD:g}")
right.axhline(2.0, color="gray", ls="--", label="maximum of f")
right.axhline(
    peak, color="gray", ls=":", label="maximum of the penalised f"
)
right.set(xlabel="step", ylabel="p", title="p during the ascent")
right.legend(loc="lower right")
plt.show()
