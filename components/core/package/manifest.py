"""What an artifact holds: its entries and manifests, the repository's content hash, and sizes known before building.

See the package's doc for the manifest format and the layouts.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from components._internal.zipwriter import archive_size
from components.core.hashcache import HashCache, sha256_bytes
from components.core.plan import FileSource, ModelPlan, RepositoryPlan
from components.core.problems import Problem, UserError

Layout = Literal["single", "per-model"]
LAYOUTS: tuple[Layout, ...] = ("single", "per-model")
REPOSITORY_ARTIFACT = "repository"
MANIFEST_FORMAT = "triton-groups.manifest/1"
MANIFEST_SUFFIX = ".manifest.json"
CACHE_NAME = ".hash-cache.json"
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
DIR_MODE = 0o755
EMPTY_SHA256 = sha256_bytes(b"")
UNKNOWN_SHA256 = "0" * 64
"""Stands for a digest not read yet where only the manifest's length matters."""


@dataclass(frozen=True)
class ManifestEntry:
    """One file (or empty folder, path ending in '/') of a repository; `path` is posix, relative to its root."""

    path: str
    size: int
    sha256: str
    mode: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "mode": self.mode}


@dataclass(frozen=True)
class Artifact:
    """One zip: `name` is "repository" (layout single) or the model's name (per-model).

    `sources` says where each packed file came from, (path in the zip, source), sorted by path: the real
    file read (links resolved), or what made it ("rendered from <spec>").
    """

    name: str
    path: Path
    sha256: str
    size: int
    models: tuple[str, ...]
    manifest: tuple[ManifestEntry, ...]
    sources: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BuildResult:
    """The artifacts of a build and the content hash of the whole repository (the same for every layout).

    `removed` names the files of earlier builds' artifacts that this build removed from `out`.
    """

    artifacts: tuple[Artifact, ...]
    repository_sha256: str
    layout: str
    removed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "artifacts": [
                {"name": a.name, "path": str(a.path), "sha256": a.sha256, "size": a.size,
                 "files": [{"path": path, "source": source} for path, source in a.sources]}
                for a in self.artifacts
            ],
            "repository_sha256": self.repository_sha256,
        }


@dataclass(frozen=True)
class Item:
    """A repository entry to package: a file (from `source`, stat taken once) or an empty folder."""

    path: str
    mode: int
    source: FileSource | None = None
    stat: os.stat_result | None = None

    @property
    def size(self) -> int:
        if self.source is None:
            return 0
        return self.stat.st_size if self.stat is not None else len(self.source.data or b"")

    def known_sha256(self, cache: HashCache) -> str | None:
        """The digest without reading any file: empty folder, bytes in memory, or a cache hit."""
        if self.source is None:
            return EMPTY_SHA256
        if self.stat is None:
            return sha256_bytes(self.source.data or b"")
        assert self.source.path is not None
        return cache.lookup(self.source.path, self.stat)

    def entry(self, sha256: str) -> ManifestEntry:
        return ManifestEntry(self.path, self.size, sha256, self.mode)


def plan_manifest(plan: RepositoryPlan, cache: HashCache | None = None) -> dict[str, tuple[ManifestEntry, ...]]:
    """Each model's manifest entries, sorted by path, without writing any zip.

    Reads only the files `cache` does not know (and remembers their digests in it; saving it is the
    caller's choice). Used to preview what a build would change.
    """
    cache = cache if cache is not None else HashCache(None)
    manifests: dict[str, tuple[ManifestEntry, ...]] = {}
    for name in sorted(plan.models):
        entries = []
        for item in items_of(plan.models[name]):
            sha256 = item.known_sha256(cache)
            if sha256 is None:
                assert item.source is not None and item.source.path is not None and item.stat is not None
                sha256 = cache.sha256_of(item.source.path, item.stat)
            entries.append(item.entry(sha256))
        manifests[name] = tuple(entries)
    return manifests


