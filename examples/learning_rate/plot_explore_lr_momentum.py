"""
Explore: learning rate and momentum on an ill-conditioned valley
================================================================

Drag the learning rate and the momentum, switch Nesterov on and off, and watch the path on
the valley :math:`f(x, y) = \\frac{1}{2}(\\lambda_1 x^2 + \\lambda_2 y^2)` with
:math:`\\lambda_1 = 1` and :math:`\\lambda_{\\max} = \\lambda_2 = 25`. Every frame is a
real ``torch.optim.SGD`` run, made when the site was built: the figure holds the whole grid
of settings and the controls move along it. The small map places the current setting among
the stability bounds: :math:`2/\\lambda_{\\max}` without momentum,
:math:`(2 + 2\\mu)/\\lambda_{\\max}` with heavy-ball momentum and
:math:`(2 + 2\\mu)/((1 + 2\\mu)\\lambda_{\\max})` with Nesterov's.

Requires: ``pip install torch matplotlib``
"""

# %%
# Every run of the grid
# ---------------------
# 14 learning rates on a roughly logarithmic grid from 0.002 to 0.3 (the bound without
# momentum is 0.08), 8 momenta from 0 to 0.99, Nesterov off and on: 224 runs of 80 steps
# from the same start, all side by side, each a param group of one ``torch.optim.SGD``.

import json

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

LAMBDAS = (1.0, 25.0)
START, STEPS = (-4.0, 1.0), 80
LRS = [0.002, 0.003, 0.005, 0.007, 0.01, 0.015, 0.02,
       0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3]
MOMENTA = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99]
NESTEROV = [False, True]
curvature = torch.tensor(LAMBDAS, device=device)


SETTINGS = [
    (lr, mu, nesterov)
    for lr in LRS
    for mu in MOMENTA
    for nesterov in NESTEROV
]
# One optimizer, one param group per setting: each run gets its own
# lr, momentum and Nesterov switch. (Nesterov needs a momentum: at
# momentum 0 both positions of the switch run plain SGD, the same update.)
starts = [torch.tensor(START, device=device, requires_grad=True)
          for _ in SETTINGS]
optimizer = torch.optim.SGD([
    {"params": [point], "lr": lr, "momentum": mu,
     "nesterov": nesterov and mu > 0}
    for point, (lr, mu, nesterov) in zip(starts, SETTINGS)
])
path, losses = [], []
for step in range(STEPS + 1):
    optimizer.zero_grad()
    points = torch.stack(starts)
    loss = 0.5 * (curvature * points**2).sum(dim=1)  # one loss per run
    path.append(points.detach().cpu())
    losses.append(loss.detach().cpu())
    if step < STEPS:
        # The sum's gradient with respect to each run's point is exactly
        # that run's own gradient: the runs do not mix.
        loss.sum().backward()
        optimizer.step()
path, losses = torch.stack(path, 1), torch.stack(losses, 1)
runs = {key: (path[i], losses[i]) for i, key in enumerate(SETTINGS)}
print(f"{len(runs)} runs of {STEPS} steps: {len(LRS)} learning rates "
      f"from {LRS[0]} to {LRS[-1]},")
print(f"{len(MOMENTA)} momenta from {MOMENTA[0]} to {MOMENTA[-1]}, "
      f"Nesterov off and on")

# %%
# Where the bounds hold
# ---------------------
# A run converges when its learning rate is below the bound of its form, and diverges
# above it. The grid puts the claim to the test at every setting at least 10% away from
# its bound: the loss after 80 steps is below the starting loss on one side and above it
# on the other.


def bound(mu, nesterov):
    """The largest stable learning rate on the valley."""
    if nesterov:
        return (2 + 2 * mu) / ((1 + 2 * mu) * LAMBDAS[1])
    return (2 + 2 * mu) / LAMBDAS[1]


below = [key for key in runs if key[0] <= 0.9 * bound(*key[1:])]
above = [key for key in runs if key[0] >= 1.1 * bound(*key[1:])]
start_loss = runs[below[0]][1][0]
fell = [runs[key][1][-1] < start_loss for key in below]
grew = [not runs[key][1][-1] < start_loss for key in above]
print(f"below their bound by 10% or more: {len(below)} runs, "
      f"all converge: {all(fell)}")
print(f"above their bound by 10% or more: {len(above)} runs, "
      f"all diverge: {all(grew)}")
print(f"near a bound (left out): {len(runs) - len(below) - len(above)}")
nesterov_lower = all(
    bound(mu, True) < bound(mu, False) for mu in MOMENTA[1:]
)
print(f"Nesterov's bound is below heavy ball's at every mu > 0: "
      f"{nesterov_lower}")

# %%
# The default setting, as a still figure
# --------------------------------------
# lr = 0.05 and momentum 0.8, without Nesterov: the figure a reader without JavaScript
# sees, and the one in the downloads.

DEFAULT = (0.05, 0.8, False)
points, losses = runs[DEFAULT]
print(f"default lr = {DEFAULT[0]}, mu = {DEFAULT[1]}: loss after "
      f"{STEPS} steps {losses[-1]:.1e}")

