"""
One SGD step on a function of two tensors
=========================================

The article's worked example: :math:`y = 3 c e^x + b x + d` with :math:`x = 5`,
:math:`c = 3`, :math:`b = 2`, :math:`d = 4`, one backward pass and one
``torch.optim.SGD`` step with learning rate 1. The computation runs on every device
that :func:`sgdlab.devices` lists; the plot shows where the single step sends :math:`x`.

The page :doc:`/article/worked-example` explains each value.
"""

# %%
# Compute the step on each device
# -------------------------------
# Only ``x`` and ``c`` require a gradient, so only they are handed to the optimizer.

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())


def one_step(device):
    """Build y on ``device``, backpropagate, take one SGD step and return the numbers."""
    x = torch.tensor(5.0, requires_grad=True, device=device)
    c = torch.tensor(3.0, requires_grad=True, device=device)
    b = torch.tensor(2.0, device=device)
    d = 4.0
    y = c * 3 * torch.exp(x) + b * x + d
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    y.backward()
    grads = (x.grad.clone(), c.grad.clone())
    optimizer.step()
    return {"y": y.detach(), "x.grad": grads[0], "c.grad": grads[1], "x": x.detach(), "c": c.detach()}


results = sgdlab.run_on_devices(one_step)
for device, values in results.items():
    for name, value in values.items():
        print(f"[{device}] {name} = {value.item():.4f}")

# %%
# Check the update rule by hand
# -----------------------------
# Plain SGD moves each tensor by ``-lr * grad``. Recomputing that from the stored
# gradient gives the value the optimizer produced.

cpu = results["cpu"]
by_hand = torch.tensor(5.0) - 1.0 * cpu["x.grad"].cpu()
print(f"5.0 - 1.0 x {cpu['x.grad'].item():.4f} = {by_hand.item():.4f}")
print("matches optimizer.step():", torch.equal(by_hand, cpu["x"].cpu()))

# %%
# Where the step lands
# --------------------
# Left: :math:`y` as a function of :math:`x` (with :math:`c = 3`) near the start, and its
# tangent there, whose slope is the gradient. Right: the same function over the whole
# range the step covers; the x axis is symmetric-logarithmic so both points fit.


def y_of_x(xs, c=3.0, b=2.0, d=4.0):
    return c * 3 * torch.exp(xs) + b * xs + d


x0, x1 = 5.0, cpu["x"].item()
slope = cpu["x.grad"].item()
fig, (near, far) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")

xs = torch.linspace(3.0, 5.5, 200)
near.plot(xs, y_of_x(xs), label="y(x), c = 3")
near.plot(xs, y_of_x(torch.tensor(x0)) + slope * (xs - x0), "--", label=f"tangent, slope {slope:.1f}")
near.plot([x0], [y_of_x(torch.tensor(x0))], "o", color="C3", label="start, x = 5")
near.set(xlabel="x", ylabel="y", title="The gradient at the start", ylim=(-200, 2500))
near.legend()

xs = torch.linspace(-1400.0, 6.0, 2000)
far.plot(xs, y_of_x(xs), label="y(x), c = 3")
far.plot([x0], [y_of_x(torch.tensor(x0))], "o", color="C3", label="start, x = 5")
far.plot([x1], [y_of_x(torch.tensor(x1))], "s", color="C2", label=f"after one step, x = {x1:.4f}")
far.annotate("", xy=(x1, 0), xytext=(x0, 0), arrowprops={"arrowstyle": "->", "color": "C2"})
far.set_xscale("symlog")
far.set(xlabel="x (symmetric log scale)", ylabel="y", title="One step with lr = 1.0")
far.legend(loc="upper left")
plt.show()
