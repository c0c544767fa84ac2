"""
A scheduled learning rate under torch.compile: float or tensor
==============================================================

``torch.compile`` turns a function into graphs and guards each graph with checks on what
it assumed: the shapes, the types, and the values of the Python numbers it read. A
learning rate that is a Python float is such a number, so when a scheduler changes it the
guard fails and the step compiles again. A tensor ``lr`` is an input of the graph like
any other tensor: the scheduler writes a new value into it and the same graph runs. This
script counts the graphs in both cases over ten scheduled steps.

Requires: ``pip install sgdlab``
"""

# %%
# Counting graphs
# ---------------
# ``backend="eager"`` makes dynamo capture and guard the graphs exactly as it does for the
# default compiler, then runs them as ordinary PyTorch, so counting them takes about a
# second. ``torch._dynamo.utils.counters`` counts the graphs captured; a graph captured
# after the first step is a recompilation. The compiled function is the optimizer's
# step, as in PyTorch's tutorial on compiling the optimizer; an
# :class:`~torch.optim.lr_scheduler.ExponentialLR` multiplies the rate by 0.9 after
# every step.

import matplotlib.pyplot as plt
import torch
import torch._dynamo
from torch._dynamo.utils import counters

import sgdlab

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

torch.manual_seed(0)
inputs = torch.randn(64, 4, device=device)
targets = inputs @ torch.randn(4, 1, device=device)
STEPS = 10


def train(lr, optimizer_class=torch.optim.SGD, compiled=True):
    """Graphs captured after each step, the losses and the final weights."""
    torch._dynamo.reset()  # forget graphs compiled by an earlier run
    counters.clear()
    torch.manual_seed(1)
    model = torch.nn.Linear(4, 1).to(device)
    optimizer = optimizer_class(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)

    def step():
        optimizer.step()

    if compiled:
        step = torch.compile(step, backend="eager")
    graphs, losses = [], []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        step()
        scheduler.step()
        graphs.append(counters["stats"]["unique_graphs"])
        losses.append(loss.item())
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return graphs, losses, weights


runs = {
    "float lr": train(0.1),
    "tensor lr": train(torch.tensor(0.1, device=device)),
}
for name, (graphs, _, _) in runs.items():
    print(f"torch.optim.SGD, {name}: graphs by step {graphs}")
    print(f"  captured after the first step: {graphs[-1] - graphs[0]}")

# %%
# With a float, the first step compiles a graph for ``lr = 0.1``; the second step sees
# 0.09, the guard fails and dynamo compiles again, this time with the rate as a dynamic
# input ("automatic dynamic shapes" covers Python numbers too), so the eight steps
# after that reuse it. With a tensor the first graph serves all ten steps.
#
# Compiling with a float rate keeps the arithmetic: the weights are those of the same
# steps run without ``torch.compile``, bit for bit. With a tensor rate the compiled
# step takes another path: while compiling, ``torch.optim.SGD``'s foreach path
# multiplies the gradients by ``-lr`` and then adds them (two roundings), where the
# eager step adds them with ``alpha=-lr``, which the AVX2 and AVX-512 kernels compute
# with one rounding. So whether the weights match bit for bit depends on the CPU's
# kernels; the script checks that they agree within 1e-6.

float_weights = train(0.1, compiled=False)[2]
print(f"float lr: same weights as without torch.compile: "
      f"{torch.equal(float_weights, runs['float lr'][2])}")
tensor_weights = train(torch.tensor(0.1, device=device), compiled=False)[2]
gap = (tensor_weights - runs["tensor lr"][2]).abs().max().item()
print(f"tensor lr: weights within 1e-6 of those without torch.compile: "
      f"{gap <= 1e-6}")

# %%
# With sgdlab.SGD
# ---------------
# ``sgdlab.SGD`` checks its settings and tensors in Python on every step, and a check
# that reads a tensor's value (``lr < 0``, ``.item()``) is a *graph break*: dynamo
# compiles the code around it as separate graphs. A float lr has no value to read, and
# sgdlab captures as many graphs as ``torch.optim.SGD``, one of them again after the
# first step. A tensor lr is read, and sgdlab captures more graphs than torch, but still
# none after the first step. Either way the weights are torch's, bit for bit.

for name, lr in [("float lr", 0.1),
                 ("tensor lr", torch.tensor(0.1, device=device))]:
    graphs, _, weights = train(lr, optimizer_class=sgdlab.SGD)
    print(f"sgdlab.SGD, {name}: graphs by step {graphs}")
    print(f"  captured after the first step: {graphs[-1] - graphs[0]}, "
          f"same weights as torch.optim.SGD: "
          f"{torch.equal(weights, runs[name][2])}")

# %%
# What the default compiler adds
# ------------------------------
# With the default backend, inductor, each captured graph is also turned into generated
# code (C++ on the CPU, Triton on a GPU) before it first runs. That takes seconds per
# graph rather than milliseconds: we measured the two ``torch.optim.SGD`` runs above
# once with inductor on this project's (busy, 2-core) machine, and each took over a
# minute from a cold start, against about a second per run with ``backend="eager"``.
# A scheduler that changes a float rate every step pays for the second graph's
# compilation once more, and without automatic dynamic shapes (``dynamic=False``) once
# per distinct value, up to dynamo's limit of 8 graphs per function. The counts, not
# the times, are what this script pins: they are the same on any machine.
#
# The loss is the same whichever way the rate is passed (within 1e-5 relative, printed
# after the figure):

fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
for name, (_, losses, _) in runs.items():
    ax.plot(range(1, STEPS + 1), losses, "o-" if "float" in name else "x--",
            label=f"compiled step, {name}")
ax.set(xlabel="step", ylabel="training loss", yscale="log",
       title="Ten steps with ExponentialLR(gamma=0.9)")
ax.legend()
plt.show()
same_losses = [abs(a - b) <= 1e-5 * abs(b) for a, b in
               zip(runs["float lr"][1], runs["tensor lr"][1])]
print(f"float and tensor lr: losses within 1e-5 relative at every step: "
      f"{all(same_losses)}")
