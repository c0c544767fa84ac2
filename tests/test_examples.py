"""Every gallery script runs on its own, offline, and prints exactly what its snapshot says.

Each script is run as a reader would run a download: ``python plot_x.py`` from a temporary
folder, with only the installed package importable and the network blocked. What it prints
(device banner and lines from devices other than the CPU set aside) must equal the snapshot
in ``tests/snapshots/``; ``make snapshots`` rewrites them after an intended change, and the
diff then shows in review what changed on the site.

Timings are the one exception. A script listed in ``TIMED_SCRIPTS`` may end a printed line
with ``timed:`` followed by measurements; on those lines the numbers after the mark are
replaced by ``#`` before the comparison (and in its snapshot), while the rest of the line,
the count and order of lines, and every other line must still match exactly.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, offline_env, run

EXAMPLES = sorted((ROOT / "examples").rglob("plot_*.py"))
SNAPSHOTS = ROOT / "tests" / "snapshots"
UPDATE = os.environ.get("SGDLAB_UPDATE_SNAPSHOTS") == "1"

#: Scripts whose printed timings vary from run to run (paths under examples/).
TIMED_SCRIPTS = {"performance/plot_step_speed.py"}
TIMED_MARK = "timed:"
NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def snapshot_path(script: Path) -> Path:
    return SNAPSHOTS / script.relative_to(ROOT / "examples").with_suffix(".txt")


def mask_timings(line: str) -> str:
    """Replace the numbers after the ``timed:`` mark with ``#``; the rest stays as printed."""
    head, mark, timings = line.partition(TIMED_MARK)
    return head + mark + NUMBER.sub("#", timings)


def comparable(stdout: str, timed: bool = False) -> str:
    """The CPU part of an example's output: the device banner and other devices' lines go."""
    kept = [
        mask_timings(line.rstrip()) if timed else line.rstrip()
        for line in stdout.splitlines()
        if not line.startswith("Running on:") and not line.startswith("[cuda")
    ]
    return "\n".join(kept).strip() + "\n"


def is_timed(script: Path) -> bool:
    return script.relative_to(ROOT / "examples").as_posix() in TIMED_SCRIPTS


def test_timings_are_masked_only_after_the_mark():
    line = "[cpu] 100 tensor(s), 1000 params, timed: torch 0.024 ms, sgdlab 1e-05 ms"
    assert mask_timings(line) == "[cpu] 100 tensor(s), 1000 params, timed: torch # ms, sgdlab # ms"
    assert comparable("[cpu] x = 1.5, timed: 2.5 ms\n") == "[cpu] x = 1.5, timed: 2.5 ms\n"


def test_timed_scripts_exist_and_mark_their_lines():
    for name in TIMED_SCRIPTS:
        assert TIMED_MARK in (ROOT / "examples" / name).read_text(), name


def test_examples_exist():
    assert EXAMPLES, "no gallery script found under examples/"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_runs_alone_and_matches_its_snapshot(script, tmp_path, python):
    copy = tmp_path / script.name
    shutil.copy(script, copy)
    result = run([python, copy], cwd=tmp_path, env=offline_env())
    assert result.returncode == 0, f"{script.name} failed:\n{result.stderr[-3000:]}"
    printed = comparable(result.stdout, timed=is_timed(script))
    snapshot = snapshot_path(script)
    if UPDATE:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(printed)
    assert snapshot.exists(), f"no snapshot for {script.name}: run `make snapshots` and review it"
    assert printed == snapshot.read_text(), (
        f"{script.name} now prints something else than {snapshot.relative_to(ROOT)}; "
        "if the change is intended, run `make snapshots` and commit the diff"
    )


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS.rglob("*.txt")), ids=lambda p: p.name)
def test_every_snapshot_has_its_example(snapshot):
    script = ROOT / "examples" / snapshot.relative_to(SNAPSHOTS).with_suffix(".py")
    assert script.exists(), f"{snapshot} has no example: delete it"
