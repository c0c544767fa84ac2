"""
Replacing a tensor inside param_groups
======================================

The article's first experiment: with the learning rate at 0.1, the entry of
``param_groups`` that held :math:`x = 5` is overwritten with a new tensor holding 10,
then ``y.backward()`` and ``step()`` run. Neither :math:`x` nor the new tensor moves;
only :math:`c` does, to :math:`3 - 0.1 \\times 445.2395 = -41.5240`. The experiment
runs on every device that :func:`sgdlab.devices` lists, and the plot shows which tensor
moved.

The page :doc:`/article/replace-in-param-groups` explains why.
"""

# %%
# The experiment on each device
# -----------------------------

import matplotlib.pyplot as plt
import torch

import sgdlab

print(sgdlab.device_report())


def replace_then_step(device):
    x = torch.tensor(5.0, requires_grad=True, device=device)
    c = torch.tensor(3.0, requires_grad=True, device=device)
    b = torch.tensor(2.0, device=device)
    y = c * 3 * torch.exp(x) + b * x + 4.0
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    optimizer.param_groups[0]["lr"] = 0.1
    optimizer.param_groups[0]["params"][0] = torch.tensor(10.0, requires_grad=True, device=device)
    new_x = optimizer.param_groups[0]["params"][0]
    before = {"x": x.item(), "new tensor": new_x.item(), "c": c.item()}
    y.backward()
    explanation = str(sgdlab.explain_step(optimizer, {"x": x, "c": c}))
    optimizer.step()
    return {
        "before": before,
        "after": {"x": x.item(), "new tensor": new_x.item(), "c": c.item()},
        "x.grad": x.grad.item(),
        "c.grad": c.grad.clone(),
        "new tensor grad": new_x.grad,
        "explanation": explanation,
        "binding": sgdlab.check_binding(optimizer, x=x, c=c),
    }


results = sgdlab.run_on_devices(replace_then_step)
for device, r in results.items():
    for line in r["explanation"].splitlines():
        print(f"[{device}] explain_step: {line}")
    for name, value in r["after"].items():
        print(f"[{device}] {name}: {r['before'][name]:.4f} -> {value:.4f}")
    print(f"[{device}] x.grad = {r['x.grad']:.4f}, new tensor's grad = {r['new tensor grad']}")
    print(f"[{device}] check_binding findings: {[finding.kind for finding in r['binding']]}")

cpu = results["cpu"]
c_by_hand = torch.tensor(3.0) - 0.1 * cpu["c.grad"].cpu()
print(f"c by hand: 3.0000 - 0.1 x {cpu['c.grad'].item():.4f} = {c_by_hand.item():.4f}")

# %%
# Which tensor moved
# ------------------
# Three tensors are involved: the original ``x`` (which the loss depends on), the new
# tensor put into ``param_groups`` (which the optimizer holds), and ``c``. Only the one
# that is both held and has a gradient moves.

names = list(cpu["before"])
positions = torch.arange(len(names))
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.bar(positions - 0.2, [cpu["before"][n] for n in names], width=0.4, label="before step()")
ax.bar(positions + 0.2, [cpu["after"][n] for n in names], width=0.4, label="after step()")
ax.axhline(0.0, color="grey", linewidth=0.8)
ax.set_xticks(positions.tolist(), ["x (variable)", "new tensor (in param_groups)", "c"])
ax.set(ylabel="value", title="Replacing x inside param_groups, lr = 0.1")
ax.legend()
plt.show()
