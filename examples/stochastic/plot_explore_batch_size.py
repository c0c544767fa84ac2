"""
Explore: batch size and learning rate against the noise floor
=============================================================

Drag the batch size :math:`B` and the learning rate and watch where the loss stops falling.
The problem is the one of the guide's noise floor: the loss
:math:`\\frac{1}{N}\\sum_i \\frac{1}{2}(w - a_i)^2` over :math:`N = 1000` numbers
:math:`a_i` of variance :math:`\\sigma^2`, minibatches of :math:`B` drawn with replacement.
At a constant rate, SGD settles at an excess loss of
:math:`\\frac{1}{2}\\,\\frac{\\mathrm{lr}}{2 - \\mathrm{lr}}\\,\\frac{\\sigma^2}{B}`.
Every frame is a real ``torch.optim.SGD`` run made when the site was built.

Requires: ``pip install torch matplotlib``
"""

# %%
# Every run of the grid
# ---------------------
# 7 batch sizes from 1 to 64 and 6 learning rates from 0.1 to 1.6: 42 settings. Each
# setting is 40 independent runs side by side (40 elements of a parameter, each its own
# run) for 300 steps from :math:`w = 1`; its curve is their mean excess loss. Each
# learning rate is a param group of one ``torch.optim.SGD``, whose parameter holds a row of
# runs per batch size; the rows of one batch size train on the same batches.

import json

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

N, RUNS, STEPS, LAST = 1000, 40, 300, 150
BATCHES = [1, 2, 4, 8, 16, 32, 64]
LRS = [0.1, 0.2, 0.4, 0.8, 1.2, 1.6]
a = torch.randn(N, generator=torch.Generator().manual_seed(0))
a = (a - a.mean()).to(device)
variance = a.pow(2).mean().item()

weights = [torch.ones(len(BATCHES), RUNS, device=device, requires_grad=True)
           for _ in LRS]
optimizer = torch.optim.SGD(
    [{"params": [w], "lr": lr} for w, lr in zip(weights, LRS)]
)
draw = torch.Generator().manual_seed(1)
excess = []
for step in range(STEPS + 1):
    stacked = torch.stack(weights)  # (learning rate, batch size, run)
    # The loss on all N samples, less its minimum, averaged over the runs.
    excess.append(0.5 * (stacked.detach() - a.mean()).pow(2).mean(dim=-1))
    if step == STEPS:
        break
    optimizer.zero_grad()
    total = 0
    for b, B in enumerate(BATCHES):  # each run: the mean over its batch
        chosen = torch.randint(N, (B, RUNS), generator=draw).to(device)
        squares = 0.5 * (stacked[:, b, None] - a[chosen]).pow(2)
        total = total + squares.mean(dim=1).sum()
    total.backward()
    optimizer.step()
excess = torch.stack(excess, -1).cpu()
curves = {
    (B, lr): excess[i, b]
    for b, B in enumerate(BATCHES)
    for i, lr in enumerate(LRS)
}
print(f"{len(curves)} settings: batch sizes {BATCHES},")
print(f"learning rates {LRS}; {RUNS} runs of {STEPS} steps each")

# %%
# The floor against its formula
# -----------------------------
# The measured floor is the mean excess loss over the last 150 steps. Over the whole
# grid, from 1 to 64 samples a batch and from well below the bound to near it, it stays
# within 20% of the formula: a batch twice as large lowers the floor, a rate twice as
# large raises it.


def formula(B, lr):
    return 0.5 * lr / (2 - lr) * variance / B


floors = {key: curve[-LAST:].mean().item() for key, curve in curves.items()}
ratios = [floors[key] / formula(*key) for key in floors]
print(f"measured floor / formula over the {len(ratios)} settings: "
      f"all within 20%: {all(0.8 < r < 1.2 for r in ratios)}")
fell = all(
    floors[B, lr] > floors[2 * B, lr] for B in BATCHES[:-1] for lr in LRS
)
rose = all(
    floors[B, lr] < floors[B, 2 * lr] for B in BATCHES for lr in LRS
    if 2 * lr in LRS
)
print(f"a batch twice as large lowers the floor at every rate: {fell}")
print(f"a rate twice as large raises it at every batch size: {rose}")

# %%
# The default setting, as a still figure
# --------------------------------------
# Batches of 4 at lr = 0.2, beside the floors of the whole grid.

