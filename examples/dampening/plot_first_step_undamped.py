"""
The first step is not damped
============================

With ``momentum=mu`` and ``dampening=tau``, ``torch.optim.SGD`` keeps a buffer
:math:`v_t = \\mu v_{t-1} + (1 - \\tau) g_t` and steps by :math:`-\\text{lr}\\, v_t`. One
would expect the first buffer to be :math:`(1 - \\tau) g_1` (a buffer that starts at zero).
It is not: PyTorch creates the buffer on the first step as a copy of the gradient,
:math:`v_1 = g_1`, and applies the dampening factor only from the second step on.

This script feeds a constant gradient of 1 to a single number and compares the buffer the
optimizer keeps with the one a zero-initialised buffer would give.

Requires: ``pip install torch matplotlib``
"""

# %%
# Run the optimizer with a constant gradient
# ------------------------------------------
# The parameter's gradient is set by hand to 1 before each step, so the buffer is the only
# thing that changes from step to step.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

MOMENTUM, DAMPENING, LR, STEPS = 0.9, 0.5, 1.0, 30


def buffers_with_constant_gradient():
    """Return the momentum buffer after each of ``STEPS`` steps, as a CPU
    tensor."""
    p = torch.zeros(1, device=device, requires_grad=True)
    optimizer = torch.optim.SGD(
        [p], lr=LR, momentum=MOMENTUM, dampening=DAMPENING
    )
    buffers = []
    for _ in range(STEPS):
        p.grad = torch.ones(1, device=device)
        optimizer.step()
        buffers.append(optimizer.state[p]["momentum_buffer"].item())
    return torch.tensor(buffers)


torch_buffers = buffers_with_constant_gradient()
print(
    "buffer after steps 1, 2, 3: "
    + ", ".join(f"{v:.4f}" for v in torch_buffers[:3].tolist())
)

# %%
# Compare with a buffer that starts at zero
# -----------------------------------------
# Starting from :math:`v_0 = 0` and applying the damped update on every step gives a first
# buffer of :math:`1 - \tau`. PyTorch's first buffer is the whole gradient, so its first step
# is as long as a step without dampening would be.


def zero_start_buffers(momentum, dampening, steps):
    """The buffers v_t = mu v_(t-1) + (1 - tau) g from v_0 = 0, with g = 1.
    """
    buffers, v = [], 0.0
    for _ in range(steps):
        v = momentum * v + (1 - dampening) * 1.0
        buffers.append(v)
    return torch.tensor(buffers)


zero_start = zero_start_buffers(MOMENTUM, DAMPENING, STEPS)
print(f"first buffer, PyTorch:    {torch_buffers[0].item():.4f}")
print(f"first buffer, zero start: {zero_start[0].item():.4f}")
gaps = torch_buffers - zero_start
print(
    "gap after steps 1, 2, 3: "
    + ", ".join(f"{g:.4f}" for g in gaps[:3].tolist())
)
print(f"gap after {STEPS} steps: {gaps[-1].item():.3f}")

# %%
# Both buffers climb towards the same limit, :math:`(1 - \tau) g / (1 - \mu)`. PyTorch's
# buffer starts higher and stays ahead; the gap between the two shrinks by a factor
# :math:`\mu` each step, so the undamped first step matters most early in training.

limit = (1 - DAMPENING) / (1 - MOMENTUM)
print(f"limit (1 - tau) / (1 - mu) = {limit:.4f}")

steps = torch.arange(1, STEPS + 1)
fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
ax.plot(
    steps, torch_buffers, "o-", ms=3, label="torch.optim.SGD (v_1 = g_1)"
)
ax.plot(
    steps, zero_start, "s-", ms=3, label="zero start (v_1 = (1 - tau) g_1)"
)
ax.axhline(
    limit,
    color="gray",
    ls="--",
    label=f"limit (1 - tau) g / (1 - mu) = {limit:.2f}",
)
ax.set(
    xlabel="step t",
    ylabel="momentum buffer v_t",
    title=f"Constant gradient 1, momentum {MOMENTUM}, "
    f"dampening {DAMPENING}",
)
ax.legend(loc="lower right")
plt.show()
