"""Every gallery script prints what its snapshot says, under every variant (``tools/cpu_variants.py``).

A reader's machine rounds differently from ours. So each script runs under ``default-1thread``,
under the best CPU kernel set with 2 threads and under three seeds of rounding noise (every
floating result moved by up to one ulp), and what it prints must agree with
``tests/snapshots/`` under the one comparer (``tools/output_compare.py``): the same text, device
names masked and timings skipped, except on the lines the snapshot marks tolerant (``~ ``),
whose numbers may move within one unit of their last printed digit or 1e-5 relative. One
process per variant runs every script in turn (``tools/run_examples.py``), offline, each from
an empty folder, with only the installed package importable; the variants run side by side,
one per core.

``make snapshots`` rewrites the snapshots from ``default-1thread``, the variant every machine
has, keeping the tolerant marks of lines whose words are unchanged; the diff then shows in
review what changed on the site.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from helpers import ROOT, offline_env
from cpu_variants import cpu_variants, run_under_each, variants
from output_compare import carry_marks, differences
from run_examples import SNAPSHOTS, example_id, gallery_scripts, run_in_one_process, snapshot_path

# Every script under every variant is the longest part of pytest: under pytest-xdist this file
# goes to a worker of its own first (see conftest.py).
pytestmark = pytest.mark.long_running

#: ``SGDLAB_EXAMPLES=plot_nesterov,stochastic/`` runs only the scripts whose id contains one of
#: the comma-separated parts (for a quick check while editing; ``make test`` runs them all).
ONLY = [part for part in os.environ.get("SGDLAB_EXAMPLES", "").split(",") if part]
EXAMPLES = [script for script in gallery_scripts()
            if not ONLY or any(part in example_id(script) for part in ONLY)]
UPDATE = os.environ.get("SGDLAB_UPDATE_SNAPSHOTS") == "1"
#: The variant the snapshots are recorded under: every CPU has it.
CANONICAL = "default-1thread"
VARIANTS = {CANONICAL: variants()[CANONICAL]} if UPDATE else variants()


def run_all(scripts: list[Path], env: dict[str, str], python: str) -> dict[str, dict]:
    """Run ``scripts`` in one process with ``env``, offline; what each printed, by example id."""
    return run_in_one_process(python, scripts, offline_env(**env), timeout=1800)


@pytest.fixture(scope="session")
def variant_runs(python) -> dict[str, dict[str, dict]]:
    """Every script under every variant: {variant: {example id: run}}, two variants at a time."""

    def run_variant(name: str):
        return run_all(EXAMPLES, VARIANTS[name], python)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(VARIANTS, pool.map(run_variant, VARIANTS)))


def test_examples_exist():
    assert EXAMPLES, "no gallery script found under examples/"


def test_the_variants_are_the_canonical_one_the_best_kernels_on_two_threads_and_three_noise_seeds():
    ladder = [f"{kernels}-{threads}thread" for kernels in ("default", "avx2", "avx512") for threads in (1, 2)]
    assert list(cpu_variants("AVX512")) == ladder
    assert list(cpu_variants("AVX2")) == ladder[:4]
    assert cpu_variants("AVX2")["avx2-1thread"] == {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"}
    assert list(cpu_variants("NEON")) == list(cpu_variants("DEFAULT")) == ladder[:2]  # another architecture
    noise = ["noise-1", "noise-2", "noise-3"]
    assert list(variants("AVX512")) == ["default-1thread", "avx512-2thread", *noise]
    assert list(variants("NEON")) == ["default-1thread", "default-2thread", *noise]
    assert variants()["noise-2"] == {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1",
                                     "SGDLAB_ROUNDING_NOISE": "2"}
    capability = torch.backends.cpu.get_cpu_capability().lower()
    assert f"{capability}-2thread" in variants() or capability not in ("avx2", "avx512")


def test_a_command_runs_under_the_variants_named_and_an_unknown_name_is_refused(capsys):
    assert run_under_each(["python3", "-c", "pass"], only=["default-1thread"]) == 0
    assert capsys.readouterr().out.splitlines() == ["==> default-1thread: python3 -c pass"]
    with pytest.raises(SystemExit, match="no variant avx9-1thread"):
        run_under_each(["python3", "-c", "pass"], only=["default-1thread", "avx9-1thread"])
    assert capsys.readouterr().out == ""  # nothing ran


def test_variants_run_two_at_a_time_each_on_its_own_mirror_of_the_docs(tmp_path, capsys):
    docs = tmp_path / "project" / "docs"
    (docs / "auto_examples").mkdir(parents=True)
    (docs / "index.md").write_text("x")
    (tmp_path / "project" / "examples").mkdir()
    check = ("import sys, pathlib; docs = pathlib.Path(sys.argv[1]); "
             "assert (docs / 'index.md').read_text() == 'x' and (docs.parent / 'examples').is_dir(); "
             "assert not (docs / 'auto_examples').exists() and docs.parent.name == sys.argv[2]; "
             "sys.exit(sys.argv[2] == 'noise-2')")
    status = run_under_each(["python3", "-c", check, "{docs}", "{variant}"], only=["default-1thread", "noise-2"],
                            parallel=2, docs=docs, mirrors=tmp_path / "mirrors")
    out = capsys.readouterr().out
    assert status == 1  # the failing variant's status, after both ran
    assert "==> failed under noise-2" in out and "failed under default-1thread" not in out
    assert out.index("==> default-1thread:") < out.index("==> noise-2:")  # reported in order


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("script", EXAMPLES, ids=example_id)
def test_example_matches_its_snapshot(script, variant, variant_runs):
    ran = variant_runs[variant][example_id(script)]
    assert ran["error"] is None, f"{example_id(script)} raised under {variant}:\n{ran['error'][-3000:]}"
    snapshot = snapshot_path(script)
    if UPDATE:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(carry_marks(snapshot.read_text() if snapshot.exists() else "", ran["stdout"]))
    assert snapshot.exists(), f"no snapshot for {example_id(script)}: run `make snapshots` and review it"
    problems = differences(snapshot.read_text(), ran["stdout"])
    assert not problems, (
        f"{example_id(script)} under {variant} prints something else than "
        f"{snapshot.relative_to(ROOT)}:\n  " + "\n  ".join(problems[:20])
        + "\nif the change is intended, run `make snapshots` and commit the diff"
    )


ARTICLE = [script for script in EXAMPLES if script.parent.name == "article"]


def test_two_runs_of_the_article_scripts_print_the_same_text(variant_runs, python):
    """Determinism: on one machine, a second run prints exactly the first run's text."""
    again = run_all(ARTICLE, VARIANTS[CANONICAL], python)
    first = variant_runs[CANONICAL]
    for name, ran in again.items():
        assert ran["stdout"] == first[name]["stdout"], f"{name} printed other text on a second run"


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS.rglob("*.txt")), ids=lambda p: p.name)
def test_every_snapshot_has_its_example(snapshot):
    script = ROOT / "examples" / snapshot.relative_to(SNAPSHOTS).with_suffix(".py")
    assert script.exists(), f"{snapshot} has no example: delete it"
