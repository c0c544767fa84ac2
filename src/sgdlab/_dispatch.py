"""Which kernel steps a group, and stepping groups with it: one place for ``step()`` and ``explain_step``.

:func:`kernel` decides as ``torch.optim.SGD`` does: ``fused`` when the group asks for it,
else ``foreach`` as asked, and with ``foreach=None`` the foreach kernels where torch would
pick them (every tensor a plain tensor on a device that has them). :func:`step` runs
checked groups with their kernels, compiling whatever the fused ones need before the first
write. :meth:`sgdlab.SGD.step` and :func:`sgdlab.explain_step` both go through it, so the
prediction is made by the code that steps. Not public API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from . import _checks, update
from . import fused as _fused

#: The kernels, by the names :func:`kernel` gives them.
KERNELS = ("for-loop", "foreach", "fused")


def kernel(group: Mapping[str, Any], params: list[Tensor]) -> str:
    """The kernel ``step()`` uses for ``group`` whose parameters with a gradient are ``params``.

    >>> import torch
    >>> kernel({"fused": None, "foreach": None}, [torch.zeros(2)])  # torch's choice on the CPU
    'for-loop'
    """
    if group.get("fused"):
        return "fused"
    foreach = group.get("foreach")
    if foreach is None:
        foreach = _checks.default_foreach(params)
    return "foreach" if foreach else "for-loop"


def step(
    entries: list[tuple[list[Tensor], list[Tensor], list, update.Settings, str]],
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
) -> bool:
    """Step checked ``(params, grads, buffers, settings, kernel)`` groups in order.

    The fused groups' compilations are made first, so a compiler warning raised as an error
    leaves every group as it was. ``grad_scale`` and ``found_inf`` (a ``GradScaler``'s) are
    honoured as torch's fused step honours them. Returns False when ``found_inf`` skipped
    the step.
    """
    fused = [entry[:4] for entry in entries if entry[4] == "fused"]
    plans = iter(_fused.plan(fused) if fused else [])
    if _fused.skip_or_unscale([entry[1] for entry in entries], grad_scale, found_inf):
        return False
    fell_back: list = []
    for params, grads, buffers, settings, name in entries:
        if name == "fused":
            _fused.run_planned(params, grads, buffers, settings, next(plans), fell_back)
        elif name == "foreach":
            update._foreach(params, grads, buffers, settings)
        else:
            update._single_tensor(params, grads, buffers, settings)
    _fused.warn_fallbacks(fell_back)
    return True
