"""One artifact zip written in a pipeline: each source byte read once, hashed, CRC'd and written while the next
buffer is read, and the zip's own sha256 taken as it grows (no second pass over the finished zip).

Threads (hashlib, zlib and file I/O release the GIL on large buffers, so they run on separate cores):

- the reader reads each source file into buffers of a fixed pool (BUFFERS of BUFFER_BYTES: memory stays
  bounded whatever the file sizes) and hashes it with sha256 for the manifest, unless its digest is known;
- the calling thread adds the entries through `ReproducibleZipWriter` (zipfile computes the CRC-32) into a
  `_HashingFile`, which writes with `os.pwrite` and coalesces small writes;
- the zip hasher feeds the zip's bytes to sha256 in file order as soon as they are final. A stored entry's
  local header is written again with its CRC once its data is in (the bytes stay those of CPython's zipfile,
  see `_internal.zipwriter`), so an entry is final when it is closed: small ones are handed over from the
  write buffer, the data of a large one is read back from the page cache right behind the writer while the
  next entry is read and written (mapped: `mmap` costs no copy);
- the writeback thread has the kernel start writing the zip to disk as it grows (every WRITEBACK_BYTES), so that
  making the zip durable at the end (the caller's fsync) overlaps the build instead of following it.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from components._internal.zipwriter import ReproducibleZipWriter
from components.core.hashcache import read_blocks

BUFFER_BYTES = 8 << 20
"""One read of a source file: large enough that each hand-over and each GIL release costs little."""
BUFFERS = 6
"""Buffers in flight between the reader and the writer (BUFFERS * BUFFER_BYTES of memory)."""
SMALL_WRITE = 64 << 10
"""Writes below this are gathered (headers, small files, the central directory) and written together."""
SMALL_FLUSH = 1 << 20
WRITEBACK_BYTES = 16 << 20
"""The writeback thread asks for the zip's new bytes to be written to disk every time this much more is written."""
SYNC_FILE_RANGE_WRITE = 2
"""From linux/fs.h: start writing the dirty pages of the range, without waiting."""
MAP_BYTES = 64 << 20
"""The zip hasher maps the zip in windows of this size (at most) to hash what was written."""
MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
"""Linux: map the pages at once (they are in the page cache) rather than one fault per page."""
POLL_S = 0.1


@dataclass(frozen=True)
class Member:
    """One zip entry: a folder (`path` ends with '/'), bytes in memory (`data`), or a file read from `source`
    as `stat` describes it, whose sha256 is `sha256` if already known (then it is not hashed again)."""

    path: str
    mode: int
    data: bytes | None = None
    source: Path | None = None
    stat: os.stat_result | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class FileDigest:
    """The sha256 of a source file as zipped; `read_at_ns` when it was hashed (None: it was known before)."""

    sha256: str
    read_at_ns: int | None


class _Stopped(Exception):
    """The writer gave up: the reader stops where it is."""


@dataclass(frozen=True)
class _End:
    sha256: str | None
    read_at_ns: int


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class StreamingZip:
    """Writes a reproducible zip into the open file `fd` (empty, at offset 0) with the pipeline of the module doc.

    Use as a context manager: `add_members` (once), then `add_bytes`, then `finish()` for the zip's sha256 and
    size. Leaving the block by an error stops every thread. `on_bytes(n)` is told of each piece of source data
    written, from the calling thread.
    """

    def __init__(self, fd: int, on_bytes: Callable[[int], None] | None = None) -> None:
        self._fd = fd
        self._on_bytes = on_bytes
        self._hasher = _ZipHasher(fd)
        self._writeback = _Writeback(fd)
        self._file = _HashingFile(fd, self._hasher, self._writeback)
        self._threads: list[threading.Thread] = [self._hasher, self._writeback]
        self._stop = threading.Event()

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
        self._stop.set()
        self._hasher.close()
        self._writeback.close()
        for thread in self._threads:
            thread.join()

    def add_members(self, members: Sequence[Member]) -> dict[str, FileDigest]:
        """Add `members` in their order; the digest of each file member by path."""
        files = [member for member in members if member.source is not None]
        reader = _Reader(files, self._stop)
        self._threads.append(reader)
        reader.start()
        digests: dict[str, FileDigest] = {}
        try:
            for member in members:
                if member.source is not None:
                    digests[member.path] = self._add_file(member, reader)
                elif member.path.endswith("/"):
                    self._archive.add_dir(member.path, member.mode)
                else:
                    self._archive.add_bytes(member.path, member.data or b"", member.mode)
                self._file.settle()
        finally:
            self._stop.set()
            reader.release_all()
            reader.join()
        return digests

    def add_bytes(self, name: str, data: bytes, mode: int) -> None:
        self._archive.add_bytes(name, data, mode)
        self._file.settle()

    def finish(self) -> tuple[str, int]:
        """End the zip (central directory); its sha256 and size once every byte is hashed and handed to writeback."""
        self._archive.close()
        return self._file.finish()

    def _add_file(self, member: Member, reader: _Reader) -> FileDigest:
        assert member.stat is not None
        with self._archive.add_file(member.path, member.stat.st_size, member.mode) as entry:
            while True:
                item = reader.next()
                if isinstance(item, memoryview):
                    entry.write(item)
                    reader.give_back(item)
                    if self._on_bytes is not None:
                        self._on_bytes(len(item))
                elif isinstance(item, _End):
                    break
                else:
                    raise item.error
        if item.sha256 is None:
            assert member.sha256 is not None
            return FileDigest(member.sha256, None)
        return FileDigest(item.sha256, item.read_at_ns)


