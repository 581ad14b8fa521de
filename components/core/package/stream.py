"""One artifact zip written in a pipeline: each source byte read once, by the kernel, and the zip's CRCs and both
sha256s (of each source, for the manifest; of the zip itself) taken from the page cache while the next bytes are
copied, with no second pass over the finished zip.

Who does what (hashlib, zlib, mmap and file I/O release the GIL, so the threads run on separate cores):

- the calling thread copies each source file into the zip (`hashcache.copy_chunks`: `os.copy_file_range`, so
  the bytes never pass through Python), COPY_BYTES at a time, and takes the CRC-32 of each piece from the zip's
  pages (mapped, no copy); zipfile lays out the headers and the central directory (`_internal.zipwriter`);
- the source hasher takes the sha256 of each source file from the same pages, unless its digest is known;
- the zip hasher takes the sha256 of the zip in file order as soon as bytes are final. A stored entry's local
  header is written again with its CRC once its data is in (the bytes stay those of CPython's zipfile), so an
  entry is final when it is closed; it is hashed then from the page cache, while the next entry is copied;
- the writeback thread has the kernel start writing the zip to disk as it grows (every WRITEBACK_BYTES, waiting
  for it every DATASYNC_BYTES), so that making the zip durable at the end (the caller's fsync) overlaps the build
  instead of following it.

Memory: nothing but small pieces (under SMALL_RANGE) is copied out of the page cache. The windows of the entry
being written stay mapped until the zip hasher has taken them (after the entry is closed): address space, not
memory, as the pages are the page cache's own, which the kernel writes back and may reclaim as usual.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import mmap
import os
import queue
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from components._internal.zipwriter import ReproducibleZipWriter
from components.core.hashcache import copy_chunks

COPY_BYTES = 16 << 20
"""One copy of source bytes into the zip: the unit of the pipeline (and of progress)."""
MAP_BYTES = 64 << 20
"""The hashers map the zip in windows of this size (at most) to read what was written."""
SMALL_RANGE = 256 << 10
"""Bytes of the zip read with pread rather than mapped (mapping costs more for so few)."""
SMALL_WRITE = 64 << 10
"""Writes below this are gathered (headers, bytes in memory, the central directory) and written together."""
SMALL_FLUSH = 1 << 20
WRITEBACK_BYTES = 16 << 20
"""The writeback thread starts the disk writes of the zip's new bytes every time this much more is written."""
DATASYNC_BYTES = 256 << 20
"""The writeback thread also waits for the disk (fdatasync, a journal commit) every this many bytes, so that the
final fsync commits only the end of the zip."""
SYNC_FILE_RANGE_WRITE = 2
"""From linux/fs.h: start writing the dirty pages of the range, without waiting."""
MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
"""Linux: map the pages at once (they are in the page cache) rather than one fault per page."""


@dataclass(frozen=True)
class Member:
    """One zip entry: a folder (`path` ends with '/'), bytes in memory (`data`), or a file copied from `source`
    as `stat` describes it, whose sha256 is `sha256` if already known (then it is not hashed again)."""

    path: str
    mode: int
    data: bytes | None = None
    source: Path | None = None
    stat: os.stat_result | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class FileDigest:
    """The sha256 of a source file as zipped; `read_at_ns` when it was read (None: it was known before)."""

    sha256: str
    read_at_ns: int | None


