"""The one check of every path triton-groups reads from the user, made before the path is opened.

A spec names files and folders (version files and folders, a config.pbtxt, an execution environment, a stub,
label files, smoke .npy files) and a repository folder holds them; they are read whole (a spec, a config),
streamed (weights, hashed and zipped) or handed to numpy. Before any of that, `check_kind` stats the path:
only a regular file or a folder is accepted, so a FIFO (which blocks on open), a device (`/dev/zero` reads
forever) or a socket is refused with its kind named, and every size is known before a byte is read.
`open_regular` opens with O_NONBLOCK and checks the open descriptor again, so a path swapped for a FIFO
after the stat neither blocks nor is read; `read_file` reads a file whole only up to a limit.

Symbolic links: `SourceRoots` holds the folders a model's files may come from. A link whose target (fully
resolved) lies inside one of them is followed; any other is refused (`outside`), naming the link and its
target, so that a link to /etc/shadow or /usr/share/doc in a model folder is never packed and uploaded.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

Want = Literal["file", "folder", "either"]
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
"""Opening never blocks (a FIFO without a writer would) and never makes a terminal ours."""


class NotUsable(Exception):
    """A path that cannot be used: `reason` ends a sentence that starts with the path ("is a FIFO, ...").

    `detail` is the same in a few words, for a message that has its own sentence ("permission denied").
    """

    def __init__(self, reason: str, code: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.detail = detail or reason


_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a file of `mode` is, in words: "a FIFO (named pipe)", "a character device", ..."""
    return next((words for is_kind, words in _KINDS if is_kind(mode)), "not a regular file")


def check_kind(path: Path, want: Want = "file") -> os.stat_result:
    """The stat of `path` (links followed) if it is what `want` asks: a regular file, a folder, or either.

    Raises NotUsable naming what it is instead: missing, a broken link, a FIFO, a device, a socket, a folder
    where a file is wanted (or the reverse), or not readable. Nothing is opened.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise NotUsable(f"is a broken symbolic link: its target {os.readlink(path)} does not exist",
                            "broken_link") from None
        raise NotUsable("does not exist", "missing") from None
    except NotADirectoryError:
        raise NotUsable("does not exist (a folder on its way is a file)", "missing") from None
    except OSError as exc:
        raise NotUsable(f"cannot be read ({reason(exc)})", "unreadable", reason(exc)) from None
    if stat.S_ISREG(st.st_mode):
        if want == "folder":
            raise NotUsable("is a file, not a folder", "not_a_folder")
    elif stat.S_ISDIR(st.st_mode):
        if want == "file":
            raise NotUsable("is a folder, not a file", "is_a_folder")
    else:
        wanted = {"file": "a regular file", "folder": "a folder", "either": "a regular file or a folder"}[want]
        raise NotUsable(f"is {kind_of(st.st_mode)}, not {wanted}", "not_a_file")
    return st


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading, unbuffered, if it is a regular file; NotUsable otherwise, without blocking."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        raise NotUsable("does not exist", "missing") from None
    except IsADirectoryError:
        raise NotUsable("is a folder, not a file", "is_a_folder") from None
    except OSError as exc:
        raise NotUsable(f"cannot be read ({reason(exc)})", "unreadable", reason(exc)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotUsable(f"is {kind_of(mode)}, not a regular file", "is_a_folder" if stat.S_ISDIR(mode) else
                        "not_a_file")
    return os.fdopen(fd, "rb", buffering=0)


def read_file(path: Path, limit: int | None = None, what: str = "this file") -> bytes:
    """The bytes of the regular file `path`, read whole; NotUsable when it is not one, or holds more than `limit`.

    The size is taken from the open file before reading, and no more than it (and `limit`) is read.
    """
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if limit is not None and size > limit:
            raise NotUsable(f"holds {size:,} bytes, more than the {limit:,} bytes {what} may have", "too_large")
        try:
            return handle.read(size)
        except OSError as exc:
            raise NotUsable(f"cannot be read ({reason(exc)})", "unreadable", reason(exc)) from None


def reason(exc: OSError) -> str:
    """An OSError's reason in lower case: "permission denied"."""
    return (exc.strerror or str(exc)).lower()


@dataclass(frozen=True)
class SourceRoots:
    """The folders (each fully resolved) that a model's files may come from through symbolic links."""

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Iterable[Path]) -> SourceRoots:
        """The roots `folders`, each absolute with its parents resolved (`located`, `where_it_is`, or realpath)."""
        return cls(tuple(sorted(set(folders))))

    def holds(self, target: Path) -> bool:
        """Whether the fully resolved `target` is one of the folders or inside one."""
        return any(target == folder or target.is_relative_to(folder) for folder in self.folders)

    def outside(self, path: Path) -> Path | None:
        """If `path` is a symbolic link whose target lies outside every folder: that target (fully resolved).

        None for a path that is not a link, and for a link that stays inside (it is followed).
        """
        if not os.path.islink(path):
            return None
        target = Path(os.path.realpath(path))
        return None if self.holds(target) else target


def located(folder: Path, relative: str) -> Path:
    """Where `relative` (written in a file of `folder`) is: its folders resolved, its last part kept as written.

    A link at the end of the path is then seen as a link (and checked as one) rather than already followed;
    links among the folders leading to it are the layout the author chose, and followed.
    """
    full = folder / relative
    if full.name in ("", ".", ".."):
        return full.resolve()
    return full.parent.resolve() / full.name


def where_it_is(path: Path) -> Path:
    """The source folder of a `located` path: the folder itself, or a file's folder.

    A folder that is a link stays where the link is (its last part is not resolved), so that the link
    counts as leaving it unless it points into another source folder.
    """
    return path if os.path.isdir(path) else path.parent
