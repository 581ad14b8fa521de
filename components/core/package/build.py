"""The build of a plan into `out`: what to rewrite, the zips written and published together, nothing stale left.

See the package's doc for the guarantees (atomic, one build at a time per folder, incremental, single-read).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._internal.atomic import finish_publishing, publish_together, remove_temporaries, staged_file
from components._internal.flock import exclusive
from components.core.hashcache import HashCache
from components.core.package.manifest import (
    CACHE_NAME,
    FILE_MODE,
    MANIFEST_FORMAT,
    MANIFEST_SUFFIX,
    Artifact,
    BuildResult,
    Item,
    Layout,
    ManifestEntry,
    artifact_groups,
    check_layout,
    dump,
    items_of,
    manifest_document,
    plan_manifest,
    repository_digest,
    zip_order,
)
from components.core.plan import RepositoryPlan, require_complete
from components.core.problems import Problem, UserError

if TYPE_CHECKING:
    from components.core.package.stream import Member

COMMIT_NAME = ".build-commit.json"
"""The commit record of a build publishing its zips and manifests (see `atomic.publish_together`)."""
BUILD_LOCK_TIMEOUT_S = 3600.0
"""How long a build waits for another one into the same folder."""
SMALL_FILE_BYTES = 1 << 20
"""A cache miss on a file up to this size is hashed before deciding whether a zip must be rewritten."""
ARTIFACT_FILE_MODE = 0o644
"""Permissions of the zips and manifests written in `out` (temporary files start as 0600)."""

Progress = Callable[[int, int], None]
"""Told (bytes of source files zipped so far, bytes to zip in all) as a build writes, from the building thread."""


@dataclass(frozen=True)
class _Plan:
    """One artifact to produce: kept as it is (`kept`), or written from `members` with the digests `known`."""

    name: str
    models: tuple[str, ...]
    members: list[Item]
    known: dict[str, str]
    kept: Artifact | None


def build_artifacts(
    plan: RepositoryPlan,
    out: Path,
    layout: Layout = "single",
    cache_path: Path | None = None,
    on_wait: Callable[[str], None] | None = None,
    on_progress: Progress | None = None,
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
    `on_progress` follows the zips being written (see `Progress`); it is not called when every zip is kept.
    """
    check_layout(layout)
    require_complete(plan)
    out = Path(out).absolute()
    _check_out(plan, out)
    items = {name: items_of(plan.models[name]) for name in sorted(plan.models)}
    groups = artifact_groups(tuple(items), layout)

    try:
        with _build_lock(out, on_wait):
            finish_publishing(out / COMMIT_NAME)
            remove_temporaries(out, _is_own_file)
            cache = HashCache(cache_path if cache_path is not None else out / CACHE_NAME)
            artifacts = _write_artifacts(out, layout, groups, items, cache, on_progress)
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
    out: Path,
    layout: str,
    groups: Mapping[str, tuple[str, ...]],
    items: Mapping[str, list[Item]],
    cache: HashCache,
    on_progress: Progress | None,
) -> list[Artifact]:
    """Every artifact, kept or written; the written ones published together."""
    artifacts: list[Artifact] = []
    written: list[Artifact] = []
    staged: list[tuple[Path, Path]] = []
    try:
        _stage_artifacts(out, layout, groups, items, cache, on_progress, artifacts, written, staged)
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
    items: Mapping[str, list[Item]],
    cache: HashCache,
    on_progress: Progress | None,
    artifacts: list[Artifact],
    written: list[Artifact],
    staged: list[tuple[Path, Path]],
) -> None:
    """Add every artifact, kept or written, to `artifacts`; those written to `written`, their staged (complete,
    fsynced, not yet published) files to `staged` as (temporary, target) pairs.

    What is kept is decided for every artifact first, so that the bytes to write are known for `on_progress`.
    """
    plans = [_plan_artifact(out, name, layout, models, items, cache) for name, models in groups.items()]
    total = sum(item.size for plan in plans if plan.kept is None for item in plan.members if item.stat is not None)
    done = 0

    def zipped(count: int) -> None:
        nonlocal done
        done += count
        if on_progress is not None:
            on_progress(done, total)

    with contextlib.ExitStack() as staging:
        for plan in plans:
            artifact = plan.kept
            if artifact is None:
                artifact = _write_artifact(staging, staged, out, layout, plan, cache, zipped)
                written.append(artifact)
            artifacts.append(replace(artifact, sources=tuple(
                (item.path, item.source.shown_source) for item in plan.members if item.source is not None)))


