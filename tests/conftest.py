"""Shared fixtures: the devices sgdlab runs on, and small SGD problems to step."""

from __future__ import annotations

import pytest
import torch

import sgdlab

DEVICES = sgdlab.devices()
DEVICE_IDS = [str(device) for device in DEVICES]


@pytest.fixture(params=DEVICES, ids=DEVICE_IDS)
def device(request) -> torch.device:
    """Each device :func:`sgdlab.devices` lists (CPU, plus CUDA where present)."""
    return request.param


def article_tensors(dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
    """The article's x = 5, c = 3 and y = 3 c e^x + 2 x + 4, with y's graph built."""
    x = torch.tensor(5.0, dtype=dtype, device=device, requires_grad=True)
    c = torch.tensor(3.0, dtype=dtype, device=device, requires_grad=True)
    y = c * 3 * torch.exp(x) + 2.0 * x + 4.0
    return x, c, y
