"""What a reader downloads from the gallery works: every example page offers its script and its
notebook, the gallery offers them all as zips, each downloaded script runs on its own and
prints what the site shows, and each notebook is valid.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin

import nbformat
import pytest
from bs4 import BeautifulSoup

from conftest import offline_env, run
from sitekit import EXAMPLES, each, example_id, example_page, site  # noqa: F401 (fixture)
from test_examples import comparable, is_timed, snapshot_path


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


#: Scripts run side by side, one per core (they are single-process and mostly wait on imports).
WORKERS = max(1, min(4, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def downloaded_runs(site, python, tmp_path_factory) -> dict[Path, object]:
    """Run each example's downloaded .py once, in its own empty folder, offline, with only the
    installed sgdlab importable; map each example to its finished process (or the error)."""

    def run_download(script: Path):
        try:
            download = example_downloads(site, script)[".py"]
            folder = tmp_path_factory.mktemp(script.stem)
            shutil.copy(download, folder / download.name)
            return run([python, folder / download.name], cwd=folder, env=offline_env())
        except Exception as error:  # reported by the script's own test
            return error

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(EXAMPLES, pool.map(run_download, EXAMPLES)))


@pytest.mark.parametrize("script", each(EXAMPLES, ids=example_id))
def test_the_downloaded_script_runs_alone_and_prints_what_the_site_shows(script, downloaded_runs):
    result = downloaded_runs[script]
    if isinstance(result, Exception):
        raise result
    assert result.returncode == 0, f"the download of {example_id(script)} failed:\n{result.stderr[-3000:]}"
    assert comparable(result.stdout, timed=is_timed(script)) == snapshot_path(script).read_text()


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
