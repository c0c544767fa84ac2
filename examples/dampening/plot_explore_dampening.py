"""
Explore: dampening is a smaller learning rate plus one undamped step
====================================================================

Drag the momentum :math:`\\mu` and the dampening :math:`\\tau` and compare two runs on a
constant gradient :math:`g = 1`: ``torch.optim.SGD`` with ``lr=0.1`` and
``dampening=tau``, and the same optimizer without dampening at
``lr=0.1 * (1 - tau)``.
Both settle at the same step, :math:`\\text{lr}\\,(1 - \\tau)\\,g / (1 - \\mu)`. They
differ by the first step, which PyTorch does not damp: the damped run's first step is
:math:`1/(1 - \\tau)` times larger, and momentum carries that extra
:math:`\\text{lr}\\,\\tau\\,g` on, shrinking by :math:`\\mu` at each step, so the damped
run ends :math:`\\text{lr}\\,\\tau\\,g\\,(1 - \\mu^t)/(1 - \\mu)` ahead. A still figure shows
one pair of settings; the controls show how the gap grows with both. Every frame is a real
``torch.optim.SGD`` run made when the site was built.

Requires: ``pip install torch matplotlib``
"""

# %%
# Every run of the grid
# ---------------------
# 7 momenta from 0.1 to 0.95 and 6 dampenings from 0 to 0.9: 42 settings, two runs
# each, 40 steps from :math:`x = 0` on :math:`f(x) = g\,x`. Each run is a param group of
# one ``torch.optim.SGD``. (Momentum 0 is left out: without momentum there is no buffer,
# and ``dampening`` does nothing.)

import json

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LR, SLOPE, STEPS = 0.1, 1.0, 40
MOMENTA = [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95]
DAMPENINGS = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9]
SETTINGS = [(mu, tau) for mu in MOMENTA for tau in DAMPENINGS]
damped = [torch.zeros(1, device=device, requires_grad=True)
          for _ in SETTINGS]
smaller_lr = [torch.zeros(1, device=device, requires_grad=True)
              for _ in SETTINGS]
optimizer = torch.optim.SGD(
    [{"params": [x], "lr": LR, "momentum": mu, "dampening": tau}
     for x, (mu, tau) in zip(damped, SETTINGS)]
    + [{"params": [x], "lr": LR * (1 - tau), "momentum": mu}
       for x, (mu, tau) in zip(smaller_lr, SETTINGS)]
)
positions = [torch.cat(damped + smaller_lr).detach().cpu()]
for _ in range(STEPS):
    optimizer.zero_grad()
    (SLOPE * torch.cat(damped + smaller_lr)).sum().backward()
    optimizer.step()
    positions.append(torch.cat(damped + smaller_lr).detach().cpu())
positions = torch.stack(positions, 1)  # one row per run
steps = positions[:, :-1] - positions[:, 1:]  # the step each run took
count = len(SETTINGS)
print(f"{count} settings: momentum {MOMENTA},")
print(f"dampening {DAMPENINGS}; two runs of {STEPS} steps each")

# %%
# What the runs show
# ------------------
# At every setting the damped run's first step is :math:`1/(1 - \tau)` times the other's,
# and after :math:`t` steps it is ahead by :math:`\text{lr}\,\tau\,g\,(1 - \mu^t)/(1 - \mu)`
# (to float32's rounding).


def gap_formula(mu, tau, t):
    return LR * tau * SLOPE * (1 - mu**t) / (1 - mu)


ratios, gaps = [], []
for i, (mu, tau) in enumerate(SETTINGS):
    ratios.append(steps[i, 0] / steps[count + i, 0] * (1 - tau))
    gaps.append(max(
        abs((positions[count + i, t] - positions[i, t]).item()
            - gap_formula(mu, tau, t))
        for t in range(STEPS + 1)
    ))
print(f"first steps in ratio 1 / (1 - tau): "
      f"{all(abs(r - 1) < 1e-5 for r in ratios)}")
print(f"gap within 1e-4 of lr tau g (1 - mu^t) / (1 - mu), every step: "
      f"{max(gaps) < 1e-4}")
steady = [  # both runs of each setting
    all(abs(steps[j, -1] / (LR * (1 - tau) * SLOPE / (1 - mu)) - 1) < 1e-3
        for j in (i, count + i))
    for i, (mu, tau) in enumerate(SETTINGS)
]


