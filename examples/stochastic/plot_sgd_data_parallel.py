"""
Data-parallel SGD: two processes, one update
============================================

``DistributedDataParallel`` (DDP) splits each batch between
processes ("ranks"). Every rank computes the gradient of its own share, an all-reduce
*averages* the gradients across ranks, and every rank then takes the same
``torch.optim.SGD`` step from the same starting point. So two ranks on batches of 32 walk
exactly the path of one process on the batch of 64, up to the order in which float32
numbers are summed. This script runs it with two local processes (the gloo backend on the
CPU; NCCL when there are two GPUs) and compares the parameters.

How it runs. The script forks one process per rank
(``torch.multiprocessing.start_processes`` with the "fork" start method): a forked process
runs a function defined in the script or notebook itself, so the same code runs as a file,
in the gallery build, and as a downloaded notebook. Each rank sends its results back to the
launching process, which prints them (what a forked process prints may not reach a
notebook). The launcher hosts the rendezvous on a free port of 127.0.0.1 chosen at run time,
waits at most ``TIMEOUT_S`` seconds, stops every rank if one fails, and leaves no process
behind. The ranks use two GPUs (NCCL) only where there are two and this process has not yet
used CUDA, since a forked process cannot use CUDA once its parent has; otherwise the CPU
(gloo). Windows cannot fork: there the script stops at once and says so (run it under
Linux, macOS or WSL).

Requires: ``pip install torch matplotlib``
"""

# %%
# The problem and what each rank runs
# -----------------------------------
# A small network fitted to a smooth target by ``torch.optim.SGD`` with momentum, 20 steps
# on one fixed batch of 64 samples. Rank ``r`` sees rows ``32 r`` to ``32 r + 31``.

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

WORLD_SIZE, BATCH, STEPS, TIMEOUT_S = 2, 64, 20, 180
LR, MOMENTUM = 0.1, 0.9


def make_problem():
    """The same data and initial network in every process (fixed seed)."""
    torch.manual_seed(0)
    x = torch.randn(BATCH, 8)
    y = torch.sin(x.sum(dim=1, keepdim=True))
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    return x, y, model


def train(model, x, y, device):
    """STEPS steps of SGD with momentum: each step's loss and parameters."""
    model.to(device)
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=LR, momentum=MOMENTUM
    )
    losses, params = [], []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()  # under DDP, the gradients are all-reduced here
        optimizer.step()
        losses.append(loss.item())
        params.append(
            [p.detach().cpu().clone() for p in model.parameters()]
        )
    return losses, params


def run_rank(rank, world_size, port, use_cuda):
    """What each rank runs: its share of the batch under DDP, the results
    sent back."""
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
    x, y, model = make_problem()
    share = slice(
        rank * BATCH // world_size, (rank + 1) * BATCH // world_size
    )
    ddp = nn.parallel.DistributedDataParallel(model.to(device))
    losses, params = train(ddp, x[share], y[share], device)
    # Send the losses and parameters back through the rendezvous store.
    buffer = io.BytesIO()
    torch.save({"losses": losses, "params": params}, buffer)
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
# Two ranks against one process on the whole batch
# ------------------------------------------------
# Both ranks end with bit-for-bit the same parameters: they start equal (DDP also
# broadcasts rank 0's parameters at the start), receive the same averaged gradient, and
# apply the same update. Against one process on all 64 samples the parameters agree to
# a few float32 units: the mean over 64 samples and the average of two means over 32 are
# the same number in exact arithmetic, summed in a different order in float32. The
# difference is counted in units of float32 spacing at the size of each tensor's largest
# entry. How many units depends on the machine's rounding, and the units of one step are
# carried into the next, so the bound checked here is loose: 100 units, a relative 1.2e-5.

x, y, model = make_problem()
single_losses, single_params = train(model, x, y, device)

ranks_equal = all(
    torch.equal(a, b)
    for a, b in zip(results[0]["params"][-1], results[1]["params"][-1])
)
print(
    f"rank 0 and rank 1 hold equal parameters after {STEPS} steps: "
    f"{ranks_equal}"
)


def float32_units(params, reference):
    """Largest |difference|, in float32 spacings at each reference's scale.
    """
    eps = torch.finfo(torch.float32).eps
    return max(
        ((a - b).abs().max() / (eps * b.abs().max())).item()
        for a, b in zip(params, reference)
    )


per_step = [
    float32_units(a, b) for a, b in zip(results[0]["params"], single_params)
]
print(
    f"two ranks vs one process: at most 100 float32 units apart,"
    f"\n    all {STEPS} steps: {max(per_step) <= 100}"
)
ddp_losses = [
    (a + b) / 2 for a, b in zip(results[0]["losses"], results[1]["losses"])
]
print(
    f"loss at step {STEPS}: one process {single_losses[-1]:.4f}, "
    f"two ranks {ddp_losses[-1]:.4f}"
)

# %%
# Gradient accumulation: a larger batch in several passes
# -------------------------------------------------------
# The same effect inside one process: two backward passes on halves of the batch, each
# loss divided by 2, add up in ``.grad`` to the gradient of the whole batch, so one step
# after both equals one step on the whole batch. (Under DDP, ``ddp.no_sync()`` skips the
# all-reduce on all but the last of such passes.)

x, y, model = make_problem()
whole = torch.optim.SGD(model.parameters(), lr=LR)
nn.functional.mse_loss(model(x), y).backward()
whole.step()
after_whole = [p.detach().clone() for p in model.parameters()]

x, y, model = make_problem()
accumulated = torch.optim.SGD(model.parameters(), lr=LR)
for half in (slice(0, BATCH // 2), slice(BATCH // 2, BATCH)):
    (
        nn.functional.mse_loss(model(x[half]), y[half]) / 2
    ).backward()  # grads add up
accumulated.step()
units = float32_units([p.detach() for p in model.parameters()], after_whole)
print(
    f"two accumulated halves vs the whole batch of {BATCH}:"
    f"\n    at most 100 float32 units apart: {units <= 100}"
)

# %%
# The loss and the difference along the way
# -----------------------------------------
# The two loss curves lie on top of each other, and the parameters stay within the bound
# all along. The rounding differences carry over from one step to the next: the lower
# panel shows the units, step by step.

import matplotlib.pyplot as plt

steps = range(1, STEPS + 1)
fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(6.4, 6), sharex=True, layout="constrained"
)
top.plot(
    steps,
    single_losses,
    lw=4,
    alpha=0.4,
    label=f"one process, batch {BATCH}",
)
top.plot(
    steps, ddp_losses, "k.", label=f"two ranks, {BATCH // 2} samples each"
)
top.set(
    ylabel="MSE loss of the batch",
    title="DDP + SGD (momentum 0.9) follows the one-process path",
)
top.legend()
bottom.plot(steps, per_step, "o-")
bottom.set(
    xlabel="step",
    ylabel="largest difference\n(float32 units)",
    ylim=(0, None),
)
bottom.set_xticks([1, 5, 10, 15, 20])
plt.show()