def repository_digest(manifests: Mapping[str, Sequence[ManifestEntry]]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, ASCII) of all entries sorted by path."""
    entries = sorted((entry for model in manifests.values() for entry in model), key=lambda e: e.path)
    canonical = json.dumps([e.to_json() for e in entries], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return sha256_bytes(canonical.encode("ascii"))


def artifact_size_bounds(
    plan: RepositoryPlan, layout: Layout = "single", models: Sequence[str] | None = None
) -> dict[str, int]:
    """The size of each artifact zip a build of `plan` would write now, by artifact name, reading no file.

    Keys as `build_artifacts` names the artifacts: "repository" for layout single, else each model's
    name; `models` (default: all of the plan's) are the models packaged. Costs a stat per file. The
    result is exact while the files keep their sizes (entries are stored, and a manifest's length
    does not depend on the digests it lists), so it is the tightest upper bound to choose an upload
    route with before building. Raises UserError, as a build would, for a missing source file.
    """
    check_layout(layout)
    names = tuple(sorted(plan.models if models is None else models))
    items = {name: items_of(plan.models[name]) for name in names}
    sizes: dict[str, int] = {}
    for name, group in artifact_groups(names, layout).items():
        members = sorted((item for model in group for item in items[model]), key=lambda i: i.path)
        entries = tuple(item.entry(UNKNOWN_SHA256) for item in members)
        manifest = dump(manifest_document(name, layout, group, entries))
        zip_entries = [(item.path, item.size) for item in zip_order(members)]
        sizes[name] = archive_size([*zip_entries, (f"{name}{MANIFEST_SUFFIX}", len(manifest))])
    return sizes


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout is one of {', '.join(LAYOUTS)}, not {layout!r}")


def artifact_groups(models: tuple[str, ...], layout: str) -> dict[str, tuple[str, ...]]:
    """The models of each artifact by artifact name: all in "repository" (single), or one zip per model."""
    return {REPOSITORY_ARTIFACT: models} if layout == "single" else {name: (name,) for name in models}


def items_of(model: ModelPlan) -> list[Item]:
    """The model's files (each stat'ed once) and empty folders, as repository entries sorted by path."""
    found: list[Item] = []
    for rel, source in sorted(model.files.items()):
        path = _checked_path(f"{model.name}/{rel}", str(source.path) if source.path else model.config_label)
        mode = EXECUTABLE_MODE if source.executable else FILE_MODE
        found.append(Item(path, mode, source, _stat_source(path, source)))
    for rel in sorted(model.empty_dirs):
        if not any(name.startswith(f"{rel}/") for name in model.files):
            found.append(Item(_checked_path(f"{model.name}/{rel}/", model.config_label), DIR_MODE))
    return sorted(found, key=lambda item: item.path)


def _stat_source(path: str, source: FileSource) -> os.stat_result | None:
    if source.data is not None:
        return None
    assert source.path is not None
    try:
        st = os.stat(source.path)
    except FileNotFoundError:
        raise UserError(Problem(str(source.path), path, "does not exist; restore it, or update the spec and "
                                "build again", "package.source_missing")) from None
    except OSError as exc:
        raise UserError(Problem(str(source.path), path, f"cannot be read ({exc.strerror})",
                                "package.source_unreadable")) from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(Problem(str(source.path), path, "is not a regular file", "package.not_a_file"))
    return st


def _checked_path(path: str, where: str) -> str:
    """`path` if every zip reader takes it for the same file; `where` names the file in the error otherwise."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(Problem(where, path.encode("utf-8", "replace").decode(),
                                "a file name is not valid UTF-8; rename it", "package.bad_name")) from None
    if "\\" in path:
        raise UserError(Problem(where, path, "a file name holds '\\', which zip readers on Windows "
                                "take for a folder separator; rename it", "package.bad_name"))
    return path


def zip_order(members: list[Item]) -> list[Item]:
    """The zip's entries before its manifest: the members and the folders holding them, sorted by path."""
    return sorted([*members, *_parent_dirs(members)], key=lambda i: i.path)


def _parent_dirs(members: Iterable[Item]) -> list[Item]:
    """Every folder holding a member ('a/', 'a/1/'), not itself a member: zipped, but not in the manifest."""
    paths = {item.path for item in members}
    parents = {
        "/".join(parts[:depth]) + "/"
        for path in paths
        for parts in [path.rstrip("/").split("/")]
        for depth in range(1, len(parts))
    }
    return [Item(path, DIR_MODE) for path in sorted(parents - paths)]


def manifest_document(
    name: str, layout: str, models: tuple[str, ...], entries: tuple[ManifestEntry, ...]
) -> dict[str, Any]:
    by_model = {model: [e for e in entries if e.path.startswith(f"{model}/")] for model in models}
    return {
        "format": MANIFEST_FORMAT,
        "artifact": name,
        "layout": layout,
        "models": list(models),
        "content_sha256": repository_digest(by_model),
        "entries": [entry.to_json() for entry in entries],
    }


def dump(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
