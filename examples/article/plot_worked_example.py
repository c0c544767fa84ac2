"""
One SGD step on a function of two tensors
=========================================

The article's worked example: :math:`y = 3 c e^x + b x + d` with :math:`x = 5`,
:math:`c = 3`, :math:`b = 2`, :math:`d = 4`, one backward pass and one
``torch.optim.SGD`` step with learning rate 1. The plot shows where the single step
sends :math:`x`.

The page :doc:`/article/worked-example` explains each value.

Requires: ``pip install torch matplotlib``
"""

# %%
# Compute the step
# ----------------
# Only ``x`` and ``c`` require a gradient, so only they are handed to the optimizer.

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

x = torch.tensor(5.0, requires_grad=True, device=device)
c = torch.tensor(3.0, requires_grad=True, device=device)
b = torch.tensor(2.0, device=device)
d = 4.0
y = c * 3 * torch.exp(x) + b * x + d
optimizer = torch.optim.SGD([x, c], lr=1.0)
y.backward()
x_grad, c_grad = x.grad.clone(), c.grad.clone()
optimizer.step()

for name, value in [
    ("y", y),
    ("x.grad", x_grad),
    ("c.grad", c_grad),
    ("x", x),
    ("c", c),
]:
    print(f"{name} = {value.item():.4f}")

# %%
# Check the update rule by hand
# -----------------------------
# Plain SGD moves each tensor by ``-lr * grad``. Recomputing that from the stored
# gradient gives the value the optimizer produced, to float32 precision (``rtol=1e-6``:
# another machine may round the last bit of either one differently).

by_hand = torch.tensor(5.0, device=device) - 1.0 * x_grad
print(f"5.0 - 1.0 x {x_grad.item():.4f} = {by_hand.item():.4f}")
matches = torch.allclose(by_hand, x.detach(), rtol=1e-6)
print("matches optimizer.step():", matches)

# %%
# Where the step lands
# --------------------
# Top: :math:`y` as a function of :math:`x` (with :math:`c = 3`) near the start, and its
# tangent there, whose slope is the gradient. Bottom: the same function over the whole
# range the step covers; the x axis is symmetric-logarithmic so both points fit.


def y_of_x(xs, c=3.0, b=2.0, d=4.0):
    return c * 3 * torch.exp(xs) + b * xs + d


x0, x1 = 5.0, x.item()
slope = x_grad.item()
fig, (near, far) = plt.subplots(
    2, 1, figsize=(6.4, 7), layout="constrained"
)

xs = torch.linspace(3.0, 5.5, 200)
near.plot(xs, y_of_x(xs), label="y(x), c = 3")
near.plot(
    xs,
    y_of_x(torch.tensor(x0)) + slope * (xs - x0),
    "--",
    label=f"tangent, slope {slope:.1f}",
)
near.plot(
    [x0], [y_of_x(torch.tensor(x0))], "o", color="C3", label="start, x = 5"
)
near.set(
    xlabel="x",
    ylabel="y",
    title="The gradient at the start",
    ylim=(-200, 2500),
)
near.legend(loc="upper left")

xs = torch.linspace(-1400.0, 6.0, 2000)
far.plot(xs, y_of_x(xs), label="y(x), c = 3")
far.plot(
    [x0], [y_of_x(torch.tensor(x0))], "o", color="C3", label="start, x = 5"
)
far.plot(
    [x1],
    [y_of_x(torch.tensor(x1))],
    "s",
    color="C2",
    label=f"after one step, x = {x1:.1f}",
)
far.annotate(
    "",
    xy=(x1, 0),
    xytext=(x0, 0),
    arrowprops={"arrowstyle": "->", "color": "C2"},
)
far.set_xscale("symlog")
far.set(
    xlabel="x (symmetric log scale)",
    ylabel="y",
    title="One step with lr = 1.0",
)
far.legend(loc="upper left")
plt.show()
