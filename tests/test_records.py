"""docs/_ext/sgdlab_records.py: each gallery page's parity line, from the gpu-check record."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("sphinx", reason="the records extension is a Sphinx extension")

from helpers import ROOT, run  # noqa: E402

import sgdlab_records as records  # noqa: E402

SOURCE = b"print(1)\n"


def parity_record(source: bytes = SOURCE, problems: tuple[str, ...] = ()) -> dict:
    """A record as ``make gpu-check`` writes it, for one script whose source is ``source``."""
    import hashlib

    return {
        "schema": 2,
        "provenance": {"device": "Fixture GPU", "cuda": "12.8", "torch": "2.13.0", "commit": "0" * 40,
                       "date": "2026-11-28T00:00:00+00:00"},
        "tests": [{"run": "cpu", "returncode": 0, "summary": "80 passed"}],
        "examples": [{"example": "section/plot_a.py", "source_sha256": hashlib.sha256(source).hexdigest(),
                      "lines": 2, "numbers": 3, "largest_difference": 1e-4, "problems": list(problems)}],
        "passed": not problems,
    }


def test_a_page_of_the_recorded_source_shows_the_gpu_and_the_largest_difference():
    line = records.parity_line(parity_record(), "section/plot_a.py", SOURCE)
    assert line == ("CPU and CUDA (Fixture GPU, 2026-11-28): the outputs agree "
                    "(largest difference 0.0001 over 3 numbers).")


def test_a_changed_script_is_not_covered_by_an_older_record():
    line = records.parity_line(parity_record(), "section/plot_a.py", b"print(2)\n")
    assert "earlier version of this script" in line


def test_a_script_that_differed_says_so():
    line = records.parity_line(parity_record(problems=("line 1: 1 became 2",)), "section/plot_a.py", SOURCE)
    assert "DIFFER" in line


def test_without_a_record_or_an_entry_no_cuda_run_is_recorded(tmp_path):
    assert records.load_record(tmp_path / "parity.json") is None
    assert "no CUDA run is recorded yet" in records.parity_line(None, "section/plot_a.py", SOURCE)
    assert "no CUDA run is recorded yet" in records.parity_line(parity_record(), "section/plot_b.py", SOURCE)


def test_the_devices_page_fragment_is_the_one_the_record_gives():
    """docs/_data/parity.md is what gpu-check writes from parity.json (or from no record)."""
    import gpu_check

    record = records.load_record(ROOT / records.PARITY_RECORD)
    assert (ROOT / "docs" / "_data" / "parity.md").read_text() == gpu_check.markdown(record)


def test_a_broken_record_is_an_error_naming_the_file(tmp_path):
    broken = tmp_path / "parity.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="parity.json is not valid JSON"):
        records.load_record(broken)


def test_text_is_escaped_for_rest():
    assert records.text("a*b_c`d|e") == r"a\*b\_c\`d\|e"


def write_record(root, record: dict | None) -> None:
    """Write the parity record (when there is one) and its fragment, as ``make gpu-check`` does."""
    import gpu_check

    if record is not None:
        (root / records.PARITY_RECORD).write_text(json.dumps(record))
    (root / records.PARITY_FRAGMENT).write_text(gpu_check.markdown(record))


def test_the_directives_build_without_warnings(tmp_path, python):
    """A small MyST project renders a gallery page's parity line, under -W."""
    docs = tmp_path / "docs"
    (docs / "auto_examples" / "section").mkdir(parents=True)
    (tmp_path / "examples" / "section").mkdir(parents=True)
    (tmp_path / "examples" / "section" / "plot_a.py").write_bytes(SOURCE)
    (docs / "auto_examples" / "section" / "plot_a.rst").write_text("Example A\n=========\n\nText.\n")
    (tmp_path / "docs" / "_data").mkdir()
    write_record(tmp_path, None)
    (docs / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})\n"
        f"extensions = ['myst_parser', 'sgdlab_records']\nsgdlab_records_root = {str(tmp_path)!r}\n"
        "exclude_patterns = ['_data']\n"
    )
    (docs / "index.md").write_text("# Fixture\n\n```{toctree}\nauto_examples/section/plot_a\n```\n")
    result = run([python, "-m", "sphinx", "-W", "-q", "-b", "html", docs, tmp_path / "html"])
    assert result.returncode == 0, result.stderr[-3000:]
    example = tmp_path / "html" / "auto_examples" / "section" / "plot_a.html"
    assert "no CUDA run is recorded yet" in example.read_text()

    # Nothing changed: nothing is re-read. A record appears: the gallery page is re-read.
    build = [python, "-m", "sphinx", "-W", "-b", "html", docs, tmp_path / "html"]
    again = run(build)
    assert "0 added, 0 changed, 0 removed" in again.stdout and "reading sources... [" not in again.stdout
    write_record(tmp_path, parity_record())
    assert run(build).returncode == 0
    assert "Fixture GPU" in example.read_text()
