"""deploy_oci(config): the `target: oci` program, from the stack config to a smoke-tested model deployment.

Order of work. `check_stack` reads the stack config, loads and validates the spec and runs the
pre-flight checks BEFORE any resource is registered: a problem stops the program with an error naming
the stack config key or the spec field, and nothing changes.

The graph. A Data Science project (given or created), the Triton image (given by digest or built and
pushed), the IAM policy when `iam.create` is set, the model repository's artifact zips
(`TritonModelRepository`), then for layout `single` one `CatalogModel` holding the whole repository
served by a SINGLE_MODEL deployment (Oracle's Triton sample), or for layout `per-model` a
`HeterogeneousModelGroup` served by a MODEL_GROUP deployment, and last an `InferenceSmokeTest` over the
deployment's /predict endpoint (transport `oci`: signed with the OCI config file's profile or resource
principals, read when a request is signed). The deployment waits for everything it serves to be in the
catalog: each Model and, for a large artifact, its export (and the policy letting the service read the
bucket); the smoke test follows the deployment's URL, a new one when the deployment is replaced.

Updates (`components.oci.previous`). The last update's outputs are read back through a StackReference
to this stack (the Pulumi state, so a fresh CI runner sees them too): the program logs one line per
changed model and what that does on OCI ("model preprocess: 1/model.py changed; its catalog model is
replaced and the model group gets a new version, which the deployment moves to"), and refuses an
update that changes more than one option group of the live deployment (OCI updates model,
OCI edits a live deployment without downtime one of its option groups at a time): the deployment depends on
that check, which fails with the core's `split_message`. A change pulumi-oci cannot update (a MODEL_GROUP
deployment's infrastructure) replaces the deployment instead, and the program says so.
`optionFingerprint` is exported only once the deployment is updated, so a failed update is checked
again against what is really deployed.

Releases (issue 11, the same code as the local program: components.stacks.promotion). A stack naming a
release (`triton-groups:release`, `promotesFrom`) is gated before any resource is registered: the spec's files
and repository sha256 (and a given image's digest) must be the release's, and the release must have passed on
`promotesFrom`, checked against that stack's `passed_releases` output through a StackReference, which the
repository (so every catalog model, the group and the deployment) waits for; each artifact's sha256 and a built
image's digest are checked before a catalog model or the deployment takes them. The stack exports what `release
create` reads: `group`, `repository_sha256`, `artifacts`, `modelContent`, `image_digest`, `smoke_report`,
`smoke_passed`, `passed_releases`, and `serving` (the model group or model the smoke test last passed on).

Rollback (`triton-groups:rollback`, on by default): the catalog models and the model group are kept by the
engine (`retain_on_delete`), and the smoke test is told what this update serves and what passed before
(`serving` of the last update): a failed smoke test points the deployment back at the previous group before the
update fails; a later pass deletes the superseded one (components.core.oci_target.rollback). The smoke test also
carries `deployment_facts` (the shape's GPU count, components.core.oci_target.shapes) for the policy pack.

Artifacts. The zips are reproducible, so an artifact whose models' files did not change since the last
update is, at preview, the one that update recorded: only the changed models' catalog entries show a
change, and a CI runner without the zips previews no change at all. On `up` the recorded zips are
rebuilt to the same sha256 when missing (`ensure_artifacts`) before any resource reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_oci as oci

from components.core.content import case_digests, cases_digest
from components.core.facts import deployment_facts
from components.core.oci_target.command import container_entrypoint, container_environment, triton_command
from components.core.oci_target.dockerfile import backends_for, render_dockerfile
from components.core.oci_target.group import default_versions
from components.core.oci_target.iam import policy_compartment, policy_name, policy_statements
from components.core.oci_target.names import ResourceNames, resource_names
from components.core.oci_target.rollback import Target, rollback_input
from components.core.oci_target.settings import OciSettings
from components.core.oci_target.shapes import SHAPE_GPUS
from components.core.oci_target.updates import option_fingerprint
from components.core.package import REPOSITORY_ARTIFACT, plan_content
from components.core.release import Built, ReleaseArtifact
from components.core.render import config_dicts
from components.core.spec import GroupSpec
from components.oci.catalog import CatalogModel, CatalogModelArgs, CatalogPlacement, ObjectStorageUpload
from components.oci.deployment import LogNames, TritonModelDeployment, TritonModelDeploymentArgs
from components.oci.image import ExistingImage, ImageBuild, TritonImage, TritonImageArgs
from components.oci.model_group import HeterogeneousModelGroup, HeterogeneousModelGroupArgs
from components.oci.previous import (
    ARTIFACTS_OUTPUT,
    FINGERPRINT_OUTPUT,
    check_update,
    content_identity,
    oci_consequence,
    unchanged_artifact,
)
from components.oci.stack_checks import OciPlan, check_stack
from components.providers.diffing import CONTENT_OUTPUT, log_model_changes, previous_outputs
from components.providers.paths import portable_path, project_root, resolve_path
from components.providers.repository import TritonModelRepository, TritonModelRepositoryArgs, ensure_artifacts
from components.providers.smoke_test import InferenceSmokeTest, InferenceSmokeTestArgs
from components.stacks.promotion import (
    PASSED_RELEASES_OUTPUT,
    Promotion,
    checked_on_source_stack,
    gate_promotion,
    passed_releases,
    promotion_from,
)


def deploy_oci(config: pulumi.Config) -> dict[str, pulumi.Input[Any]]:
    """Deploy the stack's group on OCI Data Science; return the stack outputs to export.

    Raises pulumi.RunError (a clear message, no traceback) when the stack config, the spec or the
    pre-flight checks find a problem; no resource is registered then.
    """
    checked = check_stack(config)
    settings, spec = checked.settings, checked.spec
    out_dir = f".triton-groups/artifacts/{pulumi.get_stack()}/repository"
    content, repository_sha256 = plan_content(checked.plan, resolve_path(out_dir))
    promotion = promotion_from(settings.release, settings.promotes_from, project_root())
    spec_input: pulumi.Input[str] = portable_path(settings.spec)
    compartment_id: pulumi.Input[str] = settings.compartment_id
    policy_compartment_id: pulumi.Input[str] = policy_compartment(settings)
    if promotion is not None:
        gate_promotion(promotion, Built(spec.name, content, repository_sha256, image_digest=settings.image.digest))
        source_checked = checked_on_source_stack(promotion)
        spec_input = source_checked.apply(lambda _: portable_path(settings.spec))
        # Every OCI resource is placed through these: none is created before the source stack's check passed.
        compartment_id = source_checked.apply(lambda _: settings.compartment_id)
        policy_compartment_id = source_checked.apply(lambda _: policy_compartment(settings))
    names = resource_names(settings, spec)
    tags = settings.freeform_tags or None
    previous = previous_outputs()
    project_id = _project_id(settings, names, tags, compartment_id)
    image = _image(settings, spec, checked.models, config, compartment_id)
    image_digest = image.image_digest if promotion is None else image.image_digest.apply(
        lambda digest: _promoted_image(promotion, spec.name, content, repository_sha256, digest))
    repository = TritonModelRepository(
        "repository", TritonModelRepositoryArgs(spec_path=spec_input, content=content,
                                                out_dir=out_dir, layout=settings.layout,
                                                configs=config_dicts(checked.plan), descriptors=checked.descriptors)
    )
    artifact_names = [REPOSITORY_ARTIFACT] if settings.layout == "single" else checked.models
    artifacts, ready = _artifacts(repository, previous, settings, artifact_names)
    if promotion is not None:
        artifacts = {name: artifact.apply(lambda built, p=promotion: _promoted_artifact(p, spec.name, content,
                                                                                       repository_sha256, built))
                     for name, artifact in artifacts.items()}
    model_identity = repository.content.apply(lambda content: content_identity(content, checked.models))
    fingerprint = model_identity.apply(lambda identity: option_fingerprint(settings, spec, model_identity=identity))
    checked_fingerprint = pulumi.Output.all(previous, fingerprint).apply(
        lambda pair: check_update(*pair, settings.layout))
    pulumi.Output.all(previous, repository.content).apply(
        lambda pair: log_model_changes(*pair, resource=repository, consequence=oci_consequence(settings.layout))
    )
    needs_storage = "object_storage" in checked.uploads.values()
    policy = _policy(settings, spec, needs_storage, tags, policy_compartment_id)
    storage = _object_storage(settings, checked.region, policy) if needs_storage and checked.region else None
    placement = CatalogPlacement(compartment_id=compartment_id, project_id=project_id,
                                 object_storage=storage, freeform_tags=tags, keep_for_rollback=settings.rollback)
    serve = _serve_repository if settings.layout == "single" else _serve_group
    served, target, outputs = serve(checked, names, placement, artifacts)
    deployment = TritonModelDeployment(
        "deployment",
        TritonModelDeploymentArgs(
            compartment_id=compartment_id,
            project_id=project_id,
            display_name=names.deployment,
            description=settings.deployment.description or spec.description,
            image_name=image.image_name,
            image_digest=image_digest,
            entrypoint=container_entrypoint(settings),
            command=triton_command(spec, settings),
            environment=container_environment(settings),
            deployment=settings.deployment,
            logging=settings.logging,
            log_names=LogNames(names.log_group, names.access_log or "", names.predict_log or "")
            if names.log_group else None,
            freeform_tags=tags,
            **target,
        ),
        opts=pulumi.ResourceOptions(
            depends_on=checked_fingerprint.apply(lambda _: [*served, *([policy] if policy else [])])),
    )
    shape = settings.deployment.shape.instance_shape_name
    smoke = InferenceSmokeTest(
        "smoke",
        InferenceSmokeTestArgs(
            spec_path=portable_path(settings.spec),
            endpoint=deployment.model_deployment_url,
            repository_sha256=repository.repository_sha256,
            cases_sha256=cases_digest(spec),
            cases=case_digests(spec),
            transport="oci",
            deployment_id=deployment.model_deployment_id,
            transport_options=deployment.model_deployment_id.apply(
                lambda deployment_id: smoke_transport_options(settings, deployment_id, default_versions(spec))
            ),
            deployment_facts=deployment_facts(checked.plan, "oci", shape, SHAPE_GPUS.get(shape), checked.models),
            rollback=pulumi.Output.all(_serves(target, outputs), previous).apply(
                lambda pair: rollback_input(pair[0], Target.from_json(pair[1].get(SERVING_OUTPUT)), settings.smoke))
            if settings.rollback else None,
        ),
        opts=pulumi.ResourceOptions(depends_on=[deployment]),
    )
    smoke_passed = pulumi.Output.all(repository_sha256=smoke.repository_sha256, cases_sha256=smoke.cases_sha256,
                                     passed_at=smoke.passed_at)
    return {
        **outputs,
        "group": spec.name,
        "release": promotion.release_file if promotion else None,
        "endpoint": deployment.model_deployment_url,
        "modelDeploymentId": deployment.model_deployment_id,
        "image": pulumi.Output.concat(image.image_name, "@", image_digest),
        "image_digest": image_digest,
        "repository_sha256": repository.repository_sha256,
        ARTIFACTS_OUTPUT: ready,
        CONTENT_OUTPUT: repository.content,
        FINGERPRINT_OUTPUT: pulumi.Output.all(checked_fingerprint, deployment.model_deployment_id).apply(
            lambda pair: pair[0]
        ),
        "smoke_summary": smoke.summary,
        "smoke_report": smoke.report,
        "smoke_passed": smoke_passed,
        PASSED_RELEASES_OUTPUT: pulumi.Output.all(previous, smoke_passed).apply(lambda pair: passed_releases(*pair)),
        SERVING_OUTPUT: smoke.serving,
    }


SERVING_OUTPUT = "serving"
"""The stack output naming what the deployment serves since its smoke test last passed (`Target.to_json`): the
next update's rollback target, kept until a newer release passes."""


