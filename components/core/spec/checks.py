"""Checks across a spec that one field alone cannot make: unique names, paths that can be used, smoke tensor names.

Every path a model names (`named_paths`) goes through `source_files.check_kind` (a regular file, or a folder for a
version; never opened here), and a packed one that is a symbolic link must point inside the model's source folders
(`source_roots`); `plan` applies the same `path_problem` when it lays the files out.

They run on a loaded spec (`check_spec`) and, when the spec failed to load, on the models that did
validate (`check_models`), so that these problems come in the same run as the field errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.core.problems import Problem
from components.core.source_files import NotUsable, SourceRoots, Want, check_kind, where_it_is
from components.core.spec.models import GroupSpec, ModelSpec

WANTED = {"file": "a regular file", "folder": "a folder", "either": "a regular file or a folder"}


@dataclass(frozen=True)
class NamedPath:
    """A path a model's spec names: where it is written (a field path for its line), as what, and as written.

    `packed`: the file goes into the model folder (a version, config, environment, stub or label), so the
    link rule applies to it; smoke .npy files are only read.
    """

    where: tuple[Any, ...]
    field: str
    written: str
    want: Want
    packed: bool = True


def named_paths(index: int, model: ModelSpec) -> list[NamedPath]:
    """Every path model `model` (at `index` in the spec) names, in spec order."""
    where = ("models", index)
    label = f"models[{model.name}]"
    paths: list[NamedPath] = []
    if model.config:
        paths.append(NamedPath((*where, "config"), f"{label}.config", model.config, "file"))
    for version, rel in model.versions.items():
        paths.append(NamedPath((*where, "versions", version), f"{label}.versions.{version}", rel, "either"))
    if model.python and model.python.execution_env:
        paths.append(NamedPath((*where, "python", "execution_env"), f"{label}.python.execution_env",
                               model.python.execution_env, "file"))
    if model.python and model.python.stub:
        paths.append(NamedPath((*where, "python", "stub"), f"{label}.python.stub", model.python.stub, "file"))
    for out_index, output in enumerate(model.outputs):
        if output.label_filename:
            paths.append(NamedPath((*where, "outputs", out_index, "label_filename"),
                                   f"{label}.outputs[{output.name}].label_filename", output.label_filename, "file"))
    for case_index, case in enumerate(model.smoke):
        for tensor, given in case.inputs.items():
            if given.npy:
                paths.append(NamedPath((*where, "smoke", case_index, "inputs", tensor, "npy"),
                                       f"{label}.smoke[{case.name}].inputs.{tensor}.npy", given.npy, "file", False))
        for tensor, expected in case.expect.items():
            if expected.npy:
                paths.append(NamedPath((*where, "smoke", case_index, "expect", tensor, "npy"),
                                       f"{label}.smoke[{case.name}].expect.{tensor}.npy", expected.npy, "file", False))
    return paths


def source_roots(model: ModelSpec, resolve: Callable[[str], Path]) -> SourceRoots:
    """The folders symbolic links among `model`'s files may point into: those its packed paths name (a file's
    folder), and its `allow_links_to` folders, fully resolved."""
    named = [where_it_is(resolve(path.written)) for path in named_paths(0, model) if path.packed]
    allowed = [Path(os.path.realpath(resolve(folder))) for folder in model.allow_links_to]
    return SourceRoots.of([*named, *allowed])


def path_problem(named: NamedPath, path: Path, roots: SourceRoots) -> tuple[str, str] | None:
    """(message, code) when the spec path `named`, located at `path`, cannot be used as it is; None when it can.

    It must be what its field needs (a regular file, or a folder for a version) and, when packed and a
    symbolic link, point inside `roots`.
    """
    try:
        check_kind(path, named.want)
    except NotUsable as exc:
        if exc.code == "missing":
            return f"{named.written} does not exist (paths are relative to the spec file)", "spec.path_missing"
        return f"{named.written} {exc.reason}; give {WANTED[named.want]}", f"spec.path_{exc.code}"
    target = roots.outside(path) if named.packed else None
    if target is not None:
        return (f"{named.written} is a symbolic link to {target}, outside this model's source folders; write the "
                f"target's path in the spec, copy the file in, or list its folder in allow_links_to",
                "spec.link_outside")
    return None


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
        roots = source_roots(model, resolve)
        for named in named_paths(index, model):
            found = path_problem(named, resolve(named.written), roots)
            if found is not None:
                report(named.where, named.field, *found)
        for folder_index, folder in enumerate(model.allow_links_to):
            try:
                check_kind(resolve(folder), "folder")
            except NotUsable as exc:
                report((*where, "allow_links_to", folder_index), f"{label}.allow_links_to[{folder_index}]",
                       f"{folder} {exc.reason}; list folders that exist", f"spec.path_{exc.code}")

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
