"""
Sharded optimizer state: ZeRO around SGD
========================================

Under ``DistributedDataParallel`` every rank keeps a full copy of
the optimizer's state: for SGD with momentum, one momentum buffer as large as each
parameter. ``ZeroRedundancyOptimizer`` (ZeRO) splits the
parameters among the ranks; each rank keeps the state of, and steps, only its share, then
sends its updated share to the others. Every rank still ends each step with all the
parameters, and with the same values as without sharding, since each parameter receives
the same update, computed once instead of on every rank. This script checks both claims with
``torch.optim.SGD`` and with :class:`sgdlab.SGD` inside ZeRO, on two local processes.

It forks one process per rank, as the data-parallel example does (see there why): the
same code runs as a file, in the gallery build and as a downloaded notebook; the ranks send
their results back to the launching process, which prints them. The launcher hosts the
rendezvous on a free port of 127.0.0.1, waits at most ``TIMEOUT_S`` seconds, stops every
rank if one fails, and leaves no process behind. The ranks use two GPUs (NCCL) only where
there are two and this process has not yet used CUDA; otherwise the CPU (gloo). Windows
cannot fork: there the script stops at once and says so.

Requires: ``pip install sgdlab``
"""

# %%
# What each rank runs
# -------------------
# A network of six parameter tensors of unequal sizes, trained 10 steps with momentum 0.9
# three times from the same start: unsharded ``torch.optim.SGD``, then ZeRO around
# ``torch.optim.SGD``, then ZeRO around ``sgdlab.SGD``. Each rank trains on its own half of
# the batch.

import io
import multiprocessing
import os
import socket
import time
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.optim import ZeroRedundancyOptimizer

import sgdlab

WORLD_SIZE, BATCH, STEPS, TIMEOUT_S = 2, 64, 10, 180
SETTINGS = {"lr": 0.05, "momentum": 0.9}


def run(sharded, optimizer_class, device, rank, world_size):
    """Train a fresh network; its parameters and the momentum buffers held.
    """
    torch.manual_seed(0)
    x = torch.randn(BATCH, 16)
    y = torch.sin(x.sum(dim=1, keepdim=True))
    model = nn.Sequential(
        nn.Linear(16, 64),
        nn.Tanh(),
        nn.Linear(64, 32),
        nn.Tanh(),
        nn.Linear(32, 1),
    ).to(device)
    share = slice(
        rank * BATCH // world_size, (rank + 1) * BATCH // world_size
    )
    x, y = x[share].to(device), y[share].to(device)
    ddp = nn.parallel.DistributedDataParallel(model)
    if sharded:
        optimizer = ZeroRedundancyOptimizer(
            ddp.parameters(), optimizer_class=optimizer_class, **SETTINGS
        )
        held = optimizer.optim.state  # the state of this rank's share only
    else:
        optimizer = optimizer_class(ddp.parameters(), **SETTINGS)
        held = optimizer.state
    for _ in range(STEPS):
        optimizer.zero_grad()
        nn.functional.mse_loss(ddp(x), y).backward()
        optimizer.step()
    buffers = [state["momentum_buffer"].numel() for state in held.values()]
    return {
        "params": [p.detach().cpu() for p in model.parameters()],
        "buffers": buffers,
    }


def run_rank(rank, world_size, port, use_cuda):
    """What each rank runs: the three trainings, sent back through the
    store."""
    # Forked after this process may have run parallel code: one thread, so
    # the child never enters the OpenMP thread pool it inherited (as
    # DataLoader workers do).
    torch.set_num_threads(1)
    store = dist.TCPStore(
        "127.0.0.1",
        port,
        is_master=False,
        timeout=timedelta(seconds=TIMEOUT_S),
    )
    device = torch.device(f"cuda:{rank}" if use_cuda else "cpu")
    dist.init_process_group(
        "nccl" if use_cuda else "gloo",
        store=store,
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=TIMEOUT_S),
    )
    found = {
        "unsharded torch.optim.SGD": run(
            False, torch.optim.SGD, device, rank, world_size
        ),
        "ZeRO(torch.optim.SGD)": run(
            True, torch.optim.SGD, device, rank, world_size
        ),
        "ZeRO(sgdlab.SGD)": run(True, sgdlab.SGD, device, rank, world_size),
    }
    buffer = io.BytesIO()
    torch.save(found, buffer)
    store.set(f"result/{rank}", buffer.getvalue())
    store.wait([f"result/{rank}"])  # the launcher's store holds it
    dist.destroy_process_group()
    # Leave at once. Letting Python tear down the group's and the store's
    # C++ objects sometimes waits for ever on one of their threads (about
    # one run in ten here).
    os._exit(0)


