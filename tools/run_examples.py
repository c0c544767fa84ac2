"""Run gallery scripts one after another in this process and write what each printed as JSON.

Usage: ``python tools/run_examples.py OUT.json SCRIPT ...``; OUT.json maps each script, as
given, to ``{"stdout": ..., "error": traceback or null, "seconds": ...}``. One process saves importing torch and
matplotlib per script, most of a short script's time. Each script runs as ``__main__`` from an
empty folder (so it finds nothing of the repository beside it), after sphinx-gallery's reset:
figures closed, matplotlib's settings restored, Python, NumPy and torch seeded with 0. Torch
reads ``ATEN_CPU_CAPABILITY`` and ``OMP_NUM_THREADS`` on import, so the caller starts one
process per CPU variant.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import runpy
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SNAPSHOTS = EXAMPLES.parent / "tests" / "snapshots"


def gallery_scripts() -> list[Path]:
    """Every gallery script of the repository, in a stable order."""
    return sorted(EXAMPLES.rglob("plot_*.py"))


def snapshot_path(script: Path) -> Path:
    """Where the snapshot of what a gallery script prints is kept: ``tests/snapshots/article/plot_x.txt``."""
    return SNAPSHOTS / script.relative_to(EXAMPLES).with_suffix(".txt")


def example_id(script: Path) -> str:
    """A gallery script's name as the snapshots and records know it: ``article/plot_x.py``."""
    return script.relative_to(EXAMPLES).as_posix()


def reset_state() -> None:
    """Close figures, restore matplotlib's defaults, seed every generator with 0."""
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy
    import torch

    plt.close("all")
    matplotlib.rcdefaults()
    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)


def run_script(script: Path) -> dict:
    """Run one script as ``__main__`` from an empty folder; what it printed and raised.

    Under ``SGDLAB_ROUNDING_NOISE=SEED`` the script runs in :mod:`rounding_noise`'s mode.
    """
    reset_state()
    printed, error, start = io.StringIO(), None, time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        try:
            with contextlib.redirect_stdout(printed):
                runpy.run_path(str(script), run_name="__main__")
        except BaseException:  # a script's SystemExit is a failure too
            error = traceback.format_exc()
    return {"stdout": printed.getvalue(), "error": error, "seconds": round(time.perf_counter() - start, 2)}


def run_in_one_process(python: str, scripts: list[Path], env: dict[str, str],
                       timeout: float | None = None) -> dict[str, dict]:
    """Run gallery ``scripts`` with this file in a new ``python`` process under ``env``; by example id.

    The caller's way to start one variant (a kernel set, CUDA hidden or not): a failure of
    the runner itself raises RuntimeError with its error output.
    """
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "results.json"
        result = subprocess.run([python, __file__, out, *scripts], cwd=scratch, env=env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"the example runner failed:\n{result.stderr[-3000:]}")
        printed = json.loads(out.read_text())
    return {example_id(script): printed[str(script)] for script in scripts}


if __name__ == "__main__":
    out, *scripts = sys.argv[1:]
    os.environ.setdefault("MPLBACKEND", "Agg")
    if os.environ.get("SGDLAB_ROUNDING_NOISE"):  # the downloads copy this file alone
        from rounding_noise import install_from_environment  # beside this file

        install_from_environment()
    results = {name: run_script(Path(name).resolve()) for name in scripts}
    Path(out).write_text(json.dumps(results, indent=1))
