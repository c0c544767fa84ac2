"""
``.data`` against in-place updates under ``no_grad``
====================================================

Two ways to change a parameter by hand: ``p.data -= ...`` and ``with torch.no_grad(): p -= ...``.
Both change the values, and both keep the update out of the graph. The difference shows when
a graph built *before* the update is used *after* it: autograd counts in-place changes to a
tensor (its version counter) and refuses to backpropagate through a value that has changed
since it was saved. ``.data`` hides the change from that counter, so the backward pass runs
and silently returns a gradient computed with the new value.
"""

# %%
# Build a graph, update the parameter, then backpropagate
# -------------------------------------------------------
# :math:`y = p^2` saves :math:`p = 3` for its backward pass, whose gradient is :math:`2p = 6`.
# The parameter is then changed to 2.5 before ``y.backward()`` runs.

import torch

import sgdlab

print(sgdlab.device_report())


def stale_backward(device, how):
    """Update p by ``how`` between building y = p^2 and calling y.backward()."""
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
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return f"no error, p = {p.item():.4f}, p.grad = {p.grad.item():.4f}"


for how in [".data", "no_grad"]:
    for device, text in sgdlab.run_on_devices(lambda d: stale_backward(d, how)).items():
        print(f"[{device}] update with {how}: {text}")

# %%
# The right answer, for comparison: the derivative of :math:`p^2` at the value the graph
# saved.

saved = torch.tensor(3.0, requires_grad=True)
(saved**2).backward()
print(f"dy/dp where y was built: p = {saved.item():.4f}, p.grad = {saved.grad.item():.4f}")

# %%
# With ``.data`` the gradient printed above is :math:`2p` at the *updated* value: the
# derivative at a point the graph never saw, and no warning. Under ``no_grad`` the same update bumps the version
# counter and the backward pass stops with an error that names the problem.
# ``torch.optim.SGD`` updates parameters in place under ``no_grad`` too, which is why a
# ``backward()`` through a graph built before ``optimizer.step()`` raises the same error.
#
# The fix
# -------
# Update under ``torch.no_grad()`` (never through ``.data``), and compute the loss again
# after every update, so each backward pass sees the values it differentiates.


def fresh_graph(device):
    """Update under no_grad, then rebuild y before the next backward pass."""
    p = torch.tensor(3.0, device=device, requires_grad=True)
    with torch.no_grad():
        p -= 0.5
    y = p**2
    y.backward()
    return f"p = {p.item():.4f}, p.grad = {p.grad.item():.4f} (= 2p)"


for device, text in sgdlab.run_on_devices(fresh_graph).items():
    print(f"[{device}] update, then a new graph: {text}")
