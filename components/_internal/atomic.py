"""Write files and folders so that a failure leaves the previous good state in place."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_file(target: Path, mode: str = "wb", permissions: int = 0o644) -> Iterator:
    """Open a temporary file beside `target`; rename it over `target` only if the block succeeds.

    The file gets `permissions` (not mkstemp's private 0600), so it reads like any file the user wrote.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, permissions)
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_file(target) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; it replaces `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old.{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_empty_folders(folder: Path, stop_at: Path | None = None) -> None:
    """Remove `folder` if empty, then each parent that becomes empty, up to (not including) `stop_at`.

    Without `stop_at`, stops below the nearest folder holding Pulumi.yaml or .git (the project), or at `/`.
    """
    folder = folder.absolute()
    for current in (folder, *folder.parents):
        if current == stop_at or current == current.parent:
            return
        if stop_at is None and ((current / "Pulumi.yaml").exists() or (current / ".git").exists()):
            return
        try:
            current.rmdir()
        except OSError:
            return
