"""
Schedulers against manual learning-rate edits
=============================================

A learning-rate scheduler writes ``param_groups[i]["lr"]`` on every ``scheduler.step()``.
Some schedulers compute the new value from the *initial* rate (``LambdaLR`` sets
``base_lr * lr_lambda(epoch)``), so a value you wrote by hand lasts only until the next
scheduler step. Others multiply the *current* rate (``StepLR``, ``MultiplicativeLR``), so an
edit carries on. This script edits the rate by hand halfway through and watches what each
scheduler does with it, then shows the warning PyTorch gives when the scheduler steps before
the optimizer.

Requires: ``pip install torch matplotlib``
"""

# %%
# A manual edit at epoch 4
# ------------------------
# The three schedulers start from ``lr = 0.1`` and halve it every 3 epochs. At epoch 4 the
# code sets ``lr = 0.01`` by hand.

import textwrap
import warnings

import matplotlib.pyplot as plt
import torch
from torch.optim.lr_scheduler import LambdaLR, MultiplicativeLR, StepLR

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

EPOCHS, EDIT_AT, EDITED_LR = 10, 4, 0.01
print(
    f"initial lr 0.1, halved every 3 epochs; "
    f"set to {EDITED_LR} by hand at epoch {EDIT_AT}"
)


def lr_per_epoch(make_scheduler, edit=True):
    """The lr of each epoch; with ``edit``, set by hand at EDIT_AT."""
    p = torch.zeros(1, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.1)
    scheduler = make_scheduler(optimizer)
    used = []
    for epoch in range(EPOCHS):
        if edit and epoch == EDIT_AT:
            optimizer.param_groups[0]["lr"] = EDITED_LR
        used.append(optimizer.param_groups[0]["lr"])
        p.grad = torch.ones(1, device=device)
        optimizer.step()
        scheduler.step()
    return used


SCHEDULERS = {
    "LambdaLR (from the initial lr)": lambda opt: LambdaLR(
        opt, lambda epoch: 0.5 ** (epoch // 3)
    ),
    "StepLR (from the current lr)": lambda opt: StepLR(
        opt, step_size=3, gamma=0.5
    ),
    "MultiplicativeLR (from the current lr)": lambda opt: MultiplicativeLR(
        opt, lambda epoch: 0.5 if epoch % 3 == 0 else 1.0
    ),
}
curves = {}
for name, make in SCHEDULERS.items():
    curves[name] = lr_per_epoch(make)
    print(f"{name}:")
    print("    " + ", ".join(f"{lr:.4g}" for lr in curves[name]))
unedited = [lr_per_epoch(make, edit=False) for make in SCHEDULERS.values()]
same = all(curve == unedited[0] for curve in unedited)
print(f"without the edit the three schedules are the same: {same}")
curves["no edit (any of the three)"] = unedited[0]

# %%
# ``LambdaLR`` throws the edit away at the next epoch; ``StepLR`` and ``MultiplicativeLR``
# keep it and go on halving from it. To change the rate for good under ``LambdaLR``, change
# ``scheduler.base_lrs`` (or build a new scheduler).

fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
# StepLR and MultiplicativeLR give the same curve, and LambdaLR leaves the
# unedited one only at epoch 4: a wide pale band, open markers, a dashed
# and a dotted line keep all four visible where they coincide.
styles = [
    dict(linewidth=6, alpha=0.35),
    dict(linewidth=2, marker="s", markersize=8, markerfacecolor="none"),
    dict(linestyle="--", marker="D", markersize=3),
    dict(linestyle=":", linewidth=2, marker="^", markersize=4),
]
for (name, used), style in zip(curves.items(), styles):
    ax.step(range(EPOCHS), used, where="post", label=name, **style)
ax.axvline(
    EDIT_AT, color="gray", ls=":", label=f"lr set to {EDITED_LR} by hand"
)
ax.set(
    yscale="log",
    xlabel="epoch",
    ylabel="learning rate",
    title="A manual lr edit under three schedulers",
)
ax.legend(loc="lower left")
plt.show()

# %%
# Here the edit also sets ``base_lrs`` to the base from which the schedule gives 0.01 at
# epoch 4; the rate then follows ``StepLR``'s edited curve.

p = torch.zeros(1, device=device, requires_grad=True)
optimizer = torch.optim.SGD([p], lr=0.1)
scheduler = LambdaLR(optimizer, lambda epoch: 0.5 ** (epoch // 3))
for_good = []
for epoch in range(EPOCHS):
    if epoch == EDIT_AT:
        optimizer.param_groups[0]["lr"] = EDITED_LR
        scheduler.base_lrs = [EDITED_LR / 0.5 ** (EDIT_AT // 3)]
    for_good.append(optimizer.param_groups[0]["lr"])
    p.grad = torch.ones(1, device=device)
    optimizer.step()
    scheduler.step()
print("LambdaLR with base_lrs changed too:")
print("    " + ", ".join(f"{lr:.4g}" for lr in for_good))
same = for_good == curves["StepLR (from the current lr)"]
print(f"the same as StepLR's edited curve: {same}")

# %%
# Stepping the scheduler before the optimizer
# -------------------------------------------
# Since PyTorch 1.1 the order is ``optimizer.step()`` then ``scheduler.step()``. The other
# order skips the first value of the schedule, and PyTorch says so with a warning, caught
# and printed here.


p = torch.zeros(1, device=device, requires_grad=True)
optimizer = torch.optim.SGD([p], lr=0.1)
scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    scheduler.step()
    p.grad = torch.ones(1, device=device)
    optimizer.step()
for warning in caught:
    text = f"{warning.category.__name__}: {warning.message}"
    print(
        textwrap.fill(
            text,
            width=76,
            subsequent_indent="    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    )
first_lr = p.item() / -1.0  # the step was -lr * 1
print(
    f"the first optimizer step used lr = {first_lr:.4f}, not the initial "
    "0.1"
)
