"""Shared fixtures: the devices sgdlab runs on, and small SGD problems to step."""

from __future__ import annotations

import pytest
import torch

import sgdlab

def _device_params() -> list:
    """Each device sgdlab.devices() lists; CUDA, when absent, as a test that skips and says why."""
    listed = sgdlab.devices()
    params = [pytest.param(device, id=str(device)) for device in listed]
    if all(device.type != "cuda" for device in listed):
        reason = ("CUDA is not available on this machine" if not torch.cuda.is_available()
                  else "SGDLAB_DEVICES leaves CUDA out")
        params.append(pytest.param(torch.device("cuda"), id="cuda",
                                   marks=pytest.mark.skip(reason=reason)))
    return params


DEVICE_PARAMS = _device_params()


@pytest.fixture(params=DEVICE_PARAMS)
def device(request) -> torch.device:
    """Each device :func:`sgdlab.devices` lists (CPU, plus CUDA where present)."""
    return request.param


def article_tensors(dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
    """The article's x = 5, c = 3 and y = 3 c e^x + 2 x + 4, with y's graph built."""
    x = torch.tensor(5.0, dtype=dtype, device=device, requires_grad=True)
    c = torch.tensor(3.0, dtype=dtype, device=device, requires_grad=True)
    y = c * 3 * torch.exp(x) + 2.0 * x + 4.0
    return x, c, y