def _plan_artifact(
    out: Path, name: str, layout: str, models: tuple[str, ...], items: Mapping[str, list[Item]], cache: HashCache
) -> _Plan:
    """Whether the artifact `name` in `out` is up to date (then kept), and the digests known before zipping."""
    members = sorted((item for model in models for item in items[model]), key=lambda i: i.path)
    previous = _previous_manifest(out, name)
    known = _digests_known_before_zipping(members, cache, hash_small_misses=previous is not None)
    kept = None
    if previous is not None and len(known) == len(members):
        entries = tuple(item.entry(known[item.path]) for item in members)
        kept = _up_to_date(out, name, layout, models, entries, previous, cache)
    return _Plan(name, models, members, known, kept)


class _Busy(Exception):
    """Another build holds the lock of `out` (raised only when not waiting for it)."""


@contextlib.contextmanager
def _build_lock(out: Path, on_wait: Callable[[str], None] | None, timeout_s: float = BUILD_LOCK_TIMEOUT_S
                ) -> Iterator[None]:
    """Hold the lock of the folder `out` itself (created if needed; no lock file is added to it), waiting up to
    `timeout_s` for another build (0: not at all, raising _Busy)."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def waiting() -> None:
        if on_wait is not None:
            on_wait(f"waiting for another build to finish writing into {out}")

    def busy() -> Exception:
        if timeout_s <= 0:
            return _Busy()
        return UserError(Problem(str(out), "", f"another build has been writing into this folder for "
                                 f"{timeout_s:g} s, so this build did not run; wait for it, or end it if "
                                 f"it is stuck (`fuser -v {out}` shows it)", "package.busy"))

    try:
        with exclusive(fd, None, timeout_s, waiting, busy):
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


def _digests_known_before_zipping(members: list[Item], cache: HashCache, hash_small_misses: bool) -> dict[str, str]:
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
    if beside != manifest_document(name, layout, models, entries) or zip_stat.st_size != record.get("size"):
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
    layout: str,
    plan: _Plan,
    cache: HashCache,
    on_bytes: Callable[[int], None],
) -> Artifact:
    """Write the zip and its beside manifest as staged files (`staging` removes them on a failure), adding each
    (temporary, target) pair to `staged` for publishing.

    `plan.known` holds the digests already known by repository path; the other files are hashed as they are
    zipped, and their digests recorded in `cache`.
    """
    from components.core.package.stream import StreamingZip  # the writer only when a zip is written, not when warm

    name, models, members = plan.name, plan.models, plan.members
    zip_path = out / f"{name}.zip"
    handle, tmp = staging.enter_context(staged_file(zip_path, "w+b", ARTIFACT_FILE_MODE))
    staged.append((tmp, zip_path))
    digests = dict(plan.known)
    with StreamingZip(handle.fileno(), on_bytes) as archive:
        zipped = archive.add_members([_member(item, plan.known.get(item.path)) for item in zip_order(members)])
        for item in members:
            if item.path in zipped:
                found = zipped[item.path]
                digests[item.path] = found.sha256
                if found.read_at_ns is not None:
                    assert item.source is not None and item.source.path is not None and item.stat is not None
                    cache.record(item.source.path, item.stat, found.sha256, read_at_ns=found.read_at_ns)
        entries = tuple(item.entry(digests[item.path]) for item in members)
        document = manifest_document(name, layout, models, entries)
        archive.add_bytes(f"{name}{MANIFEST_SUFFIX}", dump(document), FILE_MODE)
        zip_sha256, zip_size = archive.finish()
    beside_path = out / f"{name}{MANIFEST_SUFFIX}"
    beside, tmp = staging.enter_context(staged_file(beside_path, "wb", ARTIFACT_FILE_MODE))
    staged.append((tmp, beside_path))
    beside.write(dump({**document, "zip": {"file": zip_path.name, "sha256": zip_sha256, "size": zip_size}}))
    return Artifact(name, zip_path, zip_sha256, zip_size, models, entries)


def _member(item: Item, known: str | None) -> Member:
    """The zip entry of `item`: a folder, bytes rendered in memory, or a file to read (and hash unless `known`)."""
    from components.core.package.stream import Member

    if item.source is None:
        return Member(item.path, item.mode)
    if item.stat is None:
        return Member(item.path, item.mode, data=item.source.data or b"")
    return Member(item.path, item.mode, source=item.source.path, stat=item.stat, sha256=known)
def plan_content(plan: RepositoryPlan, out: Path) -> tuple[dict[str, dict[str, dict[str, Any]]], str]:
    """The content (components.core.content) and repository sha256 a build of `plan` into `out` would have.

    Hashes only what the hash cache in `out` does not know, and saves the cache: a preview of an unchanged
    group costs a `stat` per file. The cache is saved only when no build is writing into `out` (it holds the
    folder's lock meanwhile), so that neither removes the other's temporary files.
    """
    from components.core.content import content_of

    cache = HashCache(out / CACHE_NAME)
    manifests = plan_manifest(plan, cache)
    if cache.unsaved:
        with contextlib.suppress(_Busy), _build_lock(out, None, timeout_s=0.0):
            cache.save()
    return content_of(manifests), repository_digest(manifests)
