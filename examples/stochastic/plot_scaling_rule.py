"""
Batch size against learning rate: the linear scaling rule
=========================================================

Doubling the batch halves the number of steps in an epoch and halves the variance of the
gradient noise (see the gradient-noise example). The *linear scaling rule* says: when the batch grows
:math:`k` times, multiply the learning rate by :math:`k` too. Then an epoch's :math:`N/B`
steps cover about the same distance, and :math:`\\text{lr} / B`, which sets the loss floor
that gradient noise leaves (see the noise-floor example), stays the same. The noise of one
step does not: its variance, :math:`\\text{lr}^2 \\sigma^2 / B` for gradients whose
one-sample variance is :math:`\\sigma^2`, grows :math:`k`-fold, spread over :math:`k`
times fewer steps. The rule is an approximation: it assumes that :math:`k` small steps do
what one step :math:`k` times larger does, which fails once that larger step is no longer
small against the curvature. This script tries the rule on a least-squares problem, with
a fixed budget of three epochs, after measuring one step's noise.

Requires: ``pip install torch matplotlib``
"""

# %%
# The problem and its stability bound
# -----------------------------------
# Linear least squares, 1024 samples, 10 features, noisy targets. The Hessian of the
# mean squared error is :math:`2 X^\top X / N`; plain gradient descent diverges above
# :math:`\text{lr} = 2 / \lambda_{max}` (see the learning-rate guide).

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")
torch.manual_seed(0)

N, D, EPOCHS = 1024, 10, 3
x = torch.randn(N, D, device=device)
y = x @ torch.randn(D, device=device) + 0.5 * torch.randn(N, device=device)
x64, y64 = x.cpu().double(), y.cpu().double()
lowest = (
    (x64 @ torch.linalg.lstsq(x64, y64[:, None]).solution)
    .squeeze(1)
    .sub(y64)
    .pow(2)
    .mean()
    .item()
)
curvatures = torch.linalg.eigvalsh(2 * x64.T @ x64 / N)
print(
    f"Hessian eigenvalues from {curvatures[0]:.2f} to "
    f"{curvatures[-1]:.2f}:"
    f"\n    gradient descent diverges above lr = {2 / curvatures[-1]:.2f}"
)
start = y64.pow(2).mean().item() - lowest  # the excess loss at w = 0


def excess_after_budget(batch_size, lr):
    """EPOCHS epochs of shuffled batches; the final excess full-data loss.
    """
    torch.manual_seed(1)
    w = torch.zeros(D, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    for _ in range(EPOCHS):
        for batch in torch.randperm(N).to(device).split(batch_size):
            optimizer.zero_grad()
            ((x[batch] @ w - y[batch]) ** 2).mean().backward()
            optimizer.step()
    with torch.no_grad():
        return ((x @ w - y) ** 2).mean().item() - lowest


# %%
# One step's noise under the rule
# -------------------------------
# At the least-squares solution the full gradient is zero, so a minibatch step there is
# pure noise. Over 200 shuffles, the mean squared length of one step, for each batch
# size :math:`k B` at :math:`k` times the base rate, against the base run's. Batches drawn
# without replacement from :math:`N` samples have slightly less variance than
# :math:`\sigma^2 / B`, by the factor :math:`(N - B) / (N - 1)`, hence the prediction
# :math:`k (N - k B) / (N - B)` rather than :math:`k` itself.

solution = torch.linalg.lstsq(x64, y64[:, None]).solution.squeeze(1)
per_sample = 2 * (x64 @ solution - y64)[:, None] * x64  # one row per sample
generator = torch.Generator().manual_seed(2)


def step_noise(batch_size, lr, shuffles=200):
    """Mean squared length of one SGD step at the solution."""
    squares = []
    for _ in range(shuffles):
        order = torch.randperm(N, generator=generator)
        means = per_sample[order].reshape(-1, batch_size, D).mean(1)
        squares.append(means.pow(2).sum(1))
    return lr**2 * torch.cat(squares).mean().item()


BASE_BATCH, BASE_LR = 4, 0.005
base_noise = step_noise(BASE_BATCH, BASE_LR)
grows_k_fold = True
for k in (1, 2, 4, 8, 16):
    size, lr = k * BASE_BATCH, k * BASE_LR
    ratio = step_noise(size, lr) / base_noise
    predicted = k * (N - size) / (N - BASE_BATCH)
    grows_k_fold &= abs(ratio / predicted - 1) < 0.1
    print(
        f"batch {size:3d}, lr {lr:.3f}: one step's noise "
        f"variance {ratio:4.1f} x base (predicted {predicted:4.1f})"
    )
print("one step's noise variance grows k-fold, within 10%:", grows_k_fold)

# %%
# The rule tried
# --------------
# The base run: batches of 4 at lr = 0.005. Each larger batch is tried twice: with the
# learning rate scaled by the rule, and with the base learning rate unchanged.

sizes = [BASE_BATCH * 2**k for k in range(9)]
scaled, unscaled = [], []
print("batch  steps   lr (scaled)   excess loss: lr scaled   lr = 0.005")
for size in sizes:
    lr = BASE_LR * size / BASE_BATCH
    scaled.append(excess_after_budget(size, lr))
    unscaled.append(excess_after_budget(size, BASE_LR))
    print(
        f"{size:5d} {EPOCHS * N // size:6d} {lr:10.3f} "
        f"{scaled[-1]:21.2g} {unscaled[-1]:12.2g}"
    )

# %%
# Where it holds and where it breaks
# ----------------------------------
# With the rule, the loss after three epochs stays close to the base run's while the
# scaled learning rate is small against :math:`1 / \lambda_{max}`; keeping the learning
# rate fixed instead leaves large batches far from the minimum, because they take fewer
# steps of the same size. As the scaled rate nears the stability bound the rule stops
# paying, and past the bound the run diverges.

# How many sizes, from the base up, stay within a factor 2 of the base run:
holds = 0
while holds < len(sizes) and scaled[holds] <= 2 * scaled[0]:
    holds += 1
top = sizes[holds - 1]
print(
    f"the rule holds (loss within 2 x base) for batches {sizes[0]} to "
    f"{top}, "
    f"lr up to {BASE_LR * top / BASE_BATCH:.2f}"
)
for size, excess in zip(sizes, scaled):
    if excess > start:
        print(
            f"batch {size}, lr = {BASE_LR * size / BASE_BATCH:.2f} > "
            f"{2 / curvatures[-1]:.2f}: loss above its starting value, "
            "diverged"
        )

fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
ax.loglog(
    sizes, scaled, "o-", label="lr scaled with the batch (linear rule)"
)
ax.loglog(sizes, unscaled, "s--", label=f"lr fixed at {BASE_LR}")
ax.axhline(start, color="0.5", lw=0.8)
ax.text(sizes[0], start, " loss at the start", va="bottom", color="0.4")
ax.axvspan(top * 2**0.5, sizes[-1] * 2**0.5, color="0.9", zorder=0)
ax.text(top * 2**0.5, 1e-1, " the rule\n breaks", color="0.3")
ax.set(
    xlabel="batch size",
    ylabel=f"excess loss after {EPOCHS} epochs",
    title="The linear scaling rule on least squares",
)
ax.set_xticks(sizes, [str(s) for s in sizes])
ax.legend(loc="center left")
plt.show()
