"""Run PyTorch's own ``TestOptimRenewed`` for SGD on the CPU, against torch.optim.SGD and sgdlab.SGD.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python tools/torch_optim_suite.py /path/to/test_optim.py

``test_optim.py`` is PyTorch's ``test/test_optim.py`` (github.com/pytorch/pytorch; the torch
wheel ships ``torch.testing._internal.common_optimizers`` but not the tests themselves). We do
not vendor it: fetch the version that matches the installed torch and pass its path. The run
used for issue 26 took it from a mirror of PyTorch's main branch (commit
d8a956baedbc0b168dfd94e0e30559692fc980fe, 110,625 bytes, sha256 59ce59dc...d6af6840d),
kept outside the repository under ``/work/tmp/torch-tests/``.

The file is copied, unchanged, into a scratch folder and run there twice with pytest, each in
its own process (``-p no:cacheprovider``, the project's own pytest settings left out):

- ``torch``: as it is, ``optim_db``'s SGD entry being ``torch.optim.SGD``;
- ``sgdlab``: a ``conftest.py`` in the scratch folder points that entry's ``optim_cls`` at
  ``sgdlab.SGD`` before the test file is collected, so every ``@optims(optim_db)`` test
  parametrized for SGD runs sgdlab's optimizer. (The file names ``torch.optim.SGD`` directly
  only as the second optimizer of ``test_step_all_hooks``, which checks that global hooks fire
  for both; that one stays torch's.)

Only ``TestOptimRenewedCPU`` tests parametrized for SGD run (``-k _SGD_``: every dtype the
file's parametrization gives SGD; ASGD is left out). The file imports three sibling modules,
``optim.test_lrscheduler``, ``optim.test_optim`` and ``optim.test_swa_utils``, only for other
test classes (``TestLRScheduler``, ``TestDifferentiableOptimizer``, ``TestSWAUtils``); the
scratch folder gets an ``optim`` package with empty stand-ins for them.

It prints passed/failed/skipped for each run, then every test torch passes and sgdlab does
not, with the first line of its error, and exits with status 1 if there is one. Several
minutes on one thread; not part of ``make test``. ``--accelerator-tests-on-cpu`` also runs the
file's ``@onlyAccelerator`` tests on the CPU (found_inf, cross-device state dicts, fused CPU
against the device, default dtype with foreach), by making that decorator a no-op before the
file is imported; torch's own CI does not run them there. ``--keep DIR`` keeps the scratch folder
(the junit XML of each run is there); extra arguments after ``--`` go to both pytest runs
(``-- -x`` while debugging).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Stand-ins for the sibling modules test_optim.py imports only for other test classes.
SIBLINGS = {
    "test_lrscheduler": "TestLRScheduler",
    "test_optim": "TestDifferentiableOptimizer",
    "test_swa_utils": "TestSWAUtils",
}

#: Loaded by pytest before the test file: with SGDLAB_SUITE_TARGET=sgdlab, optim_db's SGD
#: entry runs sgdlab.SGD.
CONFTEST = '''\
import os

import torch
from torch.testing._internal import common_device_type
from torch.testing._internal.common_optimizers import optim_db

if os.environ.get("SGDLAB_SUITE_ACCELERATOR_ON_CPU") == "1":
    # test_optim.py imports the name after this runs: its onlyAccelerator tests run on the CPU.
    common_device_type.onlyAccelerator = lambda test: test

if os.environ.get("SGDLAB_SUITE_TARGET") == "sgdlab":
    import sgdlab

    (entry,) = [e for e in optim_db if e.optim_cls is torch.optim.SGD]
    entry.optim_cls = sgdlab.SGD


def pytest_collection_finish(session):
    """Say which class the SGD entry holds once the tests are collected."""
    (entry,) = [e for e in optim_db if e.name == "SGD"]
    cls = entry.optim_cls
    with open("optim_cls-" + os.environ["SGDLAB_SUITE_TARGET"] + ".txt", "w") as out:
        out.write(cls.__module__ + "." + cls.__qualname__)
'''

PYTEST_INI = "[pytest]\naddopts =\n"


def prepare(test_file: Path, folder: Path) -> None:
    """Lay out the scratch folder: the test file, the sibling stand-ins, conftest, pytest.ini."""
    shutil.copyfile(test_file, folder / "test_optim.py")
    package = folder / "optim"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, cls in SIBLINGS.items():
        (package / f"{module}.py").write_text(
            "from torch.testing._internal.common_utils import TestCase\n\n\n"
            f"class {cls}(TestCase):\n    pass\n"
        )
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "pytest.ini").write_text(PYTEST_INI)


def run(folder: Path, target: str, extra: list[str],
        accelerator_on_cpu: bool = False) -> dict[str, tuple[str, str]]:
    """Run the SGD tests for one target; each test's outcome and the first line of its error."""
    report = folder / f"{target}.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "test_optim.py::TestOptimRenewedCPU", "-k", "_SGD_",
               f"--junitxml={report}", "-o", "junit_family=xunit2", *extra]
    env = {**os.environ, "SGDLAB_SUITE_TARGET": target,
           "SGDLAB_SUITE_ACCELERATOR_ON_CPU": "1" if accelerator_on_cpu else "0",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    print(f"== {target}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"   {tail[0]}", flush=True)
    if not report.exists():
        sys.exit(f"pytest wrote no report for {target}:\n{done.stdout}\n{done.stderr}")
    ran = (folder / f"optim_cls-{target}.txt").read_text()
    print(f"   optim_db's SGD entry ran {ran}", flush=True)
    if ran.split(".")[0] != target:
        sys.exit(f"the {target} run ran {ran}, not {target}'s SGD")
    return outcomes(report)


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """Test name -> (passed|failed|skipped, first line of the message) from a junit XML."""
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "skipped" if child.tag == "skipped" else "failed"
                text = child.get("message") or child.text or ""
                message = text.strip().splitlines()[0] if text.strip() else ""
                break
        found[case.get("name")] = (outcome, message)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test_file", type=Path, help="PyTorch's test/test_optim.py")
    parser.add_argument("--keep", type=Path, help="keep the scratch folder here")
    parser.add_argument("--accelerator-tests-on-cpu", action="store_true",
                        help="also run the file's @onlyAccelerator tests, on the CPU")
    parser.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    args = parser.parse_args()
    if not args.test_file.is_file():
        parser.error(f"test_file: no such file: {args.test_file}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        folder = args.keep
    else:
        folder = Path(tempfile.mkdtemp(prefix="torch-optim-suite-"))
    try:
        prepare(args.test_file, folder)
        results = {target: run(folder, target, args.pytest_args,
                               args.accelerator_tests_on_cpu)
                   for target in ("torch", "sgdlab")}
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"\n| {'run':<8} | passed | failed | skipped | total |")
    print("| -------- | ------ | ------ | ------- | ----- |")
    for target, found in results.items():
        counts = [sum(1 for o, _ in found.values() if o == kind)
                  for kind in ("passed", "failed", "skipped")]
        print(f"| {target:<8} | {counts[0]:>6} | {counts[1]:>6} | {counts[2]:>7} | {len(found):>5} |")

    torch_passes = sorted(n for n, (o, _) in results["torch"].items() if o == "passed")
    regressions = [n for n in torch_passes
                   if results["sgdlab"].get(n, ("missing", ""))[0] != "passed"]
    print(f"\ntorch passes {len(torch_passes)}; sgdlab passes "
          f"{len(torch_passes) - len(regressions)} of them.")
    for name in regressions:
        outcome, message = results["sgdlab"].get(name, ("missing", "not run"))
        print(f"- {name}: {outcome}: {message[:200]}")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
