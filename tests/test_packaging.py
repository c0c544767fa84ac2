"""sgdlab as PyPI will see it, and the GitHub workflows that test and release it.

The sdist and the wheel are built once per session, from a copy of the checkout (what the
release workflow sees, without the local venv and build output), with the network blocked: ``python -m build --no-isolation`` uses the setuptools
pinned in constraints.txt (the test extra), so nothing is downloaded. The workflows are
checked against GitHub's schema and by zizmor, a security linter, both offline; each check
is also shown to fail on a workflow that is wrong.
"""

from __future__ import annotations

import ast
import email
import re
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT, offline_env, run

BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PACKAGE = ROOT / "src" / "sgdlab"
MODULES = sorted(p.name for p in PACKAGE.glob("*.py"))
VERSION = "0.1.0"

# Local state a fresh clone does not have: left out of the copy the build runs on.
LOCAL = shutil.ignore_patterns(".git", ".venv", "_build", "auto_examples", ".hypothesis",
                               ".pytest_cache", "__pycache__", "*.egg-info", "dist", "build")


def tool(name: str) -> str:
    """A console script installed next to this Python (the venv's bin/)."""
    path = BIN / name
    assert path.exists(), f"{name} is missing: it comes with the test extra (make setup)"
    return str(path)


def build_env(cache: Path) -> dict[str, str]:
    """The offline environment with byte-compiling on (into ``cache``), so a clean build prints no warning."""
    env = offline_env(PYTHONPYCACHEPREFIX=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Build the sdist, then the wheel from the sdist; return (dist folder, build log)."""
    source = tmp_path_factory.mktemp("checkout") / "sgdlab"
    shutil.copytree(ROOT, source, ignore=LOCAL)
    dist = tmp_path_factory.mktemp("dist")
    result = run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, source],
                 cwd=source, env=build_env(tmp_path_factory.mktemp("pycache")))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return dist, log


def sdist(dist: Path) -> Path:
    return dist / f"sgdlab-{VERSION}.tar.gz"


def wheel(dist: Path) -> Path:
    return dist / f"sgdlab-{VERSION}-py3-none-any.whl"


def test_build_makes_one_sdist_and_one_wheel(built):
    dist, _ = built
    assert sorted(p.name for p in dist.iterdir()) == sorted([sdist(dist).name, wheel(dist).name])


def test_build_prints_no_warning(built):
    # A TOML-table license, a License classifier next to an SPDX license, a missing
    # license file...: setuptools says so in the build log and in every install from source.
    _, log = built
    warnings = [line for line in log.splitlines() if re.search(r"warn|deprecat", line, re.IGNORECASE)]
    assert warnings == []


def test_twine_check_strict_passes(built):
    # The metadata PyPI will accept, and the README as a long description that renders.
    dist, _ = built
    result = run([tool("twine"), "check", "--strict", sdist(dist), wheel(dist)], env=offline_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def wheel_metadata(dist: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel(dist)) as archive:
        return email.message_from_string(archive.read(f"sgdlab-{VERSION}.dist-info/METADATA").decode())


def test_wheel_metadata_is_complete(built):
    dist, _ = built
    meta = wheel_metadata(dist)
    assert meta["Name"] == "sgdlab"
    assert meta["Version"] == VERSION
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert not [c for c in meta.get_all("Classifier") if c.startswith("License ::")]
    assert meta["Requires-Python"] == ">=3.10"
    requires = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert sorted(requires) == ["matplotlib", "numpy", "torch>=2.4"]
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL"))
    assert sorted(urls) == ["Documentation", "Homepage", "Issues", "Source"]
    assert all(url.startswith("https://") for url in urls.values())
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (ROOT / "README.md").read_text().strip()


def test_wheel_holds_the_package_and_the_license_only(built):
    dist, _ = built
    with zipfile.ZipFile(wheel(dist)) as archive:
        names = archive.namelist()
    assert sorted(n.split("/", 1)[1] for n in names if n.startswith("sgdlab/")) == MODULES
    info = f"sgdlab-{VERSION}.dist-info/"
    assert all(n.startswith(("sgdlab/", info)) for n in names), names
    assert info + "licenses/LICENSE" in names


def test_sdist_holds_what_builds_the_package(built):
    dist, _ = built
    with tarfile.open(sdist(dist)) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    top = {n for n in names if "/" not in n}
    assert top == {"PKG-INFO", "LICENSE", "MANIFEST.in", "README.md", "pyproject.toml", "setup.cfg", "src"}
    assert {f"src/sgdlab/{m}" for m in MODULES} <= names
    # The tests need the repository (conftest, snapshots, the site), so they stay there.
    assert not [n for n in names if n.startswith("tests")]


@pytest.mark.parametrize("module", MODULES)
def test_source_parses_as_python_3_10(module):
    # pyproject.toml says requires-python >= 3.10; CI runs 3.11, so at least the grammar is checked.
    ast.parse((PACKAGE / module).read_text(), filename=module, feature_version=(3, 10))


# -- the workflows ------------------------------------------------------------------


def test_the_workflows_are_there():
    assert sorted(p.name for p in WORKFLOWS) == ["docs.yml", "release.yml", "tests.yml"]


def check_schema(*paths: Path):
    return run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *paths],
               env=offline_env())


def zizmor(*paths: Path):
    # Pedantic: the strictest persona that still only reports real problems and code smells.
    return run([tool("zizmor"), "--offline", "--no-progress", "--color", "never",
                "--persona", "pedantic", *paths], env=offline_env(NO_COLOR="1"))


def test_workflows_match_githubs_schema():
    result = check_schema(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_workflows():
    result = zizmor(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


BAD_WORKFLOW = """\
name: bad
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.head_commit.message }}"
"""


def test_the_workflow_checks_can_fail(tmp_path):
    flows = tmp_path / ".github" / "workflows"
    flows.mkdir(parents=True)
    (flows / "bad.yml").write_text(BAD_WORKFLOW)
    (flows / "typo.yml").write_text(BAD_WORKFLOW.replace("runs-on", "run-on"))
    assert check_schema(flows / "typo.yml").returncode != 0
    found = zizmor(flows / "bad.yml")
    assert found.returncode != 0
    for audit in ("unpinned-uses", "template-injection", "artipacked", "excessive-permissions"):
        assert audit in found.stdout, found.stdout


def workflow(name: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_and_names_its_release(path):
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action} is not pinned to a full SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", comment), f"{action} does not say which release it is"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_keep_no_credentials(path):
    for job in workflow(path.name)["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_release_builds_on_a_version_tag_and_publishes_with_trusted_publishing():
    flow = workflow("release.yml")
    assert flow[True] == {"push": {"tags": ["v*"]}}  # YAML reads the key `on` as True
    assert flow["permissions"] == {}
    build, publish = flow["jobs"]["build"], flow["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    runs = [step.get("run", "") for step in build["steps"]]
    assert any("python -m build --no-isolation" in r for r in runs)
    assert any("twine check --strict" in r for r in runs)
    assert publish["steps"][-1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "with" not in publish["steps"][-1], "trusted publishing needs no token"


def test_tests_workflow_runs_make_test_on_pushes_and_pull_requests():
    flow = workflow("tests.yml")
    assert set(flow[True]) == {"push", "pull_request"}
    assert flow["permissions"] == {}
    (job,) = flow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert re.fullmatch(r"python:3\.11[\w.-]*@sha256:[0-9a-f]{64}", job["container"]["image"])
    assert job["steps"][-1]["run"] == ".ci/run"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_install_page_clones_the_source_url_of_the_metadata():
    import tomllib

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    page = (ROOT / "docs" / "install.md").read_text()
    assert f"$ git clone {urls['Source']}.git\n" in page
