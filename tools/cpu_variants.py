"""The CPU variants a reader's machine may differ by, and a way to run a command under each.

PyTorch picks one of its CPU kernel sets at start-up (``ATEN_CPU_CAPABILITY``): ``default``
runs everywhere, ``avx2`` and ``avx512`` where the processor has them, and each may round
differently. The thread count (``OMP_NUM_THREADS``) changes how reductions are split. So the
variants are every kernel set this processor supports, each with 1 and 2 threads.
``python tools/cpu_variants.py`` lists them; ``python tools/cpu_variants.py -- CMD ...`` runs
CMD under each in turn and stops at the first failure; ``--only NAME,NAME -- CMD ...`` under
those named (``make doctest CPU_VARIANTS=default-1thread``, for a quick check).
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


def run_under_each(command: list[str], only: list[str] | None = None) -> int:
    """Run ``command`` once per variant (those named in ``only``, if given); the first non-zero exit status, or 0."""
    known = variants()
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise SystemExit(f"--only: no variant {', '.join(unknown)} on this CPU (it has {', '.join(known)})")
    for name, env in known.items():
        if only and name not in only:
            continue
        print(f"==> {name}: {' '.join(command)}", flush=True)
        if status := subprocess.run(command, env={**os.environ, **env}).returncode:
            print(f"==> failed under {name} ({' '.join(f'{k}={v}' for k, v in env.items())})", flush=True)
            return status
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    only = None
    if arguments[:1] == ["--only"]:
        only, arguments = arguments[1].split(","), arguments[2:]
    if arguments[:1] == ["--"]:
        sys.exit(run_under_each(arguments[1:], only))
    for name, env in variants().items():
        print(name, *(f"{key}={value}" for key, value in env.items()))
