"""The CPU variants a reader's machine may differ by, and a way to run a command under each.

PyTorch picks one of its CPU kernel sets at start-up (``ATEN_CPU_CAPABILITY``): ``default``
runs everywhere, ``avx2`` and ``avx512`` where the processor has them, and each may round
differently. The thread count (``OMP_NUM_THREADS``) changes how reductions are split. So the
variants are every kernel set this processor supports, each with 1 and 2 threads.

Usage::

    python tools/cpu_variants.py            # list the variants
    python tools/cpu_variants.py -- CMD ... # run CMD under each variant in turn; stop at a failure
"""

from __future__ import annotations

import os
import subprocess
import sys

#: PyTorch's x86 CPU kernel sets, each needing the ones before it.
KERNEL_LADDER = ("default", "avx2", "avx512")
THREADS = (1, 2)


def kernel_sets(capability: str | None = None) -> list[str]:
    """The kernel sets this CPU can run: ``default``, then each up to the one torch picks.

    >>> kernel_sets("AVX2")
    ['default', 'avx2']
    >>> kernel_sets("DEFAULT")
    ['default']
    """
    if capability is None:
        import torch

        capability = torch.backends.cpu.get_cpu_capability()
    best = capability.lower()
    if best not in KERNEL_LADDER:  # another architecture: only its default is known here
        return ["default"]
    return list(KERNEL_LADDER[: KERNEL_LADDER.index(best) + 1])


def variants(capability: str | None = None) -> dict[str, dict[str, str]]:
    """Each variant's name and the environment that selects it.

    >>> list(variants("AVX2"))
    ['default-1thread', 'default-2thread', 'avx2-1thread', 'avx2-2thread']
    >>> variants("AVX2")["avx2-1thread"]
    {'ATEN_CPU_CAPABILITY': 'avx2', 'OMP_NUM_THREADS': '1'}
    """
    return {
        f"{kernels}-{threads}thread": {"ATEN_CPU_CAPABILITY": kernels, "OMP_NUM_THREADS": str(threads)}
        for kernels in kernel_sets(capability)
        for threads in THREADS
    }


def run_under_each(command: list[str]) -> int:
    """Run ``command`` once per variant; the first non-zero exit status, or 0."""
    for name, env in variants().items():
        print(f"==> {name}: {' '.join(command)}", flush=True)
        status = subprocess.run(command, env={**os.environ, **env}).returncode
        if status:
            print(f"==> failed under {name} ({' '.join(f'{k}={v}' for k, v in env.items())})", flush=True)
            return status
    return 0


if __name__ == "__main__":
    if "--" in sys.argv:
        sys.exit(run_under_each(sys.argv[sys.argv.index("--") + 1:]))
    for name, env in variants().items():
        print(name, *(f"{key}={value}" for key, value in env.items()))
