"""The tritonserver processes this machine runs: a server and its Python stubs stopped as one process group,
their shared memory removed, children reaped; a server dies with the thread that owns it (Linux)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from components.core.runtime.state import (
    process_group_members,
)

LOG = logging.getLogger("triton_groups.runtime")
POLL_S = 0.05
STOP_GRACE_S = 10.0
EXIT_TIMEOUT_S = 3


SHARED_MEMORY = Path("/dev/shm")


SHM_PREFIX = "triton_groups_"


CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Servers started by this process, kept so that they can be reaped (no zombie) when stopped."""


def stop_with_parent() -> None:
    """In the child before exec: get SIGTERM when the process that started the server dies (Linux)."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def terminate(pid: int, shm_prefix: str, grace_s: float) -> bool:
    """End server `pid` and its process group; True when something was running.

    SIGTERM goes to the server alone: it unloads its models and ends its stubs, which then free
    their shared memory (a SIGTERM to the stubs as well makes them leave their /dev/shm regions
    behind). What is left of the group after `grace_s` gets SIGKILL, at once when the server itself
    is gone (its stubs, after it crashed or failed to bind its ports). Once the group is gone, any
    region still named with the server's prefix (left by a stub that did not end cleanly, or by a
    server killed by someone else) is removed.
    """
    members = process_group_members(pid)
    gone = not members
    if members:
        leader_runs = pid in members  # the server leads its own process group
        if leader_runs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        gone = wait_group_gone(pid, grace_s if leader_runs else 0)
        if not gone:
            if leader_runs:
                LOG.warning("tritonserver pid %s (or its stubs) did not stop within %.0f s; killing them", pid,
                            grace_s)
            signal_group(pid, signal.SIGKILL)
            gone = wait_group_gone(pid, STOP_GRACE_S)
    reap(pid)
    if shm_prefix and (gone or not process_group_members(pid)):
        for region in SHARED_MEMORY.glob(f"{shm_prefix}*"):
            region.unlink(missing_ok=True)
    return bool(members)


def signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def wait_group_gone(group: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while process_group_members(group):
        reap(group, block=False)
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def reap(pid: int, block: bool = True) -> None:
    """Collect the exit status of a server this process started, so no zombie is left."""
    process = CHILDREN.get(pid)
    if process is None:
        return
    if block:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_GRACE_S)
    if process.poll() is not None:
        CHILDREN.pop(pid, None)
