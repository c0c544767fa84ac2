"""
Coupled against decoupled weight decay, and what momentum changes
=================================================================

*Coupled* decay, what ``torch.optim.SGD``'s ``weight_decay`` does, adds
:math:`\\mathrm{wd}\\, p` to the gradient, so the decay also enters the momentum buffer.
*Decoupled* decay shrinks the parameter directly, :math:`p \\leftarrow (1 - \\text{lr}\\,
\\mathrm{wd})\\, p`, and lets the optimizer step on the plain gradient (SGDW, from
Loshchilov and Hutter's *Decoupled Weight Decay Regularization*, the paper behind AdamW;
``torch.optim`` has no SGDW, so this script applies the shrink itself, under
``torch.no_grad()``, before each ``step()``).

Without momentum the two are the same update written twice. With momentum they part: the
buffer accumulates the coupled decay, so it pulls harder than the decoupled shrink and
overshoots zero (the first cell below).

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
        f"{kind:<9} momentum {momentum}: p after 10 steps "
        f"{sizes[10].item():+.4f}, "
        f"after {STEPS} steps {sizes[-1].item():+.4f}"
    )

# %%
# Without momentum the two columns agree, up to float32 rounding (the two runs multiply in
# a different order, and the last bits drift apart over 100 steps). With momentum 0.9,
# coupled decay pulls the parameter to zero much faster, overshoots and oscillates around
# it (the buffer is a heavy ball rolling in the bowl :math:`\frac{\mathrm{wd}}{2} p^2`),
# while decoupled decay still shrinks it by the same factor
# :math:`1 - \text{lr}\,\mathrm{wd}` per step: with no loss gradient, its buffer stays 0.

print(f"decoupled shrink factor per step 1 - lr * wd = {1 - LR * WD:.4f}")
gap = (found["coupled", 0.0] - found["decoupled", 0.0]).abs().max().item()
print(
    "coupled and decoupled, no momentum: within 1e-5 at every step: "
    f"{gap < 1e-5}"
)

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
# Three of the four runs lie on one line: a wide pale band, a dashed line
# and open circles keep each of them visible.
styles = {
    ("coupled", 0.0): dict(color="C0", linewidth=6, alpha=0.35),
    ("decoupled", 0.0): dict(color="C1", linestyle="--"),
    ("coupled", 0.9): dict(color="C2"),
    ("decoupled", 0.9): dict(
        color="C3", linestyle="none", marker="o", markevery=10,
        markerfacecolor="none",
    ),
}
for (kind, momentum), sizes in found.items():
    ax.plot(
        sizes.abs(), label=f"{kind}, momentum {momentum}",
        **styles[kind, momentum],
    )
ax.annotate(
    "three runs, one line",
    xy=(50, found["decoupled", 0.0][50].abs().item()),
    xytext=(0, 12), textcoords="offset points", ha="center",
)
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
# Fit :math:`w` to the line :math:`y = 3x` with both kinds of decay, at a constant rate,
# for several momenta. With momentum, decoupled decay is the *weaker* penalty: it ends
# where coupled decay with :math:`\mathrm{wd}\,(1 - \mu)` ends. Coupled decay ends at
# the minimum of :math:`L(w) + \frac{\mathrm{wd}}{2} w^2` whatever the momentum.

x = torch.linspace(-1, 1, 20, device=device)
WD_FIT = 0.5


def fit(momentum, decoupled, wd=WD_FIT, steps=300):
    """Least squares for y = 3 x with weight decay; return the final w."""
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


def penalised_minimum(wd):
    """Where mean((w x - 3 x)^2) + wd / 2 w^2 is smallest."""
    mean_square = (x**2).mean().item()
    return 6 * mean_square / (2 * mean_square + wd)


lowest = penalised_minimum(WD_FIT)
print(f"penalised minimum for wd = {WD_FIT}: w = {lowest:.4f}")
coupled_holds = decoupled_is_weaker = True
print("momentum   coupled w   decoupled w   minimum for wd (1 - mu)")
for momentum in (0.0, 0.5, 0.9):
    coupled, decoupled = fit(momentum, False), fit(momentum, True)
    weaker = penalised_minimum(WD_FIT * (1 - momentum))
    print(f"{momentum:8} {coupled:11.4f} {decoupled:13.4f} {weaker:25.4f}")
    coupled_holds &= abs(coupled - lowest) < 1e-3
    decoupled_is_weaker &= abs(decoupled - weaker) < 1e-3
print("coupled ends at the minimum for wd, any momentum:", coupled_holds)
print("decoupled ends at the minimum for wd (1 - mu):", decoupled_is_weaker)

# %%
# Why: at a fixed point the buffer equals the (decayed) gradient divided by
# :math:`1 - \mu`, so momentum rescales a coupled run's whole step and the balance
# between loss and penalty does not move. The decoupled shrink, applied outside the
# buffer, is *not* rescaled; the fixed point of a decoupled run solves
# :math:`\nabla L / (1 - \mu) + \mathrm{wd}\, w = 0`, that of a coupled run with
# :math:`\mathrm{wd}\,(1 - \mu)`. At momentum 0.9 the decoupled penalty is ten times
# weaker, and :math:`w` ends closer to 3.
