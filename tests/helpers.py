"""Paths and helpers the tests import: the repository root, offline child processes, small SGD problems."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import sgdlab

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = Path(__file__).resolve().parent / "offline"


def offline_env(**extra: str) -> dict[str, str]:
    """The environment for a child process that must not reach the network."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    env.update(extra)
    return env


def run(args, cwd=ROOT, env=None, timeout=600) -> subprocess.CompletedProcess:
    """Run a command, capturing its output as text."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env or offline_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )



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


def article_tensors(dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
    """The article's x = 5, c = 3 and y = 3 c e^x + 2 x + 4, with y's graph built."""
    x = torch.tensor(5.0, dtype=dtype, device=device, requires_grad=True)
    c = torch.tensor(3.0, dtype=dtype, device=device, requires_grad=True)
    y = c * 3 * torch.exp(x) + 2.0 * x + 4.0
    return x, c, y
