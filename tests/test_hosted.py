"""The hosted builds, proven off the host: GitHub Pages (docs.yml), the tests workflow
(tests.yml) and Read the Docs (.readthedocs.yaml).

Each build definition is read from its own file. Its settings are checked (torch's CPU build,
the caches and their keys), the gallery cache's rule is shown on a small project, and the
build steps themselves run here, in a fresh copy of the checkout (the files git tracks or
would add; no .venv, no build output), with Python on PATH as the host provides it and the
variables the definition sets. What differs from the host, and only that:

- TORCH_INDEX points at a package index served on 127.0.0.1 by this test, holding the CPU
  wheel of the pinned torch, instead of PyTorch's CPU index (which this machine cannot
  reach); the test checks that pip asked that index for torch.
- The Pages build runs for real (a fresh .venv from constraints.txt, then the whole site) but
  with ``SPHINXOPTS`` adding ``-D plot_gallery=0``: the gallery is not run there (its scripts
  are checked by tests/test_examples.py and `make html`, its cache rule below). The artifact
  is not uploaded: the folder the upload step names must hold the site.
- tests.yml's ``.ci/run`` and Read the Docs' command run with ``make`` as ``make -n`` (each
  would run the whole `make test` or `make html`) and ``apt-get`` as a no-op: what is checked
  is what they would install, from where, and where the pages would go.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, run
from test_build import example, make, make_project

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
WORKFLOWS = ROOT / ".github" / "workflows"
TORCH_PIN = re.search(r"^torch==(\S+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE).group(1)
#: The values of the ``${{ ... }}`` expressions the build steps use; any other fails the test.
EXPRESSIONS = {"steps.pages.outputs.base_url": "https://example.org/sgdlab"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def pages_job() -> dict:
    return load(WORKFLOWS / "docs.yml")["jobs"]["build"]


def ci_job() -> dict:
    (job,) = load(WORKFLOWS / "tests.yml")["jobs"].values()
    return job


def readthedocs_commands() -> list[str]:
    return load(ROOT / ".readthedocs.yaml")["build"]["commands"]


def steps_using(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action + "@")]


def gallery_cache(job: dict) -> dict:
    """The job's cache step of the executed gallery (its key starts with "gallery-")."""
    (step,) = [step for step in steps_using(job, "actions/cache") if step["with"]["key"].startswith("gallery-")]
    return step