def _serves(target: Mapping[str, pulumi.Input[str]], outputs: Mapping[str, pulumi.Input[Any]]) -> pulumi.Output[Target]:
    """What this update points the deployment at: its model group and the group's catalog models, or its model."""
    if "model_group_id" in target:
        return pulumi.Output.all(target["model_group_id"], outputs["modelGroupMembers"]).apply(
            lambda pair: Target("model_group", pair[0], tuple(sorted(pair[1].values()))))
    return pulumi.Output.from_input(target["model_id"]).apply(lambda model_id: Target("model", model_id))


def _promoted_image(promotion: Promotion, group: str, content: Any, repository_sha256: str, digest: str) -> str:
    """The image digest, once it is the release's (a built image is known only after its push)."""
    gate_promotion(promotion, Built(group, content, repository_sha256, image_digest=digest))
    return digest


def _promoted_artifact(promotion: Promotion, group: str, content: Any, repository_sha256: str,
                       artifact: dict[str, Any]) -> dict[str, Any]:
    """The artifact, once its sha256 is the release's for this layout: no catalog model takes another."""
    built = ReleaseArtifact(str(artifact.get("layout", "")), str(artifact["name"]), str(artifact["sha256"]),
                            int(artifact["size"]), tuple(artifact.get("models") or ()))
    gate_promotion(promotion, Built(group, content, repository_sha256, artifacts=(built,)))
    return artifact


