"""The package surface: every module's public names re-exported, documented and given an example."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import sgdlab
from helpers import ROOT

MODULES = [
    importlib.import_module(f"sgdlab.{info.name}")
    for info in pkgutil.iter_modules(sgdlab.__path__)
    if not info.name.startswith("_")
]
PUBLIC = [(module, name) for module in MODULES for name in getattr(module, "__all__", ())]
API_PAGE = (ROOT / "docs" / "api.md").read_text()
DOCUMENTED = set(re.findall(r"^\.\. auto(?:function|class):: (\w+)", API_PAGE, re.M))


def test_every_module_has_public_names():
    assert all(getattr(module, "__all__", None) for module in MODULES)
    assert sorted(name for _, name in PUBLIC) == sorted(sgdlab.__all__)


@pytest.mark.parametrize(("module", "name"), PUBLIC, ids=[f"{m.__name__}.{n}" for m, n in PUBLIC])
def test_public_name_is_reexported_documented_and_has_a_tested_example(module, name):
    assert getattr(sgdlab, name) is getattr(module, name)
    doc = inspect.getdoc(getattr(module, name))
    assert doc and ">>>" in doc, f"{module.__name__}.{name} needs a docstring with an example"
    assert name in DOCUMENTED, f"{name} is not on docs/api.md"


#: The rule's stages: public functions of sgdlab.update, not re-exported (their names say
#: little outside that module), documented on the API page.
STAGES = {stage.__name__: stage for stage in sgdlab.update.STAGES}


def test_api_page_documents_only_public_names():
    assert DOCUMENTED <= set(sgdlab.__all__) | set(STAGES)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_each_stage_is_documented_checked_and_runs_its_rule(name):
    stage = STAGES[name]
    assert name in DOCUMENTED and getattr(sgdlab.update, name) is stage
    assert ">>>" in inspect.getdoc(stage)
    assert stage.rule is not stage and stage.rule.__name__ == name
    assert inspect.signature(stage) == inspect.signature(stage.rule)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_module_has_a_docstring(module):
    assert module.__doc__ and module.__doc__.strip()


@pytest.mark.parametrize("name", ["record", "log_loss", "article_function", "side_by_side",
                                  "sgd_single_tensor", "sgd_foreach", "check_hyperparameters", "lrs",
                                  "max_difference"])
def test_removed_names_stay_removed(name):
    assert not hasattr(sgdlab, name)
    assert not hasattr(sgdlab.Trajectory, name)
