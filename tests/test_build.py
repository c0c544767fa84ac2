"""The build's guarantees, each proven on a small project built with the real Makefile and conf.py.

Each test lays out a throwaway project (our ``conf.py`` and ``docs/_*`` folders, a page or
two, an example or two), then runs ``make html`` or ``make doctest`` on it with the network
blocked. That checks the guarantees themselves, not only that today's pages happen to pass.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
import torch

from helpers import ROOT, run

# Each test builds a small site, one after another: under pytest-xdist this file starts first,
# beside test_examples.py (see conftest.py).
pytestmark = pytest.mark.long_running

INDEX = """\
# Fixture

```{toctree}
auto_examples/index
```
"""

GALLERY_HEADER = "Gallery\n=======\n"
SECTION_HEADER = "Section\n-------\n"


def example(body: str, title: str = "An example") -> str:
    return f'"""\n{title}\n{"=" * len(title)}\n"""\n\n' + textwrap.dedent(body)


def make_project(root: Path, pages: dict[str, str], examples: dict[str, str]) -> Path:
    """Write a small Sphinx project at ``root`` that uses the repository's configuration."""
    shutil.copy(ROOT / "conf.py", root / "conf.py")
    docs = root / "docs"
    docs.mkdir()
    for support in ROOT.joinpath("docs").glob("_*"):
        if support.is_dir():
            shutil.copytree(support, docs / support.name)
    shutil.copytree(ROOT / "src" / "sgdlab", root / "src" / "sgdlab")
    shutil.copytree(ROOT / "tools", root / "tools")  # conf.py imports the comparer and the noise
    for name, text in {"index.md": INDEX, **pages}.items():
        (docs / name).write_text(text)
    section = root / "examples" / "section"
    section.mkdir(parents=True)
    (root / "examples" / "README.rst").write_text(GALLERY_HEADER)
    (section / "README.rst").write_text(SECTION_HEADER)
    for name, text in examples.items():
        (section / name).write_text(text)
    return root


def make(project: Path, target: str, *variables: str):
    """Run one of the Makefile's targets on ``project`` instead of the real docs."""
    return run(
        [
            "make", "--no-print-directory", target, *variables,
            f"CONFDIR={project}", f"DOCSDIR={project / 'docs'}", f"BUILDDIR={project / '_build'}",
        ]
    )


def output_of(project: Path, name: str) -> str:
    """The printed output sphinx-gallery captured for ``examples/section/<name>.py``."""
    return (project / "docs" / "auto_examples" / "section" / f"{name}.rst").read_text()


QUIET_EXAMPLE = example("print('hello from the gallery')\n")


def test_clean_project_builds(tmp_path):
    project = make_project(tmp_path, {}, {"plot_hello.py": QUIET_EXAMPLE})
    result = make(project, "html")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hello from the gallery" in output_of(project, "plot_hello")


def test_a_warning_fails_the_build(tmp_path):
    broken = INDEX + "\nSee {doc}`a-page-that-does-not-exist`.\n"
    project = make_project(tmp_path, {"index.md": broken}, {"plot_hello.py": QUIET_EXAMPLE})
    result = make(project, "html")
    assert result.returncode != 0
    assert "a-page-that-does-not-exist" in result.stderr


def test_an_example_that_raises_fails_the_build(tmp_path):
    failing = example("raise RuntimeError('this example is broken on purpose')\n")
    project = make_project(tmp_path, {}, {"plot_broken.py": failing})
    result = make(project, "html")
    assert result.returncode != 0
    assert "broken on purpose" in result.stdout + result.stderr


def test_examples_rerun_when_the_package_source_changes_and_only_then(tmp_path):
    log = tmp_path / "runs.log"
    counting = example(
        f"""\
        with open({str(log)!r}, "a") as handle:
            handle.write("ran\\n")
        print("counted")
        """
    )
    (tmp_path / "p").mkdir()
    project = make_project(tmp_path / "p", {}, {"plot_count.py": counting})
    runs = lambda: log.read_text().count("ran") if log.exists() else 0  # noqa: E731

    assert make(project, "html").returncode == 0
    assert runs() == 1
    assert make(project, "html").returncode == 0
    assert runs() == 1, "an unchanged example re-ran although nothing changed"

    devices_py = project / "src" / "sgdlab" / "devices.py"
    devices_py.write_text(devices_py.read_text() + "\n# a change to the package\n")
    assert make(project, "html").returncode == 0
    assert runs() == 2, "the package changed but the example's output was not refreshed"
    assert make(project, "html").returncode == 0
    assert runs() == 2


def test_seeds_are_reset_before_every_example(tmp_path):
    draw = example("import torch\nprint('draw', torch.rand(1).item())\n")
    project = make_project(tmp_path, {}, {"plot_first.py": draw, "plot_second.py": draw})
    assert make(project, "html").returncode == 0
    torch.manual_seed(0)
    expected = f"draw {torch.rand(1).item()}"
    assert expected in output_of(project, "plot_first")
    assert expected in output_of(project, "plot_second")


DOCTEST_PAGE = """\
# Doctest

```{{doctest}}
>>> import torch
>>> torch.tensor(2.0) * 3
tensor({value})
```
"""


@pytest.mark.parametrize(("value", "passes"), [("6.", True), ("7.", False)])
def test_a_changed_doctest_value_fails(tmp_path, value, passes):
    index = INDEX.replace("auto_examples/index", "auto_examples/index\ncheck")
    page = DOCTEST_PAGE.format(value=value)
    project = make_project(tmp_path, {"index.md": index, "check.md": page}, {"plot_hello.py": QUIET_EXAMPLE})
    result = make(project, "doctest", "CPU_VARIANTS=default-1thread")  # every variant: `make doctest`
    assert (result.returncode == 0) is passes, result.stdout[-2000:]


def test_the_real_configuration_builds_offline(tmp_path):
    """The site's own pages build with the network blocked (examples not run here)."""
    result = run(["make", "--no-print-directory", "html-noplot", f"BUILDDIR={tmp_path}"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not re.search(r"blocked", result.stderr)


def test_a_renamed_example_leaves_no_orphan_page(tmp_path):
    project = make_project(tmp_path, {}, {"plot_old_name.py": QUIET_EXAMPLE})
    assert make(project, "html").returncode == 0
    section = project / "examples" / "section"
    (section / "plot_old_name.py").rename(section / "plot_new_name.py")
    result = make(project, "html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (project / "docs" / "auto_examples" / "section" / "plot_old_name.rst").exists()
