"""Which devices the examples run on, and how far apart their results are.

The policy: the comma-separated list in the ``SGDLAB_DEVICES`` environment
variable when it is set, else the CPU plus CUDA when PyTorch can see a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

__all__ = ["devices", "device_report", "run_on_devices", "max_difference"]

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
        chosen = [_parse_device(name) for name in names]
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"{DEVICES_ENV} lists a device twice: {listed!r}")
        return chosen
    found = [torch.device("cpu")]
    if torch.cuda.is_available():
        found.append(torch.device("cuda"))
    return found


def device_report() -> str:
    """Say in one line which devices :func:`devices` picked, and why CUDA is absent.

    >>> import os
    >>> os.environ["SGDLAB_DEVICES"] = "cpu"
    >>> print(device_report())
    Running on: cpu (chosen by SGDLAB_DEVICES)
    >>> del os.environ["SGDLAB_DEVICES"]
    """
    chosen = devices()
    names = ", ".join(str(device) for device in chosen)
    if os.environ.get(DEVICES_ENV, "").strip():
        return f"Running on: {names} (chosen by {DEVICES_ENV})"
    if torch.cuda.is_available():
        return f"Running on: {names} (CUDA device: {torch.cuda.get_device_name()})"
    return f"Running on: {names} (CUDA is not available on this machine, so CPU only)"


def run_on_devices(function: Callable[[torch.device], Any]) -> dict[str, Any]:
    """Call ``function(device)`` on every device from :func:`devices`.

    Returns a dict from device name to what the function returned.

    >>> import os
    >>> os.environ["SGDLAB_DEVICES"] = "cpu"
    >>> run_on_devices(lambda device: torch.ones(2, device=device).sum().item())
    {'cpu': 2.0}
    >>> del os.environ["SGDLAB_DEVICES"]
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}: {function!r}")
    return {str(device): function(device) for device in devices()}


def _as_float_tensor(value: Any, name: str) -> torch.Tensor:
    """Turn a result (tensor, number or sequence of numbers) into a CPU float64 tensor."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            f"results[{name!r}] must be a tensor or numbers, got {type(value).__name__}"
        ) from error


def max_difference(results: Mapping[str, Any]) -> float:
    """Return the largest absolute difference between any device's result and the first one's.

    >>> max_difference({"cpu": torch.tensor([1.0, 2.0]), "cuda": torch.tensor([1.0, 2.5])})
    0.5
    >>> max_difference({"cpu": 3.0})
    0.0
    """
    if not isinstance(results, Mapping):
        raise TypeError(f"results must be a mapping of device name to result, got {results!r}")
    if not results:
        raise ValueError("results is empty: there is nothing to compare")
    tensors = {name: _as_float_tensor(value, name) for name, value in results.items()}
    reference_name, reference = next(iter(tensors.items()))
    largest = 0.0
    for name, tensor in tensors.items():
        if tensor.shape != reference.shape:
            raise ValueError(
                f"results[{name!r}] has shape {tuple(tensor.shape)}, "
                f"but results[{reference_name!r}] has {tuple(reference.shape)}"
            )
        if tensor.numel():
            largest = max(largest, (tensor - reference).abs().max().item())
    return largest
