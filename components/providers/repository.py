"""TritonModelRepository: the reproducible artifact zips of a group, rebuilt only when the models' content changes.

The content digests are an input, computed when the program runs (`plan_manifest`): `content` maps each
model to {file path inside the model folder: sha256}. The diff reports a change only when that content,
the layout or the output folder differs from the recorded outputs: touching a file (a new mtime)
changes nothing. Which model changed is told from the Pulumi state, never from a local file: the
engine's property diff shows the changed file keys (`content.classifier_onnx["1/model.onnx"]`), and
the programs log one line per changed model against their stack's previous outputs
(components.providers.diffing).

The artifacts are build outputs, not the resource's identity: a CI runner starts with an empty
folder, so a recorded zip missing on disk is not drift (`read` and `diff` report no change). Whatever
needs the file calls `ensure_artifacts`, which rebuilds it from the same inputs to the same sha256.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    DiffResult,
    Resource,
)

from components._internal.atomic import remove_empty_folders
from components.core.changes import model_changes
from components.core.content import Content, content_of
from components.core.hashcache import HashCache
from components.core.oci_target.descriptor import Route, descriptor_path, write_descriptor
from components.core.package import CACHE_NAME, LAYOUTS, BuildResult
from components.core.plan import load_plan
from components.core.problems import Problem, UserError
from components.core.runtime.deployment import build_step
from components.providers.base import TritonProvider
from components.providers.diffing import changed_keys, is_unknown
from components.providers.paths import portable_path, project_root, resolve_path
from components.providers.problems import DeploymentError


class ArtifactMismatch(DeploymentError):
    """A rebuilt artifact does not have the sha256 recorded in the state: the model files changed since."""


def build(spec_path: str, layout: str, out_dir: str) -> BuildResult:
    """Build the artifacts of the spec into `out_dir` (atomically; unchanged zips are kept)."""
    return build_step(load_plan(resolve_path(spec_path)), resolve_path(out_dir), layout)  # type: ignore[arg-type]


def ensure_artifacts(spec_path: str, layout: str, out_dir: str, artifacts: Sequence[Mapping[str, Any]],
                     descriptors: Mapping[str, Route] | None = None) -> list[Path]:
    """The recorded artifact files, rebuilt from the same inputs if missing; each checked to have its recorded sha256.

    `artifacts` is the resource's `artifacts` output, `descriptors` its input of that name: their descriptor zips
    are written again too when missing. Raises ArtifactMismatch when a rebuild gives another sha256 (the model
    files changed since that deployment: run `pulumi up`).
    """
    paths = _ensure_zips(spec_path, layout, out_dir, artifacts)
    write_descriptors(artifacts, descriptors)
    return paths


def write_descriptors(artifacts: Sequence[Mapping[str, Any]], descriptors: Mapping[str, Route] | None) -> None:
    """Write the descriptor zip of each artifact uploaded through Object Storage, beside the artifact."""
    for artifact in artifacts:
        route = (descriptors or {}).get(artifact["name"])
        if route is not None:
            write_descriptor(artifact, route, resolve_path(descriptor_path(artifact)))


def _ensure_zips(spec_path: str, layout: str, out_dir: str, artifacts: Sequence[Mapping[str, Any]]) -> list[Path]:
    paths = [resolve_path(artifact["path"]) for artifact in artifacts]
    if all(path.is_file() and path.stat().st_size == artifact["size"]
           for path, artifact in zip(paths, artifacts, strict=True)):
        cache = HashCache(resolve_path(out_dir) / CACHE_NAME)
        if all(cache.sha256_of(path, path.stat()) == artifact["sha256"]
               for path, artifact in zip(paths, artifacts, strict=True)):
            cache.save()
            return paths
    rebuilt = {portable_path(a.path): a.sha256 for a in build(spec_path, layout, out_dir).artifacts}
    for artifact in artifacts:
        if rebuilt.get(artifact["path"]) != artifact["sha256"]:
            raise ArtifactMismatch(
                f"{artifact['path']}: rebuilt from {spec_path} with sha256 {rebuilt.get(artifact['path'])}, but the "
                f"deployment recorded {artifact['sha256']}: the model files changed since; run `pulumi up`"
            )
    return paths


def build_outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """Build the artifacts the inputs describe; return the resource's outputs. Checks the content did not move."""
    result = build(props["spec_path"], props["layout"], props["out_dir"])
    manifest = content_of({model: [entry for entry in artifact.manifest if entry.path.startswith(f"{model}/")]
                           for artifact in result.artifacts for model in artifact.models})
    if manifest != props["content"]:
        changed = "; ".join(change.describe() for change in model_changes(props["content"], manifest))
        raise UserError(Problem(props["spec_path"], "", f"model files changed while deploying ({changed}); run "
                                "the deployment again once nothing writes to them", "repository.changed"))
    artifacts = [
        {"name": a.name, "layout": props["layout"], "path": portable_path(a.path), "sha256": a.sha256, "size": a.size,
         "models": list(a.models)}
        for a in result.artifacts
    ]
    write_descriptors(artifacts, props.get("descriptors"))
    return {**props, "artifacts": artifacts, "repository_sha256": result.repository_sha256, "manifest": manifest}


