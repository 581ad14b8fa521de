"""Promotion in a Pulumi program: a stack that names a release serves exactly its bytes, or changes nothing.

Stack config (namespace `triton-groups`): `release` (a release file, relative to the project) and `promotesFrom`
(the stack it must have passed on). `gate_promotion` runs in the program before any resource is registered: the
spec is built as usual (its content hashed through the hash cache), compared with the release (every model file's
sha256, the repository's), and the release must have passed on `promotesFrom`, checked twice: in the release
file, and, where the backend holds that stack, in its outputs (`passed_releases`, through a StackReference).
A mismatch stops the program with one error naming the model, the file and both sha256s.

`passed_releases(previous, passed)` keeps the stack's own record of what passed on it, for the stacks that
promote from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components.core.problems import UserError
from components.core.release import Built, Release, check_promotion, load_release
from components.core.stack_settings import CONFIG_NAMESPACE
from components.providers.problems import run_error

PASSED_RELEASES_OUTPUT = "passed_releases"
"""The stack output listing what passed on this stack, newest first: [{repository_sha256, cases_sha256, passed_at}]."""
PASSED_RELEASES_KEPT = 50


@dataclass(frozen=True)
class Promotion:
    """A stack's promotion settings, once its release file is read."""

    release: Release
    release_file: str
    promotes_from: str | None


def read_promotion(config: pulumi.Config, namespace: str, project_root: Path) -> Promotion | None:
    """The stack's promotion settings from its config (`release`, `promotesFrom`); see `promotion_from`."""
    return promotion_from(config.get("release"), config.get("promotesFrom"), project_root, namespace)


def promotion_from(release_file: str | None, promotes_from: str | None, project_root: Path,
                   namespace: str = CONFIG_NAMESPACE) -> Promotion | None:
    """The stack's promotion settings, or None when it names no release; RunError for a bad release file."""
    if not release_file:
        if promotes_from:
            raise pulumi.RunError(f"stack config {namespace}:promotesFrom is {promotes_from!r} but {namespace}:release "
                                  "is not set; name the release to promote (a file made by `triton-groups release "
                                  "create`)")
        return None
    try:
        release = load_release(project_root / release_file)
    except UserError as exc:
        raise run_error(exc, f"the release of stack config {namespace}:release cannot be used") from None
    return Promotion(release, release_file, promotes_from or None)


def gate_promotion(promotion: Promotion, built: Built) -> None:
    """Stop the program (RunError) unless `built` holds the release's bytes and it passed on `promotesFrom`."""
    problems = check_promotion(promotion.release, built, promotion.release_file, promotion.promotes_from)
    if problems:
        raise run_error(problems, f"this stack cannot promote {promotion.release_file}; nothing was changed")


def checked_on_source_stack(promotion: Promotion) -> pulumi.Output[bool]:
    """True once the source stack's outputs list the release as passed; fails the program when they do not.

    Resources that must not change before the check is done take this output among their dependencies.
    """
    source = promotion.promotes_from or promotion.release.passed.stack
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{source}"
    outputs = pulumi.StackReference(f"promotes-from-{source}", stack_name=name).outputs
    wanted = promotion.release.repository_sha256

    def check(recorded: Mapping[str, Any] | None) -> bool:
        passed = (recorded or {}).get(PASSED_RELEASES_OUTPUT) or []
        if any(isinstance(entry, Mapping) and entry.get("repository_sha256") == wanted for entry in passed):
            return True
        raise pulumi.RunError(
            f"{promotion.release_file}: passed.stack: the release says it passed on stack {source}, but {source}'s "
            f"outputs do not list repository {wanted} among the releases that passed there; promote a release "
            f"that passed on {source}; nothing was changed")

    return outputs.apply(check)


def passed_releases(previous: Mapping[str, Any], passed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """This stack's record of passing releases: `passed` (the smoke test's last pass) first, then the earlier ones."""
    earlier = [entry for entry in previous.get(PASSED_RELEASES_OUTPUT) or [] if isinstance(entry, Mapping)]
    entry = {key: passed.get(key) for key in ("repository_sha256", "cases_sha256", "passed_at")}
    rest: Sequence[Mapping[str, Any]] = [e for e in earlier if e.get("repository_sha256") != entry["repository_sha256"]]
    return [entry, *(dict(e) for e in rest)][:PASSED_RELEASES_KEPT]
