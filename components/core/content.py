"""A repository's content: one format for every layer, from the manifest entry to the model and repository digests.

Content is {model: {path inside the model folder: {"sha256", "size", "mode"}}} (empty folders end with '/').
It is what the repository resource records and the stack exports (`modelContent`), what previews compare, what
releases pin, and what decides whether a local server reloads a model:

- `content_of(manifests)` from the builder's manifest entries (`package.plan_manifest`, hashed through the hash
  cache: nothing is read twice);
- `model_digest(files)` / `model_digests(content)`: one sha256 per model over its files' paths, sha256s and
  modes (a mode-only change is a change: an executable bit matters to Triton's Python stubs);
- `repository_digest(manifests)`: the whole repository's sha256, the same for every layout (in package.py,
  over the same entries);
- `normalized(content)` reads content written by triton-groups before 0.2, whose values were bare sha256
  strings (size and mode unknown), so an older stack's state and outputs still compare;
- `file_sha256s(content)`: {model: {path: sha256}}, for messages and the older readers;
- `cases_digest(spec)`: one sha256 over the spec file and every .npy its smoke cases read (equal digests, equal
  cases), which decides when the smoke test runs again; `case_digests(spec)` one per case, {model: {case:
  sha256}}, so a preview says which case changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.core.spec import GroupSpec

FileRecord = Mapping[str, Any]
"""{"sha256": str, "size": int | None, "mode": int | None} (size and mode None when an older version wrote it)."""

Content = Mapping[str, Mapping[str, FileRecord]]
"""{model: {path inside the model folder: FileRecord}}."""


def content_of(manifests: Mapping[str, Sequence[Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per-model manifest entries (paths `<model>/<path>`) as content, models and paths sorted."""
    return {
        model: {
            entry.path.removeprefix(f"{model}/"): {"sha256": entry.sha256, "size": entry.size, "mode": entry.mode}
            for entry in sorted(entries, key=lambda e: e.path)
        }
        for model, entries in sorted(manifests.items())
    }


def record(value: Any) -> dict[str, Any]:
    """One file's record, from the current form or the older bare sha256 string."""
    if isinstance(value, str):
        return {"sha256": value, "size": None, "mode": None}
    if isinstance(value, Mapping):
        size, mode = value.get("size"), value.get("mode")
        return {"sha256": str(value.get("sha256", "")), "size": None if size is None else int(size),
                "mode": None if mode is None else int(mode)}
    raise TypeError(f"not a file record: {value!r}")


def normalized(content: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, dict[str, Any]]]:
    """`content` in the current form (see the module docstring); {} for None."""
    return {model: {path: record(value) for path, value in sorted(files.items())}
            for model, files in sorted((content or {}).items())}


def same_file(old: FileRecord, new: FileRecord) -> bool:
    """Equal bytes and mode; a mode an older version did not record counts as equal."""
    if old.get("sha256") != new.get("sha256"):
        return False
    return old.get("mode") is None or new.get("mode") is None or old.get("mode") == new.get("mode")


def model_digest(files: Mapping[str, FileRecord]) -> str:
    """sha256 over the canonical JSON of the model's [path, sha256, mode] triples, sorted by path."""
    triples = [[path, record(value)["sha256"], record(value)["mode"]] for path, value in sorted(files.items())]
    canonical = json.dumps(triples, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def model_digests(content: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """One digest per model: a changed digest means that model changed."""
    return {model: model_digest(files) for model, files in sorted(content.items())}


def file_sha256s(content: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """{model: {path: sha256}}."""
    return {model: {path: record(value)["sha256"] for path, value in sorted(files.items())}
            for model, files in sorted(content.items())}


def cases_digest(spec: GroupSpec) -> str:
    """sha256 over the spec file and every .npy file its smoke cases read (a missing one counts as missing)."""
    digest = hashlib.sha256(Path(spec.source).read_bytes())
    files = sorted(
        {given.npy for model in spec.models for case in model.smoke
         for given in (*case.inputs.values(), *case.expect.values()) if given.npy}
    )
    for relative in files:
        path = spec.resolve(relative)
        digest.update(f"\0{relative}\0".encode())
        digest.update(path.read_bytes() if path.is_file() else b"\0missing")
    return digest.hexdigest()


def case_digests(spec: GroupSpec) -> dict[str, dict[str, str]]:
    """{model: {case: sha256 over the case as written and the bytes of every .npy it reads}}."""
    found: dict[str, dict[str, str]] = {}
    for model in spec.models:
        cases = {}
        for case in model.smoke:
            digest = hashlib.sha256(json.dumps(case.model_dump(mode="json"), sort_keys=True).encode())
            for given in (*case.inputs.values(), *case.expect.values()):
                if given.npy:
                    path = spec.resolve(given.npy)
                    digest.update(f"\0{given.npy}\0".encode())
                    digest.update(path.read_bytes() if path.is_file() else b"\0missing")
            cases[case.name] = digest.hexdigest()
        found[model.name] = cases
    return dict(sorted(found.items()))
