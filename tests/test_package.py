"""The package surface: every public name re-exported, documented and given an example."""

from __future__ import annotations

import inspect

import pytest

import sgdlab
from sgdlab import binding, explain, optim, update

MODULES = [update, optim, explain, binding]
PUBLIC = [(module, name) for module in MODULES for name in module.__all__]


@pytest.mark.parametrize(("module", "name"), PUBLIC, ids=[f"{m.__name__}.{n}" for m, n in PUBLIC])
def test_public_name_is_reexported_and_has_a_tested_example(module, name):
    assert name in sgdlab.__all__
    assert getattr(sgdlab, name) is getattr(module, name)
    doc = inspect.getdoc(getattr(module, name))
    assert doc and ">>>" in doc, f"{module.__name__}.{name} needs a docstring with an example"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_module_has_a_docstring(module):
    assert module.__doc__ and module.__doc__.strip()
