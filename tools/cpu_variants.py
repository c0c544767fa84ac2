"""The variants a printed number must survive, and a way to run a command under each.

A reader's machine rounds differently from ours: another BLAS, another vector width, another
thread count, a GPU. Two kinds of variant stand for them:

- *CPU variants*: PyTorch picks one of its CPU kernel sets at start-up
  (``ATEN_CPU_CAPABILITY``): ``default`` runs everywhere, ``avx2`` and ``avx512`` where the
  processor has them; the thread count (``OMP_NUM_THREADS``) changes how reductions are split.
  Two of them run: ``default-1thread``, which every machine has and the snapshots are
  recorded under, and the best kernel set with 2 threads.
- *noise variants* ``noise-1``, ``noise-2``, ``noise-3``: ``default-1thread`` with every
  floating result of every torch operation moved by up to one ulp
  (``SGDLAB_ROUNDING_NOISE``, ``tools/rounding_noise.py``). They stand for the machines we do
  not have, which is why the other CPU variants are not run: MKL picks its kernels by
  processor whatever ``ATEN_CPU_CAPABILITY`` says, so no variant on this machine shows
  another processor's matrix products, and the noise moves every result, those included.

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


#: The seeds of the noise variants.
NOISE_SEEDS = (1, 2, 3)


def cpu_variants(capability: str | None = None) -> dict[str, dict[str, str]]:
    """Every kernel set of this CPU (or one with ``capability``) with 1 and 2 threads, by name."""
    best = (capability or torch.backends.cpu.get_cpu_capability()).lower()
    # On another architecture only the default kernel set is known here.
    kernel_sets = KERNEL_LADDER[: KERNEL_LADDER.index(best) + 1] if best in KERNEL_LADDER else ("default",)
    return {f"{kernels}-{threads}thread": {"ATEN_CPU_CAPABILITY": kernels, "OMP_NUM_THREADS": str(threads)}
            for kernels in kernel_sets for threads in (1, 2)}


def variants(capability: str | None = None) -> dict[str, dict[str, str]]:
    """The variants that run, by name: ``default-1thread``, the best kernel set with 2 threads, the noise."""
    kernels = cpu_variants(capability)
    canonical = kernels["default-1thread"]
    chosen = {name: kernels[name] for name in ("default-1thread", list(kernels)[-1])}
    return {**chosen, **{f"noise-{seed}": {**canonical, "SGDLAB_ROUNDING_NOISE": str(seed)} for seed in NOISE_SEEDS}}


def run_under_each(command: list[str], only: list[str] | None = None) -> int:
    """Run ``command`` once per variant (those named in ``only``, if given); the first non-zero exit status, or 0."""
    known = variants()
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise SystemExit(f"--only: no variant {', '.join(unknown)} on this machine (it has {', '.join(known)})")
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
