"""Stack settings: the `triton-groups:*` values of `stacks/Pulumi.<stack>.yaml`, one pydantic model per target.

`CONFIG_NAMESPACE` is the one namespace of every key. `SettingsModel` is the base of every target's model:
camelCase keys in YAML (Pulumi's convention), snake_case in Python, unknown keys refused, immutable once read.
`check_settings(model, values, stack, stack_file)` turns a target's config values into its model or one
UserError listing every problem as `stacks/Pulumi.<stack>.yaml:line: triton-groups:key: message`.
`StackSettings` holds what every target's stack says alike (the spec, and the release settings: `rollback`,
`release`, `promotesFrom`, `production`); `LocalSettings` is the local target's model on it, the OCI target's is
`components.core.oci_target.settings.OciSettings`.
Like the rest of the core, nothing here imports Pulumi: the Pulumi layer reads the values and passes them in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from components._internal.yaml_lines import line_of, load_with_lines
from components.core.problems import Problem, UserError

CONFIG_NAMESPACE = "triton-groups"
"""The Pulumi config namespace of every key (the project name in Pulumi.yaml)."""

TARGETS = ("local", "oci")


class SettingsModel(BaseModel):
    """camelCase keys in YAML, snake_case in Python; unknown keys (a snake_case one too) refused; immutable once
    read."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)


def stack_file_label(stack: str) -> str:
    """How messages name a stack's config file: `stacks/Pulumi.<stack>.yaml` (Pulumi.yaml's stackConfigDir)."""
    return f"stacks/Pulumi.{stack}.yaml"


def config_field(*loc: Any) -> str:
    """`triton-groups:deployment.shape.ocpus` from ('deployment', 'shape', 'ocpus'); list indexes as `[0]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{CONFIG_NAMESPACE}:{text}"


def config_keys(model: type[SettingsModel]) -> list[str]:
    """The namespaced keys a model reads (`triton-groups:httpPort`, ...)."""
    return [f"{CONFIG_NAMESPACE}:{field.alias or name}" for name, field in model.model_fields.items()]


def decoded(value: Any) -> Any:
    """Pulumi hands object values to programs as JSON text; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def stack_lines(stack_file: Path | None) -> dict[tuple[Any, ...], int]:
    """{(key, ...): line} of a stack file's `config:` values (keys bare), or {} when it cannot be read."""
    if stack_file is None:
        return {}
    try:
        data, lines = load_with_lines(stack_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict):
        return {}
    prefix = ("config",)
    return {
        (path[1].removeprefix(f"{CONFIG_NAMESPACE}:"), *path[2:]): line
        for path, line in lines.items()
        if path[:1] == prefix and len(path) > 1 and isinstance(path[1], str)
    }


def settings_message(error: Mapping[str, Any]) -> str:
    """A validation error in the words of a stack file's reader."""
    kind = error["type"]
    if kind == "missing":
        return "is not set; set it"
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling"
    return str(error["msg"]).removeprefix("Value error, ")


Model = TypeVar("Model", bound=SettingsModel)


def check_settings(model: type[Model], values: Mapping[str, Any], stack: str, *, stack_file: Path | None = None,
                   drop: Iterable[str] = ()) -> Model:
    """The target's settings from its config values (bare or namespaced keys; None and empty values left out, `drop`
    keys removed unread), or a UserError naming the stack file, each key and what to do."""
    label = stack_file_label(stack)
    data = {key.removeprefix(f"{CONFIG_NAMESPACE}:"): decoded(value)
            for key, value in values.items() if value is not None and value != ""}
    for key in drop:
        data.pop(key, None)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = stack_lines(stack_file)
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(part for part in error["loc"] if part != "[key]")
            problems.append(Problem(label, config_field(*loc), settings_message(error),
                                    f"settings.{error['type']}", line=line_of(lines, loc) if lines else None))
        raise UserError(sorted(problems, key=lambda p: (p.line or 0, p.field))) from None


class StackSettings(SettingsModel):
    """What every target's stack says alike: the spec, and how releases move through it (issue 11)."""

    spec: str = Field(min_length=1, description="the group spec, relative to the project")
    rollback: bool = Field(True, description="put the last passing release back when the smoke test fails")
    release: str | None = Field(None, description="the release file this stack promotes")
    promotes_from: str | None = Field(None, description="the stack the release must have passed on")
    production: bool = Field(False, description="the policy pack's rules are mandatory")


class LocalSettings(StackSettings):
    """A `target: local` stack: the example group served by a tritonserver on this machine, then smoke-tested."""

    target: Literal["local"]
    http_port: int | None = Field(None, ge=1, le=65535, description="default: a free port, kept for the server's life")
    protocol: Literal["http", "grpc"] = Field("http", description="the smoke tests' transport")
    state_dir: str | None = Field(None, description="default: .triton-groups/local/<stack>")
