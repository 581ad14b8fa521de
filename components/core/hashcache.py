"""SHA-256 digests of files, remembered across runs so that an unchanged file is never read again.

A `HashCache` maps (absolute path, size, mtime_ns, inode) to the file's sha256 and lives in a JSON
file written atomically. A lookup needs only a `stat`; any change of size, mtime or inode (an edit, a
`touch`, a replacement by rename) misses and the file is read again.

The racy case: timestamps have a granularity (a kernel tick on Linux, 1 s on some network and Apple
filesystems, 2 s on FAT). A file written, hashed and written again within one tick keeps the same
mtime, so a digest taken less than `RACY_WINDOW_NS` after the file's mtime is used once but not kept
(git calls such entries "racily clean"). Small files just edited are then hashed again next time;
large files take longer than the window to read, so they are kept.

Every read goes through `read_chunks` (or `copy_chunks`, which copies a file into another), which checks
that the file still is the one its stat described, before and after reading, and raises a `UserError`
when it vanished or changed meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from components._internal.atomic import write_bytes_atomic
from components.core.problems import Problem, UserError
from components.core.source_files import NotUsable, open_regular

CACHE_FORMAT = "triton-groups.hash-cache/1"
CACHE_FORMAT_FAMILY = "triton-groups.hash-cache/"
CHUNK_SIZE = 1 << 20
RACY_WINDOW_NS = 2_000_000_000


def identity(st: os.stat_result) -> tuple[int, int, int]:
    """What the cache keys a file's content on, besides its path: (size, mtime_ns, inode)."""
    return st.st_size, st.st_mtime_ns, st.st_ino


def read_chunks(path: Path, st: os.stat_result) -> Iterator[memoryview]:
    """The bytes of `path` in chunks, checked to be exactly the file `st` describes.

    The chunks share one buffer: use each before asking for the next. The buffer holds at most one
    byte more than the file, so a small file costs no large allocation and a grown one is still caught.
    Raises `UserError` when the file is missing, unreadable, or changes (size, mtime, inode) while it is read.
    """
    buffer = bytearray(min(CHUNK_SIZE, st.st_size + 1))
    view = memoryview(buffer)
    total = 0
    try:
        with open_regular(path) as handle:
            if identity(os.fstat(handle.fileno())) != identity(st):
                raise _changed(path)
            while count := handle.readinto(buffer):
                total += count
                if total > st.st_size:
                    raise _changed(path)
                yield view[:count]
            if total != st.st_size or identity(os.fstat(handle.fileno())) != identity(st):
                raise _changed(path)
    except (OSError, NotUsable) as exc:
        raise _unreadable(path, exc) from None


def copy_chunks(path: Path, st: os.stat_result, fd: int, offset: int, chunk: int = CHUNK_SIZE) -> Iterator[int]:
    """Copy the bytes of `path` into the open file `fd` from `offset` on, `chunk` at a time, yielding each count
    once written; the file is checked as `read_chunks` checks it (the same UserErrors).

    The copy is the kernel's (`os.copy_file_range`: the bytes never pass through Python, and a filesystem that
    can share blocks shares them); where it is not possible (another filesystem, another system), the bytes are
    read and written. A full disk is raised as the OSError it is: it is about `fd`, not about `path`.
    """
    total = 0
    try:
        with open_regular(path) as handle:
            source = handle.fileno()
            if identity(os.fstat(source)) != identity(st):
                raise _changed(path)
            buffer: bytearray | None = None if hasattr(os, "copy_file_range") else bytearray(min(chunk, st.st_size))
            while total < st.st_size:
                want = min(chunk, st.st_size - total)
                count = None
                if buffer is None:
                    try:
                        count = os.copy_file_range(source, fd, want, total, offset + total)
                    except OSError as exc:
                        if exc.errno not in COPY_UNSUPPORTED:
                            raise
                        buffer = bytearray(min(chunk, st.st_size))
                if count is None:
                    assert buffer is not None
                    count = _read_then_write(source, fd, memoryview(buffer)[:want], total, offset + total)
                if count == 0:
                    raise _changed(path)
                total += count
                yield count
            if identity(os.fstat(source)) != identity(st):
                raise _changed(path)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise
        raise _unreadable(path, exc) from None
    except NotUsable as exc:
        raise _unreadable(path, exc) from None


COPY_UNSUPPORTED = {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ETXTBSY}
"""What os.copy_file_range raises where the kernel cannot copy between these two files: read and write instead."""
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _read_then_write(source: int, target: int, view: memoryview, source_offset: int, target_offset: int) -> int:
    """Copy up to len(view) bytes from `source` at `source_offset` to `target`; the count (0 at the end of `source`)."""
    count = os.preadv(source, [view], source_offset) if hasattr(os, "preadv") else _pread(source, view, source_offset)
    done = 0
    while done < count:
        done += os.pwrite(target, view[done:count], target_offset + done)
    return count


