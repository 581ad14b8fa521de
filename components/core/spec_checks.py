"""Checks across a spec that one field alone cannot make: unique names, files that exist, smoke tensor names.

They run on a loaded spec (`check_spec`) and, when the spec failed to load, on the models that did
validate (`check_models`), so that these problems come in the same run as the field errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from components.core.problems import Problem
from components.core.spec import GroupSpec, ModelSpec


def check_spec(spec: GroupSpec, file: str) -> list[Problem]:
    """Every cross-field problem of `spec`, each with its spec line."""
    return check_models(list(enumerate(spec.models)), [model.name for model in spec.models], file,
                        spec.resolve, spec.line)


def check_models(
    models: Iterable[tuple[int, ModelSpec]],
    names: Sequence[Any],
    file: str,
    resolve: Callable[[str], Path],
    line: Callable[..., int | None],
) -> list[Problem]:
    """The problems of `models`, (index in the spec, model) pairs, and of the model names of the whole spec.

    `names` holds every model's name as written (any value, None if missing) so that a duplicate is found
    even among models that failed to validate; `resolve` turns a spec path into a file path, `line(*path)`
    gives the spec line of a field path such as ('models', 0, 'versions', 1).
    """
    problems: list[Problem] = []

    def report(path: tuple[Any, ...], field: str, message: str, code: str) -> None:
        problems.append(Problem(file, field, message, code, line=line(*path)))

    seen: set[str] = set()
    for index, name in enumerate(names):
        if not isinstance(name, str):
            continue
        if name in seen:
            report(("models", index, "name"), f"models[{name}].name",
                   f"model name {name!r} is used twice; names must be unique in a group "
                   "(each is a Triton folder and an OCI inference key)", "spec.duplicate_model")
        seen.add(name)

    for index, model in models:
        where = ("models", index)
        label = f"models[{model.name}]"
        paths: list[tuple[tuple[Any, ...], str, str]] = []
        if model.config:
            paths.append(((*where, "config"), f"{label}.config", model.config))
        for version, rel in model.versions.items():
            paths.append(((*where, "versions", version), f"{label}.versions.{version}", rel))
        if model.python and model.python.execution_env:
            paths.append(((*where, "python", "execution_env"), f"{label}.python.execution_env",
                          model.python.execution_env))
        if model.python and model.python.stub:
            paths.append(((*where, "python", "stub"), f"{label}.python.stub", model.python.stub))
        for out_index, output in enumerate(model.outputs):
            if output.label_filename:
                paths.append(((*where, "outputs", out_index, "label_filename"),
                              f"{label}.outputs[{output.name}].label_filename", output.label_filename))
        for case_index, case in enumerate(model.smoke):
            for tensor, given in case.inputs.items():
                if given.npy:
                    paths.append(((*where, "smoke", case_index, "inputs", tensor, "npy"),
                                  f"{label}.smoke[{case.name}].inputs.{tensor}.npy", given.npy))
            for tensor, expected in case.expect.items():
                if expected.npy:
                    paths.append(((*where, "smoke", case_index, "expect", tensor, "npy"),
                                  f"{label}.smoke[{case.name}].expect.{tensor}.npy", expected.npy))
        for path, field, rel in paths:
            if not resolve(rel).exists():
                report(path, field, f"{rel} does not exist (paths are relative to the spec file)",
                       "spec.path_missing")

        case_names: set[str] = set()
        input_names = {t.name for t in model.inputs}
        output_names = {t.name for t in model.outputs}
        for case_index, case in enumerate(model.smoke):
            case_label = f"{label}.smoke[{case.name}]"
            if case.name in case_names:
                report((*where, "smoke", case_index, "name"), f"{case_label}.name",
                       f"smoke case {case.name!r} is used twice in this model", "spec.duplicate_case")
            case_names.add(case.name)
            if model.config:
                continue
            for tensor in case.inputs:
                if tensor not in input_names:
                    report((*where, "smoke", case_index, "inputs", tensor), f"{case_label}.inputs.{tensor}",
                           f"{model.name} has no input {tensor!r}; its inputs are {sorted(input_names)}",
                           "spec.smoke_unknown_input")
            for tensor in case.expect:
                if tensor not in output_names:
                    report((*where, "smoke", case_index, "expect", tensor), f"{case_label}.expect.{tensor}",
                           f"{model.name} has no output {tensor!r}; its outputs are {sorted(output_names)}",
                           "spec.smoke_unknown_output")
    return problems
