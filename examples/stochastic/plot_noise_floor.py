"""
The noise floor: constant learning rates stall, decaying ones go lower
======================================================================

With exact gradients, gradient descent on a least-squares problem converges to the
minimum. With minibatch gradients it does not: near the minimum the full gradient is small
but a batch's gradient is not, so each step kicks the parameters by an amount proportional
to the learning rate, and the loss settles at a *floor* instead of going to its minimum.
This script measures that floor for four learning rates, and shows a learning rate that
decays during training going below the floor of the rate it started with.

Requires: ``pip install torch matplotlib``
"""

# %%
# The problem
# -----------
# Linear least squares with noisy targets: 1024 samples, 10 features. The lowest possible
# loss is that of the least-squares solution, computed exactly; the curves show the
# *excess* loss above it, on the whole data set, while SGD trains on batches of 8.

import math

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")
torch.manual_seed(0)

N, D, BATCH, STEPS = 1024, 10, 8, 1200
x = torch.randn(N, D, device=device)
y = x @ torch.randn(D, device=device) + 0.5 * torch.randn(N, device=device)
best = torch.linalg.lstsq(
    x.cpu().double(), y.cpu().double()[:, None]
).solution
lowest = (
    ((x.cpu().double() @ best).squeeze(1) - y.cpu().double())
    .pow(2)
    .mean()
    .item()
)
print(f"lowest possible loss (least-squares solution): {lowest:.4f}")

# %%
# Five runs side by side
# ----------------------
# Four constant learning rates and one that starts at the largest, 0.04, and is divided
# by :math:`1 + t / 100` at step :math:`t`. All five train on the *same* batches: each run
# is its own weight vector in its own param group, the loss is the sum of the five runs'
# losses (so each weight gets exactly its own gradient), and a
# :class:`~torch.optim.lr_scheduler.LambdaLR` with one factor per group decays only the
# last one.

LRS = [0.005, 0.01, 0.02, 0.04]
weights = [
    torch.zeros(D, device=device, requires_grad=True) for _ in range(5)
]
optimizer = torch.optim.SGD(
    [{"params": [w], "lr": lr} for w, lr in zip(weights, LRS + [0.04])]
)
constant, decaying = (lambda t: 1.0), (lambda t: 1 / (1 + t / 100))
scheduler = torch.optim.lr_scheduler.LambdaLR(
    optimizer, [constant] * 4 + [decaying]
)

excess = []  # after each step: the excess full-data loss of each run
for step in range(STEPS):
    batch = torch.randint(N, (BATCH,)).to(device)
    optimizer.zero_grad()
    sum(((x[batch] @ w - y[batch]) ** 2).mean() for w in weights).backward()
    optimizer.step()
    scheduler.step()
    with torch.no_grad():
        full = ((x @ torch.stack(weights).T - y[:, None]) ** 2).mean(dim=0)
    excess.append([loss - lowest for loss in full.tolist()])
curves = torch.tensor(excess).T  # one row per run

# %%
# The floor at each constant learning rate
# ----------------------------------------
# The floor is the mean excess loss over the last 700 steps, when the curves have
# stopped falling.

floors = {lr: curves[i, -700:].mean().item() for i, lr in enumerate(LRS)}
for lr, floor in floors.items():
    print(
        f"lr = {lr:<5}: floor (mean excess loss, last 700 steps) = "
        f"{floor:.5f}"
    )

logs = [(math.log(lr), math.log(floor)) for lr, floor in floors.items()]
mu = (
    sum(u for u, _ in logs) / len(logs),
    sum(v for _, v in logs) / len(logs),
)
slope = sum((u - mu[0]) * (v - mu[1]) for u, v in logs) / sum(
    (u - mu[0]) ** 2 for u, _ in logs
)
print(
    f"floor against lr, log-log slope: {slope:.2f} "
    f"(1: floor proportional to lr)"
)

# %%
# Below the floor with a decaying rate
# ------------------------------------

end = curves[4, -100:].mean().item()
print(
    f"decaying 0.04 -> {0.04 / (1 + STEPS / 100):.4f}: "
    f"mean excess loss, last 100 steps = {end:.5f}"
)
print(
    f"{floors[0.04] / end:.0f} times below the floor of lr = 0.04; "
    f"below every floor measured: {end < min(floors.values())}"
)

# Each run's curve is smoothed over 50 steps (a running mean), so the five
# do not paint over each other; each floor is a dashed line over the steps
# it is measured on, labelled with its value.
WINDOW = 50
smooth = torch.nn.functional.avg_pool1d(curves[:, None], WINDOW, stride=1)
smooth = smooth[:, 0]
steps = torch.arange(WINDOW, STEPS + 1)
fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for i, lr in enumerate(LRS):
    (line,) = ax.plot(steps, smooth[i], lw=1, label=f"lr = {lr}")
    ax.hlines(
        floors[lr],
        STEPS - 700,
        STEPS,
        color=line.get_color(),
        ls="--",
        lw=1.5,
    )
    ax.annotate(
        f"floor {floors[lr]:.2g}",
        (STEPS, floors[lr]),
        xytext=(4, 0),
        textcoords="offset points",
        va="center",
        color=line.get_color(),
    )
ax.plot(steps, smooth[4], "k", lw=1.5, label="lr = 0.04 / (1 + t / 100)")
ax.set_xlim(0, STEPS * 1.18)
ax.set(
    xlabel="step",
    ylabel="excess loss (full data)",
    yscale="log",
    title=f"SGD with batches of {BATCH}: a floor per learning rate\n"
    f"(running mean over {WINDOW} steps; dashed: each floor)",
)
ax.legend(ncols=2)
plt.show()
