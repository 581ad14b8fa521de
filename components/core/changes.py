"""Which models of a repository changed between two deployments, and how a preview words it.

A repository's content (components.core.content) records each file's sha256, size and mode, so a change
is decided by bytes and modes, never by mtimes. `model_changes(old, new)` compares two
contents and gives one `ModelChange` per model that was added, removed or whose files differ, sorted
by model name; `ModelChange.describe()` is the line a preview prints:

    model classifier_onnx: 1/model.onnx changed
    model preprocess: config.pbtxt changed, 2/model.py added
    model detector: added
    model legacy: removed

Where the old side comes from is the caller's business: the Pulumi layer takes it from the stack's
previous outputs (components.providers.diffing), never from a file on the machine that runs the preview.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.core.content import Content, normalized, same_file

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class FileChange:
    """One file of a model that was added, removed or whose bytes changed."""

    path: str
    kind: ChangeKind

    def describe(self) -> str:
        return f"{self.path} {self.kind}"


@dataclass(frozen=True)
class ModelChange:
    """One model that was added, removed, or changed (then `files` says which files, sorted by path)."""

    model: str
    kind: ChangeKind
    files: tuple[FileChange, ...] = ()

    def describe(self) -> str:
        """The preview's line: "model classifier_onnx: 1/model.onnx changed", "model x: added"."""
        if self.kind != "changed":
            return f"model {self.model}: {self.kind}"
        return f"model {self.model}: {', '.join(change.describe() for change in self.files)}"


def model_changes(old: Content, new: Content) -> list[ModelChange]:
    """The models whose content differs between `old` and `new`, sorted by name; [] when nothing changed.

    Either side may be in the older form (bare sha256 strings): see `content.normalized`.
    """
    old, new = normalized(old), normalized(new)
    changes = []
    for model in sorted(set(old) | set(new)):
        if model not in old:
            changes.append(ModelChange(model, "added"))
        elif model not in new:
            changes.append(ModelChange(model, "removed"))
        else:
            files = file_changes(old[model], new[model])
            if files:
                changes.append(ModelChange(model, "changed", files))
    return changes


def file_changes(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
                 ) -> tuple[FileChange, ...]:
    """The files of one model ({path: record}) added, removed or changed (bytes or mode), sorted by path."""
    return tuple(
        FileChange(path, "added" if path not in old else "removed" if path not in new else "changed")
        for path in sorted(set(old) | set(new))
        if path not in old or path not in new or not same_file(old[path], new[path])
    )
