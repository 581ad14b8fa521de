"""Write files and folders so that a failure leaves the previous good state in place."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any


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


COMMIT_FORMAT = "triton-groups.commit/1"
TEMPORARY = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")
"""The name `atomic_file` and `staged_file` give a temporary file: `.<target>.<8 random characters>.tmp`."""


@contextlib.contextmanager
def staged_file(target: Path, mode: str = "wb", permissions: int = 0o644) -> Iterator[tuple[IO[Any], Path]]:
    """Like `atomic_file`, but the complete, fsynced temporary file is left in place (not renamed over `target`);
    yields its handle and path. `publish_together` renames it with others; a failed block removes it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, permissions)
        with os.fdopen(fd, mode) as handle:
            yield handle, Path(tmp)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def publish_together(journal: Path, renames: Sequence[tuple[Path, Path]]) -> None:
    """Rename each staged file over its target (all in `journal`'s folder), as one commit: all or none.

    The list of renames is first written atomically to `journal` (the commit record); the renames follow,
    then the journal is removed. Whoever finds a journal (a build interrupted between two renames) finishes
    it with `finish_publishing` before reading the targets, so they are always seen together.
    """
    folder = journal.parent
    document = {"format": COMMIT_FORMAT, "renames": [[tmp.name, target.name] for tmp, target in renames]}
    write_bytes_atomic(journal, (json.dumps(document, indent=1) + "\n").encode())
    _fsync_folder(folder)
    finish_publishing(journal)


def finish_publishing(journal: Path) -> bool:
    """Complete the commit `journal` records, if any (renames whose staged file is still there); whether there was one.

    A journal that is not one (unreadable, another format) is left alone and counts as none.
    """
    try:
        document = json.loads(journal.read_bytes())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return False
    if not isinstance(document, dict) or document.get("format") != COMMIT_FORMAT:
        return False
    folder = journal.parent
    for pair in document.get("renames", []):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, str) and "/" not in n for n in pair)):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.replace(folder / pair[0], folder / pair[1])
    _fsync_folder(folder)
    journal.unlink()
    _fsync_folder(folder)
    return True


def remove_temporaries(folder: Path, owned: Callable[[str], bool]) -> list[str]:
    """Remove from `folder` the temporary files (`TEMPORARY`) of targets `owned` says are ours: left by a process
    killed while writing. Call it only while no one else writes there (under a lock). Returns their names."""
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            found = TEMPORARY.fullmatch(entry.name)
            if found and owned(found["target"]) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return sorted(removed)


def _fsync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (a crash after this keeps them)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
