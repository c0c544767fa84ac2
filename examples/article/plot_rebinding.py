"""
Rebinding the Python variable
=============================

The article's second experiment: after building ``SGD([x, c], lr=1.0)``, the name ``x``
is pointed at a new tensor holding 10. ``y.backward()`` and ``step()`` then update the
*old* tensor, from 5 to -1332.7185, while the new ``x`` keeps its value and its ``grad``
stays ``None``. The experiment runs on every device that :func:`sgdlab.devices` lists,
and the plot shows the two tensors that were called ``x``.

The page :doc:`/article/rebinding` explains why.
"""

# %%
# The experiment on each device
# -----------------------------
# ``first_x`` keeps a handle on the tensor ``x`` named before the rebinding, so that we
# can see where the update went.

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())


def rebind_then_step(device):
    x = torch.tensor(5.0, requires_grad=True, device=device)
    c = torch.tensor(3.0, requires_grad=True, device=device)
    b = torch.tensor(2.0, device=device)
    y = c * 3 * torch.exp(x) + b * x + 4.0
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    first_x = x
    x = torch.tensor(10.0, requires_grad=True, device=device)
    before = {"x (new)": x.item(), "first_x (old)": first_x.item(), "c": c.item()}
    binding = sgdlab.check_binding(optimizer, x=x, c=c)
    y.backward()
    optimizer.step()
    return {
        "before": before,
        "after": {"x (new)": x.item(), "first_x (old)": first_x.item(), "c": c.item()},
        "x.grad": x.grad,
        "held is first_x": optimizer.param_groups[0]["params"][0] is first_x,
        "binding": binding,
    }


results = sgdlab.run_on_devices(rebind_then_step)
for device, r in results.items():
    print(f"[{device}] check_binding before the step: {[finding.kind for finding in r['binding']]}")
    for name, value in r["after"].items():
        print(f"[{device}] {name}: {r['before'][name]:.4f} -> {value:.4f}")
    print(f"[{device}] x.grad = {r['x.grad']}")
    print(f"[{device}] the optimizer's first tensor is first_x: {r['held is first_x']}")

cpu = results["cpu"]
print(str(cpu["binding"]))

# %%
# Two tensors called x
# --------------------
# The old tensor took the worked example's step; the new one never took part. The y axis
# is symmetric-logarithmic so that 10 and -1332.7185 both show.

names = list(cpu["before"])
positions = torch.arange(len(names))
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.bar(positions - 0.2, [cpu["before"][n] for n in names], width=0.4, label="before step()")
ax.bar(positions + 0.2, [cpu["after"][n] for n in names], width=0.4, label="after step()")
ax.axhline(0.0, color="grey", linewidth=0.8)
ax.set_yscale("symlog")
ax.set_xticks(positions.tolist(), ["x (the new tensor)", "first_x (the old tensor)", "c"])
ax.set(ylabel="value (symmetric log scale)", title="Rebinding x after building SGD, lr = 1.0")
ax.legend()
plt.show()
