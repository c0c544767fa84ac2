"""Which devices sgdlab's own tests and benchmark run on.

The policy: the comma-separated list in the ``SGDLAB_DEVICES`` environment
variable when it is set, else the CPU plus CUDA when PyTorch can see a GPU.
Gallery scripts do not use it: each picks its device with the usual
``torch.cuda.is_available()`` idiom.
"""

from __future__ import annotations

import os
import torch

__all__ = ["devices"]

#: The environment variable that overrides the device list.
DEVICES_ENV = "SGDLAB_DEVICES"


def _parse_device(name: str) -> torch.device:
    """Turn one entry of ``SGDLAB_DEVICES`` into a device, checking it exists."""
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(
            f"{DEVICES_ENV}: {name!r} is not a device name (try 'cpu' or 'cuda')"
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{DEVICES_ENV} asks for {name!r}, but CUDA is not available on this machine"
        )
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise ValueError(
                f"{DEVICES_ENV} asks for {name!r}, but this machine has {count} CUDA device(s)"
            )
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"{DEVICES_ENV}: {name!r} is not supported; use 'cpu' or 'cuda'")
    return device


def _canonical(device: torch.device) -> torch.device:
    """The device a name means: ``cpu:0`` is the CPU, ``cuda`` the current CUDA device."""
    if device.type == "cpu":
        return torch.device("cpu")
    if device.index is None:
        return torch.device(device.type, torch.cuda.current_device())
    return device


def devices() -> list[torch.device]:
    """Return the devices to run on: ``SGDLAB_DEVICES`` if set, else CPU (+ CUDA).

    >>> import os
    >>> os.environ["SGDLAB_DEVICES"] = "cpu"
    >>> devices()
    [device(type='cpu')]
    >>> del os.environ["SGDLAB_DEVICES"]
    >>> devices()[0]
    device(type='cpu')
    """
    listed = os.environ.get(DEVICES_ENV, "").strip()
    if listed:
        names = [name.strip() for name in listed.split(",") if name.strip()]
        if not names:
            raise ValueError(f"{DEVICES_ENV}={listed!r} names no device (try 'cpu' or 'cpu,cuda')")
        chosen = [_parse_device(name) for name in names]
        seen: dict[torch.device, str] = {}
        for name, device in zip(names, chosen):
            same = _canonical(device)
            if same in seen:
                raise ValueError(
                    f"{DEVICES_ENV} lists one device twice: {seen[same]!r} and {name!r} "
                    f"(in {listed!r})"
                )
            seen[same] = name
        return chosen
    found = [torch.device("cpu")]
    if torch.cuda.is_available():
        found.append(torch.device("cuda"))
    return found
