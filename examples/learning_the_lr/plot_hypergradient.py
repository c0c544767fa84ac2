"""
Hypergradient descent: the learning rate learns itself
======================================================

With ``differentiable=True`` the optimizer's step is an operation autograd records, and a
tensor ``lr`` that requires grad is one of its inputs. The loss after a step then has a
derivative with respect to the learning rate, the *hypergradient*. For plain SGD it is

.. math::

   \\frac{d}{d\\eta} f(p - \\eta\\, g) = -\\nabla f(p - \\eta\\, g) \\cdot g
   = -g_{next} \\cdot g ,

minus the dot product of the next gradient with this one. Hypergradient descent (Baydin et
al., "Online Learning Rate Adaptation with Hypergradient Descent", ICLR 2018) takes a step
on :math:`\\eta` along it after every step on :math:`p`. This script checks the hypergradient
against a finite difference and the formula, then runs the method on an ill-conditioned
valley from rates 10 times too small and 10 times too large, and shows where it fails.

Requires: ``pip install sgdlab``
"""

# %%
# One hypergradient, three ways
# -----------------------------
# The valley :math:`f(x, y) = (x^2 + 20\, y^2) / 2`, in float64. The point goes in as a
# plain tensor (the step writes into it, so it cannot be a leaf that requires grad), its
# gradient goes into ``.grad``, and ``step()`` with a tensor ``lr`` that requires grad
# leaves the point as a function of ``lr``: one ``backward()`` of the next loss gives
# ``lr.grad``.

import math

import matplotlib.pyplot as plt
import torch

import sgdlab

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

DTYPE = torch.float64
CURVATURES = torch.tensor([1.0, 20.0], dtype=DTYPE, device=device)
START = torch.tensor([-2.0, 1.0], dtype=DTYPE, device=device)


def valley(point):
    """The valley's value at ``point``: curvature 1 along x, 20 along y."""
    return 0.5 * (CURVATURES * point**2).sum()


def gradient(point):
    """The valley's gradient at ``point``, as a plain tensor."""
    return CURVATURES * point


def hypergradient(optimizer_class, lr_value):
    """d f(after one step) / d lr, through ``step()``."""
    point = START.clone()
    lr = torch.tensor(lr_value, dtype=DTYPE, device=device,
                      requires_grad=True)
    optimizer = optimizer_class([point], lr=lr, differentiable=True)
    point.grad = gradient(point)
    optimizer.step()  # point = START - lr * g, recorded by autograd
    valley(point).backward()
    return lr.grad.item()


LR = 0.05
g = gradient(START)
g_next = gradient(START - LR * g)
closed_form = -(g_next @ g).item()
h = 1e-6
finite_difference = (
    valley(START - (LR + h) * g) - valley(START - (LR - h) * g)
).item() / (2 * h)
through_torch = hypergradient(torch.optim.SGD, LR)
through_sgdlab = hypergradient(sgdlab.SGD, LR)
print(f"lr = {LR}: d loss / d lr through torch.optim.SGD.step(): "
      f"{through_torch:.4f}")
print(f"closed form -g_next . g: {closed_form:.4f}")
print(f"central finite difference (h = 1e-6): {finite_difference:.4f}")
relative = abs(through_torch - finite_difference) / abs(finite_difference)
print(f"relative difference to the finite difference < 1e-4: "
      f"{relative < 1e-4}")
print(f"equal to the closed form to 1e-12 relative: "
      f"{abs(through_torch - closed_form) <= 1e-12 * abs(closed_form)}")
print(f"sgdlab.SGD gives the same bits: {through_sgdlab == through_torch}")

# %%
# Hypergradient descent
# ---------------------
# Each step computes the loss at the current point, and one call to
# :func:`torch.autograd.grad` returns both the gradient :math:`g_t` for the next step and
# the hypergradient :math:`-g_t \cdot g_{t-1}` of the step just taken. ``detach_()``
# then cuts the graph, so each hypergradient looks back one step only, as in the paper.
# A second :class:`torch.optim.SGD` with ``lr=hyper_lr`` updates the rate tensor, the
# same tensor the first optimizer reads.
#
# Baydin et al. give two forms. The *additive* one steps
# :math:`\eta \leftarrow \eta - \beta\, h_t`. The *multiplicative* one divides the
# hypergradient by :math:`|g_t|\,|g_{t-1}|` and multiplies it by :math:`\eta`, so
# :math:`\eta \leftarrow \eta\,(1 + \beta \cos(g_t, g_{t-1}))`: the rate grows while
# consecutive gradients agree and shrinks when they point against each other.

STEPS = 60


