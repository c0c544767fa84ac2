"""
Gradient noise: the variance of a minibatch gradient falls as 1 / B
===================================================================

The gradient of a random batch of :math:`B` samples is an unbiased estimate of the
gradient :math:`G` of the whole data set: its average over all possible batches is
:math:`G`. How far one batch's gradient lands from :math:`G` is measured by

.. math::

   \\mathbb{E}\\,\\lVert g_B - G \\rVert^2
   = \\frac{\\sigma^2}{B}\\,\\frac{N - B}{N - 1},
   \\qquad
   \\sigma^2 = \\frac{1}{N} \\sum_{i=1}^{N} \\lVert g_i - G \\rVert^2 ,

where :math:`g_i` is the gradient of sample :math:`i` alone. The first factor is the
familiar :math:`1/B`; the second, the *finite-population factor*, appears because a batch
is drawn without replacement (as a shuffled ``DataLoader`` does): a batch of all
:math:`N` samples is the full gradient, with no noise at all. This script measures the
left side for ten batch sizes and compares.

Requires: ``pip install torch matplotlib``
"""

# %%
# A least-squares problem and its per-sample gradients
# ----------------------------------------------------
# :math:`N = 1024` samples of 16 features, a linear model at its starting point
# :math:`w = 0`. ``batch_gradients`` maps ``torch.func.grad`` over a stack of batches
# with ``torch.func.vmap``: the gradient of each batch's mean loss, all in one call.
# Batches of one sample give every :math:`g_i`, hence :math:`G` and :math:`\sigma^2`
# exactly.

import math

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")
torch.manual_seed(0)

N, D = 1024, 16
x = torch.randn(N, D, device=device)
y = x @ torch.randn(D, device=device) + 0.5 * torch.randn(N, device=device)
w = torch.zeros(D, device=device)


def loss_fn(w, x, y):
    """Mean squared error of the linear model w on the samples (x, y)."""
    return ((x @ w - y) ** 2).mean()


batch_gradients = torch.func.vmap(
    torch.func.grad(loss_fn), in_dims=(None, 0, 0)
)
per_sample = batch_gradients(
    w, x[:, None], y[:, None]
)  # N batches of one sample
full = per_sample.mean(dim=0)
sigma2 = (per_sample - full).pow(2).sum(dim=1).mean().item()
whole = torch.func.grad(loss_fn)(w, x, y)
print(
    f"G = mean of the {N} per-sample gradients = gradient of the mean "
    "loss: "
    f"{torch.allclose(full, whole, rtol=1e-5, atol=1e-5)}"
)
print(f"sigma^2 = {sigma2:.1f}, |G|^2 = {full.pow(2).sum().item():.1f}")

# %%
# Measured: 1000 random batches per size
# --------------------------------------
# Each batch is drawn without replacement (a random permutation, cut), on the CPU with
# its own seeded generator, so every device sees the same batches.

SIZES, DRAWS = [2**k for k in range(10)], 1000
sampler = torch.Generator().manual_seed(0)
measured, predicted = [], []
for size in SIZES:
    batches = torch.stack(
        [torch.randperm(N, generator=sampler)[:size] for _ in range(DRAWS)]
    ).to(device)
    g = batch_gradients(
        w, x[batches], y[batches]
    )  # DRAWS gradients, one per batch
    measured.append((g - full).pow(2).sum(dim=1).mean().item())
    predicted.append(sigma2 / size * (N - size) / (N - 1))

print("batch B   measured   predicted   measured / predicted")
for size, m, p in zip(SIZES, measured, predicted):
    print(f"{size:7d} {m:10.1f} {p:11.1f} {m / p:13.2f}")

# %%
# The slope on a log-log plot
# ---------------------------
# A straight-line fit of :math:`\log(\text{variance})` against :math:`\log B` gives the
# exponent. The raw slope is a little steeper than :math:`-1`, because the
# finite-population factor shrinks as :math:`B` approaches :math:`N`; divided by that
# factor, the measured variances fall as :math:`1/B`.


def slope(sizes, values):
    """Least-squares slope of log(values) against log(sizes)."""
    u = torch.tensor([math.log(s) for s in sizes], dtype=torch.float64)
    v = torch.tensor([math.log(val) for val in values], dtype=torch.float64)
    u, v = u - u.mean(), v - v.mean()
    return ((u * v).sum() / (u * u).sum()).item()


factor = [(N - size) / (N - 1) for size in SIZES]
print(
    f"log-log slope, measured: {slope(SIZES, measured):.2f} "
    f"(prediction with the factor: {slope(SIZES, predicted):.2f})"
)
corrected = [m / f for m, f in zip(measured, factor)]
print(
    f"log-log slope, measured / factor: {slope(SIZES, corrected):.2f} "
    f"(prediction: -1)"
)

fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
ax.loglog(
    SIZES, measured, "o", ms=7, label=f"measured ({DRAWS} batches per size)"
)
ax.loglog(
    SIZES,
    [sigma2 / s for s in SIZES],
    "--",
    color="0.5",
    label=r"$\sigma^2 / B$ (with replacement)",
)
ax.loglog(SIZES, predicted, "-", label=r"$\sigma^2 / B \times (N-B)/(N-1)$")
ax.set(
    xlabel="batch size B",
    ylabel=r"$E\,\|g_B - G\|^2$",
    title=f"Minibatch gradient noise, N = {N}",
)
ax.legend()
plt.show()