Served = tuple[list[pulumi.Resource], dict[str, pulumi.Input[str]], dict[str, pulumi.Input[Any]]]
"""What a deployment serves: the resources it waits for, its model/model-group argument, extra stack outputs."""


def _serve_repository(checked: OciPlan, names: ResourceNames, placement: CatalogPlacement,
                      artifacts: Mapping[str, pulumi.Output[dict[str, Any]]]) -> Served:
    """Layout single: one catalog model holding the whole repository, for a SINGLE_MODEL deployment."""
    group = checked.spec.name
    catalog = CatalogModel("repository-model", CatalogModelArgs(
        placement=placement, group_name=group, artifact=artifacts[REPOSITORY_ARTIFACT],
        display_name=names.models[REPOSITORY_ARTIFACT], description=f"the Triton model repository of group {group}",
        upload=checked.uploads[REPOSITORY_ARTIFACT]))
    return catalog.ready, {"model_id": catalog.model_id}, {}


def _serve_group(checked: OciPlan, names: ResourceNames, placement: CatalogPlacement,
                 artifacts: Mapping[str, pulumi.Output[dict[str, Any]]]) -> Served:
    """Layout per-model: a heterogeneous model group of one catalog model per model, for a MODEL_GROUP deployment."""
    group = HeterogeneousModelGroup("group", HeterogeneousModelGroupArgs(
        placement=placement, group_name=checked.spec.name, models=checked.models, artifacts=artifacts,
        description=checked.spec.description, display_name=names.model_group, model_display_names=names.models,
        uploads={name: checked.uploads[name] for name in checked.models}))
    outputs = {"modelGroupId": group.model_group_id, "modelGroupMembers": group.members}
    return group.ready, {"model_group_id": group.model_group_id}, outputs


