"""
With momentum the bound moves to (2 + 2 mu) / lambda
====================================================

With ``momentum=mu`` (and no dampening), ``torch.optim.SGD`` on
:math:`f(x) = \\frac{\\lambda}{2} x^2` is a two-step recurrence: the buffer
:math:`v_{t+1} = \\mu v_t + \\lambda x_t` and :math:`x_{t+1} = x_t - \\text{lr}\\, v_{t+1}`.
It converges exactly when both roots of :math:`z^2 - (1 + \\mu - \\text{lr}\\,\\lambda) z + \\mu`
lie inside the unit circle, which for :math:`0 \\le \\mu < 1` means
:math:`0 < \\text{lr} < (2 + 2\\mu) / \\lambda`. Momentum almost doubles the largest stable
learning rate as :math:`\\mu` approaches 1.

Requires: ``pip install torch matplotlib``
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# Three learning rates around the new bound
# -----------------------------------------

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LAM, MU, STEPS = 4.0, 0.5, 60
BOUND = (2 + 2 * MU) / LAM
print(
    f"lambda = {LAM}, mu = {MU}: bound (2 + 2 mu) / lambda = {BOUND},"
    f"\n    without momentum {2 / LAM}"
)
LRS = {
    "0.9 x bound": 0.9 * BOUND,
    "at the bound": BOUND,
    "1.1 x bound": 1.1 * BOUND,
}


def sizes(lr, steps=STEPS, momentum=MU):
    """|x_t|, t = 0 ... steps, with ``momentum`` on (LAM / 2) x^2 from x =
    1."""
    x = torch.tensor(1.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=momentum)
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
        f"lr = {LRS[name]:.3f} ({name}): |x| after {STEPS} steps = "
        f"{found[-1]:.2g}"
    )

# %%
# Note that 0.9 times this bound is already above :math:`2 / \lambda`, where plain SGD
# diverges; with momentum it converges. At the bound itself the roots are :math:`-1` and
# :math:`-\mu`: the iterates neither diverge nor converge. Once the :math:`-\mu` part has
# died out, :math:`x` flips sign at every step with a fixed size, which depends on the
# start and on :math:`\mu`: three times :math:`|x_0|` here, nineteen times at
# :math:`\mu = 0.9`. The sizes after 200 and after 400 steps agree:

for mu in (MU, 0.9):
    at_bound = (2 + 2 * mu) / LAM
    late = sizes(at_bound, steps=400, momentum=mu)
    print(
        f"mu = {mu}, lr at the bound: |x| after 200 steps = "
        f"{late[200]:.3g}, after 400 = {late[400]:.3g}"
    )

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
for name, found in results.items():
    ax.plot(found, label=f"lr = {LRS[name]:.3f} ({name})")
ax.set(
    yscale="log",
    xlabel="step",
    ylabel="|x_t| (log scale)",
    title=f"Momentum {MU} on (lambda / 2) x², lambda = {LAM:g}",
)
ax.legend(loc="upper left")
plt.show()

# %%
# The stable region
# -----------------
# For every pair :math:`(\text{lr}\,\lambda, \mu)` on a grid, the largest root's modulus
# (the factor by which the error shrinks per step, in the long run) from the recurrence's
# 2 x 2 matrix on :math:`(x, v)`. The line :math:`\text{lr}\,\lambda = 2 + 2\mu` is the edge
# where it reaches 1.

steps_lam = torch.linspace(0.01, 4.2, 300, dtype=torch.float64)
mus = torch.linspace(0.0, 0.99, 200, dtype=torch.float64)
a, m = torch.meshgrid(steps_lam, mus, indexing="xy")
# One step maps (x, v) to (x - a x - lr mu v, lambda x + mu v); in units
# where lambda = 1, the matrix is [[1 - a, -a m], [1, m]] with a = lr *
# lambda.
matrix = torch.stack(
    [
        torch.stack([1 - a, -a * m], -1),
        torch.stack([torch.ones_like(a), m], -1),
    ],
    -2,
)
radius = torch.linalg.eigvals(matrix).abs().amax(-1)

# Along each row (one mu), the first lr * lambda where the radius exceeds 1.
unstable = radius > 1 + 1e-9
first = unstable.float().argmax(dim=1)
inside = unstable.any(dim=1)
edge = steps_lam[first[inside]]
gap = (edge - (2 + 2 * mus[inside])).abs().max().item()
print(
    f"measured edge against 2 + 2 mu: largest gap {gap:.3f}, "
    f"grid spacing {(steps_lam[1] - steps_lam[0]).item():.3f}"
)
print(
    f"at mu = {mus[-1].item():.2f} the measured edge is "
    f"{edge[-1].item() / 2:.1f} x the plain bound lr lambda = 2"
)

fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
shown = ax.pcolormesh(
    a, m, radius.clamp(max=1.5), shading="auto", cmap="viridis"
)
fig.colorbar(shown, ax=ax, label="error factor per step")
ax.contour(a, m, radius, levels=[1.0], colors="white")
ax.plot(2 + 2 * mus, mus, "r--", label="lr lambda = 2 + 2 mu")
ax.axvline(2.0, color="orange", ls=":", label="lr lambda = 2 (no momentum)")
ax.set(
    xlabel="lr x lambda",
    ylabel="momentum mu",
    xlim=(0, 4.2),
    title="Where SGD with momentum converges on a bowl",
)
ax.legend(loc="lower right")
plt.show()