def _pread(fd: int, view: memoryview, offset: int) -> int:
    data = os.pread(fd, len(view), offset)
    view[: len(data)] = data
    return len(data)


def _unreadable(path: Path, exc: OSError | NotUsable) -> UserError:
    """The UserError of a source file that vanished or cannot be read while being read."""
    if isinstance(exc, FileNotFoundError) or (isinstance(exc, NotUsable) and exc.code == "missing"):
        return UserError(Problem(str(path), "", "disappeared while being read; restore it and run again",
                                 "hash.source_missing"))
    if isinstance(exc, NotUsable):
        return UserError(Problem(str(path), "", f"{exc.reason}; check the file", "hash.not_a_file"))
    return UserError(Problem(str(path), "", f"cannot be read ({exc.strerror or exc}); check the file and its "
                             "permissions", "hash.unreadable"))


def _changed(path: Path) -> UserError:
    return UserError(Problem(str(path), "", "changed while being read; run again once nothing writes to it",
                             "hash.source_changed"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class HashCache:
    """Digests of files by (absolute path, size, mtime_ns, inode); `path` None keeps them in memory only.

    Not thread-safe. Call `save()` to keep what was learnt; it writes only when something changed.
    A missing, unreadable or foreign cache file counts as empty: it is only a cache. A foreign file
    (one that is not a cache of any format version) is never overwritten: `save()` refuses.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._foreign = False
        self._entries: dict[str, dict[str, int | str]] = self._load() if path is not None else {}
        self._dirty = False

    def lookup(self, path: Path, st: os.stat_result) -> str | None:
        """The remembered digest of `path` if `st` still matches what was recorded; never reads the file."""
        entry = self._entries.get(_key(path))
        if entry is None or (entry["size"], entry["mtime_ns"], entry["inode"]) != identity(st):
            return None
        return str(entry["sha256"])

    def record(self, path: Path, st: os.stat_result, sha256: str, *, read_at_ns: int | None = None) -> None:
        """Remember `sha256` as the digest of `path` as `st` describes it.

        `read_at_ns` is when its bytes were last read (`time.time_ns()`); the digest is not kept when the
        file had been modified less than RACY_WINDOW_NS before (see the module doc). Pass None only for
        a file the caller has just written and closed itself.
        """
        if read_at_ns is not None and read_at_ns - st.st_mtime_ns < RACY_WINDOW_NS:
            return
        size, mtime_ns, inode = identity(st)
        entry = {"size": size, "mtime_ns": mtime_ns, "inode": inode, "sha256": sha256}
        key = _key(path)
        if self._entries.get(key) != entry:
            self._entries[key] = entry
            self._dirty = True

    def sha256_of(self, path: Path, st: os.stat_result) -> str:
        """The sha256 of `path` as `st` describes it: from the cache, or read (and then remembered)."""
        known = self.lookup(path, st)
        if known is not None:
            return known
        digest = hashlib.sha256()
        for chunk in read_chunks(path, st):
            digest.update(chunk)
        sha256 = digest.hexdigest()
        self.record(path, st, sha256, read_at_ns=time.time_ns())
        return sha256

    @property
    def unsaved(self) -> bool:
        """Whether something was recorded that `save()` would write."""
        return self.path is not None and self._dirty

    def save(self) -> None:
        """Write the cache file atomically if anything was recorded; entries of files since changed are dropped.

        Raises UserError, writing nothing, when the file holds something else than a hash cache.
        """
        if self.path is None or not self._dirty:
            return
        if self._foreign:
            raise UserError(Problem(str(self.path), "", "is not a triton-groups hash cache, so it was not overwritten; "
                                    "give the cache a file of its own (or delete this one)", "hash.foreign_file"))
        kept = {key: entry for key, entry in sorted(self._entries.items()) if _still_current(key, entry)}
        document = {"format": CACHE_FORMAT, "entries": kept}
        write_bytes_atomic(self.path, (json.dumps(document, indent=1, sort_keys=True) + "\n").encode())
        self._entries = kept
        self._dirty = False

    def _load(self) -> dict[str, dict[str, int | str]]:
        assert self.path is not None
        try:
            raw = self.path.read_bytes()
        except OSError:
            return {}
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not str(document.get("format")).startswith(CACHE_FORMAT_FAMILY):
            self._foreign = bool(raw.strip())
            return {}
        if document.get("format") != CACHE_FORMAT:
            return {}
        entries = document.get("entries")
        if not isinstance(entries, dict):
            return {}
        return {key: entry for key, entry in entries.items() if _well_formed(entry)}


def _key(path: Path) -> str:
    return os.path.abspath(path)


def _well_formed(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(name), int) for name in ("size", "mtime_ns", "inode"))
        and isinstance(entry.get("sha256"), str)
    )


def _still_current(key: str, entry: dict[str, int | str]) -> bool:
    with contextlib.suppress(OSError):
        return identity(os.stat(key)) == (entry["size"], entry["mtime_ns"], entry["inode"])
    return False
