"""Write the intersphinx inventories that let the site link to PyTorch, Python, NumPy and Matplotlib.

The build must not touch the network, so instead of downloading each project's
``objects.inv`` we write small ones ourselves from ``docs/_inventories/names.toml``: one line
per object the site may name, with the address of its entry in that project's documentation.
``make inventories`` rewrites ``docs/_inventories/*.inv``; a test checks the files match.
"""

from __future__ import annotations

import importlib.metadata
import pkgutil
import tomllib
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

NAMES = Path(__file__).resolve().parent.parent / "docs" / "_inventories" / "names.toml"


def load_projects(path: Path = NAMES) -> dict[str, dict]:
    """Each inventory's table of names.toml, by file stem."""
    return tomllib.loads(path.read_text())


def class_members(groups: list[dict]) -> Iterator[tuple[str, str, str]]:
    """Each class of each group, and those of the group's methods the installed class has."""
    for group in groups:
        for owner in group["classes"].split():
            yield owner, "py:class", f"generated/{owner}.html#{owner}"
            cls = pkgutil.resolve_name(owner)
            yield from ((f"{owner}.{method}", "py:method", f"generated/{owner}.html#{owner}.{method}")
                        for method in group["methods"].split() if hasattr(cls, method))


def canonical_aliases(entries: Iterable[tuple[str, str, str]]) -> Iterator[tuple[str, str, str]]:
    """The classes again under the names autodoc writes (``torch.optim.sgd.SGD`` and such).

    Sphinx names a class in a signature by its defining module, so ``torch.optim.SGD`` in a
    type hint becomes ``torch.optim.sgd.SGD``; both must lead to the same page.
    """
    for name, role, uri in entries:
        if role == "py:class":
            obj = pkgutil.resolve_name(name)
            canonical = f"{obj.__module__}.{obj.__qualname__}"
            if "._C" not in canonical:  # compiled classes have no page under that name
                yield canonical, role, uri


def entries(project: dict) -> set[tuple[str, str, str]]:
    """The name, ``domain:role`` and address of every object of one inventory."""
    found = {(name, role, uri.format(name=name))
             for uri, roles in project.get("pages", {}).items()
             for role, names in roles.items() for name in names.split()}
    found.update(class_members(project.get("members", [])))
    if project.get("canonical_aliases"):
        found.update(canonical_aliases(list(found)))
    return found


def inventory_bytes(stem: str, project: dict) -> bytes:
    """An ``objects.inv`` (Sphinx inventory version 2): a text header, then zlib-packed lines."""
    version = project.get("version") or ".".join(importlib.metadata.version(stem).split(".")[:2])
    header = (f"# Sphinx inventory version 2\n# Project: {project['project']}\n# Version: {version}\n"
              "# The remainder of this file is compressed using zlib.\n").encode()
    # name domain:role priority uri display-name; "-" means "the name itself".
    lines = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in sorted(entries(project)))
    return header + zlib.compress(lines.encode(), 9)


if __name__ == "__main__":
    for stem, project in load_projects().items():
        (NAMES.parent / f"{stem}.inv").write_bytes(inventory_bytes(stem, project))
        print(f"wrote {NAMES.parent / stem}.inv")
