"""Run sgdlab's tests and every gallery script on CUDA and on CPU, and compare what they print.

Usage (from the repository root; ``make gpu-check`` does this)::

    PYTHONPATH=src python3 tools/gpu_check.py [--record docs/_data/parity.json | --no-record]

Needs only torch, numpy, matplotlib, pytest and hypothesis: no Sphinx, no virtual environment.

1. The tests: ``pytest`` over ``tests/`` and ``src/`` with ``SGDLAB_DEVICES=cpu,cuda``, so every
   test that takes the ``device`` fixture runs on both. The build tests
   (``tests/test_build.py``) are left out: they build the site through the Makefile's
   virtual environment and exercise no device.
2. The gallery: each ``examples/**/plot_*.py`` runs alone with ``SGDLAB_DEVICES=cpu,cuda``.
   It prints per-device lines, ``[cpu] x = -1332.7185`` and ``[cuda] x = -1332.7185`` (or
   ``[cuda:0] ...``). The n-th CPU line is paired with the n-th CUDA line; their text must
   match once numbers are blanked, and each pair of numbers must agree within the tolerance.
   Numbers after a ``timed:`` mark are timings: they are recorded but not compared.

Tolerance: two printed numbers agree when they are the same text, or when they differ by at
most the larger of (a) 1e-5 times the larger magnitude (float32 kernels on the two devices may
sum in another order, and float32 carries about 7 significant digits) and (b) one unit in the
last printed digit of either (rounding a value that sits near a half-way point can flip that
digit).

Without CUDA, the script says so, lists what it would have run, and exits with status 1.
With CUDA, it writes a parity record (JSON) with the machine's provenance and every compared
value, and exits with status 0 only when the tests passed and every value agreed.
"""

from __future__ import annotations

import argparse
import importlib.util
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from repo_git import git

#: What the check imports, directly or through the tests and the gallery scripts.
REQUIRED = ("torch", "numpy", "matplotlib", "pytest", "hypothesis")
_missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
if _missing:  # say what is missing instead of a traceback halfway through
    sys.exit(f"gpu-check: {sys.executable} cannot import {', '.join(_missing)}; run it with a Python "
             f"that has {', '.join(REQUIRED)}, e.g. `make gpu-check PYTHON=/path/to/python`")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "docs" / "_data" / "parity.json"
DEVICES = "cpu,cuda"
RELATIVE_TOLERANCE = 1e-5
#: Numbers after this mark on a device line are timings, which differ between runs.
TIMED_MARK = "timed:"
#: Tests that build the site (venv + Sphinx) and exercise no device.
LEFT_OUT_TESTS = ("tests/test_build.py",)

DEVICE_LINE = re.compile(r"^\[(?P<device>cpu|cuda(?::\d+)?)\] (?P<text>.*)$")
#: Tensor reprs name any device but the CPU: ``tensor(5., device='cuda:0')``.
DEVICE_IN_REPR = re.compile(r",\s*device='[^']*'")
#: A device's own name in a line's wording: ``loaded onto cpu`` / ``loaded onto cuda:0``.
DEVICE_NAME = re.compile(r"\b(?:cpu|cuda(?::\d+)?)\b")
#: Scripts whose point is a result that differs by device, with why; their wording may differ.
DIFFERS_BY_DEVICE = {
    "pitfalls/plot_non_leaf.py": "`.to(device)` returns the same tensor on the CPU and a new one on CUDA",
}
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def gallery_scripts(root: Path = ROOT) -> list[Path]:
    """Every gallery script, in a stable order."""
    return sorted((root / "examples").rglob("plot_*.py"))


def pytest_invocation(python: str = sys.executable) -> list[str]:
    """The pytest command line the check runs."""
    ignores = [f"--ignore={path}" for path in LEFT_OUT_TESTS]
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ignores]


def device_lines(stdout: str) -> dict[str, list[str]]:
    """Group a script's per-device lines by device, in printed order, prefixes removed."""
    grouped: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        match = DEVICE_LINE.match(line.rstrip())
        if match:
            grouped.setdefault(match["device"], []).append(match["text"])
    return grouped


def without_device(text: str) -> str:
    """The line as any device would print it: device names and repr arguments out, spaces single.

    Table columns pad to the longest device name, hence the spaces.
    """
    return " ".join(DEVICE_NAME.sub("<device>", DEVICE_IN_REPR.sub("", text)).split())


