"""What a reader downloads from the gallery works: every example page offers its script and its
notebook, the gallery offers them all as zips, and each downloaded script and notebook runs
outside the repository, in a fresh virtual environment holding only what the script's
docstring names, and prints what the site shows: the snapshot, under the one comparer, which
is also what each example's page shows.
Notebooks are valid and their text cells are Markdown, not reST.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin

import nbformat
import pytest
from bs4 import BeautifulSoup

from helpers import ROOT
from output_compare import differences
from sitekit import EXAMPLES, each, example_id, example_page
from test_examples import snapshot_path


def download_links(site: Path, page: str) -> dict[str, Path]:
    """The files a page links to in ``_downloads``, by suffix ('.py', '.ipynb', '.zip')."""
    soup = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser")
    found: dict[str, Path] = {}
    for link in soup.select("a[href*='_downloads/']"):
        path = unquote(urljoin("/" + page, link["href"])).lstrip("/")
        suffix = PurePosixPath(path).suffix
        found.setdefault(suffix, site / path)
    return found


def example_downloads(site: Path, script: Path) -> dict[str, Path]:
    page = example_page(script)
    assert (site / page).is_file(), f"no gallery page {page} for {example_id(script)}"
    return download_links(site, page)


@pytest.mark.parametrize("script", each(EXAMPLES, ids=example_id))
def test_every_example_page_offers_its_script_and_notebook(script, site):
    links = example_downloads(site, script)
    for suffix in (".py", ".ipynb"):
        assert suffix in links, f"{example_page(script)} offers no {suffix} download"
        assert links[suffix].is_file(), f"{links[suffix]} is linked but missing"
        assert links[suffix].stem == script.stem


def gallery_zips(site: Path) -> dict[str, Path]:
    """The gallery's "download all" zips, by kind ('python', 'jupyter')."""
    page = "auto_examples/index.html"
    soup = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser")
    zips = [site / unquote(urljoin("/" + page, a["href"])).lstrip("/") for a in soup.select("a[href$='.zip']")]
    return {"python" if "python" in path.name else "jupyter": path for path in zips}


def test_the_gallery_offers_every_script_and_notebook_as_zips(site):
    zips = gallery_zips(site)
    assert set(zips) == {"python", "jupyter"}, zips
    expected = {script.stem for script in EXAMPLES}
    for kind, suffix in (("python", ".py"), ("jupyter", ".ipynb")):
        with zipfile.ZipFile(zips[kind]) as archive:
            stems = {PurePosixPath(name).stem for name in archive.namelist() if name.endswith(suffix)}
        assert expected <= stems, f"{zips[kind].name} lacks {sorted(expected - stems)}"


#: The line of a script's docstring that says what it needs: ``Requires: ``pip install torch matplotlib````.
REQUIRES = re.compile(r"^Requires: ``pip install ([^`]+)``\s*$", re.MULTILINE)
#: What a notebook needs besides the script's own requirements.
NOTEBOOK_RUNNER = ("nbclient", "ipykernel")


def requirements(script: Path) -> tuple[str, ...]:
    """The packages a script's docstring names, sorted: ``('matplotlib', 'torch')``."""
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    found = REQUIRES.findall(docstring)
    assert len(found) == 1, f"{example_id(script)}: its docstring must end with one 'Requires: ``pip install ...``' line"
    return tuple(sorted(found[0].split()))


def test_every_script_names_what_it_needs_and_most_need_no_sgdlab():
    needs = {example_id(script): requirements(script) for script in EXAMPLES}
    plain = [name for name, packages in needs.items() if "sgdlab" not in packages]
    assert len(plain) >= 17, f"only {len(plain)} scripts run without sgdlab"
    for script in EXAMPLES:
        imports_sgdlab = re.search(r"^(?:import|from) sgdlab\b", script.read_text(), re.MULTILINE)
        assert bool(imports_sgdlab) == ("sgdlab" in needs[example_id(script)]), (
            f"{example_id(script)} imports sgdlab but does not say so, or says so needlessly")