def hypergradient_descent(lr_start, hyper_lr, multiplicative=True,
                          steps=STEPS, noise=0.0,
                          optimizer_class=torch.optim.SGD):
    """Losses, rates and the cosines of consecutive gradients of one run."""
    generator = torch.Generator(device=device).manual_seed(0)
    point = START.clone()
    lr = torch.tensor(lr_start, dtype=DTYPE, device=device,
                      requires_grad=True)
    optimizer = optimizer_class([point], lr=lr, differentiable=True)
    hyper_optimizer = torch.optim.SGD([lr], lr=hyper_lr)
    losses, lrs, cosines, previous = [], [lr.item()], [], None
    for _ in range(steps):
        if point.grad_fn is None:  # the first step: nothing to look back on
            point.requires_grad_()
        # A minibatch's gradient is the true one plus noise: here a random
        # linear term, so the noise reaches the hypergradient too.
        kick = noise * torch.randn(2, generator=generator, dtype=DTYPE,
                                   device=device)
        loss = valley(point) + kick @ point
        losses.append(valley(point).item())
        if previous is None:
            (grad,) = torch.autograd.grad(loss, point)
        else:
            grad, hyper_grad = torch.autograd.grad(loss, [point, lr])
            cosine = -hyper_grad / (grad.norm() * previous.norm())
            cosines.append(cosine.item())
            if multiplicative:
                hyper_grad = -cosine * lr.detach()
            lr.grad = hyper_grad
            hyper_optimizer.step()
        point.detach_()  # cut the graph: look back one step only
        point.grad = previous = grad
        optimizer.step()
        lrs.append(lr.item())
    losses.append(valley(point).item())
    return losses, lrs, cosines


def fixed_lr(lr, steps=STEPS, noise=0.0):
    """Losses of plain SGD at a fixed rate, on the same kicks."""
    generator = torch.Generator(device=device).manual_seed(0)
    point = START.clone().requires_grad_()
    optimizer = torch.optim.SGD([point], lr=lr)
    losses = []
    for _ in range(steps):
        kick = noise * torch.randn(2, generator=generator, dtype=DTYPE,
                                   device=device)
        losses.append(valley(point).item())
        optimizer.zero_grad()
        (valley(point) + kick @ point).backward()
        optimizer.step()
    losses.append(valley(point).item())
    return losses


def describe(loss):
    """A final loss to two digits, or 'diverged'."""
    finite = math.isfinite(loss) and loss < 1e6
    return f"{loss:.1e}" if finite else "diverged"


# %%
# The best fixed rate, by a sweep
# -------------------------------
# 41 rates from 0.001 to 1, evenly spaced on a log scale. The best is near
# :math:`2 / (\lambda_1 + \lambda_2) = 2/21`; above :math:`2 / \lambda_{max} = 0.1` the
# steep direction diverges.

sweep = [10 ** (-3 + 3 * i / 40) for i in range(41)]
final = {lr: fixed_lr(lr)[-1] for lr in sweep}
best_lr = min(final, key=final.get)
print(f"best fixed lr of the sweep: {best_lr:.4f} (2/21 = {2 / 21:.4f}), "
      f"final loss {describe(final[best_lr])}")
print(f"rates of the sweep that diverge: from "
      f"{min(lr for lr in sweep if describe(final[lr]) == 'diverged'):.3f}")

# %%
# From 10 times too small and 10 times too large
# ----------------------------------------------
# The multiplicative form with :math:`\beta = 0.3`, started at a tenth and at ten times
# the best fixed rate. From the large start the first steps blow the loss up (the rate
# is far above the bound until the cosines, near -1, have cut it down), and both runs
# then end below the best fixed rate's final loss.

BETA = 0.3
starts = {"10x too small": best_lr / 10, "10x too large": best_lr * 10}
runs = {
    name: hypergradient_descent(lr, BETA) for name, lr in starts.items()
}
for name, (losses, lrs, _) in runs.items():
    print(f"{name}: lr {lrs[0]:.3f} -> {lrs[-1]:.3f}, final loss "
          f"{describe(losses[-1])},\n"
          f"  highest on the way {max(losses):.0e}")
    print(f"  final loss below the best fixed lr's: "
          f"{losses[-1] < final[best_lr]}")

# %%
# The rate it learns is no schedule. On this valley it keeps jumping above the
# stability bound :math:`2/\lambda_{max} = 0.1` and back: a step there makes the steep
# direction flip sign and grow, the next cosine is negative, the rate shrinks again.
# The fast progress comes from these excursions, not from settling on one rate.

for name, (_, lrs, cosines) in runs.items():
    above = sum(lr > 0.1 for lr in lrs)
    negative = sum(c < 0 for c in cosines)
    print(f"{name}: {above} of {len(lrs)} rates above 2/lambda_max, "
          f"{negative} of {len(cosines)} cosines < 0")

