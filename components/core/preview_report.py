"""What a `pulumi preview` would do to a group, in the words of its reviewers: models, files, config fields, cases.

`PreviewReport.from_events(stack, events)` reads the engine's JSON events of a preview (`pulumi preview --json`
with PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true: one `resourcePreEvent` per step with the old and new inputs, one
`policyEvent` per violation, diagnostics, a `summaryEvent`) and says:

- the models added, removed and changed, from the repository resource's `content`; per changed model the files
  that change (path, old -> new size, sha256 prefix) and the config.pbtxt fields that change, from its
  `configs` (Triton's schema as data: `max_batch_size: 8 -> 16`, `dynamic_batching: added`,
  `instance_group[0].count: 1 -> 2`), and the smoke cases added, removed or changed, from the smoke test's
  `cases`;
- every resource that will be replaced, flagged; a replaced deployment or server gets a new URL;
- policy violations and errors.
`to_markdown()` is a pull-request comment, short when nothing changes; `to_json()` the same for machines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from components.core.content import normalized, same_file

REPOSITORY_TYPE = "pulumi-python:dynamic/triton:TritonModelRepository"
SMOKE_TYPE = "pulumi-python:dynamic/triton:InferenceSmokeTest"
ENDPOINT_TYPES = {
    "oci:DataScience/modelDeployment:ModelDeployment": "a new deployment URL",
    "pulumi-python:dynamic/triton:LocalTritonServer": "a new server process and URL",
}
REPLACE_OPS = ("replace", "create-replacement", "delete-replaced")
SHA_PREFIX = 12
MARKER = "<!-- triton-groups preview -->"
"""The first line of every Markdown report: CI finds its earlier comment by it and edits it."""


@dataclass(frozen=True)
class FileDelta:
    """A file of a model: added, removed or changed, with its old and new size and sha256 prefix."""

    path: str
    change: str
    old_size: int | None = None
    new_size: int | None = None
    old_sha256: str | None = None
    new_sha256: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class FieldDelta:
    """A config.pbtxt field (dotted path as in Triton's schema) whose value changes; None for absent."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class CaseDelta:
    """A smoke case of a model: added, removed or changed."""

    case: str
    change: str


@dataclass(frozen=True)
class ModelDelta:
    """A model added, removed or changed, with what changes inside it: files, config fields, smoke cases."""

    model: str
    change: str
    files: tuple[FileDelta, ...] = ()
    config: tuple[FieldDelta, ...] = ()
    cases: tuple[CaseDelta, ...] = ()


@dataclass(frozen=True)
class Replacement:
    """A resource the update replaces, and what that costs its users (e.g. a new deployment URL)."""

    name: str
    type: str
    consequence: str


@dataclass(frozen=True)
class Violation:
    """A policy pack's finding on a resource: `level` is mandatory or advisory."""

    policy: str
    level: str
    resource: str
    message: str


@dataclass(frozen=True)
class PreviewReport:
    """What one stack's preview would change: the engine's counts, per model deltas, replacements, policies."""

    stack: str
    succeeded: bool
    resource_changes: dict[str, int] = field(default_factory=dict)
    models: tuple[ModelDelta, ...] = ()
    replacements: tuple[Replacement, ...] = ()
    violations: tuple[Violation, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def changes_anything(self) -> bool:
        return any(op not in ("same", "read") for op in self.resource_changes) or bool(self.models)

    @classmethod
    def from_events(cls, stack: str, events: Iterable[Mapping[str, Any]]) -> PreviewReport:
        steps: dict[str, Mapping[str, Any]] = {}
        replaced: dict[str, Mapping[str, Any]] = {}
        violations, errors = [], []
        summary: Mapping[str, Any] = {}
        for event in events:
            if "resourcePreEvent" in event:
                metadata = event["resourcePreEvent"]["metadata"]
                if metadata.get("op") in REPLACE_OPS:
                    replaced[metadata["urn"]] = metadata
                else:
                    steps[metadata["urn"]] = metadata
            elif "policyEvent" in event:
                policy = event["policyEvent"]
                lines = policy.get("message", "").strip().splitlines()
                violations.append(Violation(policy.get("policyName", ""), policy.get("enforcementLevel", ""),
                                            _name(policy.get("resourceUrn", "")), (lines[-1] if lines else "")))
            elif event.get("diagnosticEvent", {}).get("severity") == "error":
                message = event["diagnosticEvent"].get("message", "").strip()
                if message and message not in errors:
                    errors.append(message)
            elif "summaryEvent" in event:
                summary = event["summaryEvent"]
        models = _model_deltas([*steps.values(), *(s for urn, s in replaced.items() if urn not in steps)])
        replacements = tuple(
            Replacement(_name(urn), step.get("type", ""), ENDPOINT_TYPES.get(step.get("type", ""), "recreated"))
            for urn, step in replaced.items()
        )
        return cls(
            stack=stack,
            succeeded=summary.get("result", "failed") == "succeeded" and not errors,
            resource_changes={op: int(count) for op, count in sorted((summary.get("resourceChanges") or {}).items())},
            models=models,
            replacements=tuple(sorted(replacements, key=lambda r: r.name)),
            violations=tuple(violations),
            errors=tuple(errors),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"changes_anything": self.changes_anything}

    def to_markdown(self) -> str:
        title = f"{MARKER}\n### triton-groups preview: stack `{self.stack}`"
        if not self.succeeded:
            lines = [title, "", "**The preview failed.**", ""]
            lines += [f"- {error.splitlines()[0]}" for error in self.errors] or ["- (no error message)"]
            lines += _violation_lines(self.violations)
            return "\n".join(lines) + "\n"
        if not self.changes_anything and not self.violations:
            return f"{title}\n\nNo changes.\n"
        counts = ", ".join(f"{count} to {op}" for op, count in self.resource_changes.items()
                           if op not in ("same", "read"))
        lines = [title, "", f"Resources: {counts or 'no change'}."]
        if self.replacements:
            lines += ["", "**Replaced** (recreated, not updated in place):"]
            lines += [f"- `{r.name}` ({r.type}): {r.consequence}" for r in self.replacements]
        if self.models:
            lines += ["", "| model | change |", "|---|---|"]
            lines += [f"| `{m.model}` | {m.change} |" for m in self.models]
            for model in self.models:
                lines += _model_lines(model)
        lines += _violation_lines(self.violations)
        return "\n".join(lines) + "\n"


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _inputs(step: Mapping[str, Any], side: str) -> Mapping[str, Any]:
    state = step.get(side) or {}
    return state.get("inputs") or {}


def _of_type(steps: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [step for step in steps if step.get("type") == kind]


def _model_deltas(steps: Iterable[Mapping[str, Any]]) -> tuple[ModelDelta, ...]:
    steps = list(steps)
    old_content: dict[str, dict[str, Any]] = {}
    new_content: dict[str, dict[str, Any]] = {}
    old_configs: dict[str, Any] = {}
    new_configs: dict[str, Any] = {}
    for step in _of_type(steps, REPOSITORY_TYPE):
        old_content.update(normalized(_inputs(step, "old").get("content")))
        new_content.update(normalized(_inputs(step, "new").get("content")))
        old_configs.update(_inputs(step, "old").get("configs") or {})
        new_configs.update(_inputs(step, "new").get("configs") or {})
    old_cases: dict[str, Any] = {}
    new_cases: dict[str, Any] = {}
    for step in _of_type(steps, SMOKE_TYPE):
        old_cases.update(_inputs(step, "old").get("cases") or {})
        new_cases.update(_inputs(step, "new").get("cases") or {})
    deltas = []
    for model in sorted(set(old_content) | set(new_content)):
        if model not in old_content:
            deltas.append(ModelDelta(model, "added", _files({}, new_content[model]), (),
                                     _cases({}, new_cases.get(model) or {})))
            continue
        if model not in new_content:
            deltas.append(ModelDelta(model, "removed"))
            continue
        files = _files(old_content[model], new_content[model])
        config = _fields(old_configs.get(model) or {}, new_configs.get(model) or {}) if model in old_configs else ()
        cases = _cases(old_cases.get(model) or {}, new_cases.get(model) or {}) if model in old_cases else ()
        if files or config or cases:
            deltas.append(ModelDelta(model, "changed", files, config, cases))
    return tuple(deltas)


def _files(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> tuple[FileDelta, ...]:
    found = []
    for path in sorted(set(old) | set(new)):
        was, now = old.get(path), new.get(path)
        if was is not None and now is not None and same_file(was, now):
            continue
        change = "added" if was is None else "removed" if now is None else "changed"
        mode = None
        if was is not None and now is not None and was["sha256"] == now["sha256"]:
            mode = f"{was['mode']:o} -> {now['mode']:o}"
        found.append(FileDelta(
            path, change,
            old_size=was["size"] if was else None, new_size=now["size"] if now else None,
            old_sha256=was["sha256"][:SHA_PREFIX] if was else None,
            new_sha256=now["sha256"][:SHA_PREFIX] if now else None, mode=mode,
        ))
    return tuple(found)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves; lists of named entries (inputs, outputs) keyed by name, other lists by index."""
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat or {prefix: {}}
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        named = all("name" in item for item in value)
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten({k: v for k, v in item.items() if not named or k != "name"} or {"name": item["name"]},
                                 f"{prefix}[{item['name'] if named else index}]"))
        return flat
    return {prefix: value}


def _shown(value: Any) -> str:
    """A config value as config.pbtxt shows it (int64 values come as strings from the schema's JSON)."""
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldDelta, ...]:
    found = []
    for section in sorted(set(old) | set(new)):
        if section not in old:
            found.append(FieldDelta(section, None, "added"))
            continue
        if section not in new:
            found.append(FieldDelta(section, "removed", None))
            continue
        was, now = _flatten(old[section], section), _flatten(new[section], section)
        for path in sorted(set(was) | set(now)):
            if was.get(path) != now.get(path):
                found.append(FieldDelta(path, None if path not in was else _shown(was[path]),
                                        None if path not in now else _shown(now[path])))
    return tuple(found)


def _cases(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[CaseDelta, ...]:
    return tuple(
        CaseDelta(case, "added" if case not in old else "removed" if case not in new else "changed")
        for case in sorted(set(old) | set(new)) if old.get(case) != new.get(case)
    )


def _size(value: int | None) -> str:
    return "-" if value is None else f"{value:,} B"


def _model_lines(model: ModelDelta) -> list[str]:
    if model.change == "removed" or not (model.files or model.config or model.cases):
        return []
    lines = ["", f"**{model.model}** ({model.change})"]
    if model.files:
        lines += ["", "| file | change | size | sha256 |", "|---|---|---|---|"]
        for delta in model.files:
            sha = f"`{delta.old_sha256 or '-'}` -> `{delta.new_sha256 or '-'}`"
            change = f"mode {delta.mode}" if delta.mode else delta.change
            lines.append(f"| `{delta.path}` | {change} | {_size(delta.old_size)} -> {_size(delta.new_size)} | {sha} |")
    if model.config:
        lines += [""] + [_field_line(delta) for delta in model.config]
    if model.cases:
        lines += [""] + [f"- smoke case `{delta.case}` {delta.change}" for delta in model.cases]
    return lines


def _field_line(delta: FieldDelta) -> str:
    if delta.old is None and delta.new == "added":
        return f"- config `{delta.field}` added"
    if delta.new is None and delta.old == "removed":
        return f"- config `{delta.field}` removed"
    return f"- config `{delta.field}`: {delta.old if delta.old is not None else '(unset)'} -> " \
           f"{delta.new if delta.new is not None else '(unset)'}"


def _violation_lines(violations: Sequence[Violation]) -> list[str]:
    if not violations:
        return []
    lines = ["", "**Policy violations:**"]
    lines += [f"- [{v.level}] `{v.policy}` on `{v.resource}`: {v.message}" for v in violations]
    return lines
