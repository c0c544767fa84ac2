"""
``.data`` against in-place updates under ``no_grad``
====================================================

Two ways to change a parameter by hand: ``p.data -= ...`` and ``with torch.no_grad(): p -= ...``.
Both change the values, and both keep the update out of the graph. The difference shows when
a graph built *before* the update is used *after* it: autograd counts in-place changes to a
tensor (its version counter) and refuses to backpropagate through a value that has changed
since it was saved. ``.data`` hides the change from that counter, so the backward pass runs
and silently returns a gradient computed with the new value.

Every cause of a tensor that does not move, as a checklist to walk down:
:doc:`/guide/troubleshooting`.

Requires: ``pip install torch matplotlib``
"""

# %%
# Build a graph, update the parameter, then backpropagate
# -------------------------------------------------------
# :math:`y = p^2` saves :math:`p = 3` for its backward pass, whose gradient is :math:`2p = 6`.
# The parameter is then changed to 2.5 before ``y.backward()`` runs.

import textwrap

import matplotlib.pyplot as plt
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")


def stale_backward(how):
    """Update p by ``how`` between building y = p^2 and calling
    y.backward()."""
    p = torch.tensor(3.0, device=device, requires_grad=True)
    y = p**2
    if how == ".data":
        p.data -= 0.5
    else:
        with torch.no_grad():
            p -= 0.5
    try:
        y.backward()
    except RuntimeError as error:
        # The first clause names the problem; the rest names the tensor type
        # and device.
        return f"{type(error).__name__}: {str(error).split(':')[0]}", None
    return (
        f"no error, p = {p.item():.4f}, p.grad = {p.grad.item():.4f}",
        p.grad.item(),
    )


data_text, data_grad = stale_backward(".data")
no_grad_text, _ = stale_backward("no_grad")
print(f"update with .data: {data_text}")
print("update with no_grad:")
print(
    textwrap.fill(
        no_grad_text,
        width=76,
        initial_indent="    ",
        subsequent_indent="    ",
    )
)

# %%
# The right answer, for comparison: the derivative of :math:`p^2` at the value the graph
# saved.

saved = torch.tensor(3.0, requires_grad=True, device=device)
(saved**2).backward()
print(
    f"dy/dp where y was built: p = {saved.item():.4f}, "
    f"p.grad = {saved.grad.item():.4f}"
)

# %%
# With ``.data`` the gradient printed above is :math:`2p` at the *updated* value: the
# derivative at a point the graph never saw, and no warning. Under ``no_grad`` the same
# update bumps the version counter and the backward pass stops with an error that names
# the problem. ``torch.optim.SGD`` updates parameters in place under ``no_grad`` too, so
# a ``backward()`` through a graph built before ``optimizer.step()`` raises the same
# error, but only when the graph saved the parameter for its backward pass:
# :math:`p^2` saves :math:`p` (its derivative is :math:`2p`), while :math:`3p` saves
# nothing of :math:`p` (its derivative is 3) and backpropagates without a complaint.


def backward_after_step(loss_of):
    """Build the loss, step, then call backward: what happens."""
    w = torch.tensor(3.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    (w**2).backward()
    loss = loss_of(w)
    optimizer.step()
    try:
        loss.backward()
    except RuntimeError as error:
        if "modified by an inplace operation" in str(error):
            return "RuntimeError, modified by an inplace operation"
        raise
    return "no error"


for name, loss_of in [("p**2", lambda w: w**2), ("3 * p", lambda w: 3 * w)]:
    result = backward_after_step(loss_of)
    print(f"loss {name} built before step():\n    {result}")

# %%
# The picture: the slope the graph stands for (the tangent at :math:`p = 3`) and the slope
# ``.data`` returned (the tangent at :math:`p = 2.5`).

ps = torch.linspace(1.5, 4.0, 100)
fig, ax = plt.subplots(figsize=(6.4, 4.5), layout="constrained")
ax.plot(ps, ps**2, color="black", label="y = p²")
for at, slope, style, what in [
    (3.0, saved.grad.item(), "-", "the graph's point, p = 3"),
    (2.5, data_grad, "--", "what .data returned"),
]:
    ax.plot(
        ps,
        at**2 + slope * (ps - at),
        style,
        label=f"slope {slope:g}: {what}",
    )
    ax.plot([at], [at**2], "o", color="black")
ax.set(
    xlabel="p",
    ylabel="y",
    ylim=(0, 16),
    title="y = p² built at p = 3, updated to 2.5",
)
ax.legend(loc="upper left")
plt.show()

# %%
# The fix
# -------
# Update under ``torch.no_grad()`` (never through ``.data``), and compute the loss again
# after every update, so each backward pass sees the values it differentiates.

p = torch.tensor(3.0, device=device, requires_grad=True)
with torch.no_grad():
    p -= 0.5
y = p**2
y.backward()
print(
    f"update, then a new graph: p = {p.item():.4f}, "
    f"p.grad = {p.grad.item():.4f} (= 2p)"
)
