"""One vocabulary of settings: keys and defaults spelled once, in ``sgdlab._settings``."""

from __future__ import annotations

import ast
import copy
import inspect

import torch

import sgdlab
from helpers import ROOT
from sgdlab import _settings


def signature_defaults(function) -> dict:
    return {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def test_the_constructor_defaults_are_the_vocabulary_and_torchs():
    ours, theirs = signature_defaults(sgdlab.SGD), signature_defaults(torch.optim.SGD)
    assert ours == _settings.DEFAULTS
    assert theirs == _settings.DEFAULTS  # a new torch that changes a default fails here
    assert sgdlab.SGD([torch.zeros(1, requires_grad=True)]).defaults == _settings.DEFAULTS


def test_the_functional_form_and_the_rule_tuple_take_the_rule_defaults():
    rule_defaults = {key: value for key, value in _settings.RULE_DEFAULTS.items() if key != "lr"}
    functional = signature_defaults(sgdlab.sgd)
    assert {key: functional[key] for key in rule_defaults} == rule_defaults
    assert _settings.Settings._fields == _settings.RULE_KEYS
    assert _settings.Settings._field_defaults == rule_defaults


def test_an_older_save_is_filled_as_torch_fills_it():
    w = torch.zeros(2, requires_grad=True)
    saved = torch.optim.SGD([w], lr=0.1).state_dict()
    for key in _settings.FLAG_KEYS:
        del saved["param_groups"][0][key]
    theirs = torch.optim.SGD([w], lr=0.5)
    theirs.load_state_dict(copy.deepcopy(saved))
    ours = sgdlab.SGD([w], lr=0.5)
    ours.load_state_dict(copy.deepcopy(saved))
    filled = {key: ours.param_groups[0][key] for key in _settings.FLAG_KEYS}
    assert filled == {key: theirs.param_groups[0][key] for key in _settings.FLAG_KEYS}
    assert filled == _settings.LOAD_DEFAULTS


def spelled_key_lists(path) -> list[tuple[int, list[str]]]:
    """Literals (tuple, list, set, dict keys) that name three or more settings: a vocabulary."""
    keys = set(_settings.KEYS)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if not isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) or items is None:
            continue
        named = [item.value for item in items
                 if isinstance(item, ast.Constant) and item.value in keys]
        if len(named) >= 3:
            found.append((node.lineno, named))
    return found


def test_no_module_but_the_vocabulary_spells_the_settings_out():
    sources = sorted((ROOT / "src" / "sgdlab").glob("*.py"))
    spelled = {path.name: spelled_key_lists(path) for path in sources}
    assert spelled.pop("_settings.py")  # the one place, found by the same scan
    assert {name: lists for name, lists in spelled.items() if lists} == {}
