"""Shared paths and helpers for sgdlab's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


# The network guard is loaded by child processes only; importing it here would patch pytest's own socket.
collect_ignore = ["offline"]
