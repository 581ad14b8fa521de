"""One process at a time: an exclusive `fcntl.flock` on a lock file or a folder, waited for up to a timeout.

The kernel releases the lock when its holder dies, however it dies. A lock file is never deleted (a waiter
could then lock a file that nobody else sees); while held it holds a note of its holder (e.g. "<pid> <what>"),
and nothing once released. A folder (opened read-only) can be locked too, without a note and without adding
a file to it. Not reentrant: two opens of the file conflict even within one process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator

POLL_S = 0.05


@contextlib.contextmanager
def exclusive(fd: int, note: str | None, timeout_s: float, waiting: Callable[[], None],
              busy: Callable[[], BaseException]) -> Iterator[None]:
    """Hold the lock of the open lock file or folder `fd` for the block, writing `note` into a file (None: no note).

    When another process holds it: `waiting()` is called once, then the lock is tried again every POLL_S
    for up to `timeout_s` (0: one attempt); past that the exception `busy()` returns is raised.
    """
    deadline = time.monotonic() + timeout_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise busy()
        if not told:
            told = True
            waiting()
        time.sleep(POLL_S)
    try:
        if note is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
        yield
    finally:
        if note is not None:
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
