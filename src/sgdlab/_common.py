"""Checks and lookups the explain and binding modules share (not public API)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor


def require_optimizer(optimizer: object, kinds: tuple[type, ...] = (torch.optim.Optimizer,)) -> None:
    """Raise ``TypeError`` naming ``optimizer`` when it is not one of ``kinds``."""
    if not isinstance(optimizer, kinds):
        wanted = " or ".join(f"{kind.__module__}.{kind.__qualname__}" for kind in kinds)
        raise TypeError(
            f"optimizer must be a {wanted}, got {type(optimizer).__name__}: {optimizer!r}"
        )


def named_tensors(names: object, argument: str = "names") -> dict[str, Tensor]:
    """Turn ``names`` (None, a mapping name -> tensor, or a module) into a dict of tensors."""
    if names is None:
        return {}
    if isinstance(names, torch.nn.Module):
        return dict(names.named_parameters())
    if not isinstance(names, Mapping):
        raise TypeError(
            f"{argument} must be a mapping of name to tensor or a torch.nn.Module, "
            f"got {type(names).__name__}: {names!r}"
        )
    for name, tensor in names.items():
        if not isinstance(name, str):
            raise TypeError(f"{argument} keys must be strings, got {type(name).__name__}: {name!r}")
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{argument}[{name!r}] must be a tensor, got {type(tensor).__name__}")
    return dict(names)


def default_name(group_index: int, param_index: int, group: Mapping) -> str:
    """The name of an unnamed parameter: its ``param_names`` entry, else ``group0.param1``."""
    param_names = group.get("param_names")
    if param_names is not None and param_index < len(param_names):
        return str(param_names[param_index])
    return f"group{group_index}.param{param_index}"


def parameter_names(optimizer: torch.optim.Optimizer, names: Mapping[str, Tensor]) -> dict[int, str]:
    """Map ``id`` of each tensor the optimizer holds to a readable name."""
    by_id = {id(tensor): name for name, tensor in names.items()}
    found = {}
    for group_index, group in enumerate(optimizer.param_groups):
        for param_index, param in enumerate(group["params"]):
            found.setdefault(
                id(param), by_id.get(id(param)) or default_name(group_index, param_index, group)
            )
    return found
