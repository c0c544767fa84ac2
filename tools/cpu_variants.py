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
those named (``make doctest CPU_VARIANTS=default-1thread``, for a quick check);
``--parallel 2 --docs docs --mirrors DIR`` two at a time, each Sphinx run on its own mirror
of the docs (``make doctest``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def mirror_docs(docs: Path, workspace: Path) -> Path:
    """A folder at ``workspace`` that looks like the project to Sphinx, with its own gallery output.

    Everything beside ``docs`` and inside it is a symbolic link, except ``docs/auto_examples``,
    which sphinx-gallery writes on each run: two Sphinx runs at once would write the same
    files there. Returns the mirrored ``docs``.
    """
    docs = docs.resolve()
    mirrored = workspace / docs.name
    mirrored.mkdir(parents=True, exist_ok=True)
    for entry in docs.parent.iterdir():
        link = workspace / entry.name
        if entry != docs and not link.exists() and not link.is_symlink():
            link.symlink_to(entry)
    for entry in docs.iterdir():
        link = mirrored / entry.name
        if entry.name not in ("auto_examples", "sg_execution_times.rst") and not link.is_symlink():
            link.symlink_to(entry)
    return mirrored


def run_under_each(command: list[str], only: list[str] | None = None, parallel: int = 1,
                   docs: Path | None = None, mirrors: Path | None = None) -> int:
    """Run ``command`` once per variant (those named in ``only``, if given); the first non-zero exit status, or 0.

    ``{variant}`` in the command becomes the variant's name, ``{docs}`` the docs folder: a
    mirror of ``docs`` under ``mirrors/<variant>`` (see :func:`mirror_docs`) when ``mirrors``
    is given. ``parallel`` runs that many at once, each one's output printed when it ends.
    """
    known = variants()
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise SystemExit(f"--only: no variant {', '.join(unknown)} on this machine (it has {', '.join(known)})")
    chosen = [name for name in known if not only or name in only]

    def run_one(name: str) -> tuple[str, int, str]:
        folder = mirror_docs(docs, mirrors / name) if mirrors else docs
        line = [part.replace("{variant}", name).replace("{docs}", str(folder)) for part in command]
        heading = f"==> {name}: {' '.join(line)}"
        if parallel == 1:
            print(heading, flush=True)
            return name, subprocess.run(line, env={**os.environ, **known[name]}).returncode, ""
        ran = subprocess.run(line, env={**os.environ, **known[name]}, capture_output=True, text=True)
        return name, ran.returncode, "\n".join(filter(None, [heading, ran.stdout.rstrip(), ran.stderr.rstrip()]))

    statuses = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for name, status, output in (pool.map(run_one, chosen) if parallel > 1 else map(run_one, chosen)):
            if output:
                print(output, flush=True)
            if status:
                env = known[name]
                print(f"==> failed under {name} ({' '.join(f'{k}={v}' for k, v in env.items())})", flush=True)
                statuses[name] = status
                if parallel == 1:
                    break
    return next(iter(statuses.values()), 0)


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description="List the variants, or run a command under each.")
    parser.add_argument("--only", type=lambda text: text.split(","), help="variant names, comma-separated")
    parser.add_argument("--parallel", type=int, default=1, help="how many variants run at once")
    parser.add_argument("--docs", type=Path, help="the docs folder that {docs} stands for")
    parser.add_argument("--mirrors", type=Path, help="where each variant's mirror of the docs is made")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ...")
    options = parser.parse_args(arguments)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if command:
        return run_under_each(command, options.only, options.parallel, options.docs, options.mirrors)
    for name, env in variants().items():
        print(name, *(f"{key}={value}" for key, value in env.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
