"""
Unrolled optimisation: differentiating through k steps
======================================================

Hypergradient descent looks back one step. Differentiating the loss after *k* steps with
respect to the learning rate or the starting point is the idea behind MAML (which learns
a starting point that trains well in a few steps) and behind learned optimizers. With
``differentiable=True`` each ``step()`` stays in the autograd graph, so the loss after k
steps has a gradient with respect to everything the k steps read. The price is memory:
autograd keeps what each step needs for the backward pass, so the graph grows with k.

Requires: ``pip install sgdlab``
"""

# %%
# k steps in one graph
# --------------------
# The valley :math:`f(x, y) = (x^2 + 20\, y^2) / 2` in float64, plain SGD with
# ``lr = 0.05``. The starting point is a leaf that requires grad, the point the
# optimizer writes into is a copy of it, and each gradient is taken with
# ``create_graph=True`` so that the backward pass can go through the gradient too.
# The loss reads a copy of the point: ``step()`` overwrites the point in place, and
# autograd refuses to go back through a value that was overwritten after it was saved.
#
# ``torch.autograd.graph.saved_tensors_hooks()`` sees every tensor autograd saves for
# the backward pass: counting them measures the graph's memory without depending on the
# machine's allocator.

import contextlib

import matplotlib.pyplot as plt
import torch

import sgdlab

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

DTYPE = torch.float64
CURVATURES = torch.tensor([1.0, 20.0], dtype=DTYPE, device=device)
START = [-2.0, 1.0]
LR = 0.05


def valley(point):
    """The valley's value at ``point``: curvature 1 along x, 20 along y."""
    return 0.5 * (CURVATURES * point**2).sum()


def unrolled(k, lr_value=LR, optimizer_class=torch.optim.SGD, copy=True,
             count=True):
    """The loss after k steps, its gradients, the tensors autograd saved."""
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    start = torch.tensor(START, dtype=DTYPE, device=device,
                         requires_grad=True)
    lr = torch.tensor(lr_value, dtype=DTYPE, device=device,
                      requires_grad=True)
    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    with hooks if count else contextlib.nullcontext():
        point = start.clone()  # not a leaf: step() may write into it
        optimizer = optimizer_class([point], lr=lr, differentiable=True)
        for _ in range(k):
            current = point.clone() if copy else point
            (grad,) = torch.autograd.grad(valley(current), current,
                                          create_graph=True)
            point.grad = grad
            optimizer.step()
        loss = valley(point)
    d_start, d_lr = torch.autograd.grad(loss, [start, lr])
    return loss.item(), d_start, d_lr.item(), len(saved), sum(saved)


# %%
# Without the copy, the backward pass fails:

try:
    unrolled(2, copy=False, count=False)
except RuntimeError as error:
    in_place = "modified by an inplace operation" in str(error)
    print("without the copy: RuntimeError, a saved tensor changed in "
          f"place: {in_place}")

# %%
# The gradients, checked
# ----------------------
# Each step multiplies coordinate :math:`i` by :math:`1 - \eta\lambda_i`, so the loss
# after k steps is :math:`\sum_i \tfrac{\lambda_i}{2} (1 - \eta\lambda_i)^{2k} p_i^2`
# and both derivatives have closed forms. The memory grows linearly: the same number of
# saved tensors per step.

start = torch.tensor(START, dtype=DTYPE, device=device)


def closed_form(k, lr=LR):
    """d loss_k / d lr and d loss_k / d start, by the formula."""
    factor = 1 - lr * CURVATURES
    d_lr = (-k * CURVATURES**2 * factor ** (2 * k - 1) * start**2).sum()
    d_start = CURVATURES * factor ** (2 * k) * start
    return d_lr.item(), d_start


KS = [1, 2, 4, 8, 16, 32]
print(f"{'k':>3} {'loss':>10} {'d loss / d lr':>14} {'saved tensors':>14} "
      f"{'saved bytes':>12}  formula agrees")
runs = {k: unrolled(k) for k in KS}
for k, (loss, d_start, d_lr, count, size) in runs.items():
    d_lr_formula, d_start_formula = closed_form(k)
    agrees = (abs(d_lr - d_lr_formula) <= 1e-12 * abs(d_lr_formula)
              and torch.allclose(d_start, d_start_formula, rtol=1e-12))
    print(f"{k:>3} {loss:>10.3e} {d_lr:>14.3e} {count:>14} {size:>12}  "
          f"{agrees}")
per_step = {difference // (k - k // 2) for difference, k in zip(
    [runs[k][3] - runs[k // 2][3] for k in KS[1:]], KS[1:])}
print(f"saved tensors added per step, the same for every k: {per_step}")

# %%
# The same with sgdlab.SGD
# ------------------------
# ``sgdlab.SGD`` records the same operations: the same gradients, bit for bit, and the
# same number of saved tensors.

for k in KS:
    loss, d_start, d_lr, count, size = unrolled(
        k, optimizer_class=sgdlab.SGD)
    same = (loss, d_lr, count, size) == (runs[k][0], runs[k][2],
                                         runs[k][3], runs[k][4])
    print(f"k = {k:>2}: sgdlab.SGD, same loss, gradients and saved "
          f"tensors: {same and torch.equal(d_start, runs[k][1])}")

# %%
# The unrolled loss as a function of lr
# -------------------------------------
# Left, the saved tensors against k. Right, the loss after k steps over a range of
# rates, computed from the formula: the function whose slope the unrolled gradient
# ``d loss / d lr`` is, up to the stability bound :math:`2/\lambda_{max} = 0.1`.

lrs = [0.002 * i for i in range(1, 53)]
fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 3.4),
                                  layout="constrained")
left.plot(KS, [runs[k][3] for k in KS], "o-")
left.set(xlabel="unrolled steps k", ylabel="tensors saved for backward",
         title="The graph grows with k")
for k in (1, 4, 16):
    right.plot(lrs, [valley(start * (1 - lr * CURVATURES) ** k).item()
                     for lr in lrs], label=f"k = {k}")
right.axvline(0.1, color="grey", ls=":", label="2 / lambda_max")
right.set(yscale="log", xlabel="lr", ylabel="loss after k steps",
          title="Loss after k steps")
right.legend(fontsize="small")
plt.show()