def smoke_transport_options(
    settings: OciSettings, deployment_id: str, versions: Mapping[str, int] | None = None
) -> dict[str, str]:
    """The OCI transport's settings, all non-secret: how to sign (a config file path and profile, or resource
    principals), the routing header names, the wire format, the version each model serves when a case names
    none (sent as `model_version`) and the deployment to poll until ACTIVE."""
    smoke = settings.smoke
    options = {
        "auth": smoke.auth,
        "deployment_id": deployment_id,
        "headers": json.dumps(smoke.headers.model_dump(by_alias=True), sort_keys=True),
        "wire_format": smoke.wire_format,
        "versions": json.dumps(dict(versions or {}), sort_keys=True),
        "request_timeout_s": str(smoke.request_timeout_s),
        "active_timeout_s": str(smoke.active_timeout_s),
    }
    if smoke.auth == "api_key":
        options |= {"config_file": smoke.config_file, "profile": smoke.profile}
    return options


def _artifacts(
    repository: TritonModelRepository, previous: pulumi.Output[dict[str, Any]], settings: OciSettings,
    names: Sequence[str],
) -> tuple[dict[str, pulumi.Output[dict[str, Any]]], pulumi.Output[list[dict[str, Any]]]]:
    """Each artifact by name (`repository`, or each model) as the catalog models take it, and the whole list.

    On `up`: the repository's artifacts, rebuilt from the same inputs when missing (a fresh CI runner),
    each path relative to the working directory the engine gives the program and its providers (so the
    same state works from any checkout). At preview: an artifact whose models did not change since the
    last update is the one that update recorded; the others are the repository's (unknown until built).
    """

    def ready_files(values: list[Any]) -> list[dict[str, Any]]:
        built, out_dir, descriptors = values
        if not pulumi.runtime.is_dry_run():
            ensure_artifacts(portable_path(settings.spec), settings.layout, out_dir, built, descriptors)
        return [{**artifact, "path": os.path.relpath(resolve_path(artifact["path"]), Path.cwd())}
                for artifact in built]

    ready = pulumi.Output.all(repository.artifacts, repository.out_dir, repository.descriptors).apply(ready_files)

    def artifact(name: str) -> pulumi.Output[dict[str, Any]]:
        from_build = ready.apply(lambda found: _named(found, name))
        if not pulumi.runtime.is_dry_run():
            return from_build

        def recorded_or_built(values: list[Any]) -> Any:
            kept = unchanged_artifact(values[0], values[1], name)
            return kept if kept is not None else from_build

        return pulumi.Output.all(previous, repository.content).apply(recorded_or_built)

    return {name: artifact(name) for name in names}, ready


