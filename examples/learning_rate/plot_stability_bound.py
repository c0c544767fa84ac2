"""
The largest stable learning rate: 2 / lambda
============================================

On :math:`f(x) = \\frac{\\lambda}{2} x^2` a gradient step is
:math:`x_{t+1} = x_t - \\text{lr}\\,\\lambda x_t = (1 - \\text{lr}\\,\\lambda)\\, x_t`. The
iterates shrink when :math:`|1 - \\text{lr}\\,\\lambda| < 1`, that is when
:math:`0 < \\text{lr} < 2 / \\lambda`; at :math:`2 / \\lambda` they flip sign forever without
shrinking, and above it they grow geometrically. Near any minimum a smooth loss looks like
such a bowl, with :math:`\\lambda` the largest curvature (the largest Hessian eigenvalue),
so the bound holds beyond quadratics too: the last cell checks it on two losses that are
not quadratic.

Requires: ``pip install torch matplotlib``
"""

# %%
# Three learning rates around the bound
# -------------------------------------
# :math:`\lambda = 4`, so the bound is 0.5. Each run is 30 steps of ``torch.optim.SGD``
# from :math:`x = 1`.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LAM, STEPS = 4.0, 30
BOUND = 2 / LAM
print(f"lambda = {LAM}, bound 2 / lambda = {BOUND}")
LRS = {
    "below: 0.9 x bound": 0.9 * BOUND,
    "at the bound": BOUND,
    "above: 1.1 x bound": 1.1 * BOUND,
}


def sizes(lr, steps=STEPS):
    """|x_t| for SGD at rate ``lr`` on (LAM / 2) x^2 from x = 1."""
    x = torch.tensor(1.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr)
    found = [x.detach().abs().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * LAM * x**2).backward()
        optimizer.step()
        found.append(x.detach().abs().clone())
    return torch.stack(found).cpu()


results = {name: sizes(lr) for name, lr in LRS.items()}
for name, found in results.items():
    print(
        f"lr = {LRS[name]:.2f} ({name}): |x| after {STEPS} steps = "
        f"{found[-1]:.4g}"
    )

# %%
# The factor per step
# -------------------
# Each run multiplies :math:`x` by the same factor at every step; the measured ratio
# :math:`|x_{t+1} / x_t|` equals :math:`|1 - \text{lr}\,\lambda|`.

for name, found in results.items():
    measured = (found[1] / found[0]).item()
    print(
        f"{name}: |1 - lr lambda| = {abs(1 - LRS[name] * LAM):.2f}, "
        f"measured |x_1 / x_0| = {measured:.2f}"
    )

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
for name, found in results.items():
    ax.plot(found, "o-", ms=3, label=f"lr = {LRS[name]:.2f} ({name})")
ax.set(
    yscale="log",
    xlabel="step",
    ylabel="|x_t| (log scale)",
    title=f"(lambda / 2) x² with lambda = {LAM:g}: "
    f"bound 2 / lambda = {BOUND:g}",
)
ax.legend(loc="upper left")
plt.show()

# %%
# A learning rate of exactly :math:`1 / \lambda` lands on the minimum in one step: the best
# rate for a one-dimensional bowl, and half the bound.

x = torch.tensor(1.0, device=device, requires_grad=True)
optimizer = torch.optim.SGD([x], lr=1 / LAM)
(0.5 * LAM * x**2).backward()
optimizer.step()
print(f"lr = 1 / lambda = {1 / LAM}: x after one step = {x.item()}")

# %%
# Beyond quadratics
# -----------------
# Near its minimum a smooth loss is a bowl whose steepest curvature is the largest
# eigenvalue of the Hessian there, :math:`\lambda_{max}`, and :math:`2 / \lambda_{max}`
# decides again. Two losses that are not quadratic, one whose curvature falls away from
# the minimum at 0 and one whose curvature grows, each run for 200 steps from
# :math:`(0.1, 0.1)` at rates on both sides of the bound: below it SGD settles at the
# minimum, above it it does not, bouncing at a fixed distance when the curvature falls
# and blowing up when it grows.

LOSSES = {
    "3 log cosh x + y^2/2 + y^4/4":
        lambda x, y: 3 * torch.log(torch.cosh(x)) + y**2 / 2 + y**4 / 4,
    "log cosh x + 3 (y^2/2 + y^4/4)":
        lambda x, y: torch.log(torch.cosh(x)) + 3 * (y**2 / 2 + y**4 / 4),
}
for name, f in LOSSES.items():
    hessian = torch.autograd.functional.hessian(
        lambda p: f(*p), torch.zeros(2, device=device)
    )
    lam_max = torch.linalg.eigvalsh(hessian).max().item()
    print(f"{name}: lambda_max = {lam_max:.2f}")
    for factor in (0.5, 0.9, 1.1, 1.5):
        p = torch.tensor([0.1, 0.1], device=device, requires_grad=True)
        optimizer = torch.optim.SGD([p], lr=factor * 2 / lam_max)
        for _ in range(200):
            optimizer.zero_grad()
            f(*p).backward()
            optimizer.step()
        size = p.detach().abs().max().item()
        if size < 1e-6:
            outcome = "settles at the minimum"
        elif size < float("inf"):
            outcome = "bounces, does not settle"
        else:
            outcome = "blows up"
        print(f"  lr = {factor} x 2 / lambda_max: {outcome}")
