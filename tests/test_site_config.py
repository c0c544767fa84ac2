"""The site's configuration pieces that need no build: the offline intersphinx inventories, the
404 page's links and the Sphinx extensions in ``docs/_ext``.
"""

from __future__ import annotations

import doctest
import re
import importlib.util
import posixpath
import sys

import pytest
from sphinx.util.inventory import InventoryFile

from helpers import ROOT

INVENTORIES = ROOT / "docs" / "_inventories"


def load_module(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


make_inventories = load_module("make_inventories", ROOT / "tools" / "make_inventories.py")
EXTENSIONS = sorted((ROOT / "docs" / "_ext").glob("*.py"))


def read_inventory(data: bytes, base: str = "") -> dict:
    import io

    return InventoryFile.load(io.BytesIO(data), base, posixpath.join)


def entries(inventory: dict) -> dict[tuple[str, str], str]:
    return {(role, name): item.uri for role, items in inventory.items() for name, item in items.items()}


PROJECTS = make_inventories.load_projects()


@pytest.mark.parametrize("stem", PROJECTS)
def test_committed_inventory_matches_the_script(stem):
    """docs/_inventories is what `make inventories` writes today (rerun it after editing names.toml)."""
    committed = INVENTORIES / f"{stem}.inv"
    assert committed.exists(), f"{committed} is missing: run `make inventories`"
    expected = entries(read_inventory(make_inventories.inventory_bytes(stem, PROJECTS[stem])))
    assert entries(read_inventory(committed.read_bytes())) == expected, "run `make inventories` and commit"


def test_a_listed_method_the_class_lacks_is_left_out():
    """Members are listed only where the installed class has them, so no link leads nowhere."""
    listed = make_inventories.entries({"members": [{"classes": "torch.nn.Module", "methods": "parameters no_such_method"}]})
    names = {name for name, _, _ in listed}
    assert "torch.nn.Module.parameters" in names and "torch.nn.Module.no_such_method" not in names


def test_conf_maps_every_inventory():
    conf = {"__file__": str(ROOT / "conf.py")}
    exec(compile((ROOT / "conf.py").read_text(), "conf.py", "exec"), conf)
    mapped = {name: location for name, (_, location) in conf["intersphinx_mapping"].items()}
    assert sorted(mapped.values()) == sorted(str(path) for path in INVENTORIES.glob("*.inv"))
    assert conf["nitpicky"] is True


@pytest.mark.parametrize(
    ("name", "role", "uri"),
    [
        ("torch.optim.SGD", "py:class", "https://docs.pytorch.org/docs/stable/generated/torch.optim.SGD.html#torch.optim.SGD"),
        ("torch.optim.sgd.SGD", "py:class", "https://docs.pytorch.org/docs/stable/generated/torch.optim.SGD.html#torch.optim.SGD"),
        ("torch.optim.Optimizer", "py:class", "https://docs.pytorch.org/docs/stable/optim.html#torch.optim.Optimizer"),
        ("torch.optim.Optimizer.zero_grad", "py:method", "https://docs.pytorch.org/docs/stable/generated/torch.optim.Optimizer.zero_grad.html#torch.optim.Optimizer.zero_grad"),
        ("torch.Tensor", "py:class", "https://docs.pytorch.org/docs/stable/tensors.html#torch.Tensor"),
        ("torch.device", "py:class", "https://docs.pytorch.org/docs/stable/tensor_attributes.html#torch.device"),
        ("torch.no_grad", "py:class", "https://docs.pytorch.org/docs/stable/generated/torch.no_grad.html#torch.no_grad"),
        ("torch.optim.lr_scheduler.StepLR", "py:class", "https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html#torch.optim.lr_scheduler.StepLR"),
        ("torch.nn.Module", "py:class", "https://docs.pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module"),
    ],
)
def test_torch_inventory_points_at_pytorchs_pages(name, role, uri):
    inventory = read_inventory((INVENTORIES / "torch.inv").read_bytes(), "https://docs.pytorch.org/docs/stable/")
    assert inventory[role][name].uri == uri


def test_python_inventory_points_at_pythons_pages():
    inventory = read_inventory((INVENTORIES / "python.inv").read_bytes(), "https://docs.python.org/3/")
    assert inventory["py:class"]["int"].uri == "https://docs.python.org/3/library/functions.html#int"
    assert inventory["py:exception"]["ValueError"].uri == "https://docs.python.org/3/library/exceptions.html#ValueError"
    assert inventory["py:class"]["collections.abc.Callable"].uri.endswith("collections.abc.html#collections.abc.Callable")


def test_the_extensions_docstring_examples():
    tried = 0
    for path in EXTENSIONS:
        result = doctest.testmod(load_module(path.stem, path), optionflags=doctest.NORMALIZE_WHITESPACE)
        assert not result.failed, path.name
        tried += result.attempted
    assert tried


@pytest.mark.parametrize(
    "base_url, prefix", [("", "/"), ("https://me.github.io/sgdlab/", "/sgdlab/"), ("https://x.io/en/latest", "/en/latest/")]
)
def test_404_page_links_start_where_the_site_is_served(monkeypatch, base_url, prefix):
    """sphinx-notfound-page writes the 404 page's links from notfound_urls_prefix: the site's path."""
    monkeypatch.setenv("SGDLAB_BASEURL", base_url)
    monkeypatch.delenv("READTHEDOCS_CANONICAL_URL", raising=False)
    conf = {"__file__": str(ROOT / "conf.py")}
    exec(compile((ROOT / "conf.py").read_text(), "conf.py", "exec"), conf)
    assert "notfound.extension" in conf["extensions"]
    assert conf["notfound_urls_prefix"] == prefix
    links = re.findall(r'href="([^"]*)"', conf["notfound_context"]["body"])
    assert links and all(link.startswith(prefix) for link in links)


def test_thumbnail_images_are_matched_to_their_example():
    thumbnail = load_module("sgdlab_figures", ROOT / "docs" / "_ext" / "sgdlab_figures.py").THUMBNAIL
    match = thumbnail.match("/auto_examples/guide/images/thumb/sphx_glr_plot_a_b_thumb.png")
    assert (match["section"], match["stem"]) == ("auto_examples/guide", "plot_a_b")
    assert thumbnail.match("auto_examples/images/sphx_glr_plot_a_001.png") is None


def workflow() -> dict:
    import yaml

    return yaml.safe_load((ROOT / ".github" / "workflows" / "docs.yml").read_text())


def test_publishing_workflow_pins_every_action_to_a_commit():
    text = (ROOT / ".github" / "workflows" / "docs.yml").read_text()
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action} is not pinned to a full SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", comment), f"{action} does not say which release it is"


def test_publishing_workflow_has_least_privilege():
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    jobs = flow["jobs"]
    assert "permissions" not in jobs["build"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(step.get("run") == "make html" for step in jobs["build"]["steps"])


def test_read_the_docs_builds_with_the_makefile():
    import yaml

    config = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text())
    assert config["build"]["tools"]["python"] == "3.11"
    assert any(command.startswith("make html") for command in config["build"]["commands"])
