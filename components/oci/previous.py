"""What the last update of this stack deployed, and what that changes for this one.

The program reads its own stack's last outputs through a StackReference to itself
(`components.providers.diffing.previous_outputs`): `optionFingerprint` (a digest per option group of the
live deployment), `modelContent` ({model: {file: sha256}}) and `artifacts` (the zips the catalog models
hold). From them it refuses an update that changes more than one option group at once (`check_update`),
logs which models changed and what that does on OCI (`log_model_changes` with `oci_consequence`), and
keeps an unchanged artifact known at preview (`unchanged_artifact`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi

from components.core.changes import Content, ModelChange, model_changes
from components.core.oci_target.updates import (
    OPTION_GROUP_LABELS,
    OptionFingerprint,
    option_groups_changed,
    replacement_reason,
    split_message,
)
from components.core.package import REPOSITORY_ARTIFACT
from components.providers.diffing import previous_content

FINGERPRINT_OUTPUT = "optionFingerprint"
ARTIFACTS_OUTPUT = "artifacts"


def check_update(previous: Mapping[str, Any], fingerprint: OptionFingerprint, layout: str) -> dict[str, str]:
    """The new fingerprint, once the update replaces the deployment or changes at most one of OCI's option
    groups of what the last update deployed; raises pulumi.RunError with what to split otherwise."""
    recorded = previous.get(FINGERPRINT_OUTPUT)
    old = OptionFingerprint.from_json(recorded) if isinstance(recorded, Mapping) else None
    if isinstance(recorded, Mapping) and old is None:
        pulumi.log.warn("the last update recorded its option groups in an older format; this update is not "
                        "checked against OCI's one-group-at-a-time rule")
    reason = replacement_reason(old, fingerprint, layout)
    if reason is not None:
        pulumi.log.warn(f"the model deployment is replaced: {reason}. The new deployment gets a new OCID and URL "
                        "(the endpoint output and the smoke test follow it); the old one is deleted once the new "
                        "one is created")
        return fingerprint.to_json()
    changed = option_groups_changed(old, fingerprint)
    if len(changed) > 1:
        raise pulumi.RunError(split_message(changed))
    for group in sorted(changed):
        pulumi.log.info(f"this update changes the {OPTION_GROUP_LABELS[group]} options of the live model deployment")
    return fingerprint.to_json()


def oci_consequence(layout: str) -> Callable[[ModelChange], str]:
    """What a model's change does on OCI: in layout `per-model` only that model's catalog model moves, and the
    group gets a new version; in layout `single` the one repository artifact and catalog model are replaced."""

    def consequence(change: ModelChange) -> str:
        if layout != "per-model":
            return "the repository artifact and its catalog model are replaced, and the deployment moves to it"
        done = {"added": "a catalog model is created for it", "removed": "its catalog model is deleted",
                "changed": "its catalog model is replaced"}[change.kind]
        return f"{done} and the model group gets a new version, which the deployment moves to"

    return consequence


def content_identity(content: Content, models: Sequence[str]) -> str:
    """The identity of the deployed models' files: the sha256 of their content map ({model: {file: sha256}})."""
    chosen = {name: content.get(name, {}) for name in models}
    return hashlib.sha256(json.dumps(chosen, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def unchanged_artifact(previous: Mapping[str, Any], content: Content, name: str) -> dict[str, Any] | None:
    """The artifact `name` as the last update recorded it, if it would hold the same models with the same files."""
    recorded = {a.get("name"): a for a in previous.get(ARTIFACTS_OUTPUT) or [] if isinstance(a, Mapping)}
    recorded_content = previous_content(previous)
    found = recorded.get(name)
    if found is None or recorded_content is None:
        return None
    holds = sorted(content) if name == REPOSITORY_ARTIFACT else [name]
    if sorted(found.get("models") or []) != holds:
        return None
    if any(change.model in holds for change in model_changes(recorded_content, content)):
        return None
    return dict(found)
