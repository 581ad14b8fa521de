"""Paths in resource inputs and state: relative to the project folder when inside it, absolute otherwise.

The project folder is the nearest folder holding Pulumi.yaml, searched upward from the current
directory: the Pulumi engine runs the program and the provider processes inside the project (its
`main:` folder), and tests run from the project root.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_FILE = "Pulumi.yaml"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the current directory) holding Pulumi.yaml; else `start`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return here


def portable_path(path: str | Path, root: Path | None = None) -> str:
    """`path` as stored in state: relative (posix) to the project folder when inside it, else absolute."""
    root = root or project_root()
    absolute = resolve_path(path, root)
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.as_posix()


def resolve_path(path: str | Path, root: Path | None = None) -> Path:
    """An absolute path from a stored one: relative paths are taken from the project folder."""
    given = Path(path).expanduser()
    if given.is_absolute():
        return given.resolve()
    return ((root or project_root()) / given).resolve()
