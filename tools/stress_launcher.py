"""Start and end the distributed examples' launcher many times: a hang shows as a timeout.

Usage: ``python tools/stress_launcher.py [RUNS] [SCRIPT ...]`` (default 200 runs of each of
the two distributed gallery scripts). Each run forks two ranks with the script's own
``launch()``; each rank joins a gloo process group, all-reduces a tensor, and sends it
back through the rendezvous store. A run that does not finish within 30 s counts as a
hang. Prints the runs, the hangs and the time taken; exits 1 on any hang or failure.
Not part of ``make test`` (about a minute per 200 runs on 2 cores).
"""

from __future__ import annotations

import io
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [ROOT / "examples" / "stochastic" / name
           for name in ("plot_sgd_data_parallel.py", "plot_sharded_optimizer_state.py")]


def load_launch(script: Path):
    """The ``launch`` function of a gallery script, without running the rest of it."""
    source = script.read_text()
    start = source.index("def launch(")
    end = source.index("\n\n\n", start)
    namespace: dict = {}
    exec("import io, multiprocessing, socket, time\nfrom datetime import timedelta\nimport torch\n"
         "import torch.distributed as dist\nimport torch.multiprocessing as mp\n"
         + source[start:end], namespace)
    return namespace["launch"]


def tiny_rank(rank, world_size, port, use_cuda):
    """Join the group, all-reduce one tensor, send it back."""
    torch.set_num_threads(1)
    store = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=timedelta(seconds=30))
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=30))
    value = torch.tensor([float(rank + 1)])
    dist.all_reduce(value)
    buffer = io.BytesIO()
    torch.save({"value": value}, buffer)
    store.set(f"result/{rank}", buffer.getvalue())
    dist.destroy_process_group()


def main(runs: int, scripts: list[Path]) -> int:
    failures = 0
    for script in scripts:
        launch = load_launch(script)
        start = time.perf_counter()
        for run in range(runs):
            try:
                results = launch(tiny_rank, 2, 30)
                assert [r["value"].item() for r in results] == [3.0, 3.0], results
            except Exception as error:  # a TimeoutError is a hang
                failures += 1
                print(f"{script.name} run {run}: {type(error).__name__}: {error}", flush=True)
        print(f"{script.name}: {runs} runs, {failures} failed or hung, "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    count = int(arguments.pop(0)) if arguments and arguments[0].isdigit() else 200
    sys.exit(main(count, [Path(a) for a in arguments] or SCRIPTS))