def split_timed(text: str) -> tuple[str, str]:
    """Split a line into the part compared and the timings after the ``timed:`` mark."""
    head, mark, tail = text.partition(TIMED_MARK)
    return head, mark + tail


def template(text: str) -> str:
    """The line with its numbers blanked, so lines can be matched by their wording."""
    head, timed = split_timed(text)
    return NUMBER.sub("#", head) + NUMBER.sub("#", timed)


def last_digit_unit(token: str) -> float:
    """The value of one unit in the last printed digit of a number: 0.01 for '3.14'."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def agree(cpu: str, cuda: str) -> bool:
    """Whether two printed numbers agree within the documented tolerance."""
    if cpu == cuda:
        return True
    a, b = float(cpu), float(cuda)
    allowed = max(RELATIVE_TOLERANCE * max(abs(a), abs(b)), last_digit_unit(cpu), last_digit_unit(cuda))
    return abs(a - b) <= allowed


def compare_lines(
    cpu_lines: list[str], cuda_lines: list[str], differs_by_device: str | None = None
) -> tuple[list[dict], list[str]]:
    """Pair CPU and CUDA lines in order and compare their numbers: (values, problems).

    With ``differs_by_device`` (the reason), lines whose wording differs are expected.
    """
    values, problems = [], []
    cpu_lines = [without_device(line) for line in cpu_lines]
    cuda_lines = [without_device(line) for line in cuda_lines]
    if len(cpu_lines) != len(cuda_lines):
        problems.append(f"{len(cpu_lines)} CPU lines but {len(cuda_lines)} CUDA lines")
    for cpu_text, cuda_text in zip(cpu_lines, cuda_lines):
        if template(cpu_text) != template(cuda_text):
            if not differs_by_device:
                problems.append(f"lines differ in wording: {cpu_text!r} vs {cuda_text!r}")
            continue
        cpu_head, cpu_timed = split_timed(cpu_text)
        cuda_head, cuda_timed = split_timed(cuda_text)
        for index, (a, b) in enumerate(zip(NUMBER.findall(cpu_head), NUMBER.findall(cuda_head))):
            values.append({
                "line": template(cpu_text), "index": index, "cpu": a, "cuda": b,
                "difference": abs(float(a) - float(b)), "agree": agree(a, b), "timing": False,
            })
        for index, (a, b) in enumerate(zip(NUMBER.findall(cpu_timed), NUMBER.findall(cuda_timed))):
            values.append({
                "line": template(cpu_text), "index": index, "cpu": a, "cuda": b,
                "difference": abs(float(a) - float(b)), "agree": None, "timing": True,
            })
    problems += [f"{v['line']}: cpu {v['cpu']} vs cuda {v['cuda']}" for v in values if v["agree"] is False]
    return values, problems


def compare_output(stdout: str, differs_by_device: str | None = None) -> dict:
    """Compare one script's CPU and CUDA lines: the CUDA label, values and problems found."""
    grouped = device_lines(stdout)
    cuda_labels = [label for label in grouped if label.startswith("cuda")]
    if "cpu" not in grouped or not cuda_labels:
        found = ", ".join(grouped) or "none"
        return {"cuda_label": None, "values": [], "problems": [f"no [cpu] and [cuda] lines to pair (found: {found})"]}
    values, problems = compare_lines(grouped["cpu"], grouped[cuda_labels[0]], differs_by_device)
    return {"cuda_label": cuda_labels[0], "values": values, "problems": problems}


