"""The last release that passed its smoke test on a local server, kept so that a failed update can be rolled back.

`keep_passed(state_dir, artifacts, ...)` keeps the artifact zips the smoke test just passed on in
`<state_dir>/passed/` (hard links where the file system allows, copies otherwise), with `release.json` saying what
they are; the folder is replaced whole, so it always holds one complete release. `roll_back(record)` serves that
release again: the zips are unpacked aside, and the server syncs to them (`sync`: only the models that differ
reload, each through Triton's repository API, so the other models keep answering and a reloading model answers
with its old version until the old-new one is ready). The artifacts hold the repository exactly as it passed
(byte-reproducible zips), so what is served again is what passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from components._internal.atomic import atomic_dir
from components.core.plan import plan_from_folder
from components.core.runtime.state import PASSED_DIR, ServerRecord
from components.core.runtime.sync import SyncResult, sync

RELEASE_FILE = "release.json"


@dataclass(frozen=True)
class PassedRelease:
    """What `passed/` holds: the repository's sha256, when it passed, and its artifact files (names)."""

    repository_sha256: str
    passed_at: str
    artifacts: tuple[str, ...]


@dataclass(frozen=True)
class RolledBack:
    """A rollback: the release served again and what the sync did."""

    release: PassedRelease
    sync: SyncResult


def keep_passed(state_dir: Path, artifacts: Sequence[Path], repository_sha256: str, passed_at: str) -> None:
    """Keep `artifacts` (the zips the smoke test passed on) as the state folder's last passing release."""
    with atomic_dir(state_dir / PASSED_DIR) as staging:
        for artifact in artifacts:
            target = staging / artifact.name
            try:
                os.link(artifact, target)
            except OSError:
                shutil.copy2(artifact, target)
        release = PassedRelease(repository_sha256, passed_at, tuple(sorted(a.name for a in artifacts)))
        (staging / RELEASE_FILE).write_text(json.dumps(release.__dict__ | {"artifacts": list(release.artifacts)},
                                                       indent=2, sort_keys=True) + "\n")


def last_passed(state_dir: Path) -> PassedRelease | None:
    """The release `keep_passed` kept, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads((state_dir / PASSED_DIR / RELEASE_FILE).read_text(encoding="utf-8"))
        return PassedRelease(str(data["repository_sha256"]), str(data["passed_at"]), tuple(data["artifacts"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _unpack(zip_path: Path, target: Path) -> None:
    """Unpack an artifact zip, executable bits included (zipfile leaves them out)."""
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            path = Path(archive.extract(member, target))
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                path.chmod(mode)


def roll_back(record: ServerRecord) -> RolledBack | None:
    """Serve the state folder's last passing release again; None when none is kept."""
    release = last_passed(record.state_dir)
    if release is None:
        return None
    folder = record.state_dir / PASSED_DIR
    with tempfile.TemporaryDirectory(prefix=".rollback.", dir=record.state_dir) as unpacked:
        for name in release.artifacts:
            _unpack(folder / name, Path(unpacked))
        for stray in Path(unpacked).glob("*.manifest.json"):
            with contextlib.suppress(OSError):
                stray.unlink()
        result = sync(record, plan_from_folder(Path(unpacked)))
    return RolledBack(release, result)
