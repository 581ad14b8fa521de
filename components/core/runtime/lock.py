"""One process at a time per state folder: an exclusive lock for starting, updating and stopping a local server.

`state_lock(state_dir, operation)` holds `fcntl.flock` on `<state_dir>/server.lock` for a whole
start, sync or stop, so that two processes (`make demo` during `pulumi up`, two `pulumi up`s) can
neither both start a server nor both rewrite the served repository. A second process waits up to
`timeout_s`, then gets a UserError naming the folder and the process holding the lock.

- Readers that only look (`ServerRecord.find/load`, `is_serving`) do not take the lock.
- The kernel releases the lock when its holder dies, however it dies.
- The lock file is opened close-on-exec and released before the block returns, so a tritonserver
  started under it does not keep it: a later process can update that server while it runs.
- Not reentrant: flock locks of two opens of the file conflict even within one process, so code
  holding the lock calls the unlocked internals, never a public locked function.
- The file is never deleted (a waiter could then lock a file that nobody else sees); it holds
  "<pid> <operation>" of its current holder, and nothing once released.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from components._internal.flock import exclusive
from components.core.problems import Problem, UserError
from components.core.runtime.state import process_info

LOG = logging.getLogger("triton_groups.runtime")

LOCK_NAME = "server.lock"
LOCK_TIMEOUT_S = 300.0
"""How long a process waits for another one to finish starting, updating or stopping the same server."""


@dataclass(frozen=True)
class LockHolder:
    """The process that wrote itself into a lock file, and what it said it was doing ("start", "sync", "stop")."""

    pid: int
    operation: str


def lock_path(state_dir: Path | str) -> Path:
    return Path(state_dir) / LOCK_NAME


def lock_holder(state_dir: Path | str) -> LockHolder | None:
    """Who holds the lock of `state_dir`, as its file says; None when it is free, unknown or the process is gone."""
    try:
        text = lock_path(state_dir).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    pid, _, operation = text.strip().partition(" ")
    if not pid.isdigit():
        return None
    info = process_info(int(pid))
    return LockHolder(int(pid), operation) if info is not None and info.running else None


@contextlib.contextmanager
def state_lock(state_dir: Path | str, operation: str, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[Path]:
    """Hold the exclusive lock of `state_dir` (created if needed) for the block; yields the lock file's path.

    Waits up to `timeout_s` (0: one attempt) for another holder, logging once that it waits; then
    raises UserError (code runtime.busy) naming the folder, the holder's pid when known, and what to do.
    UserError (code runtime.state_dir) naming `state_dir` when it is a file or cannot be created or written.
    """
    path = lock_path(state_dir)
    fd = _open_lock_file(path)

    def waiting() -> None:
        LOG.warning("waiting up to %.0f s for %s to finish with the local server in %s (%s)", timeout_s,
                    _describe(lock_holder(path.parent)), path.parent, operation)

    try:
        with exclusive(fd, f"{os.getpid()} {operation}\n", timeout_s, waiting,
                       lambda: UserError(_busy_problem(path, operation, timeout_s))):
            yield path
    finally:
        os.close(fd)


def _open_lock_file(path: Path) -> int:
    """The lock file's descriptor, the state folder created if needed; UserError naming the folder if it cannot be."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except (FileExistsError, NotADirectoryError):
        problem = "is a file, not a folder" if folder.is_file() else "is below a file, so it cannot be a folder"
    except OSError as exc:
        problem = f"cannot be created or written ({(exc.strerror or str(exc)).lower()})"
    raise UserError(Problem(
        str(folder), "", f"{problem}; the state folder of a local server must be a folder this user can write (it "
        "is created if missing): give another path", "runtime.state_dir",
    ))


def _describe(holder: LockHolder | None) -> str:
    if holder is None:
        return "another process"
    return f"another process (pid {holder.pid}{f', {holder.operation}' if holder.operation else ''})"


def _busy_problem(path: Path, operation: str, timeout_s: float) -> Problem:
    holder = lock_holder(path.parent)
    remedy = (f"if pid {holder.pid} is stuck, end it (kill {holder.pid})" if holder is not None
              else f"`fuser -v {path}` shows which process holds it")
    return Problem(
        str(path.parent), "",
        f"{_describe(holder)} is starting, updating or stopping the local server in {path.parent}, and did not "
        f"finish within {timeout_s:g} s, so this {operation} did not run: two processes must not change one local "
        f"server at once. Wait for it to finish, then run this again; {remedy}",
        "runtime.busy",
    )
