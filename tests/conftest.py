"""Pytest setup for sgdlab's tests: import paths, the hypothesis profile, and the shared fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from helpers import DEVICE_PARAMS, ROOT

# In CI the property tests draw the same examples every run, so a red build is reproducible.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# The repository's tools (the output comparer, the example runner) and the site's
# extensions are imported by the tests.
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Run the files marked ``long_running`` first (a stable sort keeps the rest in order).

    ``make`` runs pytest on two workers, a file to each (pytest-xdist's ``--dist loadfile``), so
    a file whose tests share one long piece of work (running every gallery script, every
    download, every page) does it once, and starting those files first lets the other worker
    take the short ones meanwhile.
    """
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


# The network guard is loaded by child processes only; importing it here would patch pytest's own socket.
collect_ignore = ["offline"]


@pytest.fixture(params=DEVICE_PARAMS)
def device(request) -> torch.device:
    """Each device :func:`sgdlab.devices` lists (CPU, plus CUDA where present)."""
    return request.param


# The site tests' fixtures (tests/site/sitekit.py), defined here once: a session fixture
# imported into several test modules would be one fixture per module (two browsers).
sys.path.insert(0, str(Path(__file__).resolve().parent / "site"))
from sitekit import browser, context, page_reports, server, site  # noqa: E402, F401 (fixtures)
