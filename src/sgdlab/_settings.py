"""The settings of an SGD parameter group, spelled once: their keys and defaults (not public API).

This is the bottom layer: it imports nothing of sgdlab. The constructor's signature, the
checks, ``load_state_dict``'s filling of older saves, the fused step and
:func:`sgdlab.explain_step` all take their keys and defaults from here; a test holds the
constructor's signature, and ``torch.optim.SGD``'s, to :data:`DEFAULTS`.

>>> list(RULE_DEFAULTS)
['lr', 'momentum', 'dampening', 'weight_decay', 'nesterov', 'maximize']
>>> Settings.of({"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0,
...              "nesterov": True, "maximize": False})
Settings(lr=0.1, momentum=0.9, dampening=0, weight_decay=0, nesterov=True, maximize=False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from torch import Tensor

#: The update rule's six settings, with ``torch.optim.SGD``'s defaults.
RULE_DEFAULTS: dict[str, Any] = {
    "lr": 1e-3,
    "momentum": 0,
    "dampening": 0,
    "weight_decay": 0,
    "nesterov": False,
    "maximize": False,
}
#: How the step runs (which kernel, whether autograd records it), with torch's defaults.
PATH_DEFAULTS: dict[str, Any] = {"foreach": None, "differentiable": False, "fused": None}
#: Every key of a parameter group but ``params``, with its default.
DEFAULTS: dict[str, Any] = {**RULE_DEFAULTS, **PATH_DEFAULTS}

RULE_KEYS = tuple(RULE_DEFAULTS)
PATH_KEYS = tuple(PATH_DEFAULTS)
KEYS = tuple(DEFAULTS)
#: The keys a saved group must hold; the flags added in later PyTorch versions (nesterov
#: excepted, which SGD always had but a hand-made dict may lack) take their defaults.
REQUIRED_KEYS = ("params", "lr", "momentum", "dampening", "weight_decay")
#: The number settings, which the checks hold to be real, finite and (dampening aside) >= 0.
NUMBER_KEYS = ("lr", "momentum", "dampening", "weight_decay")
#: The on/off settings; ``foreach`` and ``fused`` may also be None (let torch's rule pick).
FLAG_KEYS = ("nesterov", "maximize", *PATH_KEYS)
NONE_OK_KEYS = tuple(key for key in FLAG_KEYS if DEFAULTS[key] is None)
#: What ``load_state_dict`` fills into a saved group that lacks a flag (a save from an older
#: PyTorch). ``torch.optim.SGD.__setstate__`` fills ``fused=False`` where its constructor's
#: default is None; sgdlab does the same, so a loaded group equals torch's.
LOAD_DEFAULTS: dict[str, Any] = {**{key: DEFAULTS[key] for key in FLAG_KEYS}, "fused": False}


class Settings(NamedTuple):
    """The six settings of the rule: one parameter group's worth."""

    lr: float | Tensor
    momentum: float | Tensor = RULE_DEFAULTS["momentum"]
    dampening: float | Tensor = RULE_DEFAULTS["dampening"]
    weight_decay: float | Tensor = RULE_DEFAULTS["weight_decay"]
    nesterov: bool = RULE_DEFAULTS["nesterov"]
    maximize: bool = RULE_DEFAULTS["maximize"]

    @classmethod
    def of(cls, group: Mapping[str, Any]) -> Settings:
        """Read the settings out of a parameter group."""
        return cls._make(map(group.__getitem__, RULE_KEYS))


def with_defaults(group: Mapping[str, Any]) -> dict[str, Any]:
    """``group`` with every missing setting at its default (``params`` left as it is).

    >>> with_defaults({"lr": 0.5})["fused"] is None
    True
    """
    return {**DEFAULTS, **group}
