"""
Three ways to write momentum, and the learning-rate drop that tells them apart
==============================================================================

Three common ways to write SGD with momentum :math:`\\mu`:

* PyTorch: :math:`v \\leftarrow \\mu v + g`, then :math:`p \\leftarrow p - \\text{lr}\\, v`
  (the buffer holds gradients, the learning rate is applied last);
* Sutskever et al. (2013): :math:`v \\leftarrow \\mu v + \\text{lr}\\, g`, then
  :math:`p \\leftarrow p - v` (the velocity already holds the learning rate);
* Polyak's heavy ball: :math:`p_{t+1} = p_t - \\text{lr}\\, g_t + \\mu (p_t - p_{t-1})`.

With a constant learning rate, Sutskever's velocity is PyTorch's buffer times lr, and all
three produce the same iterates. When the learning rate changes, they part: PyTorch's form
applies the new rate to the whole buffer at once, while the other two carry the velocity
built with the old rate and let it fade at the pace of :math:`\\mu` (the heavy ball *is*
Sutskever's form with the velocity written as :math:`p_{t-1} - p_t`).
"""

# %%
# The three forms on the same bowl
# --------------------------------
# A quadratic with condition number 10 from :func:`sgdlab.quadratic`; the learning rate
# drops tenfold at step 30. PyTorch's form is ``torch.optim.SGD`` itself; the other two are
# written out below.

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())

bowl = sgdlab.quadratic(condition_number=10.0)
MU, STEPS, DROP_AT = 0.9, 60, 30


def lr_at(step):
    """0.05 before the drop, 0.005 from DROP_AT on."""
    return 0.05 if step < DROP_AT else 0.005


def pytorch_form(device):
    p = torch.tensor(bowl.start, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=lr_at(0), momentum=MU)
    path = [p.detach().clone()]
    for step in range(STEPS):
        optimizer.param_groups[0]["lr"] = lr_at(step)
        optimizer.zero_grad()
        bowl(p).backward()
        optimizer.step()
        path.append(p.detach().clone())
    return torch.stack(path).cpu()


def sutskever_form(device):
    p = torch.tensor(bowl.start, device=device)
    velocity = torch.zeros_like(p)
    path = [p.clone()]
    for step in range(STEPS):
        velocity = MU * velocity + lr_at(step) * bowl.gradient(p)
        p = p - velocity
        path.append(p.clone())
    return torch.stack(path).cpu()


def heavy_ball(device):
    p = torch.tensor(bowl.start, device=device)
    previous = p.clone()
    path = [p.clone()]
    for step in range(STEPS):
        p, previous = p - lr_at(step) * bowl.gradient(p) + MU * (p - previous), p
        path.append(p.clone())
    return torch.stack(path).cpu()


FORMS = {"PyTorch": pytorch_form, "Sutskever": sutskever_form, "heavy ball": heavy_ball}
results = sgdlab.run_on_devices(lambda device: {name: form(device) for name, form in FORMS.items()})


def largest_gap(a, b, steps):
    return (a[steps] - b[steps]).abs().max().item()


before, after = slice(0, DROP_AT + 1), slice(DROP_AT + 1, None)
for device, paths in results.items():
    for name in ("Sutskever", "heavy ball"):
        print(f"[{device}] PyTorch vs {name}: largest gap up to step {DROP_AT} "
              f"{largest_gap(paths['PyTorch'], paths[name], before):.1e}, "
              f"after the drop {largest_gap(paths['PyTorch'], paths[name], after):.1e}")
    print(f"[{device}] Sutskever vs heavy ball, all steps: "
          f"{largest_gap(paths['Sutskever'], paths['heavy ball'], slice(None)):.1e}")

# %%
# Before the drop the gaps are float32 rounding (the forms multiply by the learning rate at
# different points). After it, PyTorch's form differs from the other two by far more.
#
# Step lengths around the drop
# ----------------------------
# The length of each step, :math:`\lVert p_{t+1} - p_t \rVert`. PyTorch's form multiplies
# the whole buffer by the new, smaller rate, so its very next step is much shorter. The
# other two keep the velocity built at the old rate, which only fades by a factor
# :math:`\mu` per step, so their first steps after the drop are as long as before it. The
# two groups then follow different paths to the minimum.

paths = results["cpu"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for (name, path), style in zip(paths.items(), ["-", "--", ":"]):
    lengths = (path[1:] - path[:-1]).norm(dim=1)
    left.plot(range(1, STEPS + 1), lengths, style, lw=2, label=name)
    right.plot(range(STEPS + 1), bowl(path), style, lw=2, label=name)
for ax in (left, right):
    ax.axvline(DROP_AT, color="gray", lw=0.8, label=f"lr drops tenfold (step {DROP_AT})")
    ax.set(yscale="log", xlabel="step")
    ax.legend()
left.set(ylabel="step length |p_(t+1) - p_t|", title=f"Step lengths, momentum {MU}")
right.set(ylabel="f(p)", title=f"Loss on {bowl.name}")
plt.show()

first = {name: (path[DROP_AT + 1] - path[DROP_AT]).norm().item() for name, path in paths.items()}
last = {name: (path[DROP_AT] - path[DROP_AT - 1]).norm().item() for name, path in paths.items()}
for name in paths:
    print(f"{name}: step length before the drop {last[name]:.4f}, first step after {first[name]:.4f}")