def child_env() -> dict[str, str]:
    """The environment for the tests and scripts: both devices, src/ importable, no display."""
    env = dict(os.environ)
    env["SGDLAB_DEVICES"] = DEVICES
    env["MPLBACKEND"] = "Agg"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def run_script(script: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    """Run one gallery script alone, from a scratch folder, as a reader would."""
    with tempfile.TemporaryDirectory() as scratch:
        return subprocess.run(
            [python, str(script)], cwd=scratch, env=child_env(),
            capture_output=True, text=True, timeout=600,
        )


def check_script(script: Path, python: str = sys.executable) -> dict:
    """Run a script on both devices and compare its lines; the record's entry for it."""
    result = run_script(script, python)
    entry = {"example": script.relative_to(ROOT / "examples").as_posix(), "returncode": result.returncode}
    if result.returncode != 0:
        entry.update(cuda_label=None, values=[], problems=[f"exited {result.returncode}: {result.stderr[-1500:]}"])
        return entry
    entry.update(compare_output(result.stdout, DIFFERS_BY_DEVICE.get(entry["example"])))
    return entry


def run_tests(python: str = sys.executable) -> dict:
    """Run pytest on both devices; the record's entry for the tests."""
    command = pytest_invocation(python)
    result = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return {
        "command": " ".join(["SGDLAB_DEVICES=" + DEVICES, "python", *command[1:]]),
        "returncode": result.returncode,
        "summary": lines[-1].strip("= ") if lines else result.stderr[-500:],
        "output_tail": result.stdout[-3000:] if result.returncode else "",
    }



def provenance() -> dict:
    """Where and when the record was made: device, versions, commit, date."""
    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name() if cuda else None,
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.platform(),
        "commit": git("rev-parse", "HEAD") or "unknown",
        # Uncommitted changes to what the record covers make its commit an approximation.
        "dirty": bool(git("status", "--porcelain", "--", "examples", "src")),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def build_record(tests: dict, examples: list[dict], made: dict) -> dict:
    """Assemble the parity record from the test run, the examples and the provenance."""
    passed = tests["returncode"] == 0 and all(not e["problems"] for e in examples)
    return {
        "schema": 1,
        "provenance": made,
        "tolerance": {
            "relative": RELATIVE_TOLERANCE,
            "rule": "same text, or |cpu - cuda| <= max(relative * max(|cpu|, |cuda|), "
                    "one unit in the last printed digit)",
            "timings": f"numbers after '{TIMED_MARK}' are recorded, not compared",
        },
        "tests": tests,
        "examples": examples,
        "passed": passed,
    }


def plan(python: str = sys.executable) -> str:
    """What the check runs, in words: shown when CUDA is missing."""
    scripts = "\n".join(f"    {path.relative_to(ROOT)}" for path in gallery_scripts())
    return (
        f"  tests:   SGDLAB_DEVICES={DEVICES} {' '.join(pytest_invocation('python'))}\n"
        f"           (left out: {', '.join(LEFT_OUT_TESTS)}: they build the site, no device involved)\n"
        f"  scripts: each run alone with SGDLAB_DEVICES={DEVICES}, its [cpu] and [cuda] lines compared:\n"
        f"{scripts}\n"
        f"  record:  {RECORD.relative_to(ROOT)}"
    )


def report(record: dict) -> str:
    """A short human summary of a record."""
    lines = [f"tests: {record['tests']['summary']}"]
    for entry in record["examples"]:
        compared = [v for v in entry["values"] if not v["timing"]]
        status = "ok" if not entry["problems"] else "DIFFERS"
        largest = max((v["difference"] for v in compared), default=0.0)
        lines.append(f"{entry['example']}: {len(compared)} values compared, largest difference {largest:.3g}: {status}")
        lines += [f"    {problem}" for problem in entry["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the check; the process's exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", type=Path, default=RECORD, help="where to write the parity record")
    parser.add_argument("--no-record", action="store_true", help="do not write a record")
    options = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            f"gpu-check: CUDA is not available on this machine (torch {torch.__version__}, "
            f"built with CUDA {torch.version.cuda}), so nothing was run and no record was written.\n"
            f"On a machine with CUDA it would have run:\n{plan()}",
            flush=True,
        )
        return 1
    print(f"gpu-check on {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})", flush=True)
    print("==> tests on cpu and cuda", flush=True)
    tests = run_tests()
    print(f"    {tests['summary']}", flush=True)
    examples = []
    for script in gallery_scripts():
        print(f"==> {script.relative_to(ROOT)}", flush=True)
        examples.append(check_script(script))
    record = build_record(tests, examples, provenance())
    print(report(record))
    if not options.no_record:
        options.record.parent.mkdir(parents=True, exist_ok=True)
        options.record.write_text(json.dumps(record, indent=2) + "\n")
        print(f"==> parity record written to {options.record}")
    print("gpu-check: " + ("PASSED" if record["passed"] else "FAILED"))
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
