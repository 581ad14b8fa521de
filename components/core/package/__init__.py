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

Fast. A zip is written in a pipeline (`stream`): the kernel copies each file in, the CRC-32, the sources'
sha256 and the zip's own sha256 are taken from the page cache by parallel threads while the next bytes are
copied, and the disk writes the zip during the build, so that a cold build costs about what a durable copy of
the same bytes does (bench/packaging_bench.py). `on_progress` is told the bytes zipped so far, for a display.

Modules, by job: `manifest` (entries, manifests, digests, sizes before building), `build` (the build of a
plan into `out`: deciding what to rewrite, publishing, removing what is stale), `stream` (writing one zip).
"""


from components.core.package.build import (
    ARTIFACT_FILE_MODE,
    BUILD_LOCK_TIMEOUT_S,
    COMMIT_NAME,
    SMALL_FILE_BYTES,
    Progress,
    build_artifacts,
    plan_content,
)
from components.core.package.manifest import (
    CACHE_NAME,
    DIR_MODE,
    EMPTY_SHA256,
    EXECUTABLE_MODE,
    FILE_MODE,
    LAYOUTS,
    MANIFEST_FORMAT,
    MANIFEST_SUFFIX,
    REPOSITORY_ARTIFACT,
    UNKNOWN_SHA256,
    Artifact,
    BuildResult,
    Layout,
    ManifestEntry,
    artifact_size_bounds,
    plan_manifest,
    repository_digest,
)

__all__ = [
    "ARTIFACT_FILE_MODE",
    "BUILD_LOCK_TIMEOUT_S",
    "CACHE_NAME",
    "COMMIT_NAME",
    "DIR_MODE",
    "EMPTY_SHA256",
    "EXECUTABLE_MODE",
    "FILE_MODE",
    "LAYOUTS",
    "MANIFEST_FORMAT",
    "MANIFEST_SUFFIX",
    "REPOSITORY_ARTIFACT",
    "SMALL_FILE_BYTES",
    "UNKNOWN_SHA256",
    "Artifact",
    "BuildResult",
    "Layout",
    "ManifestEntry",
    "Progress",
    "artifact_size_bounds",
    "build_artifacts",
    "plan_content",
    "plan_manifest",
    "repository_digest",
]
