"""
The momentum buffer, step by step
=================================

A table of the momentum buffer ``torch.optim.SGD`` keeps, one row per step, beside the
formula that produced it: :math:`b_1 = g_1`, then
:math:`b_t = \\mu b_{t-1} + (1 - \\tau) g_t`, and the update :math:`p_t = p_{t-1} - \\text{lr}\\, b_t`.
The gradients are real ones, from the bowl :math:`f(p) = p^2 / 2` (so :math:`g = p`).
"""

# %%
# Run five steps and keep what the optimizer holds
# ------------------------------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())

LR, MOMENTUM, DAMPENING, STEPS = 0.5, 0.9, 0.3, 5


def run_steps(device, dampening=DAMPENING, steps=STEPS):
    """Step on f(p) = p^2 / 2 from p = 2; return (gradient, buffer, p) after each step."""
    p = torch.tensor(2.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=LR, momentum=MOMENTUM, dampening=dampening)
    rows = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * p**2).backward()
        grad = p.grad.item()
        optimizer.step()
        rows.append((grad, optimizer.state[p]["momentum_buffer"].item(), p.item()))
    return rows


results = sgdlab.run_on_devices(run_steps)
for device, rows in results.items():
    print(f"[{device}] p after {STEPS} steps = {rows[-1][2]:.4f}")

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
        return torch.tensor(grad)
    return torch.tensor(previous).mul(MOMENTUM).add(torch.tensor(grad), alpha=1 - DAMPENING)


rows = results["cpu"]
previous = None
for t, (grad, buffer, p) in enumerate(rows, start=1):
    by_hand = buffer_by_hand(previous, grad).item()
    if previous is None:
        formula = f"b_1 = g_1 = {grad:.4f}"
    else:
        formula = f"b_{t} = {MOMENTUM} x {previous:.4f} + {1 - DAMPENING:.1f} x {grad:.4f}"
    print(f"step {t}: {formula:<42} = {by_hand:8.4f}  stored {buffer:8.4f}  "
          f"equal: {by_hand == buffer}  p = {p:.4f}")
    previous = buffer

# %%
# :func:`sgdlab.explain_step` writes the same formula for the step an optimizer is about to
# take; here for step 3 of the run above.


def explain_third_step(device):
    """Take two steps, compute the third gradient, and explain the third step."""
    p = torch.tensor(2.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=LR, momentum=MOMENTUM, dampening=DAMPENING)
    for step in (1, 2, 3):
        optimizer.zero_grad()
        (0.5 * p**2).backward()
        if step < 3:
            optimizer.step()
    return str(sgdlab.explain_step(optimizer, {"p": p}))


for device, text in sgdlab.run_on_devices(explain_third_step).items():
    for line in text.splitlines():
        print(f"[{device}] {line}")

# %%
# The same run for several dampening values
# -----------------------------------------
# More dampening means a smaller buffer from the second step on, so the parameter moves
# less per step; the first step is the same for all of them.

dampenings = [0.0, 0.3, 0.6, 0.9]
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for tau in dampenings:
    path = [2.0] + [row[2] for row in run_steps("cpu", dampening=tau, steps=25)]
    ax.plot(range(len(path)), path, "o-", ms=3, label=f"dampening = {tau}")
    print(f"dampening {tau}: p after step 1 = {path[1]:.4f}, after step 25 = {path[-1]:.4f}")
ax.axhline(0.0, color="gray", lw=0.8)
ax.set(xlabel="step", ylabel="p", title=f"f(p) = p^2 / 2, lr {LR}, momentum {MOMENTUM}")
ax.legend()
plt.show()
