"""
A tensor moved after ``requires_grad=True`` is not a leaf
=========================================================

``torch.tensor(5.0, requires_grad=True).to(...)`` looks like a parameter, but when ``.to()``
has to convert anything, the result is the *output of an operation* on the tensor you
created: a non-leaf tensor. ``torch.optim.SGD`` refuses it, because the gradient of the
graph is stored on the leaf (the tensor before ``.to()``), never on the converted copy.

The twist: a tensor created on the CPU and moved with ``.to("cpu")`` needs no conversion,
so ``.to()`` returns the very same tensor, a leaf, and SGD accepts it. The same line with
``.to("cuda")`` has to copy the tensor to the GPU, and gives a non-leaf. So the mistake
stays hidden until the code first runs on a GPU. A dtype change is a conversion on every
device, so it shows the error on any machine.

Every cause of a tensor that does not move, as a checklist to walk down:
:doc:`/guide/troubleshooting`.

Requires: ``pip install torch matplotlib``
"""

# %%
# ``.to()`` with nothing to convert returns the same tensor
# ---------------------------------------------------------
# This part runs the same on every machine: the tensor is created on the CPU and moved to
# the CPU. On a GPU machine, ``.to("cuda")`` is a conversion like the dtype change below.

import warnings

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


def try_sgd(tensor):
    """Build SGD over ``tensor``: 'accepted', or the error it raised."""
    try:
        torch.optim.SGD([tensor], lr=0.1)
    except ValueError as error:
        return f"{type(error).__name__}: {error}"
    return "accepted"


created = torch.tensor(5.0, requires_grad=True)
moved = created.to("cpu")
print(
    f'.to("cpu") on a CPU tensor: same object {moved is created}, '
    f"is_leaf {moved.is_leaf}, SGD {try_sgd(moved)}"
)

# %%
# A conversion makes a non-leaf
# -----------------------------
# ``.to(torch.float64)`` must make a new tensor on every device, as ``.to("cuda")`` must
# for a CPU tensor. The converted tensor has a ``grad_fn``: it remembers it came from the
# float32 leaf.

leaf = torch.tensor(5.0, requires_grad=True, device=device)
converted = leaf.to(torch.float64)
print(
    f".to(torch.float64): same object {converted is leaf}, "
    f"is_leaf {converted.is_leaf},"
    f"\n    grad_fn {type(converted.grad_fn).__name__}"
)
print(f".to(torch.float64): SGD says {try_sgd(converted)}")

# %%
# Where the gradient goes
# -----------------------
# A backward pass through the converted tensor fills the *leaf's* ``.grad``; the converted
# copy keeps ``None`` (and PyTorch warns about reading it, which is silenced here).

((converted - 1.0) ** 2).backward()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    copy_grad = converted.grad
print(
    f"after backward: leaf.grad = {leaf.grad.item():.4f}, "
    f"converted.grad = {copy_grad}"
)

fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
ax.bar(
    [
        "leaf (float32)\nwhat SGD needs",
        "converted (float64)\nwhat the code kept",
    ],
    [leaf.grad.item(), 0.0],
    color=["C2", "C3"],
)
ax.text(1, 0.5, ".grad is None", ha="center", va="bottom")
ax.set(
    ylabel=".grad after backward()",
    title="d/dp (p - 1)² at p = 5: where it is stored",
)
plt.show()

# %%
# The fix: create the tensor where and as it will live
# ----------------------------------------------------
# Pass ``device=`` and ``dtype=`` to the factory function, so the tensor you keep *is* the
# leaf. When the tensor already exists, move it first and ask for gradients afterwards,
# with ``.requires_grad_()``. Both are accepted by SGD and move when it steps.

made_there = torch.tensor(
    5.0, requires_grad=True, device=device, dtype=torch.float64
)
moved_then_marked = (
    torch.tensor(5.0).to(device, torch.float64).requires_grad_()
)
for name, p in [
    ("created on device", made_there),
    ("moved, then requires_grad_()", moved_then_marked),
]:
    optimizer = torch.optim.SGD([p], lr=0.1)
    ((p - 1.0) ** 2).backward()
    optimizer.step()
    print(
        f"{name}: is_leaf {p.is_leaf}, {p.dtype},"
        f"\n    p after a step {p.item():.4f}"
    )
