"""Releases: what a stack ran when its smoke test passed, written down so that another stack can prove it holds
the same bytes.

A release file (JSON, meant to be committed and reviewed) records the group, the repository's sha256, every
model file's sha256, every artifact's sha256 with its layout, the image digest (OCI), the digest of the spec and
its smoke cases, and the stack and Pulumi update it passed on. Builds are byte-reproducible, so a promoting stack
rebuilds the same spec and compares sha256s (`check_promotion`): nothing is copied between environments.

`Release.from_stack` makes one from a stack's outputs and update history (as `pulumi stack output --json` and
`pulumi stack history --json` print them); `load_release` reads and checks a file; `Release.save` writes one
atomically. Every problem is a `Problem` naming the file (or stack) and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components._internal.atomic import write_bytes_atomic
from components.core.content import Content, normalized, same_file
from components.core.problems import Problem, UserError

RELEASE_FORMAT = "triton-groups.release/1"
SHA256_HEX = 64


@dataclass(frozen=True)
class PassedOn:
    """Where and when a release passed its smoke test: the stack, its Pulumi update (version) and the time."""

    stack: str
    project: str
    update: int
    at: str


@dataclass(frozen=True)
class ReleaseArtifact:
    """One artifact of the release: its layout (`single` or `per-model`), file name, sha256, size and models."""

    layout: str
    name: str
    sha256: str
    size: int
    models: tuple[str, ...]


@dataclass(frozen=True)
class Release:
    """A group's release; see the module docstring. `models` is the group's content (components.core.content):
    {model: {path inside the model: {sha256, size, mode}}}."""

    group: str
    repository_sha256: str
    cases_sha256: str
    models: Content
    artifacts: tuple[ReleaseArtifact, ...]
    passed: PassedOn
    image_digest: str | None = None
    format: str = field(default=RELEASE_FORMAT)

    @property
    def name(self) -> str:
        """A name for the file: the group and the first 12 hex digits of its repository sha256."""
        return f"{self.group}-{self.repository_sha256[:12]}"

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["artifacts"] = [{**artifact, "models": list(artifact["models"])} for artifact in document["artifacts"]]
        return {"format": self.format, **{key: value for key, value in document.items() if key != "format"}}

    def save(self, path: Path) -> None:
        """Write the release as indented, key-sorted JSON, atomically (a reviewer reads its diff)."""
        write_bytes_atomic(path, (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode())

    def describe(self) -> str:
        """The release for a person: what it is, where it passed, and every model and artifact with its sha256."""
        lines = [
            f"release {self.name} of group {self.group}",
            f"  passed on stack {self.passed.stack} (project {self.passed.project}, update {self.passed.update}) "
            f"at {self.passed.at}",
            f"  repository sha256 {self.repository_sha256}",
            f"  spec and smoke cases sha256 {self.cases_sha256}",
        ]
        if self.image_digest:
            lines.append(f"  image {self.image_digest}")
        for model, files in sorted(self.models.items()):
            lines.append(f"  model {model}")
            lines += [f"    {path}  {entry['sha256']}" for path, entry in sorted(files.items())]
        for artifact in self.artifacts:
            lines.append(f"  artifact {artifact.name} ({artifact.layout}, {artifact.size} bytes)  {artifact.sha256}")
        return "\n".join(lines)

    @classmethod
    def from_stack(
        cls, stack: str, project: str, outputs: Mapping[str, Any], history: Sequence[Mapping[str, Any]]
    ) -> Release:
        """The release a stack serves, from its outputs and its update history (newest first, as the CLI prints).

        UserError when the stack's last update failed (its smoke test did not pass, or something else broke),
        when it has no passing smoke test recorded, or when its outputs do not describe one repository.
        """
        where = f"stack {stack}"
        updates = [entry for entry in history if entry.get("kind") == "update"]
        if not updates:
            raise UserError(Problem(where, "", "has never been updated; run `pulumi up` on it first",
                                    "release.no_update"))
        last = updates[0]
        if last.get("result") != "succeeded":
            raise UserError(Problem(
                where, "", f"its last update (version {last.get('version')}) {last.get('result', 'did not finish')}: "
                "its smoke test did not pass; fix the group and run `pulumi up` until it passes",
                "release.last_update_failed"))
        passed = outputs.get("smoke_passed")
        report = outputs.get("smoke_report")
        if not isinstance(passed, Mapping) or not isinstance(report, Mapping) or report.get("passed") is not True:
            raise UserError(Problem(where, "smoke_passed", "records no passing smoke test; run `pulumi up` until "
                                    "its smoke test passes", "release.not_passed"))
        repository = outputs.get("repository_sha256")
        if passed.get("repository_sha256") != repository:
            raise UserError(Problem(
                where, "smoke_passed", f"its smoke test passed on repository {passed.get('repository_sha256')}, but "
                f"it serves {repository}; run `pulumi up` until the smoke test passes", "release.inconsistent"))
        content = outputs.get("modelContent")
        if not isinstance(content, Mapping) or not content:
            raise UserError(Problem(where, "modelContent", "has no model content in its outputs; it was deployed "
                                    "by an older triton-groups: run `pulumi up` once", "release.no_content"))
        artifacts = tuple(
            ReleaseArtifact(str(a.get("layout", "")), str(a["name"]), str(a["sha256"]), int(a["size"]),
                            tuple(a.get("models", ())))
            for a in outputs.get("artifacts") or ()
        )
        return cls(
            group=str(outputs.get("group") or ""),
            repository_sha256=str(repository),
            cases_sha256=str(passed.get("cases_sha256", "")),
            models=normalized(content),
            artifacts=artifacts,
            passed=PassedOn(stack=stack, project=project, update=int(last.get("version", 0)),
                            at=str(passed.get("passed_at", ""))),
            image_digest=outputs.get("image_digest") or None,
        )


def _release_problem(source: str, field_path: str, message: str) -> UserError:
    return UserError(Problem(source, field_path, message, "release.file"))


def _sha256(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or len(value) != SHA256_HEX or any(c not in "0123456789abcdef" for c in value):
        raise _release_problem(source, where, f"is {value!r}, not a sha256 (64 lowercase hex digits); the file was "
                               "edited or damaged: create it again with `triton-groups release create`")
    return value


def _field(document: Mapping[str, Any], key: str, kind: type, source: str, where: str = "") -> Any:
    value = document.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        path = f"{where}.{key}" if where else key
        shown = "missing" if value is None else f"a {type(value).__name__}"
        raise _release_problem(source, path, f"is {shown}, expected a {kind.__name__}; create the file again with "
                               "`triton-groups release create`")
    return value


def load_release(path: Path) -> Release:
    """Read and check a release file; UserError naming the file and the field for anything wrong with it."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _release_problem(source, "", "no such file; give a release file made by `triton-groups release "
                               "create`") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise _release_problem(source, "", f"cannot be read ({reason})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = " (truncated?)" if text.lstrip().startswith("{") and not text.rstrip().endswith("}") else ""
        raise _release_problem(source, "", f"is not valid JSON{truncated}: {exc.msg} at line {exc.lineno}; create it "
                               "again with `triton-groups release create`") from None
    if not isinstance(document, dict) or document.get("format") != RELEASE_FORMAT:
        shown = document.get("format") if isinstance(document, dict) else None
        raise _release_problem(source, "format", f"is {shown!r}, not {RELEASE_FORMAT!r}: this is not a triton-groups "
                               "release file")
    passed = _field(document, "passed", dict, source)
    models = _field(document, "models", dict, source)
    for model, files in models.items():
        if not isinstance(files, dict) or not files:
            raise _release_problem(source, f"models.{model}", "must map each file of the model to its sha256")
        for rel, entry in files.items():
            _sha256(entry.get("sha256") if isinstance(entry, dict) else entry, source, f"models.{model}.{rel}")
    checked_models = normalized(models)
    artifacts = []
    for index, artifact in enumerate(_field(document, "artifacts", list, source)):
        where = f"artifacts[{index}]"
        if not isinstance(artifact, dict):
            raise _release_problem(source, where, "must be an object with layout, name, sha256, size and models")
        artifacts.append(ReleaseArtifact(
            layout=_field(artifact, "layout", str, source, where), name=_field(artifact, "name", str, source, where),
            sha256=_sha256(artifact.get("sha256"), source, f"{where}.sha256"),
            size=_field(artifact, "size", int, source, where),
            models=tuple(_field(artifact, "models", list, source, where)),
        ))
    image = document.get("image_digest")
    if image is not None and not (isinstance(image, str) and image.startswith("sha256:")):
        raise _release_problem(source, "image_digest", f"is {image!r}, not an image digest (sha256:...)")
    return Release(
        group=_field(document, "group", str, source),
        repository_sha256=_sha256(document.get("repository_sha256"), source, "repository_sha256"),
        cases_sha256=_sha256(document.get("cases_sha256"), source, "cases_sha256"),
        models=checked_models,
        artifacts=tuple(artifacts),
        passed=PassedOn(stack=_field(passed, "stack", str, source, "passed"),
                        project=_field(passed, "project", str, source, "passed"),
                        update=_field(passed, "update", int, source, "passed"),
                        at=_field(passed, "at", str, source, "passed")),
        image_digest=image,
    )