def gallery_path() -> str:
    """Where sphinx-gallery writes the executed gallery: the Makefile's DOCSDIR, then conf.py's gallery_dirs."""
    docs = re.search(r"^DOCSDIR \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    gallery = re.search(r'"gallery_dirs": "([^"]+)"', (ROOT / "conf.py").read_text()).group(1)
    return f"{docs}/{gallery}"


# -- the settings -------------------------------------------------------------------


def test_every_hosted_build_takes_torch_from_the_cpu_index():
    assert pages_job()["env"]["TORCH_INDEX"] == CPU_INDEX
    assert ci_job()["env"]["TORCH_INDEX"] == CPU_INDEX
    makes = [command for command in readthedocs_commands() if command.startswith("make ")]
    assert makes and all(f"TORCH_INDEX={CPU_INDEX}" in command.split() for command in makes)


def dry_install(*variables: str, tmp_path: Path) -> list[str]:
    """The commands `make` would run to set up a .venv that does not exist yet."""
    venv = tmp_path / "venv"
    done = run(["make", "--no-print-directory", "-n", f"{venv}/.installed", f"VENV={venv}", *variables])
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_default_install_is_left_as_it_was(tmp_path):
    installs = [line for line in dry_install(tmp_path=tmp_path) if "pip install" in line]
    assert [line.split("pip install", 1)[1] for line in installs] == [
        " --quiet --upgrade pip",
        ' --quiet -c constraints.txt -e ".[docs,test]"',
    ]


def test_torch_index_takes_torch_alone_from_that_index_at_the_pinned_version(tmp_path):
    index = "http://127.0.0.1:9/simple/"
    lines = dry_install(f"TORCH_INDEX={index}", tmp_path=tmp_path)
    installs = [line.split("pip install", 1)[1] for line in lines if "pip install" in line]
    # --index-url with --no-deps: torch alone is looked up there; the pins pick its version.
    assert installs == [
        " --quiet --upgrade pip",
        f" --quiet --no-deps --index-url {index} -c constraints.txt torch",
        ' --quiet -c constraints.txt -e ".[docs,test]"',
    ]
    assert not any("--extra-index-url" in line for line in lines)


def test_pip_downloads_are_cached_by_the_pins_and_the_extras():
    (setup,) = steps_using(pages_job(), "actions/setup-python")
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"].split() == ["constraints.txt", "pyproject.toml"]
    # The tests job runs in a container without setup-python: pip's own cache folder, in the container.
    (pip,) = [step for step in steps_using(ci_job(), "actions/cache") if step["with"]["path"] == "~/.cache/pip"]
    assert "hashFiles('constraints.txt', 'pyproject.toml')" in pip["with"]["key"]


def test_the_readers_environments_are_cached_where_site_test_keeps_them():
    makefile = (ROOT / "Makefile").read_text()
    venv = re.search(r"^VENV \?= (\S+)$", makefile, re.MULTILINE).group(1)
    assert "SGDLAB_READER_VENVS=$(abspath $(VENV))/readers" in makefile
    (readers,) = [step for step in steps_using(ci_job(), "actions/cache") if "readers" in step["with"]["path"]]
    assert readers["with"]["path"] == f"{venv}/readers"
    assert "hashFiles('constraints.txt', 'pyproject.toml')" in readers["with"]["key"]


@pytest.mark.parametrize("job", [pages_job, ci_job], ids=["docs.yml", "tests.yml"])
def test_the_gallery_cache_is_keyed_by_the_pins_and_restores_the_last_run(job):
    gallery = gallery_cache(job())
    assert gallery["with"]["path"] == gallery_path()
    key, restore = gallery["with"]["key"], gallery["with"]["restore-keys"]
    # Each run saves its own entry; a run restores the newest one made with the same pins
    # (and the same conf.py and sgdlab_build.py, which decide how the examples run).
    assert key.endswith("-${{ github.sha }}") and restore == key.removesuffix("${{ github.sha }}")
    assert "hashFiles('constraints.txt', 'conf.py', 'docs/_ext/sgdlab_build.py')" in restore


# -- the gallery cache's rule, on a small project ----------------------------------------


def counting(name: str, log: Path, text: str = "") -> str:
    return example(f"""\
        with open({str(log)!r}, "a") as handle:
            handle.write({name!r} + "\\n")
        print({text!r})
        """)


@pytest.mark.long_running
def test_a_restored_gallery_reruns_the_changed_example_only_and_all_when_sgdlab_changes(tmp_path):
    log = tmp_path / "runs.log"
    ran = lambda: sorted(log.read_text().split()) if log.exists() else []  # noqa: E731
    scripts = {f"plot_{name}.py": counting(name, log) for name in ("one", "two")}
    (tmp_path / "last-run").mkdir()
    last_run = make_project(tmp_path / "last-run", {}, scripts)
    assert make(last_run, "html").returncode == 0
    assert ran() == ["one", "two"]

    # A new run: a fresh checkout (new files, new times, no _build) and the cache restored
    # into the path the workflow names; one example changed since.
    log.unlink()
    (tmp_path / "this-run").mkdir()
    this_run = make_project(tmp_path / "this-run", {}, {**scripts, "plot_two.py": counting("two", log, "changed")})
    restored = gallery_cache(pages_job())["with"]["path"]
    shutil.copytree(last_run / restored, this_run / restored)
    built = make(this_run, "html")
    assert built.returncode == 0, built.stdout + built.stderr
    assert ran() == ["two"]

    log.unlink()
    devices_py = this_run / "src" / "sgdlab" / "devices.py"
    devices_py.write_text(devices_py.read_text() + "\n# a change to the package\n")
    assert make(this_run, "html").returncode == 0
    assert ran() == ["one", "two"]


# -- the build steps, run here -------------------------------------------------------------


class IndexRequests(SimpleHTTPRequestHandler):
    """Serves the index folder and keeps the path of each request."""

    requests: list[str]

    def do_GET(self):  # noqa: N802 (the http.server name)
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def cpu_index(tmp_path_factory):
    """A PEP 503 index on 127.0.0.1 holding the CPU wheel of the pinned torch; yields its URL,
    the paths asked of it, and the folder of the wheel.

    The wheel comes from where pip finds one without downloading the default (CUDA) build: the
    index TORCH_INDEX names when it is set (as in tests.yml), else pip's find-links only."""
    root = tmp_path_factory.mktemp("cpu-index")
    wheels = root / "files"
    source = ["--index-url", os.environ["TORCH_INDEX"]] if os.environ.get("TORCH_INDEX") else ["--no-index"]
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                          *source, "-c", ROOT / "constraints.txt", "--dest", wheels, "torch"],
                         capture_output=True, text=True)
    found = sorted(wheels.glob(f"torch-{TORCH_PIN}+cpu-*.whl"))
    if got.returncode != 0 or not found:
        pytest.skip(f"no CPU wheel of torch {TORCH_PIN} here (set TORCH_INDEX={CPU_INDEX}): {got.stderr[-500:]}")
    wheel = found[0]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    page = root / "simple" / "torch"
    page.mkdir(parents=True)
    (page / "index.html").write_text(f'<a href="/files/{wheel.name}#sha256={digest}">{wheel.name}</a>\n')
    handler = type("Handler", (IndexRequests,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/simple/", handler.requests, wheels
    server.shutdown()
    thread.join()
    shutil.rmtree(root)  # the wheel: about 190 MB


def fresh_checkout(destination: Path) -> Path:
    """The files a clone of this checkout would hold: tracked ones, and new ones git would add."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a file deleted but not yet committed is left out
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def host_path(folder: Path, shims: dict[str, str] = {}) -> str:  # noqa: B006 (read only)
    """A PATH as on the host: Python 3 (the interpreter this venv was made from) as `python` and
    `python3`, then the system's folders, without any virtual environment's bin/."""
    folder.mkdir()
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    for name in ("python", "python3"):
        (folder / name).symlink_to(base)
    for name, script in shims.items():
        (folder / name).write_text("#!/bin/sh\n" + script)
        (folder / name).chmod(0o755)
    outside = [entry for entry in os.environ["PATH"].split(os.pathsep)
               if entry and not (Path(entry).parent / "pyvenv.cfg").exists()]
    return os.pathsep.join([str(folder), *outside])


def expand(value: str) -> str:
    """A workflow value with its ``${{ ... }}`` expressions replaced from EXPRESSIONS."""
    def one(match: re.Match) -> str:
        name = match.group(1).strip()
        assert name in EXPRESSIONS, f"the build step uses ${{{{ {name} }}}}, which this test does not know"
        return EXPRESSIONS[name]
    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def host_environment(checkout: Path, path: str, *scopes: dict, index: str | None = None) -> dict[str, str]:
    """This machine's environment less ours (the venv, make's and pytest's variables, sgdlab's
    settings), plus the variables each scope (job, step) sets, TORCH_INDEX aimed at ``index``."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
                          "TORCH_INDEX", "SPHINXOPTS", "MPLBACKEND", "PYTHONHASHSEED", "OMP_NUM_THREADS")
           and not key.startswith(("SGDLAB_", "PYTEST_"))}
    for scope in scopes:
        env.update({key: expand(value) for key, value in (scope or {}).items()})
    if "TORCH_INDEX" in env and index:
        env["TORCH_INDEX"] = index
    env.update(PATH=path, CI="true", GITHUB_WORKSPACE=str(checkout),
               GIT_CONFIG_GLOBAL=str(checkout.parent / "gitconfig"))
    return env