DEFAULT = (4, 0.2)
print(f"default B = {DEFAULT[0]}, lr = {DEFAULT[1]}: measured floor "
      f"{floors[DEFAULT]:.1e}, formula {formula(*DEFAULT):.1e}")
fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 3.4),
                                  layout="constrained")
left.plot(curves[DEFAULT], lw=1, label="mean excess loss")
left.axhline(floors[DEFAULT], color="k", label="measured floor")
left.axhline(formula(*DEFAULT), color="r", ls="--", label="formula")
left.set(yscale="log", xlabel="step", ylabel="excess loss (log)",
         title=f"B = {DEFAULT[0]}, lr = {DEFAULT[1]}")
left.legend(fontsize="small")
for B in BATCHES:
    right.plot(LRS, [floors[B, lr] for lr in LRS], "o", ms=3,
               label=f"B = {B}")
    right.plot(LRS, [formula(B, lr) for lr in LRS], color="0.6", lw=0.8)
right.plot(DEFAULT[1], floors[DEFAULT], "o", color="k", ms=7, mfc="none")
right.set(xscale="log", yscale="log", xlabel="lr (log)",
          ylabel="floor (log)",
          title="Floors\n(dots measured, lines formula)")
right.legend(fontsize="small", ncols=2, handletextpad=0.2,
             columnspacing=0.6)
plt.show()

# %%
# The interactive figure
# ----------------------
# The runs above, handed to the site as JSON; the site's own script draws them with a
# control per setting. Each value is kept to 5 significant digits.


def kept(value):
    return float(f"{value:.5g}")


spec = {
    "title": "Batch size and learning rate against the noise floor",
    "problem": {"samples": N, "runs": RUNS, "steps": STEPS, "last": LAST,
                "data_seed": 0, "batch_seed": 1, "start": 1.0,
                "batches": BATCHES},
    "controls": [
        {"name": "batch", "label": "batch size B", "values": BATCHES,
         "start": BATCHES.index(DEFAULT[0])},
        {"name": "lr", "label": "learning rate lr", "values": LRS,
         "start": LRS.index(DEFAULT[1])},
    ],
    "runs": [
        {"excess": [kept(v) for v in curves[B, lr].tolist()],
         "floor": kept(floors[B, lr]), "formula": kept(formula(B, lr)),
         "final": kept(curves[B, lr][-1].item())}
        for B in BATCHES
        for lr in LRS
    ],
    "panels": [
        {"title": "Mean excess loss at each step",
         "x": {"label": "step", "range": [0, STEPS]},
         "y": {"label": "excess loss (log scale)", "range": [1e-5, 1],
               "log": True},
         "series": [{"y": "excess", "style": "path",
                     "label": "mean excess loss"}],
         "levels": [{"y": "floor", "style": "measured",
                     "label": "measured floor"},
                    {"y": "formula", "style": "formula",
                     "label": "formula"}]},
        {"title": "The floor against the formula",
         "x": {"label": "lr (log scale)", "range": [0.08, 2], "log": True},
         "y": {"label": "floor (log scale)", "range": [1e-5, 1],
               "log": True},
         "lines": [
             {"points": [[lr, formula(B, lr)] for lr in LRS],
              "style": "contour"}
             for B in BATCHES],
         "marker": {"x": "lr", "y": "floor"}},
    ],
    "readout": [["B", "batch"], ["lr", "lr"], ["measured floor", "floor"],
                ["formula", "formula"], [f"after {STEPS} steps", "final"]],
    "note": f"Each frame is a real torch.optim.SGD run made when this "
    f"page was built: {len(curves)} settings, batch size in {BATCHES}, "
    f"lr in {LRS}; grey lines: the formula for each batch size.",
}


class Explorer:
    """The runs, for the site's interactive figure (a notebook shows
    only its note)."""

    def __init__(self, spec):
        self.spec = spec

    def _repr_html_(self):
        data = json.dumps(self.spec, separators=(",", ":"))
        return (
            '<div class="sgdlab-explorer"><p>This interactive figure is '
            "drawn by the sgdlab site's script; the still figure of the "
            'example shows its default setting.</p>'
            '<script type="application/json">'
            + data.replace("</", "<\\/")
            + "</script></div>"
        )


Explorer(spec)
