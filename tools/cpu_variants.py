"""The CPU variants a reader's machine may differ by, and a way to run a command under each.

PyTorch picks one of its CPU kernel sets at start-up (``ATEN_CPU_CAPABILITY``): ``default``
runs everywhere, ``avx2`` and ``avx512`` where the processor has them, and each may round
differently. The thread count (``OMP_NUM_THREADS``) changes how reductions are split. So the
variants are every kernel set this processor supports, each with 1 and 2 threads.
``python tools/cpu_variants.py`` lists them; ``python tools/cpu_variants.py -- CMD ...`` runs
CMD under each in turn and stops at the first failure.
"""

from __future__ import annotations

import os
import subprocess
import sys

import torch

#: PyTorch's x86 CPU kernel sets, each needing the ones before it.
KERNEL_LADDER = ("default", "avx2", "avx512")


def variants(capability: str | None = None) -> dict[str, dict[str, str]]:
    """Each variant's name and the environment that selects it, on this CPU or one with ``capability``."""
    best = (capability or torch.backends.cpu.get_cpu_capability()).lower()
    # On another architecture only the default kernel set is known here.
    kernel_sets = KERNEL_LADDER[: KERNEL_LADDER.index(best) + 1] if best in KERNEL_LADDER else ("default",)
    return {f"{kernels}-{threads}thread": {"ATEN_CPU_CAPABILITY": kernels, "OMP_NUM_THREADS": str(threads)}
            for kernels in kernel_sets for threads in (1, 2)}


def run_under_each(command: list[str]) -> int:
    """Run ``command`` once per variant; the first non-zero exit status, or 0."""
    for name, env in variants().items():
        print(f"==> {name}: {' '.join(command)}", flush=True)
        if status := subprocess.run(command, env={**os.environ, **env}).returncode:
            print(f"==> failed under {name} ({' '.join(f'{k}={v}' for k, v in env.items())})", flush=True)
            return status
    return 0


if __name__ == "__main__":
    if "--" in sys.argv:
        sys.exit(run_under_each(sys.argv[sys.argv.index("--") + 1:]))
    for name, env in variants().items():
        print(name, *(f"{key}={value}" for key, value in env.items()))
