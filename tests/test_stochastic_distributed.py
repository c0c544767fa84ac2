"""The data-parallel gallery script fails cleanly when one of its ranks dies.

The script forks one process per rank (see its docstring). Here one rank is killed while
it trains: the script must say which rank failed, exit non-zero well within its own
timeout, and leave none of its processes behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, offline_env

SCRIPT = ROOT / "examples" / "stochastic" / "plot_sgd_data_parallel.py"
SCRIPT_TIMEOUT_S = 180  # TIMEOUT_S in the script
SETTINGS = f"TIMEOUT_S = 2, 64, 20, {SCRIPT_TIMEOUT_S}"  # WORLD_SIZE, BATCH, STEPS, TIMEOUT_S
#: The copy trains this many steps, so that the kill lands while the ranks work (20 steps
#: take a fraction of a second).
LONG_RUN = SETTINGS.replace(", 20,", ", 20000,")

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(),
    reason="reads the process table from /proc (Linux)",
)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, already dead, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_the_timeout_here_is_the_scripts():
    assert SETTINGS in SCRIPT.read_text()


def test_a_killed_rank_is_reported_and_no_process_is_left(tmp_path):
    copy = tmp_path / SCRIPT.name
    copy.write_text(SCRIPT.read_text().replace(SETTINGS, LONG_RUN))
    script = subprocess.Popen(
        [sys.executable, str(copy)],
        cwd=tmp_path,
        env=offline_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ranks: list[int] = []
    try:
        deadline = time.monotonic() + SCRIPT_TIMEOUT_S
        while (
            len(ranks) < 2
            and time.monotonic() < deadline
            and script.poll() is None
        ):
            ranks = children(script.pid)
            time.sleep(0.01)
        assert len(ranks) == 2, "the script did not start its two ranks"
        victim = max(ranks)  # rank 1: forked after rank 0, so the larger process id
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        out, err = script.communicate(timeout=SCRIPT_TIMEOUT_S + 30)
        took = time.monotonic() - killed_at
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert script.returncode != 0, out
    assert f"rank 1 (process {victim}) failed" in err, err[-2000:]
    assert "terminated with signal SIGKILL" in err, err[-2000:]
    assert took < SCRIPT_TIMEOUT_S, (
        f"the failure took {took:.0f} s to be reported"
    )
    time.sleep(0.2)
    assert not [pid for pid in ranks if alive(pid)], (
        "a rank outlived the script"
    )
