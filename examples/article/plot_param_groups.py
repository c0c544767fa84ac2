"""
Reading and editing param_groups
================================

An optimizer keeps its tensors and settings in ``param_groups``, a list of dicts. This
script prints them for the article's tensors :math:`x = 5`, :math:`c = 3`, lowers the
learning rate from 1.0 to 0.1 by assignment, and takes a step with it. Then it edits the
rate halfway through a run on :math:`y = z^2` and plots the effect. Everything runs on
every device that :func:`sgdlab.devices` lists.

The page :doc:`/article/param-groups` explains each value.
"""

# %%
# Read the groups, lower the rate, step
# -------------------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())


def show(device, text):
    """Print each line of ``text`` with the device it came from."""
    for line in str(text).splitlines():
        print(f"[{device}] {line}")


def edit_lr_and_step(device):
    x = torch.tensor(5.0, requires_grad=True, device=device)
    c = torch.tensor(3.0, requires_grad=True, device=device)
    b = torch.tensor(2.0, device=device)
    y = c * 3 * torch.exp(x) + b * x + 4.0
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    groups = repr(optimizer.param_groups)
    held = optimizer.param_groups[0]["params"][0] is x
    optimizer.param_groups[0]["lr"] = 0.1
    after_edit = str(optimizer)
    y.backward()
    optimizer.step()
    return {
        "groups": groups, "held": held, "print(op)": after_edit,
        "x": x.detach(), "c": c.detach(), "x.grad": x.grad, "c.grad": c.grad,
    }


results = sgdlab.run_on_devices(edit_lr_and_step)
for device, values in results.items():
    show(device, f"param_groups = {values['groups']}")
    show(device, f"param_groups[0]['params'][0] is x: {values['held']}")
    show(device, values["print(op)"])
    show(device, f"after one step with lr 0.1: x = {values['x'].item():.4f}, c = {values['c'].item():.4f}")

# %%
# The step used the edited rate: recompute it by hand from the stored gradients.

cpu = results["cpu"]
for name, start in (("x", 5.0), ("c", 3.0)):
    grad = cpu[f"{name}.grad"]
    by_hand = torch.tensor(start) - 0.1 * grad
    print(f"{name}: {start:.4f} - 0.1 x {grad.item():.4f} = {by_hand.item():.4f}",
          "(matches step:", torch.equal(by_hand, cpu[name]), end=")\n")

# %%
# Edit the rate during a run
# --------------------------
# Minimise :math:`z^2` from 5. With lr 0.9 each step multiplies z by :math:`1 - 2
# \times 0.9 = -0.8`, so z flips sign at every step; after three steps the group's rate is
# set to 0.1 and the factor becomes 0.8.

STEPS, EDIT_AT = 20, 3


def run(device, schedule):
    """Minimise z**2 from 5; ``schedule(step)`` is the lr written into the group before it."""
    z = torch.tensor(5.0, requires_grad=True, device=device)
    optimizer = torch.optim.SGD([z], lr=schedule(0))
    values = [z.detach().clone()]
    for step in range(STEPS):
        optimizer.param_groups[0]["lr"] = schedule(step)
        optimizer.zero_grad()
        (z**2).backward()
        optimizer.step()
        values.append(z.detach().clone())
    return torch.stack(values).cpu()


SCHEDULES = {
    "lr 0.9 throughout": lambda step: 0.9,
    f"lr 0.9, edited to 0.1 before step {EDIT_AT}": lambda step: 0.9 if step < EDIT_AT else 0.1,
    "lr 0.1 throughout": lambda step: 0.1,
}
runs = sgdlab.run_on_devices(lambda device: {label: run(device, s) for label, s in SCHEDULES.items()})
edited = f"lr 0.9, edited to 0.1 before step {EDIT_AT}"
for device, paths in runs.items():
    first = ", ".join(f"{value:.4f}" for value in paths[edited][1:7].tolist())
    print(f"[{device}] {edited}: z after steps 1-6 = {first}")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for label, path in runs["cpu"].items():
    ax.plot(range(STEPS + 1), path, marker=".", label=label)
ax.axvline(EDIT_AT, color="grey", linestyle=":", label="param_groups[0]['lr'] = 0.1")
ax.axhline(0.0, color="grey", linewidth=0.8)
ax.set(xlabel="step", ylabel="z", title="Minimising z² from 5: editing the rate mid-run")
ax.legend()
plt.show()