#: Where the readers' environments are kept from one run to the next (``make site-test`` names a
#: git-ignored folder); without it, a temporary folder: every environment made afresh.
READER_ENVIRONMENTS = "SGDLAB_READER_VENVS"
#: What ``python -m venv`` puts in every environment, whatever a script needs.
VENV_BASE = {"pip", "setuptools"}


def normalise(name: str) -> str:
    """A distribution name as PyPI compares them: 'Scikit_Learn' -> 'scikit-learn'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_requires(wheel: Path) -> list[str]:
    """The requirements sgdlab's wheel declares (its extras left out)."""
    with zipfile.ZipFile(wheel) as archive:
        meta = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        lines = archive.read(meta).decode().splitlines()
    return sorted(line.split(":", 1)[1].strip() for line in lines
                  if line.startswith("Requires-Dist:") and "extra ==" not in line)


def environment_folder(root: Path, packages: tuple[str, ...], wheel: Path) -> Path:
    """The folder of the environment for ``packages``, named by a digest of everything that decides
    what is installed in it: the packages, sgdlab's own requirements, constraints.txt, this Python,
    the index torch comes from (TORCH_INDEX)."""
    decides = {"packages": packages, "sgdlab requires": wheel_requires(wheel) if "sgdlab" in packages else [],
               "constraints": (ROOT / "constraints.txt").read_text(), "python": sys.version}
    if os.environ.get("TORCH_INDEX"):  # absent otherwise, so the folders kept before it stay valid
        decides["torch from"] = os.environ["TORCH_INDEX"]
    digest = hashlib.sha256(json.dumps(decides, sort_keys=True).encode()).hexdigest()[:16]
    return root / f"{'+'.join(packages)}-{digest}"


def pip_install(python: Path, *names) -> None:
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "-c", ROOT / "constraints.txt", *names], capture_output=True, text=True)
    assert done.returncode == 0, f"pip install {' '.join(map(str, names))} failed:\n{done.stderr[-3000:]}"


def site_packages(python: Path) -> Path:
    return next(python.parent.parent.glob("lib/python*/site-packages"))


def made_once(folder: Path, venv_options: list[str], install) -> bool:
    """Make the virtual environment ``folder`` and ``install()`` into it, unless an earlier run
    finished it (its ``complete`` mark); one left half-made is made again. True if made now."""
    if (folder / "complete").is_file():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", *venv_options, folder], check=True)
    install()
    (folder / "complete").touch()
    return True


def reader_environment(root: Path, packages: tuple[str, ...], wheel: Path) -> Path:
    """A virtual environment holding ``packages`` at the pinned versions, and this checkout's sgdlab
    where they name it; made once per set of packages and kept in ``root``. Returns its Python.

    A kept environment gets the freshly built sgdlab wheel each time (and nothing else); one left
    half-made (no ``complete`` mark) is made again.
    """
    folder = environment_folder(root, packages, wheel)
    python = folder / "bin" / "python"
    named = [str(wheel) if name == "sgdlab" else name for name in packages]

    def install() -> None:
        # As the Makefile does: with TORCH_INDEX set (the hosted builds), torch alone from that index.
        if os.environ.get("TORCH_INDEX"):
            pip_install(python, "--no-deps", "--index-url", os.environ["TORCH_INDEX"], "torch")
        pip_install(python, *named)

    made_now = made_once(folder, [], install)
    if not made_now and "sgdlab" in packages:
        pip_install(python, "--no-deps", "--force-reinstall", wheel)
    return python


def notebook_environment(root: Path, packages: tuple[str, ...], wheel: Path, script_python: Path) -> Path:
    """The script's environment plus a notebook runner: a virtual environment holding only
    ``NOTEBOOK_RUNNER`` whose path file adds the script environment's packages (so torch is
    installed once, and the notebook sees this run's sgdlab)."""
    folder = environment_folder(root, tuple(sorted(packages + NOTEBOOK_RUNNER)), wheel)
    python = folder / "bin" / "python"

    def install() -> None:
        (site_packages(python) / "script_environment.pth").write_text(f"{site_packages(script_python)}\n")
        pip_install(python, *NOTEBOOK_RUNNER)

    # No pip or setuptools of its own: the script environment's (pinned) ones show through.
    made_once(folder, ["--without-pip"], install)
    return python