class StreamingZip:
    """Writes a reproducible zip into the open file `fd` (empty, at offset 0) with the pipeline of the module doc.

    Use as a context manager: `add_members` (once), then `add_bytes`, then `finish()` for the zip's sha256 and
    size. Leaving the block by an error stops every thread. `on_bytes(n)` is told of each piece of source data
    copied, from the calling thread.
    """

    def __init__(self, fd: int, on_bytes: Callable[[int], None] | None = None) -> None:
        self._fd = fd
        self._on_bytes = on_bytes
        self._hasher = _ZipHasher(fd)
        self._sources = _SourceHasher(fd)
        self._writeback = _Writeback(fd)
        self._file = _HashingFile(fd, self._hasher, self._writeback)
        self._threads: list[threading.Thread] = [self._hasher, self._sources, self._writeback]

    def __enter__(self) -> StreamingZip:
        for thread in self._threads:
            thread.start()
        self._archive = ReproducibleZipWriter(cast(IO[bytes], self._file))
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc_info: object) -> None:
        if kind is not None:
            self._file.discard()
            with contextlib.suppress(Exception):
                self._archive.close()
        self._hasher.close()
        self._sources.close()
        self._writeback.close()
        for thread in self._threads:
            thread.join()

    def add_members(self, members: Sequence[Member]) -> dict[str, FileDigest]:
        """Add `members` in their order; the digest of each file member by path."""
        read_at: dict[str, int | None] = {}
        for member in members:
            if member.source is not None:
                read_at[member.path] = self._add_file(member)
            elif member.path.endswith("/"):
                self._archive.add_dir(member.path, member.mode)
            else:
                self._archive.add_bytes(member.path, member.data or b"", member.mode)
            self._file.settle()
        hashed = self._sources.results()
        return {member.path: FileDigest(member.sha256 or hashed[member.path], read_at[member.path])
                for member in members if member.source is not None}

    def add_bytes(self, name: str, data: bytes, mode: int) -> None:
        self._archive.add_bytes(name, data, mode)
        self._file.settle()

    def finish(self) -> tuple[str, int]:
        """End the zip (central directory); its sha256 and size once every byte is hashed and handed to writeback."""
        self._archive.close()
        return self._file.finish()

    def _add_file(self, member: Member) -> int | None:
        """Copy one source file in; when it was read (None if its digest was known and it is not hashed)."""
        assert member.source is not None and member.stat is not None
        hash_it = member.sha256 is None
        crc = 0
        pieces: list[Piece] = []
        try:
            with self._archive.add_file_in_place(member.path, member.stat.st_size, member.mode) as placed:
                offset = self._file.direct_offset()
                assert offset == placed.offset
                for count in copy_chunks(member.source, member.stat, self._fd, offset, COPY_BYTES):
                    for piece in Piece.of(self._fd, offset, count, users=2 + hash_it):
                        pieces.append(piece)
                        with piece.use() as view:
                            crc = zlib.crc32(view, crc)
                        if hash_it:
                            self._sources.put(member.path, piece)
                    self._file.grew(count)
                    offset += count
                    if self._on_bytes is not None:
                        self._on_bytes(count)
                placed.crc = crc
        except BaseException:
            for piece in pieces:  # the zip hasher will not have them
                piece.drop()
            raise
        self._file.settle(pieces)
        if not hash_it:
            return None
        self._sources.put(member.path, None)
        return time.time_ns()


class Piece:
    """Bytes of the zip shared by the threads that read them (CRC, the source's sha256, the zip's sha256): a
    mapped window of the page cache (no copy) or, for a few bytes, a copy. Each of its `users` calls `use()`
    once (or `drop()`); the window is unmapped after the last."""

    def __init__(self, view: memoryview, window: mmap.mmap | None, users: int) -> None:
        self._view = view
        self._window = window
        self._users = users
        self._lock = threading.Lock()
        self.size = view.nbytes

    @classmethod
    def of(cls, fd: int, start: int, count: int, users: int) -> list[Piece]:
        """The zip's bytes [start, start + count) as pieces: one mapped window per MAP_BYTES, or one copy of
        fewer than SMALL_RANGE bytes (or where the file cannot be mapped)."""
        if count < SMALL_RANGE:
            return [cls(memoryview(_pread_exactly(fd, count, start)), None, users)]
        pieces, stop = [], start + count
        while start < stop:
            base = start - start % mmap.ALLOCATIONGRANULARITY
            length = min(stop - base, start - base + MAP_BYTES)
            try:
                window = mmap.mmap(fd, length, flags=mmap.MAP_SHARED | MAP_POPULATE, prot=mmap.PROT_READ,
                                   offset=base)
            except (OSError, ValueError):
                pieces.append(cls(memoryview(_pread_exactly(fd, base + length - start, start)), None, users))
            else:
                pieces.append(cls(memoryview(window)[start - base:], window, users))
            start = base + length
        return pieces

    @contextlib.contextmanager
    def use(self) -> Iterator[memoryview]:
        """The bytes, for one user; released after the block if it was the last."""
        try:
            yield self._view
        finally:
            self.drop()

    def drop(self) -> None:
        """One user is done (or will never come)."""
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self._view.release()
            if self._window is not None:
                self._window.close()


