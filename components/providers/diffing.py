"""What changed since the last deployment: in a provider's diff, and in the lines a preview logs per model.

Two places see the old side, and both take it from the Pulumi state, never from a file on the machine
that runs the preview (a CI runner starts with an empty folder):

- A dynamic provider's `diff` gets the resource's recorded outputs (`changed_keys`). It decides
  whether to update, but it cannot log (it runs in the engine's provider process, with no connection to
  the engine's diagnostics) and its `DiffResult` carries only `changes`, `replaces` and
  `delete_before_replace` (the Python dynamic provider server drops `stables` and sends no detailed
  diff). The engine then shows its own property diff of the inputs: `[diff: ~content]` in the preview,
  and with `pulumi preview --diff` the changed keys, e.g. `content.classifier_onnx["1/model.onnx"]`.
- The program reads its own stack's last outputs through a StackReference to itself
  (`previous_outputs`); the content the last update exported as `modelContent` (`CONTENT_OUTPUT`) is
  compared with this run's (`log_model_changes`), which logs "model classifier_onnx: 1/model.onnx
  changed" at preview and at update. Before the first update there is nothing to compare: no line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pulumi
from pulumi.runtime.rpc import UNKNOWN

from components.core.changes import ModelChange, model_changes
from components.core.content import Content

CONTENT_OUTPUT = "modelContent"
"""The stack output holding the deployed repository's content ({model: {file: sha256}})."""


def is_unknown(value: Any) -> bool:
    """True when `value` is, or holds, a value the engine does not know yet (during a preview)."""
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(item) for item in value)
    return False


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The `keys` whose new value differs from the recorded one, or is not known yet."""
    return [key for key in keys if is_unknown(news.get(key)) or olds.get(key) != news.get(key)]


def previous_outputs() -> pulumi.Output[dict[str, Any]]:
    """This stack's outputs as its last update left them ({} before the first), through a StackReference to itself."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    reference = pulumi.StackReference("previous-update", stack_name=name)
    return reference.outputs.apply(lambda outputs: dict(outputs or {}))


def previous_content(previous: Mapping[str, Any]) -> Content | None:
    """The content the last update exported as `modelContent`, or None (no update yet, or none exported)."""
    recorded = previous.get(CONTENT_OUTPUT)
    return recorded if isinstance(recorded, Mapping) else None


def log_model_changes(
    previous: Mapping[str, Any],
    content: Content,
    *,
    resource: pulumi.Resource | None = None,
    consequence: Callable[[ModelChange], str] | None = None,
) -> list[ModelChange]:
    """Log one info line per model whose files differ from what the last update exported; return the changes.

    `previous` is `previous_outputs()`'s value, `content` this run's. `consequence(change)`, when given,
    is appended after "; " (what the change does to the deployment). Logs nothing before the first update.
    """
    recorded = previous_content(previous)
    if recorded is None:
        return []
    changes = model_changes(recorded, content)
    for change in changes:
        suffix = f"; {consequence(change)}" if consequence else ""
        pulumi.log.info(f"{change.describe()}{suffix}", resource=resource)
    return changes
