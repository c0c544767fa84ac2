"""
A learning-rate range test
==========================

A range test trains for a short while with a learning rate that grows by a constant factor
at every step, and records the loss. While the rate is too small the loss barely moves;
then it falls; once the rate is too large, the loss turns and blows up. A good rate sits
well below that turn, which comes only some way past the rate at which the run starts to
diverge. The problem is the cubic fit of :math:`\\sin(x)` from :doc:`plot_polynomial_fit`;
because its loss is a quadratic in the coefficients, the rate
at which plain gradient descent must diverge is known exactly, :math:`2 / \\lambda_{max}`,
and the test can be checked against it.

Requires: ``pip install torch matplotlib``
"""

# %%
# Run the test
# ------------
# From :math:`10^{-9}` to :math:`10^{-4}` in 100 steps, stopping early once the loss is four
# times the best seen.

import math

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LR_START, LR_END, STEPS = 1e-9, 1e-4, 100


def problem(device=device):
    """The inputs (one column per power of x) and targets of the cubic fit.
    """
    x = torch.linspace(-math.pi, math.pi, 2000, device=device)
    return torch.stack([x**0, x, x**2, x**3], dim=1), torch.sin(x)


def range_test(units=0, seed=0, steps=STEPS):
    """Grow the lr geometrically each step; return the lrs used and the
    losses seen.

    ``units`` moves each starting coefficient up by that many float32 units;
    ``seed`` draws another random start; ``steps`` stretches the sweep.
    """
    torch.manual_seed(seed)
    start = torch.randn(4)
    for _ in range(units):
        start = torch.nextafter(start, torch.full_like(start, math.inf))
    coefficients = start.to(device).requires_grad_()
    powers, y = problem()
    optimizer = torch.optim.SGD([coefficients], lr=LR_START)
    factor = (LR_END / LR_START) ** (1 / (steps - 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(
        optimizer, gamma=factor
    )
    lrs, losses = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (powers @ coefficients - y).pow(2).sum()
        lrs.append(optimizer.param_groups[0]["lr"])
        losses.append(loss.item())
        if not math.isfinite(losses[-1]) or losses[-1] > 4 * min(losses):
            break
        loss.backward()
        optimizer.step()
        scheduler.step()
    return torch.tensor(lrs, dtype=torch.float64), torch.tensor(
        losses, dtype=torch.float64
    )


lrs, losses = range_test()
print(f"stopped early, after the loss turned up: {len(losses) < STEPS}")
print(f"lowest loss between 1e3 and 1e4: {1e3 < losses.min() < 1e4}")

# %%
# Where exactly the loss turns is not a property of the test. The turn comes past the
# edge of divergence, where each step multiplies the error along the steepest direction
# by more than 1, so the last bits of the rounding (which differ between CPU kernels,
# thread counts and GPUs) grow until they decide at which step of the grid the loss
# turns: on another machine it may turn a step or two earlier or later, and its lowest
# value changes in the second digit. What a range test tells you is the region, checked
# in the next cell against the bound from five starts one float32 unit apart.

turns = []
for units in range(5):
    unit_lrs, unit_losses = range_test(units)
    turns.append(unit_lrs[unit_losses.argmin()].item())


# %%
# Check it against the stability bound
# ------------------------------------
# The loss is :math:`\|X w - y\|^2`, whose Hessian is :math:`2 X^\top X`. Gradient descent on
# it diverges for any rate above :math:`2 / \lambda_{max}`.

powers, _ = problem(torch.device("cpu"))
hessian = 2 * powers.double().T @ powers.double()
largest = torch.linalg.eigvalsh(hessian)[-1].item()
bound = 2 / largest
print(
    f"largest Hessian eigenvalue {largest:.4g};"
    f"\n    stability bound 2 / lambda_max = {bound:.3g}"
)



def steepest_step(losses):
    """The step after which the loss fell by the largest factor."""
    return int(torch.diff(losses.log()).argmin()) + 1


steepest = steepest_step(losses)
print(
    f"steepest fall of the loss at lr {lrs[steepest]:.3g} "
    f"({lrs[steepest] / bound:.2f} x the bound)"
)
between = all(3 < turn / bound < 6 for turn in turns)
print(
    "from 5 starts one float32 unit apart, the loss turned up between"
    f"\n    3 and 6 x the bound: {between}"
)

# %%
# Other starts, longer sweeps
# ---------------------------
# One run shows one start. Four random starts (seeds 0 to 3), each swept in 100 and in
# 300 steps, tell which of its features belong to the test: for each, the rate of the
# steepest fall and the rate of the lowest loss, as multiples of the bound.

steep_ratios, turn_ratios = [], []
for seed in range(4):
    for steps in (STEPS, 3 * STEPS):
        run_lrs, run_losses = range_test(seed=seed, steps=steps)
        steep = run_lrs[steepest_step(run_losses)].item()
        steep_ratios.append(steep / bound)
        turn_ratios.append(run_lrs[run_losses.argmin()].item() / bound)
print(f"8 runs: the loss turned up past the bound: {min(turn_ratios) > 1}")
print(
    "        and between 1.5 and 8 x the bound: "
    f"{all(1.5 < ratio < 8 for ratio in turn_ratios)}"
)
print(
    "        steepest fall below the bound: "
    f"{max(steep_ratios) < 1}"
)
print(
    "        steepest fall between 0.02 and 0.7 x the bound: "
    f"{all(0.02 < ratio < 0.7 for ratio in steep_ratios)}"
)
print(
    "        its rate varies more than tenfold between runs: "
    f"{max(steep_ratios) > 10 * min(steep_ratios)}"
)

# %%
# In every run the loss turns up only some way past the bound, 1.5 to 8 times it (the
# grid step at which it turns moves with the rounding, so the range allows for a step or
# two either way):
# above the bound, the error along the steepest direction grows by a factor
# :math:`|1 - \text{lr}\, \lambda_{max}|` per step, and starting from a small error it
# takes a few steps to dominate the loss, while the rate keeps growing. Where the loss
# falls fastest is not tied to the bound: it moves with the start and the length of the
# sweep, from a few hundredths of the bound to about two thirds of it. So read a range
# test conservatively: pick a rate well below the turn, not near the minimum of the
# curve.
#
# For a network, :math:`\lambda_{max}` has no closed form, and it changes as the
# weights change. It can still be estimated at the current weights, by power iteration
# on Hessian-vector products (two autograd calls per iteration); on the cubic fit the
# estimate meets the exact value. The range test is the cheap, empirical substitute.

weights = torch.randn(4, dtype=torch.float64, requires_grad=True)
powers64, y64 = (t.double() for t in problem(torch.device("cpu")))
loss = (powers64 @ weights - y64).pow(2).sum()
(gradient,) = torch.autograd.grad(loss, weights, create_graph=True)
vector = torch.ones(4, dtype=torch.float64)
for _ in range(100):
    (product,) = torch.autograd.grad(
        gradient, weights, vector, retain_graph=True
    )
    estimate = (vector @ product / (vector @ vector)).item()
    vector = product / product.norm()
print(
    f"lambda_max by power iteration {estimate:.4g}; "
    f"by eigvalsh {largest:.4g}"
)

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
ax.plot(lrs, losses, "o-", ms=3, label="loss during the test")
ax.axvline(
    bound, color="C3", ls="--", label=f"2 / lambda_max = {bound:.2g}"
)
ax.axvline(
    lrs[steepest],
    color="C2",
    ls=":",
    label=f"steepest fall, lr = {lrs[steepest]:.2g}",
)
ax.set(
    xscale="log",
    yscale="log",
    xlabel="learning rate",
    ylabel="summed squared error",
    title="Learning-rate range test on the cubic fit of sin(x)",
)
ax.legend(loc="lower left")
plt.show()