def _windows(fd: int, start: int, stop: int) -> Iterator[memoryview]:
    """Views of the bytes [start, stop) of the file `fd`, mapped a window of at most MAP_BYTES at a time (no copy
    out of the page cache); read with pread where the file cannot be mapped. Use each view before the next."""
    granularity = mmap.ALLOCATIONGRANULARITY
    while start < stop:
        base = start - start % granularity
        length = min(stop - base, start - base + MAP_BYTES)
        try:
            window = mmap.mmap(fd, length, flags=mmap.MAP_SHARED | MAP_POPULATE, prot=mmap.PROT_READ, offset=base)
        except (OSError, ValueError):
            yield memoryview(_pread_exactly(fd, base + length - start, start))
        else:
            with window, memoryview(window) as whole:
                part = whole[start - base:]
                try:
                    yield part
                finally:
                    part.release()
        start = base + length


def _pread_exactly(fd: int, count: int, offset: int) -> bytes:
    data = os.pread(fd, count, offset)
    if len(data) != count:
        raise OSError(f"the zip being written ended at {offset + len(data)} bytes, before {offset + count}")
    return data


class _SourceHasher(threading.Thread):
    """sha256 of each source file, fed (path, piece) for each of its pieces in order, then (path, None)."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="zip-source-hasher", daemon=True)
        self._fd = fd
        self._queue: queue.SimpleQueue[tuple[str, Piece | None] | None] = queue.SimpleQueue()
        self._digests: dict[str, hashlib._Hash] = {}
        self._done: dict[str, str] = {}
        self._error: BaseException | None = None
        self._closed = False

    def put(self, path: str, item: Piece | None) -> None:
        self._queue.put((path, item))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def results(self) -> dict[str, str]:
        """The hex digest of every file ended with (path, None); the error met while hashing, if any."""
        self.close()
        self.join()
        if self._error is not None:
            raise self._error
        return self._done

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue
            path, piece = item
            try:
                digest = self._digests.setdefault(path, hashlib.sha256())
                if piece is None:
                    self._done[path] = self._digests.pop(path).hexdigest()
                else:
                    with piece.use() as view:
                        digest.update(view)
            except BaseException as exc:
                self._error = exc


class _ZipHasher(threading.Thread):
    """sha256 of the zip, fed in file order with bytes, pieces, or (start, stop) ranges to read from the file."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="zip-hasher", daemon=True)
        self._fd = fd
        self._queue: queue.SimpleQueue[bytes | Piece | tuple[int, int] | None] = queue.SimpleQueue()
        self._digest = hashlib.sha256()
        self._error: BaseException | None = None
        self._closed = False

    def put(self, item: bytes | Piece | tuple[int, int]) -> None:
        self._queue.put(item)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def result(self) -> str:
        """The hex digest, once every byte was put and `close()`d; the error met while reading back, if any."""
        self.close()
        self.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue
            try:
                if isinstance(item, bytes):
                    self._digest.update(item)
                elif isinstance(item, Piece):
                    with item.use() as view:
                        self._digest.update(view)
                elif item[1] - item[0] < SMALL_RANGE:
                    self._digest.update(_pread_exactly(self._fd, item[1] - item[0], item[0]))
                else:
                    for view in _windows(self._fd, *item):
                        self._digest.update(view)
            except BaseException as exc:
                self._error = exc


class _Writeback(threading.Thread):
    """Starts the disk writes of the zip's new bytes each time WRITEBACK_BYTES more were written (`sync_file_range`
    with SYNC_FILE_RANGE_WRITE: no waiting, no journal commit), so that the final fsync finds little left to do.

    Every DATASYNC_BYTES it also waits for them (fdatasync), so that the journal commits as the zip grows rather
    than all at the end; an fdatasync at every step would cost a commit each time, more than it saves. Where
    sync_file_range does not exist (not Linux) the thread does nothing: the final fsync writes everything.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(name="zip-writeback", daemon=True)
        self._fd = fd
        self._start = _sync_file_range()
        self._written = 0
        self._begun = 0
        self._durable = 0
        self._closing = False
        self._error: OSError | None = None
        self._wake = threading.Condition()

    def wrote(self, end: int) -> None:
        if self._start is not None and end - self._begun >= WRITEBACK_BYTES:
            with self._wake:
                self._written = end
                self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()

    def check(self) -> None:
        """Stop; raise the error a writeback met (the final fsync may not see it again)."""
        self.close()
        self.join()
        if self._error is not None:
            raise self._error

    def run(self) -> None:
        if self._start is None:
            return
        while True:
            with self._wake:
                while not self._closing and self._written - self._begun < WRITEBACK_BYTES:
                    self._wake.wait()
                if self._closing:
                    return
                start, stop = self._begun, self._written
            try:
                self._start(self._fd, start, stop - start)
                if stop - self._durable >= DATASYNC_BYTES:
                    os.fdatasync(self._fd)
                    self._durable = stop
            except OSError as exc:
                self._error = exc
                return
            self._begun = stop


def _sync_file_range() -> Callable[[int, int, int], None] | None:
    """libc's sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE) as a function raising OSError; None where
    there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int

    def start(fd: int, offset: int, count: int) -> None:
        if function(fd, offset, count, SYNC_FILE_RANGE_WRITE) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))

    return start