def run_step(script: str, checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A `run:` step as GitHub runs it: bash without profiles, stopping at the first error."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=checkout, env=env, capture_output=True, text=True, timeout=1800)


@pytest.fixture
def checkout(tmp_path):
    """A fresh copy of the checkout, removed afterwards (its .venv takes about 2 GB)."""
    yield fresh_checkout(tmp_path / "checkout")
    shutil.rmtree(tmp_path / "checkout", ignore_errors=True)


@pytest.mark.long_running
def test_the_pages_build_runs_in_a_fresh_checkout_with_the_cpu_build(tmp_path, cpu_index, checkout):
    index, requests, wheels = cpu_index
    assert not (checkout / ".venv").exists()
    path = host_path(tmp_path / "bin")
    job = pages_job()
    (setup,) = steps_using(job, "actions/setup-python")
    assert setup["with"]["python-version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    for step in job["steps"]:
        if "run" in step:
            env = host_environment(checkout, path, job.get("env"), step.get("env"), index=index)
            env["SPHINXOPTS"] = "-W --keep-going -D plot_gallery=0"
            # Should a step not take torch from TORCH_INDEX, pip finds the CPU wheel here rather
            # than downloading the CUDA build (gigabytes); the index's log then fails the test.
            env["PIP_FIND_LINKS"] = " ".join(filter(None, [env.get("PIP_FIND_LINKS"), str(wheels)]))
            done = run_step(step["run"], checkout, env)
            assert done.returncode == 0, f"{step.get('name')}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        elif step["uses"].startswith("actions/upload-pages-artifact@"):
            assert (checkout / step["with"]["path"] / "index.html").is_file()
            assert (checkout / step["with"]["path"] / "404.html").is_file()

    # pip asked the stand-in for PyPI's CPU index for torch, and installed its build.
    assert "/simple/torch/" in requests
    venv_python = checkout / ".venv" / "bin" / "python"
    frozen = subprocess.run([venv_python, "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True).stdout
    installed = dict(line.split("==", 1) for line in frozen.splitlines() if "==" in line)
    assert installed["torch"] == f"{TORCH_PIN}+cpu"
    assert not [name for name in installed if name.startswith(("nvidia", "triton"))]
    # Every other package at its pinned version (names compared as pip compares them).
    canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    pins = dict(line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    versions = {canonical(name): version for name, version in installed.items()}
    wrong = {name: (versions[canonical(name)], pin) for name, pin in pins.items()
             if name != "torch" and canonical(name) in versions and versions[canonical(name)] != pin}
    assert wrong == {}
    # The site says which PyTorch built it.
    assert f"{TORCH_PIN}+cpu" in (checkout / "_build" / "html" / "index.html").read_text()


DRY_RUN_SHIMS = {
    # The real make, printing what it would run; the recursive $(MAKE) lines print theirs.
    "make": f'exec {shutil.which("make")} -n "$@"\n',
    "apt-get": 'echo "apt-get $*: not run here"\n',
}


def install_lines(output: str) -> list[str]:
    """The set-up commands a dry run printed, each once (each recursive make prints them again)."""
    lines = [line for line in output.splitlines() if " -m venv " in line or "pip install" in line]
    return list(dict.fromkeys(lines))


def test_the_tests_workflow_would_set_up_a_fresh_venv_with_the_cpu_build(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")
    path = host_path(tmp_path / "bin", DRY_RUN_SHIMS)
    job, printed = ci_job(), ""
    index = "http://127.0.0.1:9/simple/"  # a dry run fetches nothing
    for step in job["steps"]:
        if "run" in step:
            done = run_step(step["run"], checkout, host_environment(checkout, path, job.get("env"), step.get("env"),
                                                                    index=index))
            assert done.returncode == 0, f"{step.get('name')}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            printed += done.stdout
    assert install_lines(printed) == [
        "test -x .venv/bin/python || python3 -m venv .venv",
        ".venv/bin/python -m pip install --quiet --upgrade pip",
        f".venv/bin/python -m pip install --quiet --no-deps --index-url {index} -c constraints.txt torch",
        '.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[docs,test]"',
    ]
    assert re.search(r"SGDLAB_READER_VENVS=\S+/checkout/\.venv/readers ", printed)


def test_read_the_docs_would_set_up_a_fresh_venv_with_the_cpu_build_and_write_where_it_serves(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")
    path = host_path(tmp_path / "bin", DRY_RUN_SHIMS)
    output = tmp_path / "readthedocs-output"
    env = host_environment(checkout, path, {"READTHEDOCS_OUTPUT": str(output)})
    printed = ""
    for command in readthedocs_commands():
        done = run_step(command, checkout, env)
        assert done.returncode == 0, done.stdout + done.stderr
        printed += done.stdout
    assert install_lines(printed) == [
        "test -x .venv/bin/python || python -m venv .venv",
        ".venv/bin/python -m pip install --quiet --upgrade pip",
        f".venv/bin/python -m pip install --quiet --no-deps --index-url {CPU_INDEX} -c constraints.txt torch",
        '.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[docs,test]"',
    ]
    # Read the Docs serves $READTHEDOCS_OUTPUT/html.
    assert re.search(rf"-b html docs {re.escape(str(output))}/html$", printed, re.MULTILINE)


def test_read_the_docs_config_matches_its_schema():
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = run([checker, "--builtin-schema", "vendor.readthedocs", ROOT / ".readthedocs.yaml"])
    assert done.returncode == 0, done.stdout + done.stderr
