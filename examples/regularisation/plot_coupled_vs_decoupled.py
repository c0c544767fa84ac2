"""
Coupled against decoupled weight decay, and what momentum changes
=================================================================

*Coupled* decay, what ``torch.optim.SGD``'s ``weight_decay`` does, adds
:math:`\\lambda p` to the gradient, so the decay also enters the momentum buffer.
*Decoupled* decay shrinks the parameter directly, :math:`p \\leftarrow (1 - \\text{lr}\\,
\\lambda)\\, p`, and lets the optimizer step on the plain gradient (the idea behind AdamW;
``torch.optim`` has no SGD with decoupled decay, so this script applies the shrink itself,
under ``torch.no_grad()``, before each ``step()``).

Without momentum the two are the same update written twice. With momentum they part: the
buffer accumulates the coupled decay and amplifies it, up to :math:`1 / (1 - \\mu)` times.

Requires: ``pip install torch matplotlib``
"""

# %%
# Decay alone: a parameter with no loss gradient
# ----------------------------------------------
# The loss gradient is set to zero at each step, so only the decay moves the parameter.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LR, WD, STEPS = 0.1, 0.1, 100


def decay_only(momentum, decoupled):
    """|p| after each step when the only force on p is weight decay."""
    p = torch.tensor(1.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD(
        [p], lr=LR, momentum=momentum, weight_decay=0.0 if decoupled else WD
    )
    sizes = [p.item()]
    for _ in range(STEPS):
        p.grad = torch.zeros((), device=device)
        if decoupled:
            with torch.no_grad():
                p.mul_(1 - LR * WD)
        optimizer.step()
        sizes.append(p.item())
    return torch.tensor(sizes)


CASES = {
    ("coupled", 0.0): (0.0, False),
    ("decoupled", 0.0): (0.0, True),
    ("coupled", 0.9): (0.9, False),
    ("decoupled", 0.9): (0.9, True),
}


found = {case: decay_only(*settings) for case, settings in CASES.items()}
for (kind, momentum), sizes in found.items():
    print(
        f"{kind:<9} momentum {momentum}: p after 10 steps {sizes[10].item():+.4f}, "
        f"after {STEPS} steps {sizes[-1].item():+.4f}"
    )

# %%
# Without momentum the two columns agree, up to float32 rounding (the two runs multiply in
# a different order, and the last bits drift apart over 100 steps). With momentum 0.9, coupled decay pulls the
# parameter to zero much faster, overshoots and oscillates around it (the buffer is a
# heavy ball rolling in the bowl :math:`\frac{\lambda}{2} p^2`), while decoupled decay
# still shrinks it by the same factor :math:`1 - \text{lr}\,\lambda` per step.

print(f"decoupled shrink factor per step 1 - lr * wd = {1 - LR * WD:.4f}")
gap = (found["coupled", 0.0] - found["decoupled", 0.0]).abs().max().item()
print(
    f"coupled and decoupled, no momentum: within 1e-5 at every step: {gap < 1e-5}"
)

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
for (kind, momentum), sizes in found.items():
    style = "-" if kind == "coupled" else "--"
    ax.plot(sizes.abs(), style, label=f"{kind}, momentum {momentum}")
ax.set(
    yscale="log",
    xlabel="step",
    ylabel="|p| (log scale)",
    title=f"Weight decay alone, lr {LR}, weight decay {WD}",
)
ax.legend(loc="lower left")
plt.show()

# %%
# With a loss as well
# -------------------
# On a real loss the effect is the same in kind: with momentum, coupled decay acts like a
# stronger penalty. Fit :math:`w` to the line :math:`y = 3x` with both kinds of decay.


def fit(momentum, decoupled, wd=0.5, steps=200):
    """Least squares for y = 3 x with weight decay; return the final w."""
    x = torch.linspace(-1, 1, 20, device=device)
    w = torch.zeros((), device=device, requires_grad=True)
    optimizer = torch.optim.SGD(
        [w], lr=LR, momentum=momentum, weight_decay=0.0 if decoupled else wd
    )
    for _ in range(steps):
        optimizer.zero_grad()
        ((w * x - 3 * x) ** 2).mean().backward()
        if decoupled:
            with torch.no_grad():
                w.mul_(1 - LR * wd)
        optimizer.step()
    return w.item()


for case, settings in CASES.items():
    kind, momentum = case
    print(f"{kind:<9} momentum {momentum}: w = {fit(*settings):.4f}")

# %%
# With momentum the coupled run ends near the same point as without it: at a fixed point
# the buffer equals the (decayed) gradient divided by :math:`1 - \mu`, so momentum rescales
# the whole step and the balance between loss and penalty does not move. The decoupled
# decay, applied outside the buffer, is *not* rescaled, so with momentum the loss wins more
# of the balance and :math:`w` ends closer to 3.
