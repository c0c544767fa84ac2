"""
Fitting sin(x) with a cubic and ``torch.optim.SGD``
===================================================

PyTorch's tutorial "Learning PyTorch with Examples" fits
:math:`y = a + b x + c x^2 + d x^3` to :math:`\\sin(x)` on :math:`[-\\pi, \\pi]` with 2000
points, a summed squared error and a learning rate of :math:`10^{-6}`, updating the four
coefficients by hand. Here the same problem is handed to ``torch.optim.SGD``, once as the
tutorial does it and once with momentum 0.9.

Requires: ``pip install torch matplotlib``
"""

# %%
# The data and the model
# ----------------------

import math

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

STEPS, LR = 2000, 1e-6


def fit(momentum=0.0):
    """Fit the cubic; return the loss of each step and the final
    coefficients."""
    torch.manual_seed(0)
    coefficients = (
        torch.randn(4).to(device).requires_grad_()
    )  # a, b, c, d: leaves on device
    x = torch.linspace(-math.pi, math.pi, 2000, device=device)
    y = torch.sin(x)
    powers = torch.stack(
        [x**0, x, x**2, x**3], dim=1
    )  # one column per coefficient
    optimizer = torch.optim.SGD([coefficients], lr=LR, momentum=momentum)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = (powers @ coefficients - y).pow(2).sum()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {
        "losses": torch.tensor(losses),
        "coefficients": coefficients.detach().cpu(),
    }


def number(value, sign=False):
    """``value`` with four decimals; one that rounds to zero is 0.0000."""
    value = round(value, 4) or 0.0  # turns -0.0 into 0.0
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def as_polynomial(coefficients):
    a, b, c, d = coefficients.tolist()
    return (
        f"y = {number(a)} {number(b, True)} x {number(c, True)} x^2 "
        f"{number(d, True)} x^3"
    )


runs = {momentum: fit(momentum) for momentum in (0.0, 0.9)}
for momentum, found in runs.items():
    print(
        f"momentum {momentum}: loss after {STEPS} steps = "
        f"{found['losses'][-1].item():.3f}"
    )
    print(f"    {as_polynomial(found['coefficients'])}")

# %%
# Loss curves and the fitted curves
# ---------------------------------
# With the tutorial's settings the loss is still falling after 2000 steps: with so small a
# learning rate, the flat directions of this problem move slowly.
# Momentum lengthens the steps along directions whose gradient stays steady (see the
# momentum section's effective step), and ends lower.
# Below: the step from which each run stays within 1% of its final loss.

for momentum, found in runs.items():
    losses = found["losses"]
    outside = (losses > 1.01 * losses[-1]).nonzero()
    within = int(outside[-1]) + 1 if len(outside) else 0
    print(
        f"momentum {momentum}: within 1% of the final loss from step "
        f"{within}"
    )

# %%
# Why: the summed squared error is a quadratic in the coefficients, with Hessian
# :math:`2 P^\top P` (:math:`P` holds the columns :math:`1, x, x^2, x^3`). Its two flattest
# directions have :math:`\text{lr}\,\lambda` near 0.002, so plain SGD keeps a fraction
# :math:`1 - \text{lr}\,\lambda` of the error there at every step. With momentum the
# factor of a direction is the larger root size of
# :math:`z^2 - (1 + \mu - \text{lr}\,\lambda) z + \mu` (see the learning-rate
# section), and the slowest one is smaller.

x64 = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float64)
powers64 = torch.stack([x64**0, x64, x64**2, x64**3], dim=1)
curvatures = torch.linalg.eigvalsh(2 * powers64.T @ powers64)
rates = ", ".join(f"{LR * lam:.4f}" for lam in curvatures.tolist())
print(f"lr x lambda of the four directions: {rates}")


def factor(lam, momentum):
    """How much of the error along curvature ``lam`` is left per step."""
    step = torch.tensor(
        [[1 + momentum - LR * lam, -momentum], [1.0, 0.0]],
        dtype=torch.float64,
    )  # (x_t, x_t-1) -> (x_t+1, x_t)
    return torch.linalg.eigvals(step).abs().max().item()


for momentum in runs:
    slowest = max(factor(lam, momentum) for lam in curvatures.tolist())
    print(f"momentum {momentum}: slowest factor per step {slowest:.4f}")

fig, (left, right) = plt.subplots(
    2, 1, figsize=(6.4, 8), layout="constrained"
)
for momentum, found in runs.items():
    left.plot(found["losses"], label=f"momentum {momentum}")
left.set(
    yscale="log",
    xlabel="step",
    ylabel="summed squared error",
    title=f"Loss, lr = {LR:g}",
)
left.legend(loc="upper right")

xs = torch.linspace(-math.pi, math.pi, 200)
right.plot(xs, torch.sin(xs), "k", lw=3, alpha=0.3, label="sin(x)")
for momentum, found in runs.items():
    a, b, c, d = found["coefficients"]
    right.plot(
        xs,
        a + b * xs + c * xs**2 + d * xs**3,
        "--",
        label=f"cubic, momentum {momentum}",
    )
right.set(xlabel="x", ylabel="y", title="The fitted cubics")
right.legend(loc="upper left")
plt.show()
