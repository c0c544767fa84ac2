"""The data-parallel gallery script fails cleanly when one of its ranks dies.

The script starts itself once per rank (see its docstring). Here one rank is killed while
the script runs: the script must say which rank failed, exit non-zero well within its
own timeout, and leave none of its processes behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, offline_env

SCRIPT = ROOT / "examples" / "stochastic" / "plot_sgd_data_parallel.py"
SCRIPT_TIMEOUT_S = 180  # TIMEOUT_S in the script

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


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(
        item.decode(errors="replace").partition("=")[::2]
        for item in raw
        if item
    )


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, already dead, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_the_timeout_here_is_the_scripts():
    assert f"TIMEOUT_S = 2, 64, 20, {SCRIPT_TIMEOUT_S}" in SCRIPT.read_text()


def test_a_killed_rank_is_reported_and_no_process_is_left(tmp_path):
    copy = tmp_path / SCRIPT.name
    shutil.copy(SCRIPT, copy)
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
        victim = next(
            pid for pid in ranks if environment(pid).get("RANK") == "1"
        )
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        out, err = script.communicate(timeout=SCRIPT_TIMEOUT_S + 30)
        took = time.monotonic() - killed_at
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert script.returncode != 0, out
    assert "rank 1 exited with code -9" in err, err[-2000:]
    assert took < SCRIPT_TIMEOUT_S, (
        f"the failure took {took:.0f} s to be reported"
    )
    time.sleep(0.2)
    assert not [pid for pid in ranks if alive(pid)], (
        "a rank outlived the script"
    )
