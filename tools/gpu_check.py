"""Run sgdlab's tests and every gallery script with CUDA hidden and with CUDA, and compare them.

Usage (from the repository root; ``make gpu-check`` does this with ``.venv/bin/python`` when
there is one)::

    python tools/gpu_check.py [--no-record]

Needs only torch, numpy, matplotlib, pytest and hypothesis: no Sphinx.

A gallery script picks its device itself (``cuda`` when ``torch.cuda.is_available()``), so
the same script runs twice: once with ``CUDA_VISIBLE_DEVICES=""`` (the CPU run) and once as
it is (the CUDA run), each time every script in one process (``tools/run_examples.py``). The
two outputs are compared line by line with the one comparer (``tools/output_compare.py``):
same wording once device names are masked, numbers within one unit of their last printed digit
or 1e-5 relative, timings skipped. The tests run twice likewise: with CUDA hidden, and with
CUDA, where every test that takes the ``device`` fixture also runs on the GPU.

Without CUDA it says so, lists what it would run, and exits with status 1. With CUDA it
writes ``docs/_data/parity.json`` (every script: lines compared, numbers compared, largest
difference, problems) and ``docs/_data/parity.md``, the fragment the devices page includes;
each gallery page shows its own line of the record.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

#: What the check imports, directly or through the tests and the gallery scripts.
REQUIRED = ("torch", "numpy", "matplotlib", "pytest", "hypothesis")
_missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
if _missing:  # say what is missing instead of a traceback halfway through
    sys.exit(f"gpu-check: {sys.executable} cannot import {', '.join(_missing)}; run it with a Python "
             f"that has {', '.join(REQUIRED)}, e.g. `make gpu-check PYTHON=/path/to/python`")

import torch  # noqa: E402

from output_compare import differences, largest_difference, lines, NUMBER  # noqa: E402
from repo_git import git  # noqa: E402
from run_examples import run_in_one_process  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "_data"
#: Tests that build the site (venv + Sphinx) or the package and exercise no device.
LEFT_OUT_TESTS = ("tests/test_build.py", "tests/site")
#: The two runs: CUDA hidden, and CUDA as the machine has it.
RUNS = {"cpu": {"CUDA_VISIBLE_DEVICES": ""}, "cuda": {}}


def gallery_scripts(root: Path = ROOT) -> list[Path]:
    """Every gallery script, in a stable order."""
    return sorted((root / "examples").rglob("plot_*.py"))


def example_id(script: Path) -> str:
    return script.relative_to(ROOT / "examples").as_posix()


def child_env(run: str) -> dict[str, str]:
    """The environment of one run: CUDA hidden or not, src/ importable, no display."""
    env = {**os.environ, **RUNS[run], "MPLBACKEND": "Agg"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def run_scripts(run: str, scripts: list[Path], python: str = sys.executable) -> dict[str, dict]:
    """Every script in one process under ``run``; what each printed and raised, by example id."""
    printed = run_in_one_process(python, scripts, child_env(run))
    return {example_id(Path(name)): value for name, value in printed.items()}


def compare_runs(script: Path, cpu: dict, cuda: dict) -> dict:
    """The record's entry for one script: what was compared, the largest difference, problems."""
    problems = [f"{run} run raised:\n{ran['error'][-1500:]}" for run, ran in (("cpu", cpu), ("cuda", cuda))
                if ran["error"]]
    if not problems:
        problems = differences(cpu["stdout"], cuda["stdout"])
    compared = lines(cpu["stdout"])
    return {
        "example": example_id(script),
        "source_sha256": hashlib.sha256(script.read_bytes()).hexdigest(),
        "lines": len(compared),
        "numbers": sum(len(NUMBER.findall(line)) for line in compared),
        "largest_difference": largest_difference(cpu["stdout"], cuda["stdout"]),
        "problems": problems,
    }