# %%
# The hyper-learning-rate is a new knob
# -------------------------------------
# The additive form has a hyper-learning-rate in units of :math:`1 / |g|^2`: one that
# moves the small start along is enough to send the large start to infinity before the
# rate can come down. The multiplicative form is free of units, but a small
# :math:`\beta` leaves the rate near where it started for the whole run: the small
# start crawls, the large one diverges.

print(f"{'form':<15}{'beta':>7}  {'from 10x too small':>19}"
      f"  {'from 10x too large':>19}")
for form, beta in [("additive", 1e-4), ("additive", 1e-3),
                   ("multiplicative", 0.01), ("multiplicative", BETA)]:
    ends = [
        hypergradient_descent(lr, beta, form == "multiplicative")[0][-1]
        for lr in starts.values()
    ]
    print(f"{form:<15}{beta:>7g}  {describe(ends[0]):>19}"
          f"  {describe(ends[1]):>19}")

# %%
# Noise
# -----
# Minibatch gradients carry noise. Here each step adds a random linear term with
# standard deviation 0.3 per coordinate to the loss, the same kicks for every run, over
# 200 steps. Near the minimum the true gradient is small and the noise is not, so
# consecutive gradients point every which way: about half of the cosines are negative,
# the hypergradient says "smaller" more often than "larger", and the rate decays towards
# zero. That makes the method an automatic schedule: whether it ends below or above the
# best fixed rate depends on where it started.

NOISE, NOISY_STEPS = 0.3, 200
noisy_final = {
    lr: sum(fixed_lr(lr, NOISY_STEPS, NOISE)[-50:]) / 50 for lr in sweep
}
noisy_best = min(noisy_final, key=noisy_final.get)
print(f"with noise, the best fixed lr: {noisy_best:.4f},\n"
      f"  mean loss over the last 50 steps {noisy_final[noisy_best]:.2e}")
noisy_runs = {
    name: hypergradient_descent(lr, BETA, steps=NOISY_STEPS, noise=NOISE)
    for name, lr in starts.items()
}
for name, (losses, lrs, cosines) in noisy_runs.items():
    late = cosines[len(cosines) // 2:]
    mean_loss = sum(losses[-50:]) / 50
    print(f"{name}: cosines < 0 in the second half "
          f"{sum(c < 0 for c in late) / len(late):.0%}, lr at the end "
          f"{lrs[-1]:.0e}")
    print(f"  mean loss over the last 50 steps {mean_loss:.2e}, below the "
          f"best fixed lr's: {mean_loss < noisy_final[noisy_best]}")

# %%
# The same runs with sgdlab.SGD
# -----------------------------
# ``sgdlab.SGD`` implements ``differentiable=True`` and a tensor ``lr`` the same way,
# so it retraces every rate and every loss of the runs above exactly.

for name, lr in starts.items():
    for noise, steps, reference in [(0.0, STEPS, runs), (NOISE, NOISY_STEPS,
                                                        noisy_runs)]:
        again = hypergradient_descent(lr, BETA, steps=steps, noise=noise,
                                      optimizer_class=sgdlab.SGD)
        print(f"{name}, noise {noise}: sgdlab.SGD, same rates and "
              f"losses: {again[:2] == reference[name][:2]}")

# %%
# The runs
# --------
# Top: the loss of each run beside the best fixed rate; bottom: the rate along each run,
# with the best fixed rate and the bound :math:`2/\lambda_{max}`.

fig, axes = plt.subplots(2, 2, figsize=(6.4, 6.4), layout="constrained",
                         sharex="col")
for column, (title, results, steps, fixed) in enumerate([
    ("Exact gradients", runs, STEPS, fixed_lr(best_lr)),
    (f"Noisy gradients (sd {NOISE})", noisy_runs, NOISY_STEPS,
     fixed_lr(noisy_best, NOISY_STEPS, NOISE)),
]):
    top, bottom = axes[:, column]
    best_here = best_lr if column == 0 else noisy_best
    top.plot(fixed, "k--", label=f"best fixed lr {best_here:.3f}")
    for name, (losses, lrs, _) in results.items():
        top.plot(losses, label=name)
        bottom.plot(lrs, label=name)
    bottom.axhline(best_here, color="k", ls="--", label="best fixed lr")
    bottom.axhline(0.1, color="grey", ls=":", label="2 / lambda_max")
    top.set(yscale="log", ylabel="loss", title=title)
    bottom.set(yscale="log", xlabel="step", ylabel="lr")
    top.legend(fontsize="small")
    bottom.legend(fontsize="small")
plt.show()
