"""Each OCI component alone, under Pulumi mocks: its resources, their properties and options, its outputs."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pytest
from oci_stack_harness import DOCKER_IMAGE, GET_NAMESPACE, MODEL_DEPLOYMENT, NAMESPACE, OciStackHarness
from pulumi.runtime import rpc

from components.core.oci_target.settings import DeploymentSettings, LoggingSettings
from components.core.problems import UserError
from components.oci.catalog import CatalogModel, CatalogModelArgs, CatalogPlacement, ObjectStorageUpload
from components.oci.deployment import TritonModelDeployment, TritonModelDeploymentArgs
from components.oci.image import ExistingImage, ImageBuild, TritonImage, TritonImageArgs
from components.oci.model_group import HeterogeneousModelGroup, HeterogeneousModelGroupArgs, membership_label
from components.providers.repository import write_descriptors

PLACEMENT = CatalogPlacement(compartment_id="c", project_id="p")
"""A compartment and project, no bucket, no tags, deleted with the stack."""

DIGEST = "sha256:" + "ab" * 32
MODEL = "oci:DataScience/model:Model"
MODEL_GROUP = "oci:DataScience/modelGroup:ModelGroup"


def run(program: Any, project: Path) -> OciStackHarness:
    """Deploy `program` once, in the folder `project`."""
    harness = OciStackHarness({}, program=program, project=project)
    harness.up()
    return harness


def artifact(folder: Path, name: str, models: list[str]) -> dict[str, Any]:
    """A small real zip, described as TritonModelRepository describes its artifacts."""
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for model in models:
            archive.writestr(f"{model}/config.pbtxt", f'name: "{model}"\n')
    data = path.read_bytes()
    return {"name": name, "path": str(path), "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "models": models}


def deployment_settings(**values: Any) -> DeploymentSettings:
    return DeploymentSettings.model_validate(
        {"shape": {"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGbs": 8}, **values})


def deployment_args(**values: Any) -> TritonModelDeploymentArgs:
    given: dict[str, Any] = {
        "compartment_id": "ocid1.compartment.oc1..example", "project_id": "ocid1.datascienceproject.oc1..example",
        "display_name": "vision", "image_name": "iad.ocir.io/ns/triton:1", "image_digest": DIGEST,
        "entrypoint": ["/bin/sh", "-c", "exec \"$@\"", "layout"],
        "command": ["tritonserver", "--model-repository=/opt/ds/model/deployed_model"],
        "environment": {"CONTAINER_TYPE": "TRITON"}, "deployment": deployment_settings(),
        "model_group_id": "ocid1.datasciencemodelgroup.oc1..example", **values,
    }
    return TritonModelDeploymentArgs(**given)


def test_an_existing_image_is_used_as_given_with_its_digest(tmp_path: Path) -> None:
    def program() -> None:
        image = TritonImage("image", TritonImageArgs(compartment_id="c", existing=ExistingImage(
            "iad.ocir.io/ns/triton:24.08", DIGEST)))
        pulumi.export("name", image.image_name)
        pulumi.export("digest", image.image_digest)

    harness = run(program, tmp_path)

    assert harness.last_outputs == {"name": "iad.ocir.io/ns/triton:24.08", "digest": DIGEST}
    assert [r.type for r in harness.registrations.values()] == ["pulumi:pulumi:Stack", "triton-groups:oci:TritonImage"]


@pytest.mark.parametrize(
    ("existing", "field"),
    [(ExistingImage("iad.ocir.io/ns/triton:24.08", "latest"), "image.digest"),
     (ExistingImage(f"iad.ocir.io/ns/triton:24.08@{DIGEST}", DIGEST), "image.name"),
     (None, "image")],
)
def test_an_image_without_a_usable_digest_is_refused(existing: ExistingImage | None, field: str) -> None:
    with pytest.raises(UserError) as raised:
        TritonImage("image", TritonImageArgs(compartment_id="c", existing=existing))

    assert [problem.field for problem in raised.value.problems] == [field]


def test_a_built_image_is_pushed_to_the_tenancy_namespace_with_a_secret_token(tmp_path: Path) -> None:
    build = ImageBuild(registry="fra.ocir.io", repository="triton/server", tag="1.0", dockerfile="FROM scratch\n",
                       context_dir="ctx", username=f"{NAMESPACE}/someone", password="token-value")

    def program() -> None:
        image = TritonImage("image", TritonImageArgs(compartment_id="ocid1.compartment.oc1..c", build=build))
        pulumi.export("name", image.image_name)
        pulumi.export("digest", image.image_digest)

    harness = run(program, tmp_path)

    assert harness.calls == [(GET_NAMESPACE, {"compartmentId": "ocid1.compartment.oc1..c"})]
    pushed = harness.one(DOCKER_IMAGE)
    assert pushed.inputs["tags"] == [f"fra.ocir.io/{NAMESPACE}/triton/server:1.0"]
    assert pushed.inputs["platforms"] == ["linux/amd64"]
    assert pushed.inputs["dockerfile"] == {"inline": "FROM scratch\n"}
    assert pushed.inputs["context"] == {"location": "ctx"}
    assert pushed.inputs["registries"] == [{"address": "fra.ocir.io", "username": f"{NAMESPACE}/someone",
                                            "password": "token-value"}]
    assert rpc.is_rpc_secret(pushed.raw_inputs["registries"])
    assert pushed.depends_on(harness.one("oci:Artifacts/containerRepository:ContainerRepository"))
    assert harness.last_outputs["name"] == f"fra.ocir.io/{NAMESPACE}/triton/server:1.0"
    assert harness.last_outputs["digest"].startswith("sha256:")


def test_a_catalog_model_uploads_its_zip_inline_and_records_what_it_holds(tmp_path: Path) -> None:
    given = artifact(tmp_path, "classifier", ["classifier"])

    def program() -> None:
        catalog = CatalogModel("classifier", CatalogModelArgs(
            placement=PLACEMENT, group_name="vision", artifact=given, display_name="vision/classifier"))
        pulumi.export("model_id", catalog.model_id)

    harness = run(program, tmp_path)

    model = harness.one(MODEL)
    assert model.inputs["modelArtifact"] == given["path"]
    assert model.inputs["artifactContentLength"] == str(given["size"])
    assert model.inputs["artifactContentDisposition"] == f'attachment; filename="classifier-{given["sha256"][:16]}.zip"'
    assert {e["key"]: e["value"] for e in model.inputs["customMetadataLists"]} == {
        "TritonArtifactSha256": given["sha256"], "TritonModels": "classifier", "TritonGroup": "vision"}
    assert set(model.replace_on_changes) == {"modelArtifact", "artifactContentLength", "artifactContentDisposition"}
    assert harness.last_outputs["model_id"] == "classifier-model-id"


def test_a_large_catalog_model_goes_through_object_storage(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    given = artifact(tmp_path / "artifacts", "repository", ["a", "b"])
    storage = ObjectStorageUpload(bucket="artifacts", namespace=NAMESPACE, region="us-ashburn-1")

    def program() -> None:
        CatalogModel("repository", CatalogModelArgs(
            placement=replace(PLACEMENT, object_storage=storage), group_name="vision", artifact=given,
            display_name="vision/repository", upload="object_storage"))

    harness = run(program, tmp_path)

    uploaded = harness.one("oci:ObjectStorage/storageObject:StorageObject")
    object_name = f"triton-groups/repository-{given['sha256']}.zip"
    assert uploaded.inputs == {"bucket": "artifacts", "namespace": NAMESPACE, "object": object_name,
                               "source": "artifacts/repository.zip", "contentType": "application/zip",
                               "metadata": {"triton-groups-sha256": given["sha256"]}}
    assert (uploaded.ignore_changes, uploaded.replace_on_changes, uploaded.delete_before_replace) == (
        ("source",), ("object",), True)
    model = harness.one(MODEL)
    descriptor = tmp_path / "artifacts" / f"repository-{given['sha256'][:16]}.descriptor.zip"
    assert model.inputs["modelArtifact"] == str(descriptor)
    assert set(model.ignore_changes) == {"artifactContentLength", "artifactContentDisposition"}
    assert sorted(path.name for path in (tmp_path / "artifacts").iterdir()) == ["repository.zip"], (
        "the component writes nothing: the repository provider writes the descriptor")
    write_descriptors([given], {"repository": storage.route})
    assert model.inputs["artifactContentLength"] == str(descriptor.stat().st_size)
    with zipfile.ZipFile(descriptor) as archive:
        assert json.loads(archive.read("triton-groups-artifact.json")) == {
            "artifact": "repository", "sha256": given["sha256"], "size": given["size"], "models": ["a", "b"],
            "object": object_name, "bucket": "artifacts"}
    export = harness.one("oci:DataScience/modelArtifactExport:ModelArtifactExport")
    assert export.inputs == {"artifactSourceType": "ORACLE_OBJECT_STORAGE", "modelId": "repository-model-id",
                             "namespace": NAMESPACE, "sourceBucket": "artifacts", "sourceObjectName": object_name,
                             "sourceRegion": "us-ashburn-1"}
    assert export.depends_on(uploaded) and export.depends_on(model)


def test_a_large_catalog_model_without_a_bucket_is_refused() -> None:
    with pytest.raises(UserError) as raised:
        CatalogModel("repository", CatalogModelArgs(
            placement=PLACEMENT, group_name="vision", artifact={}, display_name="vision/repository",
            upload="object_storage"))

    assert raised.value.problems[0].field == "object_storage"


def test_a_heterogeneous_group_maps_each_inference_key_to_its_catalog_model(tmp_path: Path) -> None:
    artifacts = {name: artifact(tmp_path, name, [name]) for name in ("preprocess", "classifier")}

    def program() -> None:
        group = HeterogeneousModelGroup("group", HeterogeneousModelGroupArgs(
            placement=PLACEMENT, group_name="vision", models=list(artifacts), artifacts=artifacts))
        pulumi.export("members", group.members)
        pulumi.export("label", group.version_label)

    harness = run(program, tmp_path)

    group = harness.one(MODEL_GROUP)
    assert group.inputs["createType"] == "CREATE"
    assert group.inputs["modelGroupDetails"] == {"type": "HETEROGENEOUS"}
    assert group.inputs["memberModelEntries"] == {"memberModelDetails": [
        {"inferenceKey": "preprocess", "modelId": "group-preprocess-model-id"},
        {"inferenceKey": "classifier", "modelId": "group-classifier-model-id"}]}
    assert group.inputs["modelGroupVersionHistoryId"] == "group-history-id"
    assert all(group.depends_on(model) for model in harness.registered(MODEL))
    assert (group.replace_on_changes, group.delete_before_replace) == (("memberModelEntries",), False)
    assert harness.last_outputs["members"] == {"preprocess": "group-preprocess-model-id",
                                               "classifier": "group-classifier-model-id"}
    expected = membership_label([(name, a["sha256"]) for name, a in artifacts.items()])
    assert harness.last_outputs["label"] == group.inputs["versionLabel"] == expected


def test_a_group_needs_one_artifact_per_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one artifact per model"):
        HeterogeneousModelGroup("group", HeterogeneousModelGroupArgs(
            placement=PLACEMENT, group_name="vision", models=["a", "b"],
            artifacts={"a": artifact(tmp_path, "a", ["a"])}))


def test_a_deployment_with_given_logs_creates_none_and_reaches_its_private_endpoint(tmp_path: Path) -> None:
    logging = LoggingSettings.model_validate({"logGroupId": "ocid1.loggroup.oc1..g",
                                              "predictLogId": "ocid1.log.oc1..p"})
    settings = deployment_settings(privateEndpointId="ocid1.datascienceprivateendpoint.oc1..e")

    def program() -> None:
        deployment = TritonModelDeployment("md", deployment_args(logging=logging, deployment=settings))
        pulumi.export("url", deployment.model_deployment_url)

    harness = run(program, tmp_path)

    deployment = harness.one(MODEL_DEPLOYMENT).inputs
    assert deployment["categoryLogDetails"] == {"predict": {"logGroupId": "ocid1.loggroup.oc1..g",
                                                            "logId": "ocid1.log.oc1..p"}}
    assert harness.registered("oci:Logging/logGroup:LogGroup") == []
    instance = deployment["modelDeploymentConfigurationDetails"]["infrastructureConfigurationDetails"][
        "instanceConfiguration"]
    assert instance["privateEndpointId"] == "ocid1.datascienceprivateendpoint.oc1..e"
    assert harness.last_outputs["url"].endswith("/md-deployment-id")


@pytest.mark.parametrize(
    ("values", "message"),
    [({"environment": {}}, "CONTAINER_TYPE"),
     ({"model_id": "ocid1.datasciencemodel.oc1..m"}, "exactly one"),
     ({"model_group_id": None}, "exactly one")],
)
def test_a_deployment_needs_triton_and_exactly_one_thing_to_serve(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TritonModelDeployment("md", deployment_args(**values))
