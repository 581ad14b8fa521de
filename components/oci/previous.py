"""What the last update of this stack deployed, and what that changes for this one.

The program reads its own stack's last outputs through a StackReference to itself (`previous_outputs`):
`optionFingerprint` (a digest per option group of the live deployment), `modelContent` ({model: {file:
sha256}}) and `artifacts` (the zips the catalog models hold). From them it refuses an update that changes
more than one option group at once (`check_update`), logs which models changed and what that does on OCI
(`log_model_changes`), and keeps an unchanged artifact known at preview (`unchanged_artifact`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components.core.oci.names import SINGLE_ARTIFACT
from components.core.oci.updates import OptionFingerprint, option_groups_changed, split_message
from components.providers.repository import Content, describe_changes

FINGERPRINT_OUTPUT = "optionFingerprint"
CONTENT_OUTPUT = "modelContent"
ARTIFACTS_OUTPUT = "artifacts"


def previous_outputs() -> pulumi.Output[dict[str, Any]]:
    """This stack's outputs as its last update left them ({} before the first), through a StackReference to itself."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    reference = pulumi.StackReference("previous-update", stack_name=name)
    return reference.outputs.apply(lambda outputs: dict(outputs or {}))


def check_update(previous: Mapping[str, Any], fingerprint: OptionFingerprint) -> dict[str, str]:
    """The new fingerprint, once it changes at most one option group of what the last update deployed."""
    recorded = previous.get(FINGERPRINT_OUTPUT)
    changed = option_groups_changed(recorded if isinstance(recorded, Mapping) else None, fingerprint)
    if len(changed) > 1:
        raise pulumi.RunError(split_message(changed))
    for group in sorted(changed):
        pulumi.log.info(f"this update changes the {group} options of the live model deployment")
    return fingerprint.to_json()


def log_model_changes(previous: Mapping[str, Any], content: Content, layout: str) -> None:
    """One line per changed model, and what it does on OCI (only the changed models' artifacts move)."""
    recorded = previous.get(CONTENT_OUTPUT)
    if not isinstance(recorded, Mapping):
        return
    consequence = (
        "its catalog model is replaced and the model group gets a new version, which the deployment moves to"
        if layout == "per-model"
        else "the repository artifact and its catalog model are replaced, and the deployment moves to it"
    )
    for line in describe_changes(recorded, content):
        pulumi.log.info(f"{line}; {consequence}")


def content_identity(content: Content, models: Sequence[str]) -> str:
    """The identity of the deployed models' files: the sha256 of their content map ({model: {file: sha256}})."""
    chosen = {name: content.get(name, {}) for name in models}
    return hashlib.sha256(json.dumps(chosen, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def unchanged_artifact(previous: Mapping[str, Any], content: Content, name: str) -> dict[str, Any] | None:
    """The artifact `name` as the last update recorded it, if it would hold the same models with the same files."""
    recorded = {a.get("name"): a for a in previous.get(ARTIFACTS_OUTPUT) or [] if isinstance(a, Mapping)}
    recorded_content = previous.get(CONTENT_OUTPUT)
    found = recorded.get(name)
    if found is None or not isinstance(recorded_content, Mapping):
        return None
    holds = sorted(content) if name == SINGLE_ARTIFACT else [name]
    if sorted(found.get("models") or []) != holds:
        return None
    if any(recorded_content.get(model) != content.get(model) for model in holds):
        return None
    return dict(found)
