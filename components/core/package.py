"""Artifact zips of a Triton model repository: byte for byte reproducible, with manifests, rebuilt only on change.

Layouts. `single`: one `repository.zip` holding `<model>/...` for every model. `per-model`: one
`<model>.zip` per model, each holding `<model>/...`, so that unzipping them all into one folder gives
the repository.

Reproducible. The same plan gives the same zip bytes on any machine, from any folder, whatever the
files' timestamps: entries sorted by path (directories included, each before its content), the
manifest last, and everything `_internal.zipwriter` fixes (timestamps, permissions 0644 / 0755 for
executables and folders, no compression: see there why).

Manifests. Each zip ends with `<artifact>.manifest.json` at its root (Triton ignores plain files at
the repository root): path, size, sha256 and mode of every file, and of every empty folder (path
ending in '/', size 0, the sha256 of no bytes), sorted by path. The same document is written beside
the zip as `<out>/<artifact>.manifest.json`, plus the zip's own sha256 and size. The repository's
content hash (`repository_digest`) hashes only manifest entries, so it does not depend on the layout.

Atomic, and nothing stale. Every zip and manifest is written under a temporary name and fsynced; once
every artifact of the build is complete (so each rewritten artifact holds two open files until then),
they are published together: the list of renames is written as one commit record (`.build-commit.json`),
then the zips are renamed into place, then the manifests, then the record is removed. A build finding a
record (one killed between two renames) finishes it first, so a zip and its manifest are always seen
together; a failed build (a source file vanishing, a full disk) leaves the previous artifacts and no
temporary files, and the temporary files of a killed one are removed by the next build into `out`.
Builds into one `out` take turns (`fcntl.flock` on the folder `out`). Once the new set is in place, the
artifacts of earlier builds that this build does not produce (a removed model's zip, `repository.zip`
after a switch to per-model) are removed: only those recognised by their beside manifest's format
marker, so `out` then holds exactly the current build, plus the user's own files. `out` may not be `/`
nor inside a folder the plan packs whole (a version folder, a repository folder): the next build would
pack this one.

Sizes up front. `artifact_size_bounds` gives each zip's size from the plan and a stat per file,
before anything is read or written (to choose an upload route): every entry's size is known from the
file sizes, and the manifest's too, as digests have a fixed length.

Incremental and single-read. Source digests come from a `HashCache` (default `<out>/.hash-cache.json`).
When every file of an artifact is known and its manifest equals the one beside an existing zip whose
size and sha256 still match that record (the zip's digest is cached too), the zip is kept as it is:
an unchanged repository of many GB costs a stat per file. When an earlier zip exists, a small file the
cache misses is hashed first to decide; otherwise each file is read once, hashed (if unknown) and zipped
in the same pass (a first build reads every file once).
The zip's own sha256 is then taken by reading the new zip back: it cannot be hashed as it is written,
since each entry's header is rewritten with its CRC once the data is in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from components._internal.atomic import finish_publishing, publish_together, remove_temporaries, staged_file
from components._internal.flock import exclusive
from components._internal.zipwriter import ReproducibleZipWriter, archive_size
from components.core.hashcache import HashCache, read_chunks, sha256_bytes
from components.core.plan import FileSource, ModelPlan, RepositoryPlan, require_complete
from components.core.problems import Problem, UserError

Layout = Literal["single", "per-model"]
LAYOUTS: tuple[Layout, ...] = ("single", "per-model")
REPOSITORY_ARTIFACT = "repository"
MANIFEST_FORMAT = "triton-groups.manifest/1"
MANIFEST_SUFFIX = ".manifest.json"
CACHE_NAME = ".hash-cache.json"
COMMIT_NAME = ".build-commit.json"
"""The commit record of a build publishing its zips and manifests (see `atomic.publish_together`)."""
BUILD_LOCK_TIMEOUT_S = 3600.0
"""How long a build waits for another one into the same folder."""
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
DIR_MODE = 0o755
SMALL_FILE_BYTES = 1 << 20
"""A cache miss on a file up to this size is hashed before deciding whether a zip must be rewritten."""
ARTIFACT_FILE_MODE = 0o644
"""Permissions of the zips and manifests written in `out` (temporary files start as 0600)."""
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
class _Item:
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
        for item in _items(plan.models[name]):
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


def build_artifacts(
    plan: RepositoryPlan,
    out: Path,
    layout: Layout = "single",
    cache_path: Path | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> BuildResult:
    """Write the artifact zips of `plan` and their manifests into `out`; keep the ones already up to date.

    Afterwards `out` holds exactly this build's artifacts: those of earlier builds it does not produce
    are removed (only files this tool wrote; anything else in `out` is left alone). `cache_path`
    defaults to `<out>/.hash-cache.json`. Raises UserError when a source file is missing, unreadable
    (the plan's problems included: `require_complete`) or changes during the build, or when `out`
    cannot be written or is not a place for artifacts (`/`, or inside a folder the plan packs whole);
    the previous artifacts, stale ones included, are then left as they were.

    One build at a time per `out`: a second one waits for the first (`on_wait` is told once, with a line
    saying for whom), then sees what the first wrote. Zips and manifests are published together (see the
    module doc), and the temporary files of a build that was killed are removed by the next one.
    """
    _check_layout(layout)
    require_complete(plan)
    out = Path(out).absolute()
    _check_out(plan, out)
    items = {name: _items(plan.models[name]) for name in sorted(plan.models)}
    groups = _artifact_groups(tuple(items), layout)

    try:
        with _build_lock(out, on_wait):
            finish_publishing(out / COMMIT_NAME)
            remove_temporaries(out, _is_own_file)
            cache = HashCache(cache_path if cache_path is not None else out / CACHE_NAME)
            artifacts = _write_artifacts(out, layout, groups, items, cache)
            try:
                cache.save()
            except OSError as exc:
                raise UserError(Problem(str(cache.path), "", f"the artifacts are built, but the hash cache cannot be "
                                        f"written ({exc.strerror or exc}); check its folder",
                                        "package.cache_failed")) from None
            removed = _remove_stale_artifacts(out, set(groups))
    except OSError as exc:
        raise UserError(Problem(str(out), "", f"cannot write the artifacts ({exc.strerror or exc}); "
                                "check the folder's free space and permissions", "package.write_failed")) from None
    return BuildResult(tuple(artifacts), repository_digest({a.name: a.manifest for a in artifacts}), layout, removed)


def _write_artifacts(
    out: Path, layout: str, groups: Mapping[str, tuple[str, ...]], items: Mapping[str, list[_Item]], cache: HashCache
) -> list[Artifact]:
    """Every artifact, kept or written; the written ones published together."""
    artifacts: list[Artifact] = []
    written: list[Artifact] = []
    staged: list[tuple[Path, Path]] = []
    try:
        _stage_artifacts(out, layout, groups, items, cache, artifacts, written, staged)
        if staged:
            publish_together(out / COMMIT_NAME, sorted(staged, key=lambda pair: not pair[1].name.endswith(".zip")))
    except BaseException:
        if not (out / COMMIT_NAME).exists():  # not published: the previous artifacts stay, nothing of this build
            for tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        raise
    for artifact in written:
        cache.record(artifact.path, os.stat(artifact.path), artifact.sha256)
    return artifacts


def _stage_artifacts(
    out: Path,
    layout: str,
    groups: Mapping[str, tuple[str, ...]],
    items: Mapping[str, list[_Item]],
    cache: HashCache,
    artifacts: list[Artifact],
    written: list[Artifact],
    staged: list[tuple[Path, Path]],
) -> None:
    """Add every artifact, kept or written, to `artifacts`; those written to `written`, their staged (complete,
    fsynced, not yet published) files to `staged` as (temporary, target) pairs."""
    with contextlib.ExitStack() as staging:
        for name, models in groups.items():
            members = sorted((item for model in models for item in items[model]), key=lambda i: i.path)
            previous = _previous_manifest(out, name)
            known = _digests_known_before_zipping(members, cache, hash_small_misses=previous is not None)
            artifact = None
            if previous is not None and len(known) == len(members):
                entries = tuple(item.entry(known[item.path]) for item in members)
                artifact = _up_to_date(out, name, layout, models, entries, previous, cache)
            if artifact is None:
                artifact = _write_artifact(staging, staged, out, name, layout, models, members, known, cache)
                written.append(artifact)
            artifacts.append(replace(artifact, sources=tuple(
                (item.path, item.source.shown_source) for item in members if item.source is not None)))


@contextlib.contextmanager
def _build_lock(out: Path, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """Hold the lock of the folder `out` itself (created if needed; no lock file is added to it), waiting up to
    BUILD_LOCK_TIMEOUT_S for another build."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def waiting() -> None:
        if on_wait is not None:
            on_wait(f"waiting for another build to finish writing into {out}")

    def busy() -> UserError:
        return UserError(Problem(str(out), "", f"another build has been writing into this folder for "
                                 f"{BUILD_LOCK_TIMEOUT_S:g} s, so this build did not run; wait for it, or end it if "
                                 f"it is stuck (`fuser -v {out}` shows it)", "package.busy"))

    try:
        with exclusive(fd, None, BUILD_LOCK_TIMEOUT_S, waiting, busy):
            yield
    finally:
        os.close(fd)


def _is_own_file(name: str) -> bool:
    """Whether a file named `name` in `out` is one a build writes (the targets of its temporary files)."""
    return name.endswith((".zip", MANIFEST_SUFFIX)) or name in (CACHE_NAME, COMMIT_NAME)


def _check_out(plan: RepositoryPlan, out: Path) -> None:
    """UserError unless `out` may take the artifacts: a folder (or none yet), not `/`, and outside every folder
    the plan took whole (`RepositoryPlan.read_folders`): the next build would pack this one's zips."""
    if out.exists() and not out.is_dir():
        raise UserError(Problem(str(out), "", "is not a folder; give a folder to write the artifacts in",
                                "package.out_not_folder"))
    real = Path(os.path.realpath(out))
    if real == Path(real.anchor):
        raise UserError(Problem(str(out), "", "is the root folder; give a folder of its own for the artifacts",
                                "package.out_root"))
    for folder in (real, *real.parents):
        if folder in plan.read_folders:
            raise UserError(Problem(str(out), "", f"is inside {folder}, a folder whose files are packed, so the next "
                                    "build would pack these artifacts too; give a folder outside the model sources",
                                    "package.out_in_sources"))


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
    _check_layout(layout)
    names = tuple(sorted(plan.models if models is None else models))
    items = {name: _items(plan.models[name]) for name in names}
    sizes: dict[str, int] = {}
    for name, group in _artifact_groups(names, layout).items():
        members = sorted((item for model in group for item in items[model]), key=lambda i: i.path)
        entries = tuple(item.entry(UNKNOWN_SHA256) for item in members)
        manifest = _dump(_manifest_document(name, layout, group, entries))
        zip_entries = [(item.path, item.size) for item in _zip_order(members)]
        sizes[name] = archive_size([*zip_entries, (f"{name}{MANIFEST_SUFFIX}", len(manifest))])
    return sizes


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout is one of {', '.join(LAYOUTS)}, not {layout!r}")


def _artifact_groups(models: tuple[str, ...], layout: str) -> dict[str, tuple[str, ...]]:
    """The models of each artifact by artifact name: all in "repository" (single), or one zip per model."""
    return {REPOSITORY_ARTIFACT: models} if layout == "single" else {name: (name,) for name in models}


def _remove_stale_artifacts(out: Path, current: set[str]) -> tuple[str, ...]:
    """Remove from `out` the artifacts this tool wrote earlier that are not in `current`; their file names.

    An artifact is recognised by its beside manifest: `<name>.manifest.json` holding MANIFEST_FORMAT,
    its own name and its zip's record. The zip goes first, and only if it is a regular file of the
    recorded size (a file someone else put there stays); then the manifest, so that a removal cut
    short is finished by the next build.
    """
    removed: list[str] = []
    try:
        for manifest in sorted(out.glob(f"*{MANIFEST_SUFFIX}")):
            name = manifest.name[: -len(MANIFEST_SUFFIX)]
            record = None if name in current else _zip_record_of_own_manifest(manifest, name)
            if record is None:
                continue
            zip_path = out / f"{name}.zip"
            with contextlib.suppress(FileNotFoundError):
                zip_stat = os.lstat(zip_path)
                if stat.S_ISREG(zip_stat.st_mode) and zip_stat.st_size == record.get("size"):
                    zip_path.unlink()
                    removed.append(zip_path.name)
            manifest.unlink(missing_ok=True)
            removed.append(manifest.name)
    except OSError as exc:
        raise UserError(Problem(str(exc.filename or out), "", f"the artifacts are built, but this artifact of an "
                                f"earlier build cannot be removed ({exc.strerror or exc}); remove it by hand",
                                "package.stale_not_removed")) from None
    return tuple(removed)


def _zip_record_of_own_manifest(manifest: Path, name: str) -> dict[str, Any] | None:
    """The zip record of `manifest` if this tool wrote it for the artifact `name`; None for any other file."""
    try:
        document = json.loads(manifest.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT or document.get("artifact") != name:
        return None
    record = document.get("zip")
    return record if isinstance(record, dict) and record.get("file") == f"{name}.zip" else None


def _items(model: ModelPlan) -> list[_Item]:
    """The model's files (each stat'ed once) and empty folders, as repository entries sorted by path."""
    found: list[_Item] = []
    for rel, source in sorted(model.files.items()):
        path = _checked_path(f"{model.name}/{rel}", str(source.path) if source.path else model.config_label)
        mode = EXECUTABLE_MODE if source.executable else FILE_MODE
        found.append(_Item(path, mode, source, _stat_source(path, source)))
    for rel in sorted(model.empty_dirs):
        if not any(name.startswith(f"{rel}/") for name in model.files):
            found.append(_Item(_checked_path(f"{model.name}/{rel}/", model.config_label), DIR_MODE))
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


def _digests_known_before_zipping(members: list[_Item], cache: HashCache, hash_small_misses: bool) -> dict[str, str]:
    """Digests by repository path, of the members known without reading a large file.

    With `hash_small_misses` (an earlier zip exists that may still be up to date), a small file the
    cache misses (one just edited, or too fresh to be cached) is hashed here: reading it again when
    zipping costs nothing next to rewriting a zip that may not need it. A large one is left out, so
    that if the zip is rewritten its bytes are read once, hashed on the way. Without an earlier zip
    nothing is read here: every file is read once, as it is zipped.
    """
    known: dict[str, str] = {}
    for item in members:
        sha256 = item.known_sha256(cache)
        if sha256 is None and hash_small_misses and item.size <= SMALL_FILE_BYTES:
            assert item.source is not None and item.source.path is not None and item.stat is not None
            sha256 = cache.sha256_of(item.source.path, item.stat)
        if sha256 is not None:
            known[item.path] = sha256
    return known


def _previous_manifest(out: Path, name: str) -> dict[str, Any] | None:
    """The beside manifest (zip record included) an earlier build wrote for artifact `name`; None if there is none."""
    try:
        beside = json.loads((out / f"{name}{MANIFEST_SUFFIX}").read_bytes())
    except (OSError, ValueError):
        return None
    return beside if isinstance(beside, dict) and isinstance(beside.get("zip"), dict) else None


def _up_to_date(
    out: Path,
    name: str,
    layout: str,
    models: tuple[str, ...],
    entries: tuple[ManifestEntry, ...],
    previous: dict[str, Any],
    cache: HashCache,
) -> Artifact | None:
    """The existing artifact `name` if its beside manifest `previous` lists exactly `entries` and its zip still
    matches it."""
    zip_path = out / f"{name}.zip"
    try:
        zip_stat = os.stat(zip_path)
    except OSError:
        return None
    beside = {key: value for key, value in previous.items() if key != "zip"}
    record = previous["zip"]
    if beside != _manifest_document(name, layout, models, entries) or zip_stat.st_size != record.get("size"):
        return None
    try:
        if cache.sha256_of(zip_path, zip_stat) != record.get("sha256"):
            return None
    except UserError:
        return None
    return Artifact(name, zip_path, record["sha256"], zip_stat.st_size, models, entries)


def _write_artifact(
    staging: contextlib.ExitStack,
    staged: list[tuple[Path, Path]],
    out: Path,
    name: str,
    layout: str,
    models: tuple[str, ...],
    members: list[_Item],
    known: Mapping[str, str],
    cache: HashCache,
) -> Artifact:
    """Write the zip and its beside manifest as staged files (`staging` removes them on a failure), adding each
    (temporary, target) pair to `staged` for publishing.

    `known` holds the digests already known by repository path; the other files are hashed as they are zipped.
    """
    zip_path = out / f"{name}.zip"
    handle, tmp = staging.enter_context(staged_file(zip_path, "w+b", ARTIFACT_FILE_MODE))
    staged.append((tmp, zip_path))
    digests = dict(known)
    with ReproducibleZipWriter(handle) as archive:
        for item in _zip_order(members):
            if item.source is None:
                archive.add_dir(item.path, item.mode)
            elif item.stat is None:
                archive.add_bytes(item.path, item.source.data or b"", item.mode)
            else:
                digests[item.path] = _zip_file(archive, item, known.get(item.path), cache)
        entries = tuple(item.entry(digests[item.path]) for item in members)
        document = _manifest_document(name, layout, models, entries)
        archive.add_bytes(f"{name}{MANIFEST_SUFFIX}", _dump(document), FILE_MODE)
    zip_sha256, zip_size = _digest_of_handle(handle)
    beside_path = out / f"{name}{MANIFEST_SUFFIX}"
    beside, tmp = staging.enter_context(staged_file(beside_path, "wb", ARTIFACT_FILE_MODE))
    staged.append((tmp, beside_path))
    beside.write(_dump({**document, "zip": {"file": zip_path.name, "sha256": zip_sha256, "size": zip_size}}))
    return Artifact(name, zip_path, zip_sha256, zip_size, models, entries)


def _zip_order(members: list[_Item]) -> list[_Item]:
    """The zip's entries before its manifest: the members and the folders holding them, sorted by path."""
    return sorted([*members, *_parent_dirs(members)], key=lambda i: i.path)


def _parent_dirs(members: Iterable[_Item]) -> list[_Item]:
    """Every folder holding a member ('a/', 'a/1/'), not itself a member: zipped, but not in the manifest."""
    paths = {item.path for item in members}
    parents = {
        "/".join(parts[:depth]) + "/"
        for path in paths
        for parts in [path.rstrip("/").split("/")]
        for depth in range(1, len(parts))
    }
    return [_Item(path, DIR_MODE) for path in sorted(parents - paths)]


def _zip_file(archive: ReproducibleZipWriter, item: _Item, known: str | None, cache: HashCache) -> str:
    """Copy one source file into the archive, hashing it in the same pass unless its digest is `known`."""
    assert item.source is not None and item.source.path is not None and item.stat is not None
    digest = hashlib.sha256() if known is None else None
    with archive.add_file(item.path, item.stat.st_size, item.mode) as entry:
        for chunk in read_chunks(item.source.path, item.stat):
            if digest is not None:
                digest.update(chunk)
            entry.write(chunk)
    if digest is None:
        return known  # type: ignore[return-value]
    sha256 = digest.hexdigest()
    cache.record(item.source.path, item.stat, sha256, read_at_ns=time.time_ns())
    return sha256


def _manifest_document(
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


def _dump(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def _digest_of_handle(handle: Any) -> tuple[str, int]:
    """sha256 and size of everything written to `handle` (read back from the start)."""
    handle.flush()
    handle.seek(0)
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(1 << 20)
    while count := handle.readinto(buffer):
        digest.update(memoryview(buffer)[:count])
        size += count
    return digest.hexdigest(), size


def plan_content(plan: RepositoryPlan, out: Path) -> tuple[dict[str, dict[str, dict[str, Any]]], str]:
    """The content (components.core.content) and repository sha256 a build of `plan` into `out` would have.

    Hashes only what the hash cache in `out` does not know, and saves the cache: a preview of an unchanged
    group costs a `stat` per file.
    """
    from components.core.content import content_of

    cache = HashCache(out / CACHE_NAME)
    manifests = plan_manifest(plan, cache)
    cache.save()
    return content_of(manifests), repository_digest(manifests)
