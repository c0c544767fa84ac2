"""
The momentum buffer, step by step
=================================

A table of the momentum buffer ``torch.optim.SGD`` keeps, one row per step, beside the
formula that produced it: :math:`v_1 = g_1`, then
:math:`v_t = \\mu v_{t-1} + (1 - \\tau) g_t`, and the update
:math:`p_t = p_{t-1} - \\text{lr}\\, v_t`. The gradients are real ones, from the bowl
:math:`f(p) = p^2 / 2` (so :math:`g = p`).

Requires: ``pip install torch matplotlib``
"""

# %%
# Run five steps and keep what the optimizer holds
# ------------------------------------------------

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LR, MOMENTUM, DAMPENING, STEPS = 0.5, 0.9, 0.4, 5


def run_steps(dampening=DAMPENING, steps=STEPS, lr=LR):
    """(gradient, buffer, p) as tensors, each step on p^2 / 2 from p = 2."""
    p = torch.tensor(2.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD(
        [p], lr=lr, momentum=MOMENTUM, dampening=dampening
    )
    rows = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * p**2).backward()
        grad = p.grad.detach().clone()
        optimizer.step()
        buffer = optimizer.state[p]["momentum_buffer"]
        rows.append((grad, buffer.clone(), p.detach().clone()))
    return rows


rows = run_steps()
print(f"p after {STEPS} steps = {rows[-1][2]:.4f}")

# %%
# Recompute each buffer from the formula
# --------------------------------------
# Each row shows the formula with the numbers put in, the result, and the buffer the
# optimizer stored. The first row has no :math:`(1 - \tau)` factor. The hand computation
# runs in float32, in PyTorch's order (scale the buffer, then add the damped gradient), so
# it matches the stored buffer bit for bit.


def buffer_by_hand(previous, grad):
    """One buffer update in float32, in the order PyTorch applies it."""
    if previous is None:
        return grad.clone()
    return previous.mul(MOMENTUM).add(grad, alpha=1 - DAMPENING)


previous = None
for t, (grad, buffer, p) in enumerate(rows, start=1):
    by_hand = buffer_by_hand(previous, grad)
    if previous is None:
        formula = f"v_1 = g_1 = {grad:.4f}"
    else:
        damped = f"{1 - DAMPENING:.1f} x {grad:.4f}"
        formula = f"v_{t} = {MOMENTUM} x {previous:.4f} + {damped}"
    print(f"step {t}: {formula:<38} = {by_hand:7.4f}")
    print(
        f"        stored {buffer:7.4f}, "
        f"equal: {torch.equal(by_hand, buffer)}, p = {p:.4f}"
    )
    previous = buffer

# %%
# The same run for several dampening values
# -----------------------------------------
# The first step is the same for every dampening: :math:`v_1 = g_1`, so p goes from 2 to
# :math:`2 - 0.5 \times 2 = 1`. From then on dampening scales down only the *new*
# gradient, the spring that pulls p towards 0 from either side, while the buffer built by
# the undamped first step still decays by only :math:`\mu` per step. At this rate
# (:math:`\text{lr}\,\lambda = 0.5`, so the first step already covers half the way to 0)
# more dampening does not make the parameter move less: with a weaker spring, the push of
# the first step carries p further past 0 and it takes more steps to turn back (the lowest
# p and its step, printed below).

dampenings = [0.0, 0.3, 0.6, 0.9]
paths = {
    tau: [2.0]
    + [row[2].item() for row in run_steps(dampening=tau, steps=40)]
    for tau in dampenings
}
for tau, path in paths.items():
    lowest = min(path)
    print(
        f"dampening {tau}: 1 - tau = {1 - tau:.1f}, "
        f"p after step 1 = {path[1]:.4f},"
        f"\n    lowest p {lowest:.2f} at step {path.index(lowest)}"
    )

# %%
# That depends on the rate. At :math:`\text{lr} = 0.1` the first step moves p only from
# 2 to 1.8, and more dampening makes p swing *less* far past 0. Over 200 steps, the
# lowest p for each dampening (0, 0.3, 0.6, 0.9), at both rates:

for lr in (LR, 0.1):
    lows = [
        min(
            row[2].item()
            for row in run_steps(dampening=tau, steps=200, lr=lr)
        )
        for tau in dampenings
    ]
    deeper = all(a > b for a, b in zip(lows, lows[1:]))
    shallower = all(a < b for a, b in zip(lows, lows[1:]))
    print(
        f"lr {lr}: lowest p {', '.join(f'{low:.2f}' for low in lows)} "
        f"(deeper: {deeper}, shallower: {shallower})"
    )

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
for tau, path in paths.items():
    ax.plot(range(len(path)), path, "o-", ms=3, label=f"dampening = {tau}")
ax.axhline(0.0, color="gray", lw=0.8)
ax.set(
    xlabel="step",
    ylabel="p",
    title=f"f(p) = p² / 2, lr {LR}, momentum {MOMENTUM}",
)
ax.legend(loc="upper right")
plt.show()
