"""
What the article glosses over
=============================

Three things the article's snippets leave implicit, checked on every device that
:func:`sgdlab.devices` lists: a graph can be backpropagated only once; gradients add up
across ``backward()`` calls until ``zero_grad()`` clears them; and a parameter's value
is changed in place (:func:`sgdlab.assign_`) and a tensor swapped with
:func:`sgdlab.replace_param`, which :func:`sgdlab.check_binding` confirms. The plot shows
how forgetting ``zero_grad()`` inflates the step.

The page :doc:`/article/glossed-over` explains each case.
"""

# %%
# A second backward() on the same graph
# -------------------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())


def article_tensors(device):
    x = torch.tensor(5.0, requires_grad=True, device=device)
    c = torch.tensor(3.0, requires_grad=True, device=device)
    return x, c


def article_y(x, c):
    return c * 3 * torch.exp(x) + 2.0 * x + 4.0


def second_backward(device):
    """The first sentence of the error a second backward() raises."""
    x, c = article_tensors(device)
    y = article_y(x, c)
    y.backward()
    try:
        y.backward()
    except RuntimeError as error:
        return str(error).split(" (")[0]
    return "no error"


for device, message in sgdlab.run_on_devices(second_backward).items():
    print(f"[{device}] second y.backward(): RuntimeError: {message}")

# %%
# Gradients add up
# ----------------
# Rebuild ``y`` and backpropagate it ``k`` times without clearing: ``x.grad`` is ``k``
# times the true gradient, and so is the step. With ``zero_grad()`` before each pass it
# stays the same.

PASSES = 5


def grads_after_passes(device, clear):
    x, c = article_tensors(device)
    optimizer = torch.optim.SGD([x, c], lr=0.1)
    grads = []
    for _ in range(PASSES):
        if clear:
            optimizer.zero_grad()
        article_y(x, c).backward()
        grads.append(x.grad.item())
    return grads


accumulated = sgdlab.run_on_devices(
    lambda device: {clear: grads_after_passes(device, clear) for clear in (False, True)}
)
for device, runs in accumulated.items():
    for clear, grads in runs.items():
        label = "with zero_grad()" if clear else "without zero_grad()"
        print(f"[{device}] x.grad after passes 1-{PASSES}, {label}: "
              + ", ".join(f"{g:.4f}" for g in grads))

# %%
# Changing a value, swapping a tensor
# -----------------------------------
# ``assign_`` writes into the tensor the optimizer holds; ``replace_param`` swaps the tensor
# in the optimizer, momentum buffer included, and we bind the name to the tensor it returns.


def safe_changes(device):
    x, c = article_tensors(device)
    optimizer = torch.optim.SGD([x, c], lr=0.1)
    sgdlab.assign_(x, 10.0)
    sgdlab.assign_(x, 5.0)
    after_assign = sgdlab.check_binding(optimizer, x=x, c=c)
    article_y(x, c).backward()
    optimizer.step()
    stepped = (x.item(), c.item())

    x, c = article_tensors(device)
    optimizer = torch.optim.SGD([x, c], lr=0.1, momentum=0.9)
    article_y(x, c).backward()
    optimizer.step()
    x = sgdlab.replace_param(optimizer, x, torch.tensor(10.0, requires_grad=True, device=device))
    return {
        "after_assign": after_assign,
        "stepped": stepped,
        "after_replace": sgdlab.check_binding(optimizer, x=x, c=c),
        "buffer": optimizer.state[x]["momentum_buffer"].item(),
    }


for device, r in sgdlab.run_on_devices(safe_changes).items():
    print(f"[{device}] after assign_: {r['after_assign']}")
    print(f"[{device}] one step with lr 0.1 from x = 5: x = {r['stepped'][0]:.4f}, c = {r['stepped'][1]:.4f}")
    print(f"[{device}] after replace_param: {r['after_replace']}; "
          f"momentum buffer carried over: {r['buffer']:.4f}")

# %%
# How far one step goes when gradients pile up
# --------------------------------------------
# The step is ``-lr * x.grad``, so after ``k`` uncleared passes it is ``k`` times too long.

cpu = accumulated["cpu"]
passes = list(range(1, PASSES + 1))
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(passes, [-0.1 * g for g in cpu[False]], "o-", label="without zero_grad()")
ax.plot(passes, [-0.1 * g for g in cpu[True]], "s-", label="with zero_grad() before each pass")
ax.set_xticks(passes)
ax.set(xlabel="number of backward() passes before step()",
       ylabel="change step() would make to x",
       title="Uncleared gradients add up (x = 5, c = 3, lr = 0.1)")
ax.legend()
plt.show()
