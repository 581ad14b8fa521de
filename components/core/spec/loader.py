"""Loading a spec file: bounded YAML with lines, the models validated, the cross-model checks, every problem at once.

`load_spec(path)` reads the file through `source_files` (a regular UTF-8 file of at most MAX_SPEC_BYTES), parses
it with line numbers, validates it, runs `checks` (on the models that did validate when others did not), and
raises one UserError listing every problem as `file:line: field.path: message`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from components._internal.yaml_lines import YAMLRefused, line_of, load_with_lines
from components.core.problems import Problem, UserError
from components.core.source_files import NotUsable, read_file
from components.core.spec.checks import check_models, check_spec
from components.core.spec.models import MAX_SPEC_BYTES, GroupSpec, ModelSpec, resolve_against


def load_spec(path: Path | str) -> GroupSpec:
    """Load and check a spec file; raise UserError listing every problem, each with its line."""
    path = Path(path)
    shown = str(path)
    text = _spec_text(path, shown)
    try:
        data, lines = load_with_lines(text)
    except YAMLRefused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise UserError(Problem(shown, field_path(exc.path, None), f"refused: {exc.problem}", "spec.yaml_refused",
                                line=line)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise UserError(
            Problem(shown, "", f"not valid YAML: {reason}", "spec.yaml", line=mark.line + 1 if mark else None)
        ) from None
    if not isinstance(data, dict):
        raise UserError(Problem(shown, "", "the spec must be a mapping with name: and models:", "spec.shape", 1))
    try:
        spec = GroupSpec.model_validate(data)
    except ValidationError as exc:
        parsed, names = _models_that_validate(data)
        problems = _problems_from_validation(exc, shown, data, lines)
        problems += check_models(
            parsed, names, shown, lambda relative: resolve_against(path, relative), lambda *where: line_of(lines, where)
        )
        raise UserError(_in_line_order(problems)) from None
    spec._source = path.resolve()
    spec._shown = shown
    spec._lines = lines
    problems = check_spec(spec, shown)
    if any(p.is_error for p in problems):
        raise UserError(_in_line_order(problems))
    return spec


def _spec_text(path: Path, shown: str) -> str:
    """The spec file's text; UserError when it is not a readable UTF-8 regular file of at most MAX_SPEC_BYTES."""
    try:
        data = read_file(path, MAX_SPEC_BYTES, "a group spec")
    except NotUsable as exc:
        if exc.code == "missing":
            raise UserError(Problem(shown, "", "no such file; give the path of a group spec (YAML)",
                                    "spec.missing")) from None
        if exc.code == "is_a_folder":
            specs = sorted(str(found) for suffix in ("yaml", "yml") for found in path.glob(f"*.{suffix}"))
            raise UserError(Problem(shown, "", "is a folder; give the group spec file (YAML) itself"
                                    f"{f', e.g. {specs[0]}' if specs else ''}", "spec.folder")) from None
        if exc.code == "unreadable":
            raise UserError(Problem(shown, "", f"{exc.reason}; make it readable by this user",
                                    "spec.unreadable")) from None
        raise UserError(Problem(shown, "", f"{exc.reason}; give the group spec file (YAML)",
                                f"spec.{exc.code}")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(Problem(shown, "", f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                                f"{exc.start}); save it as UTF-8", "spec.encoding")) from None


def _models_that_validate(data: dict[str, Any]) -> tuple[list[tuple[int, ModelSpec]], list[Any]]:
    """For a spec that failed: the (index, model) pairs that validate on their own, and every model's name.

    They let `spec_checks.check_models` report duplicate names and missing files in the same run as
    the field errors elsewhere.
    """
    written = data.get("models")
    if not isinstance(written, list):
        return [], []
    parsed = []
    for index, item in enumerate(written):
        try:
            parsed.append((index, ModelSpec.model_validate(item)))
        except ValidationError:
            continue
    return parsed, [item.get("name") if isinstance(item, dict) else None for item in written]


def _in_line_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.field))


def _problems_from_validation(
    exc: ValidationError, file: str, data: Any, lines: dict[tuple[Any, ...], int]
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        problems.append(
            Problem(
                file=file,
                field=field_path(loc, data),
                message=_plain_message(error),
                code=error["type"] if "." in error["type"] else f"spec.{error['type']}",
                line=line_of(lines, loc),
            )
        )
    return problems


def field_path(loc: tuple[Any, ...], data: Any) -> str:
    """`models[classifier].inputs[0].dims` from ('models', 2, 'inputs', 0, 'dims')."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            item = node[part] if part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(f"[{name}]" if isinstance(name, str) and name else f"[{part}]")
            node = item
        elif isinstance(part, int) and not isinstance(node, dict):
            parts.append(f"[{part}]")
            node = None
        else:
            parts.append(f".{part}" if parts else str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts)


def _plain_message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling (`triton-groups schema` lists the keys)"
    if kind == "missing":
        return "required; add it"
    return str(error["msg"]).removeprefix("Value error, ")