class _HashingFile:
    """The seekable file zipfile writes to: bytes go to `fd` with pwrite, and to the zip hasher once final.

    Bytes are final when `settle()` is called (after each entry is closed: its header rewritten); a write
    before the settled offset is refused, so what was hashed is what the file holds.
    """

    def __init__(self, fd: int, hasher: _ZipHasher, writeback: _Writeback) -> None:
        self._fd = fd
        self._hasher = hasher
        self._writeback = writeback
        self._pos = 0
        self._end = 0
        self._settled = 0
        self._small = bytearray()
        self._small_at = 0
        """`_small` holds the bytes [_small_at, _end) not written to fd yet (none when it is empty)."""
        self._discarded = False

    def discard(self) -> None:
        """The zip is thrown away: later writes (zipfile ending the archive after an error) do nothing."""
        self._discarded = True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._end}[whence]
        self._pos = base + offset
        return self._pos

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        count = view.nbytes
        if self._discarded:
            return count
        if self._pos < self._end:
            self._rewrite(view)
        elif self._pos > self._end:
            raise ValueError("writing past the end of the zip would leave a hole")
        else:
            if count < SMALL_WRITE:
                if not self._small:
                    self._small_at = self._end
                self._small += view
                if len(self._small) >= SMALL_FLUSH:
                    self._flush_small()
            else:
                self._flush_small()
                self._pwrite(view, self._end)
            self._end += count
            self._writeback.wrote(self._end)
        self._pos += count
        return count

    def flush(self) -> None:
        self._flush_small()

    def direct_offset(self) -> int:
        """Where bytes written to fd directly (not through `write`) go next: the end, every gathered write out."""
        if self._pos != self._end:
            raise ValueError("direct writes go at the end of the zip")
        self._flush_small()
        return self._end

    def grew(self, count: int) -> None:
        """`count` bytes were written to fd directly at the end (`direct_offset`)."""
        self._end += count
        self._pos = self._end
        self._writeback.wrote(self._end)

    def settle(self, tail: Sequence[Piece] = ()) -> None:
        """Every byte written so far is final: hand it to the zip hasher. `tail` holds the last bytes, in order, as
        the caller has them already (the data of the entry just closed), so they are not read again."""
        start = self._end - sum(piece.size for piece in tail)
        if self._settled < start:
            if self._small and self._small_at <= self._settled and start == self._end:
                self._hasher.put(bytes(memoryview(self._small)[self._settled - self._small_at:]))
            else:
                self._flush_small()
                self._hasher.put((self._settled, start))
        for piece in tail:
            self._hasher.put(piece)
        self._settled = self._end

    def finish(self) -> tuple[str, int]:
        """The sha256 and size of the whole file, every byte written to fd and its writeback checked."""
        self._flush_small()
        self.settle()
        sha256 = self._hasher.result()
        self._writeback.check()
        return sha256, self._end

    def _rewrite(self, view: memoryview) -> None:
        end = self._pos + view.nbytes
        if self._pos < self._settled or end > self._end:
            raise ValueError("a zip entry rewrote bytes already final, or past the end")
        if self._small and self._pos >= self._small_at:
            self._small[self._pos - self._small_at: end - self._small_at] = view
        else:
            self._flush_small()
            self._pwrite(view, self._pos)

    def _flush_small(self) -> None:
        if self._small and not self._discarded:
            self._pwrite(memoryview(self._small), self._small_at)
            self._small = bytearray()

    def _pwrite(self, view: memoryview, offset: int) -> None:
        while view:
            written = os.pwrite(self._fd, view, offset)
            view = view[written:]
            offset += written

