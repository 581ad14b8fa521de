"""A zip writer whose bytes depend only on the entries given, in the order given: never on when, where or by whom.

Every entry gets the same timestamp (1980-01-01 00:00, the earliest a zip can hold), Unix as the
creating system, the permissions passed in, no extra fields and no comment; the archive gets no
comment either. Entries are written in the order of the calls: sorting them is the caller's job.

Every entry is STORED (not compressed). Why:
- Reproducibility across machines. Deflate output is not specified by the format, only its
  decoding: zlib versions, zlib-ng (the system zlib of recent Fedora and of some Python builds) and
  the Intel and Cloudflare forks write different, equally valid streams for the same input. A
  deflated artifact could hash differently on a laptop and on a CI runner, and a changed hash means
  a new upload and a redeployment.
- Nothing to gain where the bytes are. Weights are float tensors that deflate shrinks by a few
  percent, and archives, images and conda-pack environments (.gz .tgz .zip .xz .bz2 .zst .7z .npz
  .png .jpg) not at all, while deflate runs far slower than the disk and the hash. The files that
  would compress well (config.pbtxt, model.py, labels) weigh kilobytes.
- Speed: a stored entry is the file's bytes, so writing one costs a copy and a CRC-32.

The layout is that of CPython 3.11's `zipfile` (the project pins Python 3.11), which also writes
ZIP64 records, deterministically from the sizes, when an entry or the archive passes 4 GiB. The
handle must be seekable: each local header is rewritten with its CRC once the data is written, so
no data descriptors are used (some streaming readers refuse them on stored entries).
"""

from __future__ import annotations

import contextlib
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Protocol

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
CREATE_SYSTEM_UNIX = 3
MSDOS_DIRECTORY_FLAG = 0x10
ZIP64_FIELD_HEADER = 4
"""Bytes of a ZIP64 extra field's tag and length, before its 8-byte values."""


class EntryWriter(Protocol):
    def write(self, data: bytes | memoryview, /) -> int: ...


@dataclass
class PlacedData:
    """Where the data of an entry written in place starts in the archive, and (set by the caller) its CRC-32."""

    offset: int
    crc: int = 0


class ReproducibleZipWriter:
    """Writes a reproducible zip to an open, seekable binary handle; `close()` (or the `with` block) ends it.

    Names are posix paths relative to the archive root; a directory's name ends with '/'.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        """A directory entry; `name` ends with '/'."""
        if not name.endswith("/"):
            raise ValueError(f"a directory entry's name ends with '/': {name!r}")
        info = _info(name, stat.S_IFDIR | mode)
        info.external_attr |= MSDOS_DIRECTORY_FLAG
        info.file_size = info.compress_size = info.CRC = 0
        self._zip.mkdir(info)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """A file entry holding `data`."""
        with self.add_file(name, len(data), mode) as entry:
            entry.write(data)

    @contextlib.contextmanager
    def add_file(self, name: str, size: int, mode: int = 0o644) -> Iterator[EntryWriter]:
        """A file entry whose `size` bytes are written in pieces to the yielded writer.

        `size` decides, as zipfile does, whether the entry needs ZIP64 records; writing a different
        number of bytes makes the archive's bytes differ from a build given the right size.
        """
        info = _info(name, stat.S_IFREG | mode)
        info.file_size = size
        with self._zip.open(info, "w") as entry:
            yield entry

    @contextlib.contextmanager
    def add_file_in_place(self, name: str, size: int, mode: int = 0o644) -> Iterator[PlacedData]:
        """A file entry whose `size` bytes the caller puts into the archive's file itself (a kernel copy), not
        through this writer: at `placed.offset`, the handle's position when yielded. Before the block ends the
        caller leaves the handle at the end of those bytes and sets `placed.crc` to their CRC-32. The archive's
        bytes are those `add_file` writes for the same data.

        zipfile has no call for data written around it: this tells the entry what its `write` calls would have
        counted (CPython 3.11's `_ZipWriteFile` counters, which it turns into the header and the central record).
        """
        info = _info(name, stat.S_IFREG | mode)
        info.file_size = size
        with self._zip.open(info, "w") as entry:
            placed = PlacedData(self._zip.fp.tell())  # type: ignore[union-attr]
            yield placed
            entry._file_size = entry._compress_size = size  # type: ignore[attr-defined]
            entry._crc = placed.crc  # type: ignore[attr-defined]

    def close(self) -> None:
        """Write the central directory; the handle stays open. On leaving a `with` block by an error the
        archive is left unfinished (it is thrown away) and the error raised is the original one."""
        self._zip.close()

    def __enter__(self) -> ReproducibleZipWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if error is None:
            self.close()
            return
        with contextlib.suppress(Exception):
            self.close()


def archive_size(entries: Iterable[tuple[str, int]]) -> int:
    """The exact size of the archive `ReproducibleZipWriter` writes for `entries` (name, size), in that order.

    A name ending in '/' is a directory (size 0). Each entry costs a local header (30 bytes and the
    name, plus a ZIP64 field with both sizes when `size * 1.05` passes zipfile.ZIP64_LIMIT: zipfile's
    test before writing), its bytes, and a central record (46 bytes and the name, plus a ZIP64 field
    of 8 bytes for each of the sizes and the local header's offset that passes ZIP64_LIMIT); the
    archive ends with the end record (22 bytes), preceded by the ZIP64 end record and locator when
    the count passes ZIP_FILECOUNT_LIMIT or the central directory's offset or size pass ZIP64_LIMIT.
    The limits are read from zipfile when called, as zipfile reads them when writing.
    """
    limit = zipfile.ZIP64_LIMIT
    offset = central = count = 0
    for name, size in entries:
        name_size = len(name.encode("utf-8"))
        zip64_local = not name.endswith("/") and size * 1.05 > limit
        zip64_values = (2 if size > limit else 0) + (1 if offset > limit else 0)
        central += zipfile.sizeCentralDir + name_size + (ZIP64_FIELD_HEADER + 8 * zip64_values if zip64_values else 0)
        offset += zipfile.sizeFileHeader + name_size + (ZIP64_FIELD_HEADER + 16 if zip64_local else 0) + size
        count += 1
    end = zipfile.sizeEndCentDir
    if count > zipfile.ZIP_FILECOUNT_LIMIT or offset > limit or central > limit:
        end += zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    return offset + central + end


def _info(name: str, st_mode: int) -> zipfile.ZipInfo:
    if not name or name.startswith("/") or "\\" in name or any(part in ("", ".", "..") for part in
                                                                name.rstrip("/").split("/")):
        raise ValueError(f"not a relative posix path inside an archive: {name!r}")
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.create_system = CREATE_SYSTEM_UNIX
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = (st_mode & 0xFFFF) << 16
    return info