def clean_env() -> dict[str, str]:
    """The environment of a reader's shell: no PYTHONPATH, no virtual environment of ours."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """sgdlab's wheel, built from a copy of this checkout (offline: no isolated build environment)."""
    out, source = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("checkout") / "sgdlab"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "auto_examples"))
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, source],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return next(out.glob("sgdlab-*.whl"))


@pytest.fixture(scope="module")
def environments_folder(site, tmp_path_factory) -> Path:
    """Where the readers' environments are kept (``$SGDLAB_READER_VENVS``, else a fresh temporary folder)."""
    kept = os.environ.get(READER_ENVIRONMENTS)
    folder = Path(kept) if kept else tmp_path_factory.mktemp("reader-venvs")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def reader_pythons(environments_folder, wheel) -> dict[tuple[str, ...], Path]:
    """The Python of each environment the downloads need, by what it holds: for each script's
    requirements, one with only those (for the .py) and one with the notebook runner added (for
    the .ipynb). Environments kept from earlier runs for other requirements are removed."""
    needed = sorted({requirements(script) for script in EXAMPLES})
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores; pip mostly unpacks and compiles
        pythons = dict(zip(needed, pool.map(lambda packages: reader_environment(environments_folder, packages, wheel), needed)))
        for packages, python in list(pythons.items()):
            notebook = tuple(sorted(packages + NOTEBOOK_RUNNER))
            pythons[notebook] = notebook_environment(environments_folder, packages, wheel, python)
    kept = {python.parent.parent for python in pythons.values()}
    for stale in set(environments_folder.iterdir()) - kept:
        shutil.rmtree(stale, ignore_errors=True)
    return pythons


def test_each_reader_environment_holds_only_what_its_scripts_name(reader_pythons, wheel):
    """What a kept environment holds is what its packages pull in, at the pinned versions, with this run's sgdlab."""
    pinned = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    pinned = {normalise(name): version for name, version in pinned.items()}
    for packages, python in reader_pythons.items():
        listed = subprocess.run([python, "-m", "pip", "list", "--not-required", "--format=json"],
                                capture_output=True, text=True, check=True)
        top_level = {normalise(item["name"]) for item in json.loads(listed.stdout)} - VENV_BASE
        assert top_level <= set(packages), f"the environment for {packages} also holds {sorted(top_level - set(packages))}"
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True)
        installed = set()
        for line in frozen.stdout.splitlines():
            name = normalise(re.split(r"==| @ ", line)[0])
            installed.add(name)
            if name in VENV_BASE:  # the venv module's own, as in any reader's environment
                continue
            if name == "sgdlab":
                assert line.startswith(f"sgdlab @ {wheel.as_uri()}#"), f"{packages}: {line} is not this run's wheel"
            elif name in pinned:  # `==` admits a local label: torch 2.13.0+cpu
                version = line.split("==")[1]
                assert version.split("+")[0] == pinned[name], f"{packages}: {line}, but constraints.txt pins {pinned[name]}"
            else:
                pytest.fail(f"{packages}: {line} is not pinned in constraints.txt")
        assert set(packages) <= installed, f"{packages}: {sorted(set(packages) - installed)} missing"
        checked = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