def pytest_invocation(python: str = sys.executable) -> list[str]:
    """The pytest command line the check runs (twice)."""
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            *[f"--ignore={path}" for path in LEFT_OUT_TESTS]]


def run_tests(run: str, python: str = sys.executable) -> dict:
    """Run the tests with CUDA hidden or visible; the record's entry for them."""
    result = subprocess.run(pytest_invocation(python), cwd=ROOT, env=child_env(run),
                            capture_output=True, text=True)
    tail = [line for line in result.stdout.splitlines() if line.strip()]
    return {"run": run, "returncode": result.returncode,
            "summary": tail[-1].strip("= ") if tail else result.stderr[-500:],
            "output_tail": result.stdout[-3000:] if result.returncode else ""}


def provenance() -> dict:
    """Where and when the record was made: GPU, versions, commit, date."""
    return {
        "device": torch.cuda.get_device_name(),
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.platform(),
        "commit": git("rev-parse", "HEAD") or "unknown",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


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
    rows = [
        f"| `{e['example']}` | {e['lines']} | {e['numbers']} | {e['largest_difference']:.3g} | "
        f"{'agree' if not e['problems'] else 'DIFFER'} |"
        for e in record["examples"]
    ]
    tests = "; ".join(f"{t['run']}: {t['summary']}" for t in record["tests"])
    return "\n".join([
        f"Recorded on {made['device']} (CUDA {made['cuda']}, PyTorch {made['torch']}) on "
        f"{made['date'][:10]}, at commit `{made['commit'][:12]}`. Tests: {tests}. "
        f"Result: {'every script agreed' if record['passed'] else 'some scripts differ'}.",
        "",
        "| Script | Lines | Numbers | Largest difference | CPU and CUDA |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ])


def plan() -> str:
    """What the check runs, in words: shown when CUDA is missing."""
    scripts = "\n".join(f"    {example_id(path)}" for path in gallery_scripts())
    return (
        f"  tests:   {' '.join(pytest_invocation('python'))}, with CUDA hidden and with CUDA\n"
        f"  scripts: every gallery script, with CUDA hidden and with CUDA, outputs compared:\n"
        f"{scripts}\n"
        f"  record:  {(DATA / 'parity.json').relative_to(ROOT)} and parity.md"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the check; the process's exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-record", action="store_true", help="do not write the record")
    options = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(f"gpu-check: CUDA is not available on this machine (torch {torch.__version__}, "
              f"built with CUDA {torch.version.cuda}), so nothing was run and no record was written.\n"
              f"On a machine with CUDA it would have run:\n{plan()}", flush=True)
        return 1
    print(f"gpu-check on {torch.cuda.get_device_name()} (torch {torch.__version__})", flush=True)
    tests = []
    for run in RUNS:
        print(f"==> tests, {run} run", flush=True)
        tests.append(run_tests(run))
        print(f"    {tests[-1]['summary']}", flush=True)
    scripts = gallery_scripts()
    print(f"==> {len(scripts)} gallery scripts, cpu run then cuda run", flush=True)
    cpu, cuda = run_scripts("cpu", scripts), run_scripts("cuda", scripts)
    examples = [compare_runs(s, cpu[example_id(s)], cuda[example_id(s)]) for s in scripts]
    for entry in examples:
        status = "agree" if not entry["problems"] else "DIFFER"
        print(f"{entry['example']}: {entry['numbers']} numbers, largest difference "
              f"{entry['largest_difference']:.3g}: {status}")
        print("".join(f"    {problem}\n" for problem in entry["problems"]), end="")
    record = build_record(tests, examples, provenance())
    if not options.no_record:
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / "parity.json").write_text(json.dumps(record, indent=1) + "\n")
        (DATA / "parity.md").write_text(markdown(record))
        print(f"==> record written to {DATA.relative_to(ROOT)}/parity.json and parity.md")
    print("gpu-check: " + ("PASSED" if record["passed"] else "FAILED"))
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
