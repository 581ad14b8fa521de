"""The repository folder a local server reads (laid out whole by `plan.materialize`), updated one model at a time.

Each model has its content digest (components.core.content: paths, sha256s and modes of its files and empty
folders, the config among them), so an update rewrites only the models whose digest changed. A changed model
folder is written completely beside the served one and swapped in by rename; the previous folder is
kept until Triton has loaded the new one, so a failed load can put it back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from components.core.content import content_of, model_digests
from components.core.hashcache import HashCache
from components.core.package import plan_manifest
from components.core.plan import RepositoryPlan, materialize


def plan_digests(plan: RepositoryPlan, cache: HashCache | None = None) -> dict[str, str]:
    """Every model's content digest (`components.core.content.model_digest`), by name, hashing only what `cache`
    does not know: the same digests the Pulumi layer gives the server, so both tell the same models apart."""
    digests = model_digests(content_of(plan_manifest(plan, cache)))
    if cache is not None:
        cache.save()
    return digests


@dataclass(frozen=True)
class StagedModel:
    """A model folder swapped into the served repository.

    `staging` is the temporary folder beside the repository that holds `previous`, the folder it
    replaced (None for a new model), until `commit_model` or `restore_model`.
    """

    name: str
    path: Path
    staging: Path
    previous: Path | None


def stage_model(plan: RepositoryPlan, name: str, repository: Path) -> StagedModel:
    """Write model `name` completely beside the served repository, then swap it in; keep the old folder aside."""
    staging = Path(tempfile.mkdtemp(prefix=f".stage.{name}.", dir=repository.parent))
    try:
        materialize(replace(plan, models={name: plan.models[name]}), staging / "new")
        target = repository / name
        previous = None
        if target.exists():
            previous = staging / "previous"
            os.replace(target, previous)
        os.replace(staging / "new" / name, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return StagedModel(name, target, staging, previous)


def commit_model(staged: StagedModel) -> None:
    """Drop the folder a staged model replaced: its new version is loaded."""
    shutil.rmtree(staged.staging, ignore_errors=True)


def restore_model(staged: StagedModel) -> None:
    """Put back the folder a staged model replaced (or remove a new model's folder): its load failed."""
    if staged.path.exists():
        os.replace(staged.path, staged.staging / "failed")
    if staged.previous is not None:
        os.replace(staged.previous, staged.path)
    shutil.rmtree(staged.staging, ignore_errors=True)


def remove_model(repository: Path, name: str) -> None:
    """Remove an unloaded model's folder (renamed away first, so it disappears at once)."""
    target = repository / name
    if not target.exists():
        return
    doomed = Path(tempfile.mkdtemp(prefix=f".removed.{name}.", dir=repository.parent))
    os.replace(target, doomed / name)
    shutil.rmtree(doomed, ignore_errors=True)