angles = torch.linspace(0, 2 * torch.pi, 121)
levels = [0.02 * 4**k for k in range(6)]


def contour(level):
    """The ellipse f(x, y) = level, as (x, y) points."""
    return [
        torch.sqrt(2 * level / LAMBDAS[0]) * torch.cos(angles),
        torch.sqrt(2 * level / LAMBDAS[1]) * torch.sin(angles),
    ]


mus = torch.linspace(0, 0.99, 100)
fig = plt.figure(figsize=(6.4, 6.4), layout="constrained")
top, bottom = fig.subfigures(2, 1)
ax = top.subplots()
for level in levels:
    ax.plot(*contour(torch.tensor(level)), color="0.75", lw=0.7)
ax.plot(points[:, 0], points[:, 1], ".-", ms=3, lw=1)
ax.set(xlim=(-4.5, 4.5), ylim=(-1.5, 1.5), xlabel="x", ylabel="y",
       title=f"lr = {DEFAULT[0]}, momentum {DEFAULT[1]}: the path")
left, right = bottom.subplots(1, 2)
left.plot(losses)
left.set(yscale="log", xlabel="step", ylabel="loss (log)", title="Loss")
right.plot(2 / LAMBDAS[1] * torch.ones_like(mus), mus, ":",
           label="2 / λmax")
right.plot([bound(m, False) for m in mus.tolist()], mus, "--",
           label="(2 + 2μ) / λmax")
right.plot([bound(m, True) for m in mus.tolist()], mus,
           label="Nesterov")
right.plot(DEFAULT[0], DEFAULT[1], "o", color="k")
right.set(xscale="log", xlim=(LRS[0], LRS[-1]), ylim=(0, 1),
          xlabel="lr (log)", ylabel="momentum μ", title="Bounds")
right.legend(fontsize="small", loc="upper left")
plt.show()

# %%
# The interactive figure
# ----------------------
# The runs above, handed to the site as JSON; the site's own script draws them with a
# control per setting. Each value is kept to 5 significant digits, and a run that
# overflowed ends at its last finite step.


def kept(values):
    """Values to 5 significant digits; None from the first non-finite."""
    found = []
    for value in values.tolist():
        if not abs(value) < float("inf"):
            break
        found.append(float(f"{value:.5g}"))
    return found + [None] * (len(values) - len(found))


def bound_line(nesterov):
    return [[bound(m, nesterov), m] for m in mus.tolist()]


spec = {
    "title": "Learning rate and momentum on the valley",
    "problem": {"lambdas": LAMBDAS, "start": START, "steps": STEPS},
    "controls": [
        {"name": "lr", "label": "learning rate lr", "values": LRS,
         "start": LRS.index(DEFAULT[0])},
        {"name": "momentum", "label": "momentum μ", "values": MOMENTA,
         "start": MOMENTA.index(DEFAULT[1])},
        {"name": "nesterov", "label": "Nesterov", "values": NESTEROV,
         "start": 0, "switch": True},
    ],
    "runs": [
        {"x": kept(p[:, 0]), "y": kept(p[:, 1]), "loss": kept(f),
         "final": kept(f[-1:])[0]}
        for p, f in runs.values()
    ],
    "panels": [
        {"title": "The path on the valley", "wide": True,
         "x": {"label": "x", "range": [-4.5, 4.5]},
         "y": {"label": "y", "range": [-1.5, 1.5]},
         "lines": [{"points": torch.stack(contour(torch.tensor(level)), 1)
                    .tolist(), "style": "contour"} for level in levels],
         "series": [{"x": "x", "y": "y", "style": "path"}]},
        {"title": "Loss at each step",
         "x": {"label": "step", "range": [0, STEPS]},
         "y": {"label": "loss (log scale)", "range": [1e-12, 1e4],
               "log": True},
         "series": [{"y": "loss", "style": "path"}]},
        {"title": "The setting among the bounds",
         "x": {"label": "lr (log scale)", "range": [LRS[0], LRS[-1]],
               "log": True},
         "y": {"label": "momentum μ", "range": [0, 1]},
         "lines": [
             {"points": [[2 / LAMBDAS[1], 0], [2 / LAMBDAS[1], 1]],
              "style": "bound-plain", "label": "2 / λmax"},
             {"points": bound_line(False), "style": "bound-momentum",
              "label": "(2 + 2μ) / λmax"},
             {"points": bound_line(True), "style": "bound-nesterov",
              "label": "Nesterov: (2 + 2μ) / ((1 + 2μ) λmax)"}],
         "marker": {"x": "lr", "y": "momentum"}},
    ],
    "readout": [["lr", "lr"], ["μ", "momentum"], ["Nesterov", "nesterov"],
                [f"loss after {STEPS} steps", "final"]],
    "note": f"Each frame is a real torch.optim.SGD run made when this "
    f"page was built: {len(runs)} runs, lr in {LRS}, momentum in "
    f"{MOMENTA}, Nesterov off and on.",
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
