"""Run the two distributed gallery scripts many times in one process: a hang shows as a timeout.

Usage: ``python tools/stress_launcher.py [RUNS] [SCRIPT ...]`` (default 200 runs of each of
the two distributed gallery scripts). Each run executes the whole script as ``__main__``, so
its own ``launch()`` forks its two ranks, which train under DDP (or shard the optimizer
state) over gloo and send their results back; the script's deadline is lowered to 30 s, so a
rank that never ends fails that run. Prints the runs, the failures and the time taken;
exits 1 on any failure. Not part of ``make test`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [ROOT / "examples" / "stochastic" / name
           for name in ("plot_sgd_data_parallel.py", "plot_sharded_optimizer_state.py")]
#: The scripts' constants line ends with the deadline: ``..., TIMEOUT_S = 2, 64, 20, 180``.
DEADLINE = re.compile(r"^(WORLD_SIZE, .*TIMEOUT_S = .*, )(\d+)$", re.MULTILINE)


def with_deadline(source: str, seconds: int) -> str:
    """The script's source with its ranks' deadline set to ``seconds``."""
    changed, count = DEADLINE.subn(lambda match: match.group(1) + str(seconds), source)
    if count != 1:
        raise ValueError("the script has no constants line ending with TIMEOUT_S")
    return changed


def main(runs: int, scripts: list[Path]) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    failed_in_all = 0
    for script in scripts:
        code = compile(with_deadline(script.read_text(), 30), str(script), "exec")
        failures, start = 0, time.perf_counter()
        for run in range(runs):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(code, {"__name__": "__main__"})
            except Exception as error:  # a TimeoutError is a hang
                failures += 1
                print(f"{script.name} run {run}: {type(error).__name__}: {error}", flush=True)
            plt.close("all")
        print(f"{script.name}: {runs} runs, {failures} failed or hung, "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        failed_in_all += failures
    return 1 if failed_in_all else 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    count = int(arguments.pop(0)) if arguments and arguments[0].isdigit() else 200
    sys.exit(main(count, [Path(a) for a in arguments] or SCRIPTS))