@dataclass(frozen=True)
class Built:
    """What a promoting stack built from its spec, to compare with its release."""

    group: str
    content: Content
    repository_sha256: str
    artifacts: tuple[ReleaseArtifact, ...] = ()
    image_digest: str | None = None


def check_promotion(release: Release, built: Built, release_file: str, promotes_from: str | None) -> list[Problem]:
    """Every way `built` differs from `release`, and a release that did not pass on `promotes_from`; [] to go on.

    A file differing names the model, the file and both sha256s. Artifacts are compared where the release has
    the layout that was built (a layout it lacks is compared through the model files, which decide its bytes).
    """
    problems: list[Problem] = []

    def differ(field_path: str, message: str, code: str = "release.mismatch") -> None:
        problems.append(Problem(release_file, field_path, message, code))

    if promotes_from is not None and release.passed.stack != promotes_from:
        differ("passed.stack", f"the release passed on stack {release.passed.stack}, but this stack promotes from "
               f"{promotes_from} (triton-groups:promotesFrom); promote a release that passed on {promotes_from}",
               "release.wrong_stack")
    if release.group != built.group:
        differ("group", f"is for group {release.group!r}, but the spec describes group {built.group!r}; use that "
               "group's release", "release.other_group")
        return problems
    for model in sorted(set(release.models) | set(built.content)):
        if model not in built.content:
            differ(f"models.{model}", f"model {model} is in the release but not in the spec")
            continue
        if model not in release.models:
            differ(f"models.{model}", f"model {model} is in the spec but not in the release")
            continue
        old, new = release.models[model], normalized(built.content)[model]
        for rel in sorted(set(old) | set(new)):
            if rel not in new:
                differ(f"models.{model}", f"model {model}: {rel} is in the release but not built")
            elif rel not in old:
                differ(f"models.{model}", f"model {model}: {rel} is built but not in the release")
            elif not same_file(old[rel], new[rel]):
                was, now = old[rel], new[rel]
                if was["sha256"] != now["sha256"]:
                    differ(f"models.{model}", f"model {model}: {rel} has sha256 {now['sha256']}, the release has "
                           f"{was['sha256']}")
                else:
                    differ(f"models.{model}", f"model {model}: {rel} has mode {now['mode']:o}, the release has "
                           f"{was['mode']:o}")
    if not problems and release.repository_sha256 != built.repository_sha256:
        differ("repository_sha256", f"the repository built has sha256 {built.repository_sha256}, the release has "
               f"{release.repository_sha256} (same files, other modes or folders)")
    released = {(a.layout, a.name): a for a in release.artifacts}
    for artifact in built.artifacts:
        expected = released.get((artifact.layout, artifact.name))
        if expected is not None and expected.sha256 != artifact.sha256:
            differ("artifacts", f"artifact {artifact.name} ({artifact.layout}) has sha256 {artifact.sha256}, the "
                   f"release has {expected.sha256}")
    if release.image_digest and built.image_digest and release.image_digest != built.image_digest:
        differ("image_digest", f"the image is {built.image_digest}, the release has {release.image_digest}")
    return problems