@pytest.fixture(scope="module")
def downloaded_runs(site, reader_pythons, tmp_path_factory) -> dict[Path, dict]:
    """Each example's downloaded .py and .ipynb, run outside the repository in a virtual
    environment holding only what the script's docstring names (plus, for the notebooks, a
    kernel): {example: {"py": run, "ipynb": run}}, each run {"stdout": ..., "error": ...}.

    The scripts of one environment run in one process, each from its own empty folder
    (``tools/run_examples.py``), and its notebooks in one Jupyter kernel, each from its own
    folder (``run_notebooks``): both after the reset sphinx-gallery makes between examples
    (figures closed, matplotlib's settings restored, every generator seeded). Starting a
    kernel and importing torch in it cost more than most notebooks take to run. Two of these
    at a time, one per core.
    """
    groups: dict[tuple[str, ...], list[Path]] = {}
    for script in EXAMPLES:
        groups.setdefault(requirements(script), []).append(script)
    runs = []  # (what to run, the scripts it runs, which download), the largest groups first
    for packages, scripts in sorted(groups.items(), key=lambda group: -len(group[1])):
        work = tmp_path_factory.mktemp("reader")
        copies = []
        for index, script in enumerate(scripts):
            files = example_downloads(site, script)
            folder = work / f"download{index}"
            folder.mkdir()
            copies.append(Path(shutil.copy(files[".py"], folder)))
            shutil.copy(files[".ipynb"], folder)
        shutil.copy(ROOT / "tools" / "run_examples.py", work)
        notebook_python = reader_pythons[tuple(sorted(packages + NOTEBOOK_RUNNER))]
        notebooks = [copy.with_suffix(".ipynb") for copy in copies]
        runs.append((functools.partial(run_scripts, reader_pythons[packages], work, copies), scripts, "py"))
        runs.append((functools.partial(run_notebooks, notebook_python, work, notebooks), scripts, "ipynb"))
    results: dict[Path, dict] = {script: {} for script in EXAMPLES}
    with ThreadPoolExecutor(max_workers=2) as pool:  # one per core
        for (_, scripts, kind), printed in zip(runs, pool.map(lambda job: job[0](), runs)):
            for script, run in zip(scripts, printed):
                results[script][kind] = run
    return results


def run_scripts(python: Path, work: Path, copies: list[Path]) -> list[dict]:
    """Run the downloaded scripts in ``work`` with ``python``, each from its own folder; what each printed."""
    out = work / "printed.json"
    ran = subprocess.run([python, work / "run_examples.py", out, *copies], cwd=work, env=clean_env(),
                         capture_output=True, text=True, timeout=1800)
    assert ran.returncode == 0, ran.stderr[-3000:]
    printed = json.loads(out.read_text())
    return [printed[str(copy)] for copy in copies]


#: ``python -c NOTEBOOK_RUNNER_CODE OUT.json NOTEBOOK ...``, from a folder holding
#: tools/run_examples.py: run each notebook top to bottom in one kernel, after a first cell that
#: clears the namespace, resets with run_examples.reset_state and makes the notebook's folder
#: the working one; write {notebook: {"stdout", "error"}}.
NOTEBOOK_RUNNER_CODE = r'''
import json, sys
from pathlib import Path
import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

RESET = """%reset -f
def _sgdlab_reset(folder, runner_folder):
    import os, sys
    sys.path.insert(0, runner_folder)
    try:
        from run_examples import reset_state
    finally:
        sys.path.remove(runner_folder)
    reset_state()
    os.chdir(folder)
_sgdlab_reset(FOLDER, RUNNER_FOLDER)
del _sgdlab_reset
"""


def printed(notebook):
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


out, *paths = sys.argv[1:]
results, manager = {}, None
for path in paths:
    notebook = nbformat.read(path, as_version=4)
    reset = RESET.replace("RUNNER_FOLDER", repr(str(Path.cwd()))).replace("FOLDER", repr(str(Path(path).parent)))
    notebook.cells.insert(0, nbformat.v4.new_code_cell(reset))
    # One kernel for all, kept between notebooks (a client given its manager leaves it running).
    manager = manager or NotebookClient(notebook, kernel_name="python3").create_kernel_manager()
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", km=manager)
    error = None
    try:
        client.execute()
    except CellExecutionError as failure:
        error = str(failure)
    except Exception as failure:  # the kernel died: the next notebook gets a new one
        error, manager = f"{type(failure).__name__}: {failure}", None
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    results[path] = {"stdout": printed(notebook), "error": error}
if manager is not None and manager.has_kernel:
    run_sync(manager.shutdown_kernel)(now=True)
Path(out).write_text(json.dumps(results))
'''