class _Reader(threading.Thread):
    """Reads and hashes `files` in order into pooled buffers; `next()` gives each chunk, then an _End per file."""

    def __init__(self, files: Sequence[Member], stop: threading.Event) -> None:
        super().__init__(name="zip-reader", daemon=True)
        self._files = files
        self._stopping = stop
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(min(BUFFERS, max(1, len(files) * 2))):
            self._free.put(bytearray(BUFFER_BYTES))
        self._out: queue.SimpleQueue[memoryview | _End | _Failed] = queue.SimpleQueue()

    def next(self) -> memoryview | _End | _Failed:
        return self._out.get()

    def give_back(self, view: memoryview) -> None:
        self._free.put(cast(bytearray, view.obj))

    def release_all(self) -> None:
        """Hand back every chunk not taken yet (the writer stopped early), so that the reader sees the stop."""
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._out.get_nowait()
                if isinstance(item, memoryview):
                    self.give_back(item)

    def run(self) -> None:
        try:
            for member in self._files:
                assert member.source is not None and member.stat is not None
                digest = hashlib.sha256() if member.sha256 is None else None
                taken: list[bytearray] = []
                for view in read_blocks(member.source, member.stat, lambda taken=taken: self._take(taken)):
                    if digest is not None:
                        digest.update(view)
                    taken.clear()
                    self._out.put(view)
                for unused in taken:
                    self._free.put(unused)
                self._out.put(_End(None if digest is None else digest.hexdigest(), time.time_ns()))
        except _Stopped:
            return
        except BaseException as exc:
            self._out.put(_Failed(exc))

    def _take(self, taken: list[bytearray]) -> bytearray:
        while not self._stopping.is_set():
            with contextlib.suppress(queue.Empty):
                buffer = self._free.get(timeout=POLL_S)
                taken.append(buffer)
                return buffer
        raise _Stopped


class _ZipHasher(threading.Thread):
    """sha256 of the zip, fed in file order with bytes or (start, stop) ranges to read back from the file."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="zip-hasher", daemon=True)
        self._fd = fd
        self._queue: queue.SimpleQueue[bytes | tuple[int, int] | None] = queue.SimpleQueue()
        self._digest = hashlib.sha256()
        self._error: BaseException | None = None
        self._closed = False

    def put(self, item: bytes | tuple[int, int]) -> None:
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
                else:
                    self._hash_range(*item)
            except BaseException as exc:
                self._error = exc

    def _hash_range(self, start: int, stop: int) -> None:
        """Hash the zip's bytes [start, stop) from the file, mapped in windows of MAP_BYTES (no copy out of the
        page cache, where they were just written); read with pread where mapping is not possible."""
        granularity = mmap.ALLOCATIONGRANULARITY
        while start < stop:
            base = start - start % granularity
            length = min(stop - base, MAP_BYTES)
            try:
                window = mmap.mmap(self._fd, length, flags=mmap.MAP_SHARED | MAP_POPULATE, prot=mmap.PROT_READ,
                                   offset=base)
            except (OSError, ValueError):
                self._read_range(start, base + length)
            else:
                with window, memoryview(window) as view:
                    self._digest.update(view[start - base:])
            start = base + length

    def _read_range(self, start: int, stop: int) -> None:
        buffer = bytearray(min(BUFFER_BYTES, stop - start))
        view = memoryview(buffer)
        while start < stop:
            count = _pread_into(self._fd, view[: min(len(buffer), stop - start)], start)
            if count == 0:
                raise OSError(f"the zip ended at {start} bytes while being hashed")
            self._digest.update(view[:count])
            start += count


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, len(view), offset)
    view[: len(data)] = data
    return len(data)


class _Writeback(threading.Thread):
    """Starts the disk writes of the zip's new bytes each time WRITEBACK_BYTES more were written (`sync_file_range`
    with SYNC_FILE_RANGE_WRITE: no waiting, no journal commit), so that the final fsync finds little left to do.

    Where the call does not exist (not Linux) the thread does nothing: the final fsync writes everything. An
    fdatasync per step would do it too, but waits for a journal commit each time, which costs more than it saves.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(name="zip-writeback", daemon=True)
        self._fd = fd
        self._start = _sync_file_range()
        self._written = 0
        self._begun = 0
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

    def settle(self) -> None:
        """Every byte written so far is final: hand it to the zip hasher."""
        if self._settled == self._end:
            return
        if self._small and self._small_at <= self._settled:
            self._hasher.put(bytes(memoryview(self._small)[self._settled - self._small_at:]))
        else:
            self._flush_small()
            self._hasher.put((self._settled, self._end))
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

