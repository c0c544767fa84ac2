"""
The effective step lr / (1 - mu), and a sweep of mu
===================================================

When the gradient stays the same, PyTorch's buffer :math:`v \\leftarrow \\mu v + g` settles
at :math:`g / (1 - \\mu)`, so each step becomes :math:`\\text{lr} / (1 - \\mu)` times the
gradient: momentum 0.9 behaves like a tenfold learning rate along directions where the
gradient is steady, and like the plain rate where it flips sign. That is why changing
:math:`\\mu` without touching ``lr`` changes the effective step size, and why momentum helps
most on ill-conditioned problems, whose flat directions have small but steady gradients.
"""

# %%
# A constant gradient
# -------------------
# The gradient is set to 1 before every step; the step length approaches
# :math:`\text{lr} / (1 - \mu)`, at a pace set by :math:`\mu`.

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())

LR, STEPS = 0.01, 500
MUS = [0.0, 0.5, 0.9, 0.99]


def step_lengths(device):
    """One parameter per momentum value (one param group each), constant gradient 1."""
    params = [torch.zeros(1, device=device, requires_grad=True) for _ in MUS]
    optimizer = torch.optim.SGD([{"params": [p], "momentum": mu} for p, mu in zip(params, MUS)], lr=LR)
    lengths = []
    for _ in range(STEPS):
        before = torch.cat([p.detach().clone() for p in params])
        for p in params:
            p.grad = torch.ones(1, device=device)
        optimizer.step()
        lengths.append((before - torch.cat([p.detach() for p in params])).abs())
    return torch.stack(lengths).cpu()


results = sgdlab.run_on_devices(step_lengths)
for device, lengths in results.items():
    for column, mu in enumerate(MUS):
        print(f"[{device}] mu = {mu}: step {STEPS} = {lengths[-1, column]:.4f}, "
              f"lr / (1 - mu) = {LR / (1 - mu):.4f}")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for column, mu in enumerate(MUS):
    line, = ax.plot(range(1, STEPS + 1), results["cpu"][:, column], label=f"mu = {mu}")
    ax.axhline(LR / (1 - mu), color=line.get_color(), ls=":", lw=1)
ax.set(yscale="log", xlabel="step", ylabel="step length (gradient = 1)",
       title=f"Step length under a constant gradient, lr = {LR}; dotted: lr / (1 - mu)")
ax.legend()
plt.show()

# %%
# A sweep of mu on an ill-conditioned bowl
# ----------------------------------------
# :func:`sgdlab.quadratic` with condition number 100, a fixed ``lr = 1 / lambda_2``, and
# momentum from 0 to 0.98. Each momentum value is one parameter group of a single
# optimizer, each group with its own copy of the starting point.

bowl = sgdlab.quadratic(condition_number=100.0)
small, large = bowl.constants["eigenvalues"]
SWEEP = torch.linspace(0.0, 0.98, 50).tolist()
SWEEP_STEPS = 150


def sweep(device):
    """The loss of every momentum value after each step, shape (steps + 1, len(SWEEP))."""
    points = [torch.tensor(bowl.start, device=device, requires_grad=True) for _ in SWEEP]
    optimizer = torch.optim.SGD([{"params": [p], "momentum": mu} for p, mu in zip(points, SWEEP)],
                                lr=1 / large)
    losses = []
    for _ in range(SWEEP_STEPS):
        optimizer.zero_grad()
        values = bowl(torch.stack(points))
        losses.append(values.detach().clone())
        values.sum().backward()  # the points are independent: each gets its own gradient
        optimizer.step()
    losses.append(bowl(torch.stack(points)).detach())
    return torch.stack(losses).cpu()


swept = sgdlab.run_on_devices(sweep)
for device, losses in swept.items():
    best = int(losses[-1].argmin())
    print(f"[{device}] after {SWEEP_STEPS} steps: loss {losses[-1, 0]:.3g} without momentum, "
          f"lowest {losses[-1, best]:.3g} at mu = {SWEEP[best]:.2f}")

# %%
# Theory for a fixed learning rate predicts the best momentum: the smallest :math:`\mu`
# that turns the flat direction's convergence into a damped oscillation,
# :math:`\mu^* = (1 - \sqrt{\text{lr}\,\lambda_1})^2`, where the error shrinks by
# :math:`\sqrt{\mu^*}` per step instead of :math:`1 - \text{lr}\,\lambda_1`.

lr = 1 / large
best_mu = (1 - (lr * small) ** 0.5) ** 2
print(f"predicted best mu = (1 - sqrt(lr lambda_1))^2 = {best_mu:.3f}; rate per step "
      f"{best_mu ** 0.5:.3f} against {1 - lr * small:.3f} without momentum")

losses = swept["cpu"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
chosen = [0, 20, 35, 41, 49]
sgdlab.plot_loss({f"mu = {SWEEP[i]:.2f}": losses[:, i] for i in chosen}, ax=left, ylabel="f(x, y)")
left.set_title(f"{bowl.name}, lr = 1 / lambda_2 = {lr:g}")
right.plot(SWEEP, losses[-1], "o-", ms=3, label=f"loss after {SWEEP_STEPS} steps")
right.axvline(best_mu, color="C3", ls="--", label=f"predicted best mu = {best_mu:.3f}")
right.set(yscale="log", xlabel="momentum mu", ylabel="f(x, y)", title="Final loss against momentum")
right.legend()
plt.show()
