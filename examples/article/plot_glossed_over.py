"""
What the article glosses over
=============================

Three things the article's snippets leave implicit: a graph can be backpropagated only
once; gradients add up across ``backward()`` calls until ``zero_grad()`` clears them; and
to change a parameter you either write into the tensor the optimizer holds, or swap the
tensor inside the optimizer, momentum buffer included. The plot shows how forgetting
``zero_grad()`` inflates the step.

The page :doc:`/article/glossed-over` explains each case.

Requires: ``pip install torch matplotlib``
"""

# %%
# A second backward() on the same graph
# -------------------------------------

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


def article_tensors():
    x = torch.tensor(5.0, requires_grad=True, device=device)
    c = torch.tensor(3.0, requires_grad=True, device=device)
    return x, c


def article_y(x, c):
    return c * 3 * torch.exp(x) + 2.0 * x + 4.0


x, c = article_tensors()
y = article_y(x, c)
y.backward()
try:
    y.backward()
except RuntimeError as error:
    print("second y.backward(): RuntimeError:")
    print(f"    {str(error).split(' (')[0]}")

# %%
# Gradients add up
# ----------------
# Rebuild ``y`` and backpropagate it ``k`` times without clearing: ``x.grad`` is ``k``
# times the true gradient, and so is the step. With ``zero_grad()`` before each pass it
# stays the same.

PASSES = 5


def grads_after_passes(clear):
    x, c = article_tensors()
    optimizer = torch.optim.SGD([x, c], lr=0.1)
    grads = []
    for _ in range(PASSES):
        if clear:
            optimizer.zero_grad()
        article_y(x, c).backward()
        grads.append(x.grad.item())
    return grads


accumulated = {clear: grads_after_passes(clear) for clear in (False, True)}
for clear, grads in accumulated.items():
    label = "with zero_grad()" if clear else "without zero_grad()"
    print(f"x.grad after passes 1-{PASSES}, {label}:")
    print("    " + ", ".join(f"{g:.4f}" for g in grads))

# %%
# Changing a value
# ----------------
# Write into the tensor the optimizer holds, under ``torch.no_grad()``: the optimizer
# still holds ``x``, and the next step starts from the new value.


def held(optimizer, tensor):
    """Whether the optimizer holds ``tensor`` itself (not a copy)."""
    return any(
        p is tensor
        for group in optimizer.param_groups
        for p in group["params"]
    )


x, c = article_tensors()
optimizer = torch.optim.SGD([x, c], lr=0.1)
with torch.no_grad():
    x.fill_(10.0)
    x.fill_(5.0)
print(
    f"after writing into x: the optimizer holds x: {held(optimizer, x)}, "
    f"x = {x.item():.4f}"
)
article_y(x, c).backward()
optimizer.step()
print(
    f"one step with lr 0.1 from x = 5: x = {x.item():.4f}, c = "
    f"{c.item():.4f}"
)

# %%
# Swapping a tensor
# -----------------
# To put a new tensor in place of ``x``, replace it in its group's ``params`` list, move
# its state (the momentum buffer) to the new key, and bind the name to the new tensor.

x, c = article_tensors()
optimizer = torch.optim.SGD([x, c], lr=0.1, momentum=0.9)
article_y(x, c).backward()
optimizer.step()

new_x = torch.tensor(10.0, requires_grad=True, device=device)
for group in optimizer.param_groups:
    for index, p in enumerate(group["params"]):
        if p is x:
            group["params"][index] = new_x
optimizer.state[new_x] = optimizer.state.pop(x)
x = new_x
print(
    "after the swap: the optimizer holds the new x:", held(optimizer, x)
)
print(
    "momentum buffer carried over: "
    f"{optimizer.state[x]['momentum_buffer'].item():.4f}"
)

# %%
# How far one step goes when gradients pile up
# --------------------------------------------
# The step is ``-lr * x.grad``, so after ``k`` uncleared passes it is ``k`` times too long.

passes = list(range(1, PASSES + 1))
fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
ax.plot(
    passes,
    [-0.1 * g for g in accumulated[False]],
    "o-",
    label="without zero_grad()",
)
ax.plot(
    passes,
    [-0.1 * g for g in accumulated[True]],
    "s-",
    label="with zero_grad() before each pass",
)
ax.set_xticks(passes)
ax.set(
    xlabel="backward() passes before step()",
    ylabel="change step() makes to x",
    title="Uncleared gradients add up (x = 5, c = 3, lr = 0.1)",
)
ax.legend(loc="lower left")
plt.show()
