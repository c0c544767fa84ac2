"""
``weight_decay`` is an L2 penalty in the gradient
=================================================

``torch.optim.SGD(..., weight_decay=wd)`` adds :math:`\\text{wd}\\cdot p` to each gradient
before momentum and Nesterov (only ``maximize``'s sign flip comes first). That is exactly the
gradient of :math:`\\frac{\\text{wd}}{2}\\lVert p \\rVert^2`, so SGD with ``weight_decay``
and SGD on the loss plus that penalty take the same steps. This is called *coupled* weight
decay: the decay goes through the same machinery as the gradient. The script checks it
numerically, with and without momentum.

Requires: ``pip install torch matplotlib``
"""

# %%
# Two ways to regularise a small least-squares fit
# ------------------------------------------------

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

WD, LR, STEPS = 0.1, 0.05, 60


def data():
    """A fixed, slightly noisy linear problem."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(32, 3, generator=generator)
    targets = inputs @ torch.tensor([2.0, -1.0, 0.5]) + 0.1 * torch.randn(
        32, generator=generator
    )
    return inputs.to(device), targets.to(device)


def train(momentum, penalty_in_loss):
    """Fit w with weight_decay=WD, or with WD/2 |w|^2 added to the loss."""
    inputs, targets = data()
    w = torch.zeros(3, device=device, requires_grad=True)
    decay = 0.0 if penalty_in_loss else WD
    optimizer = torch.optim.SGD(
        [w], lr=LR, momentum=momentum, weight_decay=decay
    )
    path = [w.detach().clone()]
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = ((inputs @ w - targets) ** 2).mean()
        if penalty_in_loss:
            loss = loss + WD / 2 * (w**2).sum()
        loss.backward()
        optimizer.step()
        path.append(w.detach().clone())
    return torch.stack(path).cpu()


def relative_gap(a, b):
    """The largest gap from ``a`` to ``b`` over all steps, relative to
    ``a``."""
    return ((a - b).abs() / a.abs().clamp_min(1e-30)).max().item()


results = {}
for momentum in (0.0, 0.9):
    coupled = train(momentum, penalty_in_loss=False)
    penalised = train(momentum, penalty_in_loss=True)
    results[momentum] = (coupled, penalised)
    gap = relative_gap(coupled, penalised)
    print(
        f"momentum {momentum}: w after {STEPS} steps = "
        f"{[round(v, 4) for v in coupled[-1].tolist()]}"
    )
    print(
        "    the two runs agree to a relative 1e-5 at every step: "
        f"{gap <= 1e-5}"
    )

# %%
# The two runs agree to the last few bits of float32 at every step, with and without
# momentum (how many bits differs between CPUs and GPUs, hence the bound of a relative
# 1e-5, about 80 float32 units): the only
# difference is the order of the floating-point operations that form
# the gradient (:math:`\text{wd}\cdot p` added by the optimizer, or
# :math:`\frac{\text{wd}}{2} \cdot 2p` from autograd). Adding the penalty to the loss is the
# portable form (any optimizer sees it); ``weight_decay`` keeps the penalty out of the
# graph.

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
for momentum, (coupled, penalised) in results.items():
    steps = range(len(coupled))
    ax.plot(
        steps,
        coupled.norm(dim=1),
        lw=3,
        alpha=0.4,
        label=f"weight_decay={WD}, momentum {momentum}",
    )
    ax.plot(
        steps,
        penalised.norm(dim=1),
        "k--",
        lw=1,
        label=f"loss + {WD}/2 |w|², momentum {momentum}",
    )
ax.set(
    xlabel="step",
    ylabel="|w|",
    title="Weight decay and an L2 penalty: the same path",
)
ax.legend(loc="lower right")
plt.show()
