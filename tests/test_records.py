"""docs/_ext/sgdlab_records.py: the parity record rendered for the pages, and the benchmark's plot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("sphinx", reason="the records extension is a Sphinx extension")

from conftest import ROOT, run  # noqa: E402

sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import sgdlab_records as records  # noqa: E402

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def parity_record(commit: str, passed: bool = True) -> dict:
    value = {"line": "x = #", "index": 0, "cpu": "-1332.7185", "cuda": "-1332.7186",
             "difference": 1e-4, "agree": True, "timing": False}
    timing = {**value, "line": "timed: # ms", "agree": None, "timing": True}
    return {
        "provenance": {"device": "Fixture GPU", "cuda": "12.8", "torch": "2.13.0", "commit": commit,
                       "dirty": False, "date": "2026-11-28T00:00:00+00:00"},
        "tolerance": {"rule": "one unit in the last digit"},
        "tests": {"summary": "80 passed"},
        "examples": [{"example": "article/plot_worked_example.py", "values": [value, timing], "problems": []}],
        "passed": passed,
    }


GIT_IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin:/usr/local/bin"}


def commit_all(repo, message: str) -> str:
    """Commit everything in ``repo``; the new commit's hash."""
    for args in (["add", "-A"], ["commit", "-qm", message]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=GIT_IDENTITY)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    return head.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository with one example committed; yields (path, that commit)."""
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "plot_a.py").write_text("print(1)\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path, commit_all(tmp_path, "first")


@needs_git
def test_record_at_the_latest_examples_commit_is_fresh(repo):
    path, commit = repo
    state, why = records.freshness(parity_record(commit), path)
    assert state == "fresh"
    text = records.render_parity(parity_record(commit), (state, why))
    assert ".. note::" in text and "This record is current" in text
    assert "Fixture GPU" in text and "-1332.7186" in text
    assert "1 timing value(s) were recorded but not compared" in text


@needs_git
def test_a_commit_that_does_not_touch_examples_keeps_it_fresh(repo):
    path, commit = repo
    (path / "README").write_text("docs only\n")
    commit_all(path, "docs")
    assert records.freshness(parity_record(commit), path)[0] == "fresh"


@needs_git
def test_a_later_change_to_the_examples_makes_it_stale(repo):
    path, commit = repo
    (path / "examples" / "plot_a.py").write_text("print(2)\n")
    later = commit_all(path, "change an example")
    state, why = records.freshness(parity_record(commit), path)
    assert state == "stale" and later[:12] in why
    text = records.render_parity(parity_record(commit), (state, why))
    assert text.startswith(".. warning::") and "This record is stale" in text


def test_without_a_record_the_page_says_no_cuda_run_is_recorded(tmp_path):
    assert records.load_record(tmp_path / "parity.json") is None
    text = records.render_parity(None, ("none", ""))
    assert "No CUDA run is recorded yet" in text and "list-table" not in text


def test_without_git_freshness_is_unknown_not_an_error(tmp_path):
    made = parity_record("0123456789abcdef")
    assert records.freshness(made, tmp_path)[0] == "unknown"
    assert records.freshness(parity_record("unknown"), tmp_path)[0] == "unknown"


def test_a_broken_record_is_an_error_naming_the_file(tmp_path):
    broken = tmp_path / "parity.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="parity.json is not valid JSON"):
        records.load_record(broken)


def test_text_is_escaped_for_rest():
    assert records.text("a*b_c`d|e") == r"a\*b\_c\`d\|e"
    assert records.text(records.Markup("``make``")) == "``make``"


PAGE = """\
# {title}

```{{{directive}}} {record}
{options}```
"""


def test_the_directives_build_without_warnings(tmp_path, python):
    """A small MyST project renders a fixture record and a missing one, under -W."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "parity.json").write_text(json.dumps(parity_record("unknown")))
    (docs / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})\n"
        f"extensions = ['myst_parser', 'sgdlab_records']\nsgdlab_records_root = {str(tmp_path)!r}\n"
    )
    (docs / "index.md").write_text("# Fixture\n\n```{toctree}\nrecorded\nmissing\n```\n")
    (docs / "recorded.md").write_text(PAGE.format(title="Recorded", directive="parity-table", record="parity.json", options=""))
    (docs / "missing.md").write_text(PAGE.format(title="Missing", directive="parity-table", record="none.json", options=""))
    result = run([python, "-m", "sphinx", "-W", "-q", "-b", "html", docs, tmp_path / "html"])
    assert result.returncode == 0, result.stderr[-3000:]
    recorded = (tmp_path / "html" / "recorded.html").read_text()
    assert "<table" in recorded and "Fixture GPU" in recorded and "freshness is unknown" in recorded
    missing = (tmp_path / "html" / "missing.html").read_text()
    assert "No CUDA run is recorded yet" in missing and "<table" not in missing

    # Nothing changed: nothing is re-read. A record appears: its page is re-read.
    build = [python, "-m", "sphinx", "-W", "-b", "html", docs, tmp_path / "html"]
    again = run(build)
    assert "0 added, 0 changed, 0 removed" in again.stdout and "reading sources... [" not in again.stdout
    (tmp_path / "none.json").write_text(json.dumps(parity_record("unknown")))
    assert run(build).returncode == 0
    assert "Fixture GPU" in (tmp_path / "html" / "missing.html").read_text()