def run_notebooks(python: Path, work: Path, notebooks: list[Path]) -> list[dict]:
    """Execute the downloaded notebooks in one kernel, each in its folder; what each printed, and any error."""
    out = work / "notebooks.json"
    ran = subprocess.run([python, "-c", NOTEBOOK_RUNNER_CODE, out, *notebooks], cwd=work,
                         env=clean_env(), capture_output=True, text=True, timeout=1800)
    assert ran.returncode == 0, ran.stderr[-3000:]
    printed = json.loads(out.read_text())
    return [printed[str(notebook)] for notebook in notebooks]


def test_the_notebook_runner_reports_a_failure_and_starts_the_next_notebook_afresh(reader_pythons, tmp_path):
    """One kernel runs many notebooks: a failure is that notebook's, and the next starts clean."""
    python = reader_pythons[tuple(sorted(("matplotlib", "torch") + NOTEBOOK_RUNNER))]
    cells = {"broken": ["left_behind = 1", "raise ValueError('broken on purpose')"],
             "next": ["print('left_behind' in dir())", "import os\nprint(os.path.basename(os.getcwd()))"]}
    notebooks = []
    for name, sources in cells.items():
        (tmp_path / name).mkdir()
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
        nbformat.write(notebook, tmp_path / name / f"{name}.ipynb")
        notebooks.append(tmp_path / name / f"{name}.ipynb")
    shutil.copy(ROOT / "tools" / "run_examples.py", tmp_path)  # the reset the runner uses
    broken, following = run_notebooks(python, tmp_path, notebooks)
    assert "broken on purpose" in broken["error"]
    assert following == {"stdout": "False\nnext\n", "error": None}


@pytest.mark.parametrize("kind", ["py", "ipynb"])
@pytest.mark.parametrize("script", each(EXAMPLES, ids=example_id))
def test_the_download_runs_in_a_clean_environment_and_prints_what_the_site_shows(script, kind, downloaded_runs):
    ran = downloaded_runs[script][kind]
    assert ran["error"] is None, f"the downloaded .{kind} of {example_id(script)} failed:\n{ran['error']}"
    problems = differences(snapshot_path(script).read_text(), ran["stdout"])
    assert not problems, f"the downloaded .{kind} of {example_id(script)}:\n  " + "\n  ".join(problems[:20])


def shown_output(site: Path, script: Path) -> str:
    """What an example's page shows the script printed: its output blocks, in order."""
    soup = BeautifulSoup((site / example_page(script)).read_text(encoding="utf-8"), "html.parser")
    return "\n".join(pre.get_text() for pre in soup.select("div.sphx-glr-script-out pre"))


@pytest.mark.parametrize("script", each(EXAMPLES, ids=example_id))
def test_each_example_page_shows_what_its_snapshot_says(script, site):
    """The page's printed output is the snapshot's (so a download that prints the snapshot prints what the page shows)."""
    problems = differences(snapshot_path(script).read_text(), shown_output(site, script))
    assert not problems, f"the page of {example_id(script)} shows:\n  " + "\n  ".join(problems[:20])


#: reST that a notebook would show as raw text.
RAW_REST = re.compile(r":(?:func|class|meth|doc|ref|math|mod|attr|data|obj):`|``|\{\.interpreted-text")


def every_notebook(site: Path):
    """Every notebook offered: in _downloads and inside the gallery's jupyter zip."""
    for path in sorted((site / "_downloads").rglob("*.ipynb")):
        yield path.relative_to(site).as_posix(), path.read_text(encoding="utf-8")
    with zipfile.ZipFile(gallery_zips(site)["jupyter"]) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith(".ipynb"):
                yield f"zip:{name}", archive.read(name).decode("utf-8")


def test_every_notebook_is_valid(site):
    checked = 0
    for name, text in every_notebook(site):
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
        assert any(cell.cell_type == "code" for cell in notebook.cells), f"{name} has no code"
        checked += 1
    assert checked >= 2 * len(EXAMPLES)


def test_notebook_text_cells_are_markdown_not_rest(site):
    for name, text in every_notebook(site):
        notebook = nbformat.reads(text, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                found = RAW_REST.search(cell.source)
                assert not found, f"{name}: a text cell shows reST as text: {cell.source[max(0, found.start() - 40):found.end() + 40]!r}"
