"""
Three ways to write momentum, and the learning-rate drop that tells them apart
==============================================================================

Three common ways to write SGD with momentum :math:`\\mu`:

* PyTorch: :math:`v \\leftarrow \\mu v + g`, then :math:`p \\leftarrow p - \\text{lr}\\, v`
  (the buffer holds gradients, the learning rate is applied last);
* Sutskever et al. (2013): :math:`u \\leftarrow \\mu u + \\text{lr}\\, g`, then
  :math:`p \\leftarrow p - u` (the velocity :math:`u` already holds the learning rate);
* Polyak's heavy ball: :math:`p_{t+1} = p_t - \\text{lr}\\, g_t + \\mu (p_t - p_{t-1})`.

With a constant learning rate, Sutskever's velocity is PyTorch's buffer times lr, and all
three produce the same iterates. When the learning rate changes, they part: PyTorch's form
applies the new rate to the whole buffer at once, while the other two carry the velocity
built with the old rate and let it fade at the pace of :math:`\\mu` (the heavy ball *is*
Sutskever's form with the velocity written as :math:`p_{t-1} - p_t`).

Requires: ``pip install torch matplotlib``
"""

# %%
# The three forms on the same bowl
# --------------------------------
# The bowl :math:`f(x, y) = (x^2 + 10 y^2) / 2` (condition number 10), from (-2.5, 2); the
# learning rate drops tenfold at step 30, by ``torch.optim.lr_scheduler.MultiStepLR``.
# PyTorch's form is ``torch.optim.SGD`` under that scheduler; the other two are written
# out below and use the rates the scheduler gave, step by step.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

CURVATURES = torch.tensor([1.0, 10.0], device=device)
START = [-2.5, 2.0]
MU, STEPS, DROP_AT = 0.9, 60, 30


def bowl(points):
    """The bowl's value at each row (x, y) of ``points``."""
    return 0.5 * (CURVATURES.to(points.device) * points**2).sum(-1)


def gradient(point):
    return CURVATURES * point


rates = []  # the rate each step of PyTorch's form used


def pytorch_form():
    p = torch.tensor(START, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.05, momentum=MU)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[DROP_AT], gamma=0.1
    )
    path = [p.detach().clone()]
    for _ in range(STEPS):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        bowl(p).backward()
        optimizer.step()
        scheduler.step()
        path.append(p.detach().clone())
    return torch.stack(path).cpu()


def lr_at(step):
    """The rate the scheduler gave PyTorch's form at ``step``."""
    return rates[step]


def sutskever_form():
    p = torch.tensor(START, device=device)
    velocity = torch.zeros_like(p)
    path = [p.clone()]
    for step in range(STEPS):
        velocity = MU * velocity + lr_at(step) * gradient(p)
        p = p - velocity
        path.append(p.clone())
    return torch.stack(path).cpu()


def heavy_ball():
    p = torch.tensor(START, device=device)
    previous = p.clone()
    path = [p.clone()]
    for step in range(STEPS):
        p, previous = p - lr_at(step) * gradient(p) + MU * (p - previous), p
        path.append(p.clone())
    return torch.stack(path).cpu()


FORMS = {
    "PyTorch": pytorch_form,
    "Sutskever": sutskever_form,
    "heavy ball": heavy_ball,
}
paths = {name: form() for name, form in FORMS.items()}


def largest_gap(a, b, steps):
    return (a[steps] - b[steps]).abs().max().item()


before, after = slice(0, DROP_AT + 1), slice(DROP_AT + 1, None)
for name in ("Sutskever", "heavy ball"):
    gap_before = largest_gap(paths["PyTorch"], paths[name], before)
    gap_after = largest_gap(paths["PyTorch"], paths[name], after)
    print(
        f"PyTorch vs {name}: up to step {DROP_AT} within 1e-5: "
        f"{gap_before < 1e-5}"
    )
    print(f"    largest gap after the drop {gap_after:.2f}")
gap = largest_gap(paths["Sutskever"], paths["heavy ball"], slice(None))
print(f"Sutskever vs heavy ball, all steps: within 1e-5: {gap < 1e-5}")

# %%
# Before the drop the forms agree up to float32 rounding (they multiply by the learning
# rate at different points, so the last bits differ). After it, PyTorch's form differs from the other two by far more.
#
# Step lengths around the drop
# ----------------------------
# The length of each step, :math:`\lVert p_{t+1} - p_t \rVert`. PyTorch's form multiplies
# the whole buffer by the new, smaller rate, so its very next step is much shorter. The
# other two keep the velocity built at the old rate, which only fades by a factor
# :math:`\mu` per step, so their first step after the drop is no shorter than the last
# one before it (printed below). The two groups then follow different paths to the
# minimum.

fig, (left, right) = plt.subplots(
    2, 1, figsize=(6.4, 8), layout="constrained"
)
# Heavy ball visits Sutskever's points: drawn as rings every third step over
# Sutskever's dashed line, so both stay visible.
styles = [
    {"ls": "-", "lw": 2},
    {"ls": "--", "lw": 2},
    {"ls": "none", "marker": "o", "mfc": "none", "ms": 6, "markevery": 3},
]
for (name, path), style in zip(paths.items(), styles):
    lengths = (path[1:] - path[:-1]).norm(dim=1)
    left.plot(range(1, STEPS + 1), lengths, label=name, **style)
    right.plot(range(STEPS + 1), bowl(path), label=name, **style)
for ax in (left, right):
    ax.axvline(
        DROP_AT,
        color="gray",
        lw=0.8,
        label=f"lr drops tenfold (step {DROP_AT})",
    )
    ax.set(yscale="log", xlabel="step")
    ax.legend(loc="lower left")
left.set(
    ylabel="step length |p_(t+1) - p_t|",
    title=f"Step lengths, momentum {MU}",
)
right.set(ylabel="f(p)", title="Loss on the bowl, condition number 10")
plt.show()

first = {
    name: (path[DROP_AT + 1] - path[DROP_AT]).norm().item()
    for name, path in paths.items()
}
last = {
    name: (path[DROP_AT] - path[DROP_AT - 1]).norm().item()
    for name, path in paths.items()
}
for name in paths:
    print(
        f"{name}: step length before the drop {last[name]:.4f}, "
        f"first step after {first[name]:.4f}"
    )