def _named(artifacts: Sequence[Mapping[str, Any]], name: str) -> dict[str, Any]:
    for artifact in artifacts:
        if artifact["name"] == name:
            return dict(artifact)
    raise ValueError(f"the repository built no artifact {name!r} (it built {[a['name'] for a in artifacts]})")


def _project_id(settings: OciSettings, names: ResourceNames, tags: dict[str, str] | None,
                compartment_id: pulumi.Input[str]) -> pulumi.Input[str]:
    if settings.project_id is not None:
        return settings.project_id
    assert settings.project is not None and names.project is not None
    return oci.datascience.Project(
        "project",
        compartment_id=compartment_id,
        display_name=names.project,
        description=settings.project.description or None,
        freeform_tags=tags,
    ).id


def _image(settings: OciSettings, spec: GroupSpec, models: list[str], config: pulumi.Config,
           compartment_id: pulumi.Input[str]) -> TritonImage:
    given = settings.image
    if given.build is None:
        assert given.name is not None and given.digest is not None
        name = given.name.partition("@")[0]
        args = TritonImageArgs(compartment_id=compartment_id, existing=ExistingImage(name, given.digest))
        return TritonImage("image", args)
    build = given.build
    registry = settings.ocir_registry
    assert registry is not None
    dockerfile = render_dockerfile(backends_for(spec, models), build.base_image, min_image=build.min_image,
                                   platform=build.platform, release=build.triton_release)
    context_dir = project_root() / ".triton-groups" / "oci" / pulumi.get_stack() / "image-context"
    context_dir.mkdir(parents=True, exist_ok=True)
    args = TritonImageArgs(
        compartment_id=compartment_id,
        build=ImageBuild(
            registry=registry,
            repository=build.repository,
            tag=build.tag,
            dockerfile=dockerfile,
            context_dir=os.path.relpath(context_dir, Path.cwd()),
            username=build.username,
            password=config.require_secret(build.token_config_key),
            namespace=build.namespace,
            platform=build.platform,
        ),
    )
    return TritonImage("image", args)


def _object_storage(
    settings: OciSettings, region: str, policy: oci.identity.Policy | None
) -> ObjectStorageUpload | None:
    """Where large artifacts go, when the stack names a bucket (`artifact_problems` requires one when needed);
    the exports wait for the stack's policy, which lets the service read the bucket."""
    storage = settings.artifact.object_storage
    if storage is None:
        return None
    namespace: pulumi.Input[str] = storage.namespace or oci.objectstorage.get_namespace_output(
        compartment_id=settings.compartment_id
    ).namespace
    return ObjectStorageUpload(bucket=storage.bucket, namespace=namespace, region=region,
                               depends_on=(policy,) if policy is not None else ())


def _policy(
    settings: OciSettings, spec: GroupSpec, exports_artifacts: bool, tags: dict[str, str] | None,
    compartment_id: pulumi.Input[str],
) -> oci.identity.Policy | None:
    """The IAM policy of the deployment (and of the artifact exports), when the stack asks to create it."""
    if not settings.iam.create:
        return None
    return oci.identity.Policy(
        "policy",
        compartment_id=compartment_id,
        name=policy_name(settings, spec),
        description=f"what the triton-groups deployment of {spec.name} needs (image, logs, model group, artifacts)",
        statements=policy_statements(settings, exports_artifacts=exports_artifacts),
        freeform_tags=tags,
    )