def after_three_steps(**settings):
    x = torch.zeros(1, device=device, requires_grad=True)
    single = torch.optim.SGD([x], lr=LR, **settings)
    for _ in range(3):
        single.zero_grad()
        (SLOPE * x).sum().backward()
        single.step()
    return x.item()


same = after_three_steps(dampening=0.9) == after_three_steps()
print(f"without momentum, dampening 0.9 changes nothing: {same}")
settled = all(s for s, (mu, _) in zip(steady, SETTINGS) if mu <= 0.7)
print(f"both runs' last step at lr (1 - tau) g / (1 - mu) within 0.1%,\n"
      f"    every mu <= 0.7: {settled}")

# %%
# The default setting, as a still figure
# --------------------------------------

DEFAULT = (0.8, 0.5)
i = SETTINGS.index(DEFAULT)
print(f"default mu = {DEFAULT[0]}, tau = {DEFAULT[1]}: ahead by "
      f"{(positions[count + i, -1] - positions[i, -1]).item():.3f} "
      f"after {STEPS} steps")
fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 3.2),
                                  layout="constrained")
left.plot(steps[i], label=f"dampening {DEFAULT[1]}, lr {LR}")
left.plot(steps[count + i], "--",
          label=f"no dampening, lr {LR * (1 - DEFAULT[1]):g}")
left.set(xlabel="step", ylabel="size of the step",
         title=f"μ = {DEFAULT[0]}, τ = {DEFAULT[1]}")
left.legend(fontsize="small")
right.plot(positions[count + i] - positions[i], label="measured")
right.plot([gap_formula(*DEFAULT, t) for t in range(STEPS + 1)], ":",
           label="formula")
right.set(xlabel="step", ylabel="how far ahead", title="The gap")
right.legend(fontsize="small")
plt.show()

# %%
# The interactive figure
# ----------------------
# The runs above, handed to the site as JSON; the site's own script draws them with a
# control per setting. Each value is kept to 5 significant digits.


def kept(values):
    return [float(f"{value:.5g}") for value in values.tolist()]


spec = {
    "title": "Dampening against a smaller learning rate",
    "problem": {"lr": LR, "slope": SLOPE, "steps": STEPS},
    "controls": [
        {"name": "momentum", "label": "momentum μ", "values": MOMENTA,
         "start": MOMENTA.index(DEFAULT[0])},
        {"name": "dampening", "label": "dampening τ", "values": DAMPENINGS,
         "start": DAMPENINGS.index(DEFAULT[1])},
    ],
    "runs": [
        {"damped": kept(steps[i]), "smaller_lr": kept(steps[count + i]),
         "gap": kept(positions[count + i] - positions[i]),
         "gap_formula": kept(torch.tensor(
             [gap_formula(mu, tau, t) for t in range(STEPS + 1)])),
         "final": kept(positions[i, -1:])[0]}
        for i, (mu, tau) in enumerate(SETTINGS)
    ],
    "panels": [
        {"title": "The size of each step",
         "x": {"label": "step", "range": [0, STEPS]},
         "y": {"label": "step size (log scale)", "range": [0.005, 3],
               "log": True},
         "series": [{"y": "damped", "style": "path",
                     "label": f"dampening τ, lr {LR}"},
                    {"y": "smaller_lr", "style": "second",
                     "label": "no dampening, lr (1 - τ)"}]},
        {"title": "How far ahead the damped run is",
         "x": {"label": "step", "range": [0, STEPS]},
         "y": {"label": "gap in x", "range": [0, 2]},
         "series": [{"y": "gap", "style": "path", "label": "measured"},
                    {"y": "gap_formula", "style": "formula",
                     "label": "lr τ g (1 - μ^t) / (1 - μ)"}]},
    ],
    "readout": [["lr", "lr"], ["μ", "momentum"], ["τ", "dampening"],
                [f"x after {STEPS} steps", "final"]],
    "note": f"Each frame is a real torch.optim.SGD run made when this "
    f"page was built: {count} settings, momentum in {MOMENTA}, dampening "
    f"in {DAMPENINGS}, lr {LR}, constant gradient {SLOPE:g}.",
}
for run in spec["runs"]:
    run["lr"] = LR


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
