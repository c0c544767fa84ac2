"""
``None`` gradients against zero gradients
=========================================

``optimizer.zero_grad()`` sets every ``.grad`` to ``None`` by default
(``set_to_none=True``); with ``set_to_none=False`` it fills them with zeros instead. For plain
SGD the two are the same, but not once momentum or weight decay is on: SGD *skips* a
parameter whose gradient is ``None``, while a zero gradient still goes through the update,
so weight decay shrinks the parameter and the momentum buffer keeps pushing it.

That matters for parameters that take no part in some steps: a frozen branch, an unused
embedding row, a head trained every other step.
"""

# %%
# Two steps, the second without a gradient
# ----------------------------------------
# The parameter gets a gradient of 1 on the first step. Before the second step,
# ``zero_grad`` runs and no backward pass reaches the parameter.

import torch

import sgdlab

print(sgdlab.device_report())

SETTINGS = {
    "plain SGD": {},
    "momentum 0.9": {"momentum": 0.9},
    "weight decay 0.1": {"weight_decay": 0.1},
}


def second_step(device, set_to_none, **settings):
    """Return p after a step with a gradient, then a step after zero_grad(set_to_none)."""
    p = torch.tensor(1.0, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.5, **settings)
    p.grad = torch.tensor(1.0, device=device)
    optimizer.step()
    after_first = p.item()
    optimizer.zero_grad(set_to_none=set_to_none)
    grad = "None" if p.grad is None else f"{p.grad.item():.1f}"
    optimizer.step()
    return f"p.grad = {grad:<4}  p: {after_first:.4f} -> {p.item():.4f}"


for name, settings in SETTINGS.items():
    for set_to_none in (True, False):
        results = sgdlab.run_on_devices(lambda d: second_step(d, set_to_none, **settings))
        for device, text in results.items():
            print(f"[{device}] {name:<16} set_to_none={set_to_none!s:<5}  {text}")

# %%
# Reading the results
# -------------------
# With ``None`` the second step leaves the parameter where it was in every setting. With a
# zero gradient, momentum moves it by ``lr * mu * b`` (the buffer decays but is not zero),
# and weight decay moves it by ``lr * lambda * p``. Neither is wrong in itself; choose on
# purpose. To keep a parameter still, leave its gradient ``None`` (the default), or take it
# out of the optimizer; to let decay and momentum act on it, zero the gradient instead.