class TritonModelRepositoryProvider(TritonProvider):
    """Builds on create and on a content, layout, folder or descriptor change; deletes the recorded artifacts on
    delete."""

    id_prefix = "repository"

    def outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        return build_outputs(props)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        layout = news.get("layout")
        if is_unknown(layout) or layout in LAYOUTS:
            return CheckResult(news, [])
        return CheckResult(news, [CheckFailure("layout", f"layout is one of {', '.join(LAYOUTS)}, not {layout!r}")])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """A rebuild when a file's bytes or mode, the layout, the folder or the descriptors changed; content
        recorded by an older version (bare sha256s) compares by bytes."""
        changed = changed_keys(olds, news, ("layout", "out_dir", "descriptors"))
        content_known = not is_unknown(news.get("content"))
        if not content_known or model_changes(olds.get("content") or {}, news.get("content") or {}):
            changed.append("content")
        return DiffResult(changes=bool(changed))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Delete the recorded artifacts, their manifests and the hash cache, then the folders left empty."""
        out_dir = resolve_path(props["out_dir"])
        for artifact in props.get("artifacts", []):
            zip_path = resolve_path(artifact["path"])
            zip_path.unlink(missing_ok=True)
            zip_path.with_name(f"{artifact['name']}.manifest.json").unlink(missing_ok=True)
            if artifact["name"] in (props.get("descriptors") or {}):
                resolve_path(descriptor_path(artifact)).unlink(missing_ok=True)
        (out_dir / CACHE_NAME).unlink(missing_ok=True)
        remove_empty_folders(out_dir, stop_at=project_root())


@dataclass(frozen=True)
class TritonModelRepositoryArgs:
    """The spec to build, the layout (`single`: one repository.zip; `per-model`: one zip per model), and where."""

    spec_path: pulumi.Input[str]
    content: pulumi.Input[Content]
    """What the spec's build holds (`package.plan_content`), computed by the program from the plan it loaded: a
    change of a file's bytes or mode rebuilds."""
    out_dir: pulumi.Input[str]
    """Where the zips and the hash cache live, e.g. `.triton-groups/local/<stack>/artifacts`."""
    layout: pulumi.Input[str] = "single"
    configs: Mapping[str, Any] | None = None
    """{model: its config as data (`render.config_dict`)}, recorded so that a preview names the config fields that
    change; a change also changes config.pbtxt's sha256 in `content`, which is what rebuilds."""
    descriptors: Mapping[str, Route] | None = None
    """{artifact name: {bucket, prefix}} for the artifacts uploaded through Object Storage: each gets its descriptor
    zip beside it (`core.oci_target.descriptor`), which its catalog Model is created with."""


class TritonModelRepository(Resource, module="triton", name="TritonModelRepository"):
    """Artifact zips of a group: outputs `artifacts` ({name, path, sha256, size, models} each),
    `repository_sha256` (the content hash, the same for every layout) and `manifest` ({model: {file: sha256}})."""

    content: pulumi.Output[Content]
    artifacts: pulumi.Output[list[dict[str, Any]]]
    repository_sha256: pulumi.Output[str]
    manifest: pulumi.Output[Content]
    descriptors: pulumi.Output[dict[str, Route] | None]

    def __init__(
        self, resource_name: str, args: TritonModelRepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "spec_path": pulumi.Output.from_input(args.spec_path).apply(portable_path),
            "layout": args.layout,
            "out_dir": pulumi.Output.from_input(args.out_dir).apply(portable_path),
            "content": args.content,
            "configs": args.configs,
            "descriptors": dict(args.descriptors) if args.descriptors else None,
            "artifacts": None,
            "repository_sha256": None,
            "manifest": None,
        }
        super().__init__(TritonModelRepositoryProvider(), resource_name, props, opts)
