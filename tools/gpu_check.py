"""Run sgdlab's tests and every gallery script with CUDA hidden and with CUDA, and compare them.

Usage: ``make gpu-check`` (``.venv/bin/python`` when there is one; torch, numpy, matplotlib,
pytest and hypothesis suffice). The tests run twice, with ``CUDA_VISIBLE_DEVICES=""`` and as the
machine is, where every test that takes the ``device`` fixture also runs on the GPU. So do the
gallery scripts, which pick their device themselves, all in one process each time
(``tools/run_examples.py``); the one comparer (``tools/output_compare.py``) compares the two
outputs. Without CUDA it says so, lists what it would run and exits with status 1. With CUDA it
writes ``docs/_data/parity.json`` (per script: lines and numbers compared, the largest
difference, problems) and ``parity.md``, which the devices page includes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from output_compare import NUMBER, carry_marks, differences, largest_difference, lines
from repo_git import ROOT, git
from run_examples import example_id, gallery_scripts, run_in_one_process, snapshot_path

DATA = ROOT / "docs" / "_data"
#: The tests, less those that build the site (venv + Sphinx) or the package and use no device.
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore=tests/test_build.py", "--ignore=tests/site"]
#: The environment of each run: CUDA hidden, and CUDA as the machine has it; no display.
RUNS = {"cpu": {**os.environ, "CUDA_VISIBLE_DEVICES": "", "MPLBACKEND": "Agg"},
        "cuda": {**os.environ, "MPLBACKEND": "Agg"}}


def compare_runs(script: Path, cpu: dict, cuda: dict, snapshot: str | None = None) -> dict:
    """The record's entry for one script: what was compared, the largest difference, problems.

    The lines its snapshot (``snapshot``, else the file in ``tests/snapshots``) marks tolerant
    are compared within the comparer's allowance, the others exactly.
    """
    if snapshot is None:
        path = snapshot_path(script)
        snapshot = path.read_text() if path.exists() else ""
    expected = carry_marks(snapshot, cpu["stdout"])
    problems = [f"{run} run raised:\n{ran['error'][-1500:]}" for run, ran in (("cpu", cpu), ("cuda", cuda))
                if ran["error"]] or differences(expected, cuda["stdout"])
    compared = lines(cpu["stdout"])
    return {
        "example": example_id(script),
        "source_sha256": hashlib.sha256(script.read_bytes()).hexdigest(),
        "lines": len(compared),
        "numbers": sum(len(NUMBER.findall(line)) for line in compared),
        "largest_difference": largest_difference(cpu["stdout"], cuda["stdout"]),
        "problems": problems,
    }


def run_tests(run: str) -> dict:
    """Run the tests with CUDA hidden or visible; the record's entry for them."""
    result = subprocess.run([sys.executable, *PYTEST], cwd=ROOT, env=RUNS[run], capture_output=True, text=True)
    tail = [line for line in result.stdout.splitlines() if line.strip()]
    return {"run": run, "returncode": result.returncode,
            "summary": tail[-1].strip("= ") if tail else result.stderr[-500:],
            "output_tail": result.stdout[-3000:] if result.returncode else ""}


def provenance() -> dict:
    """Where and when the record was made: GPU, versions, commit, date."""
    return {"device": torch.cuda.get_device_name(), "cuda": torch.version.cuda, "torch": torch.__version__,
            "python": platform.python_version(), "machine": platform.platform(),
            "commit": git("rev-parse", "HEAD") or "unknown",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def build_record(tests: list[dict], examples: list[dict], made: dict) -> dict:
    """The parity record: passed only when both test runs passed and every script agreed."""
    passed = all(t["returncode"] == 0 for t in tests) and all(not e["problems"] for e in examples)
    return {"schema": 2, "provenance": made, "tests": tests, "examples": examples, "passed": passed}


def markdown(record: dict | None) -> str:
    """The fragment the devices page includes: provenance, then one row per script."""
    if record is None:
        return ("No CUDA run is recorded yet: run `make gpu-check` on a machine with a CUDA GPU "
                "and commit `docs/_data/parity.json` and `docs/_data/parity.md`.\n")
    made = record["provenance"]
    tests = "; ".join(f"{t['run']}: {t['summary']}" for t in record["tests"])
    return "\n".join([
        f"Recorded on {made['device']} (CUDA {made['cuda']}, PyTorch {made['torch']}) on "
        f"{made['date'][:10]}, at commit `{made['commit'][:12]}`. Tests: {tests}. "
        f"Result: {'every script agreed' if record['passed'] else 'some scripts differ'}.",
        "",
        "| Script | Lines | Numbers | Largest difference | CPU and CUDA |",
        "| --- | --- | --- | --- | --- |",
        *(f"| `{e['example']}` | {e['lines']} | {e['numbers']} | {e['largest_difference']:.3g} | "
          f"{'DIFFER' if e['problems'] else 'agree'} |" for e in record["examples"]),
        "",
    ])


def main() -> int:
    """Run the check; the process's exit status."""
    scripts = gallery_scripts()
    if not torch.cuda.is_available():
        print(f"gpu-check: CUDA is not available on this machine (torch {torch.__version__}, built with "
              f"CUDA {torch.version.cuda}), so nothing was run and no record was written. With CUDA it "
              f"would run `python {' '.join(PYTEST)}` and these scripts, CUDA hidden and then visible, "
              f"and write {DATA.relative_to(ROOT)}/parity.json and parity.md:", *map(example_id, scripts),
              sep="\n    ")
        return 1
    print(f"gpu-check on {torch.cuda.get_device_name()} (torch {torch.__version__}): the tests, then "
          "the gallery scripts, each with CUDA hidden and then visible", flush=True)
    tests = [run_tests(run) for run in RUNS]
    cpu, cuda = (run_in_one_process(sys.executable, scripts, env) for env in RUNS.values())
    examples = [compare_runs(s, cpu[example_id(s)], cuda[example_id(s)]) for s in scripts]
    record = build_record(tests, examples, provenance())
    print(markdown(record), *(f"{e['example']}: {problem}" for e in examples for problem in e["problems"]), sep="\n")
    (DATA / "parity.json").write_text(json.dumps(record, indent=1) + "\n")
    (DATA / "parity.md").write_text(markdown(record))
    print(f"record written to {DATA.relative_to(ROOT)}/parity.json and parity.md")
    print("gpu-check: " + ("PASSED" if record["passed"] else "FAILED"))
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