# %%
# Launching the ranks
# -------------------
# The same launcher as in the data-parallel example.
#
# The launcher (this process) binds a socket to port 0, so the system picks a free port
# and no other program can take it between the choice and its use. It forks one process
# per rank, and only then starts the rendezvous store on that socket: a process that
# forks while another of its threads runs (the store's server is one) can leave the child
# waiting for a lock that no thread of the child will release. It then watches the ranks:
# the first that fails, or the deadline, stops all of them and raises. It runs before
# this process touches CUDA, so that on a machine with two GPUs the ranks can still use
# them.


def launch(run_rank, world_size, timeout_s):
    """Run ``run_rank(rank, world_size, port, use_cuda)`` in world_size
    forked processes;
    the results each stored under ``result/<rank>``."""
    if "fork" not in multiprocessing.get_all_start_methods():
        raise RuntimeError(
            "this example forks one process per rank, which this system "
            "cannot do "
            "(Windows): run it under Linux, macOS or WSL"
        )
    # A plain socket, bound to port 0, holds a free port; the store's server
    # thread starts only after the fork (forking while another thread runs
    # can deadlock the child).
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # device_count() asks NVML where it can: CUDA stays uninitialised,
    # forking safe.
    use_cuda = (
        torch.cuda.device_count() >= world_size
        and not torch.cuda.is_initialized()
    )
    ranks = mp.start_processes(
        run_rank,
        args=(world_size, port, use_cuda),
        nprocs=world_size,
        join=False,
        start_method="fork",
    )
    # The ranks' connections wait in the socket's queue until the store
    # serves them.
    store = dist.TCPStore(
        "127.0.0.1",
        port,
        is_master=True,
        wait_for_workers=False,
        timeout=timedelta(seconds=timeout_s),
        master_listen_fd=listener.detach(),
    )
    deadline = time.monotonic() + timeout_s
    try:
        # join() returns True once all ranks succeeded; if one fails, it
        # stops the others and raises.
        while not ranks.join(timeout=max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the ranks did not finish within {timeout_s} s"
                )
    except (mp.ProcessExitedException, mp.ProcessRaisedException) as error:
        raise RuntimeError(
            f"rank {error.error_index} (process {error.error_pid}) failed, "
            f"so every rank was stopped: {error}"
        ) from error
    finally:  # never leave a rank running, whatever happened above
        for process in ranks.processes:
            if process.is_alive():
                process.kill()
            process.join()
    return [
        torch.load(io.BytesIO(store.get(f"result/{rank}")))
        for rank in range(world_size)
    ]


results = launch(run_rank, WORLD_SIZE, TIMEOUT_S)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"Running on {device}")

# %%
# Who holds which momentum buffers
# --------------------------------
# Unsharded, each rank holds a buffer for every parameter. Under ZeRO each rank holds
# buffers only for its share, and the shares cover every parameter exactly once. ZeRO
# hands out whole tensors, largest first, each to the rank that holds the fewest numbers
# so far; here one tensor (the 64 x 32 weight) is most of the network, so the shares
# cannot be equal.

unsharded = results[0]["unsharded torch.optim.SGD"]
sizes = [p.numel() for p in unsharded["params"]]
total = sum(sizes)
print(
    f"the network: {len(sizes)} parameter tensors, {total} numbers; "
    f"the largest holds {max(sizes)} ({max(sizes) / total:.0%})"
)
for name in results[0]:
    for rank, found in enumerate(results):
        buffers = found[name]["buffers"]
        print(
            f"{name:26s} rank {rank}: {len(buffers)} buffer(s), "
            f"{sum(buffers):5d} numbers ({sum(buffers) / total:.0%})"
        )
    if name.startswith("ZeRO"):
        shares = sorted(
            n for found in results for n in found[name]["buffers"]
        )
        print(
            f"{'':26s} together: every tensor once: "
            f"{shares == sorted(sizes)}"
        )

# %%
# The same parameters with and without sharding
# ---------------------------------------------

reference = results[0]["unsharded torch.optim.SGD"]["params"]
for name in list(results[0])[1:]:
    same = all(
        torch.equal(a, b)
        for found in results
        for a, b in zip(found[name]["params"], reference)
    )
    print(f"{name}: all ranks' parameters equal the unsharded ones: {same}")

# %%
# The figure shows the memory each rank saves: the numbers of momentum state it holds.

import matplotlib.pyplot as plt

names = list(results[0])
fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
for rank, found in enumerate(results):
    held = [sum(found[name]["buffers"]) for name in names]
    bars = ax.barh(
        [i - 0.2 + 0.4 * rank for i in range(len(names))],
        held,
        height=0.38,
        label=f"rank {rank}",
    )
    ax.bar_label(bars, padding=3)
ax.set_yticks(range(len(names)), names)
ax.invert_yaxis()
ax.set(
    xlabel="momentum-buffer numbers held by the rank",
    xlim=(0, total * 1.2),
    title="Momentum state per rank",
)
ax.legend(loc="lower right")
plt.show()
