"""Run gallery scripts one after another in this process and write what each printed as JSON.

Usage::

    python tools/run_examples.py OUT.json SCRIPT [SCRIPT ...]

One process for many scripts saves importing torch and matplotlib once per script, which is
most of a short script's time. Each script runs as ``__main__`` from a fresh empty folder (so
it finds nothing of the repository beside it), after the reset sphinx-gallery does before
each example: matplotlib's figures closed and its settings restored, and Python, NumPy and
torch seeded with 0. The kernel set and thread count are the environment's:
``ATEN_CPU_CAPABILITY`` and ``OMP_NUM_THREADS`` must be set before torch is imported, so the
caller starts one process per variant.

The JSON maps each script, as given, to ``{"stdout": ..., "error": ..., "seconds": ...}``,
where ``error`` is the traceback of an exception the script raised, or null.
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
    """Run one script as ``__main__`` from an empty folder; what it printed and raised."""
    reset_state()
    printed = io.StringIO()
    error = None
    start = time.perf_counter()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            with contextlib.redirect_stdout(printed):
                runpy.run_path(str(script), run_name="__main__")
        except BaseException:  # a script's SystemExit is a failure too
            error = traceback.format_exc()
        finally:
            os.chdir(here)
    return {"stdout": printed.getvalue(), "error": error, "seconds": time.perf_counter() - start}


def run_in_one_process(
    python: str, scripts: list[Path], env: dict[str, str], timeout: float | None = None
) -> dict[str, dict]:
    """Run ``scripts`` with this file in a new ``python`` process under ``env``; the JSON it writes.

    The caller's way to start one variant (a kernel set, CUDA hidden or not): a failure of
    the runner itself raises RuntimeError with its error output.
    """
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "results.json"
        result = subprocess.run([python, __file__, str(out), *map(str, scripts)], cwd=scratch,
                                env=env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"the example runner failed:\n{result.stderr[-3000:]}")
        return json.loads(out.read_text())


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, scripts = Path(argv[0]), [Path(name).resolve() for name in argv[1:]]
    os.environ.setdefault("MPLBACKEND", "Agg")
    results = {str(name): run_script(script) for name, script in zip(argv[1:], scripts)}
    out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
