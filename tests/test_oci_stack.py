"""The whole `dev` OCI stack (stacks/Pulumi.dev.yaml) under Pulumi mocks, in both layouts.

What the engine would receive: resource types and counts, key properties (camelCase keys, ints as
floats), dependencies, the digest-pinned image, Triton's container, ports and logs. The artifact zips
are really built; no OCI account is called (the smoke test is recorded, not run).
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pulumi
import pytest
from oci_stack_harness import (
    DOCKER_IMAGE,
    GET_MODEL,
    MODEL_DEPLOYMENT,
    NAMESPACE,
    OciCredentials,
    OciStackHarness,
    oci_project,
    stack_config,
)
from pulumi.runtime import rpc

from components.core.oci_target.command import LAYOUT_SCRIPT
from components.core.oci_target.settings import load_stack_settings
from components.core.smoke.oci_transport import OciPredictTransport
from components.providers.smoke_test import TRANSPORTS

MODEL = "oci:DataScience/model:Model"
MODEL_GROUP = "oci:DataScience/modelGroup:ModelGroup"
HISTORY = "oci:DataScience/modelGroupVersionHistory:ModelGroupVersionHistory"
REPOSITORY = "pulumi-python:dynamic/triton:TritonModelRepository"
SMOKE = "pulumi-python:dynamic/triton:InferenceSmokeTest"
VISION_MODELS = ["preprocess", "classifier_onnx", "cnn_torch", "vision_ensemble"]
DIGEST = "sha256:" + "0" * 64


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, OciCredentials]:
    return oci_project(tmp_path)


def deployed(project: tuple[Path, OciCredentials], **changes: object) -> OciStackHarness:
    harness = OciStackHarness(stack_config(*project, **changes), project=project[0])
    harness.up()
    return harness


def test_the_dev_stack_deploys_a_heterogeneous_group_of_every_model(project: tuple[Path, OciCredentials]) -> None:
    harness = deployed(project)

    counts = {type_: len(harness.registered(type_)) for type_ in
              (MODEL, MODEL_GROUP, HISTORY, MODEL_DEPLOYMENT, "oci:Logging/logGroup:LogGroup", "oci:Logging/log:Log",
               "oci:DataScience/project:Project", REPOSITORY, SMOKE, DOCKER_IMAGE)}
    assert counts == {MODEL: 4, MODEL_GROUP: 1, HISTORY: 1, MODEL_DEPLOYMENT: 1, "oci:Logging/logGroup:LogGroup": 1,
                      "oci:Logging/log:Log": 2, "oci:DataScience/project:Project": 1, REPOSITORY: 1, SMOKE: 1,
                      DOCKER_IMAGE: 0}
    group = harness.one(MODEL_GROUP).inputs
    assert group["createType"] == "CREATE"
    assert group["modelGroupDetails"] == {"type": "HETEROGENEOUS"}
    members = {entry["inferenceKey"]: entry["modelId"] for entry in group["memberModelEntries"]["memberModelDetails"]}
    assert members == {model: f"group-{model}-model-id" for model in VISION_MODELS}
    assert group["modelGroupVersionHistoryId"] == "group-history-id"
    assert group["displayName"] == "vision-example-group"
    configuration = harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"]
    assert configuration["deploymentType"] == "MODEL_GROUP"
    assert configuration["modelGroupConfigurationDetails"] == {"modelGroupId": "group-group-id"}
    assert harness.last_outputs["endpoint"].endswith("/deployment-deployment-id")


def test_the_deployment_runs_triton_from_the_digest_pinned_image(project: tuple[Path, OciCredentials]) -> None:
    harness = deployed(project)

    deployment = harness.one(MODEL_DEPLOYMENT).inputs
    configuration = deployment["modelDeploymentConfigurationDetails"]
    assert configuration["environmentConfigurationDetails"] == {
        "environmentConfigurationType": "OCIR_CONTAINER",
        "image": "iad.ocir.io/exampletenancy/triton/vision-server:24.08",
        "imageDigest": DIGEST,
        "environmentVariables": {"CONTAINER_TYPE": "TRITON"},
        "entrypoints": ["/bin/sh", "-c", LAYOUT_SCRIPT, "triton-groups-layout", "/opt/ds/model/deployed_model",
                        "/tmp/triton-groups/models"],
        "cmds": ["/opt/nvidia/nvidia_entrypoint.sh", "tritonserver", "--model-repository=/tmp/triton-groups/models",
                 "--log-info=true"],
        "serverPort": 8000.0,
        "healthCheckPort": 8000.0,
    }
    assert configuration["infrastructureConfigurationDetails"] == {
        "infrastructureType": "INSTANCE_POOL",
        "instanceConfiguration": {
            "instanceShapeName": "VM.Standard.E4.Flex",
            "modelDeploymentInstanceShapeConfigDetails": {"ocpus": 2.0, "memoryInGbs": 16.0},
        },
        "scalingPolicy": {"policyType": "FIXED_SIZE", "instanceCount": 1.0},
        "bandwidthMbps": 10.0,
    }
    assert deployment["categoryLogDetails"] == {
        "access": {"logGroupId": "deployment-logs-id", "logId": "deployment-access-log-id"},
        "predict": {"logGroupId": "deployment-logs-id", "logId": "deployment-predict-log-id"},
    }
    assert {log.inputs["displayName"]: log.inputs["logType"] for log in harness.registered("oci:Logging/log:Log")} \
        == {"vision-example-access": "CUSTOM", "vision-example-predict": "CUSTOM"}
    assert harness.one("oci:Logging/logGroup:LogGroup").inputs["displayName"] == "vision-example-logs"
    assert harness.last_outputs["image"] == f"iad.ocir.io/exampletenancy/triton/vision-server:24.08@{DIGEST}"


def test_the_engine_orders_artifacts_models_group_deployment_then_smoke(project: tuple[Path, OciCredentials]) -> None:
    harness = deployed(project)

    repository = harness.one(REPOSITORY)
    models = harness.registered(MODEL)
    group = harness.one(MODEL_GROUP)
    deployment = harness.one(MODEL_DEPLOYMENT)
    assert all(repository.urn in model.property_dependencies["modelArtifact"] for model in models)
    assert all(group.depends_on(model) for model in models)
    assert deployment.depends_on(group)
    assert harness.one(SMOKE).depends_on(deployment)
    assert group.replace_on_changes == ("memberModelEntries",)
    assert group.delete_before_replace is False
    assert all({"modelArtifact", "artifactContentLength", "artifactContentDisposition"} <= set(m.replace_on_changes)
               for m in models)


def test_each_catalog_model_holds_its_models_zip_and_says_so(project: tuple[Path, OciCredentials]) -> None:
    harness = deployed(project)

    for model in VISION_MODELS:
        inputs = harness.registrations[f"group-{model}-model"].inputs
        artifact = project[0] / inputs["modelArtifact"]
        metadata = {entry["key"]: entry["value"] for entry in inputs["customMetadataLists"]}
        sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
        assert inputs["artifactContentLength"] == str(artifact.stat().st_size)
        assert metadata == {"TritonArtifactSha256": sha256, "TritonModels": model, "TritonGroup": "vision-example"}
        assert inputs["artifactContentDisposition"] == f'attachment; filename="{model}-{sha256[:16]}.zip"'
        assert {name.split("/")[0] for name in zipfile.ZipFile(artifact).namelist()} >= {model}
        assert inputs["displayName"] == f"vision-example/{model}"


def test_the_single_layout_serves_one_catalog_model_holding_the_repository(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = deployed(project, layout="single")

    assert harness.registered(MODEL_GROUP) == []
    model = harness.one(MODEL).inputs
    metadata = {entry["key"]: entry["value"] for entry in model["customMetadataLists"]}
    assert metadata["TritonModels"] == ",".join(sorted(VISION_MODELS))
    held = zipfile.ZipFile(project[0] / model["modelArtifact"]).namelist()
    assert set(held) >= {f"{m}/config.pbtxt" for m in VISION_MODELS}
    configuration = harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"]
    assert configuration["deploymentType"] == "SINGLE_MODEL"
    assert "infrastructureConfigurationDetails" not in configuration
    assert configuration["modelConfigurationDetails"] == {
        "modelId": "repository-model-model-id",
        "instanceConfiguration": {
            "instanceShapeName": "VM.Standard.E4.Flex",
            "modelDeploymentInstanceShapeConfigDetails": {"ocpus": 2.0, "memoryInGbs": 16.0},
        },
        "scalingPolicy": {"policyType": "FIXED_SIZE", "instanceCount": 1.0},
        "bandwidthMbps": 10.0,
    }
    assert harness.one(MODEL_DEPLOYMENT).depends_on(harness.one(MODEL))


def test_the_smoke_test_signs_with_the_config_file_profile_after_the_deployment(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = deployed(project)

    smoke = harness.registrations["smoke"].inputs
    assert smoke["transport"] == "oci"
    assert smoke["endpoint"] == harness.last_outputs["endpoint"]
    assert smoke["deployment_id"] == "deployment-deployment-id"
    options = smoke["transport_options"]
    assert options["auth"] == "api_key"
    assert options["config_file"] == str(project[1].config_file)
    assert options["profile"] == "DEFAULT"
    assert options["wire_format"] == "json"
    transport = TRANSPORTS["oci"](smoke["endpoint"], options)
    assert isinstance(transport, OciPredictTransport)
    assert transport.headers.model_name == ("model_name", "model-name")
    assert transport.wire_format == "json"
    assert transport.default_versions == dict.fromkeys(VISION_MODELS, 1)
    smoke_settings = load_stack_settings(project[0] / "stacks" / "Pulumi.dev.yaml").smoke.model_dump(by_alias=True)
    smoke_settings |= {"configFile": str(project[1].config_file), "wireFormat": "binary"}
    binary = OciStackHarness(stack_config(*project, smoke=smoke_settings), project=project[0])
    binary.up()
    assert TRANSPORTS["oci"](smoke["endpoint"], binary.registrations["smoke"].inputs["transport_options"]
                             ).wire_format == "binary"


def test_autoscaling_and_private_networking_reach_the_infrastructure(project: tuple[Path, OciCredentials]) -> None:
    settings = load_stack_settings(project[0] / "stacks" / "Pulumi.dev.yaml")
    deployment = settings.deployment.model_dump(by_alias=True, exclude_none=True)
    deployment["scaling"] = {"autoscaling": {"minInstances": 1, "maxInstances": 4, "scaleOutCpuPercent": 80}}
    deployment["subnetId"] = "ocid1.subnet.oc1.iad.exampleonlysubnet"
    harness = deployed(project, deployment=deployment)

    infrastructure = harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"][
        "infrastructureConfigurationDetails"]
    assert infrastructure["instanceConfiguration"]["subnetId"] == "ocid1.subnet.oc1.iad.exampleonlysubnet"
    policy = infrastructure["scalingPolicy"]
    assert (policy["policyType"], policy["isEnabled"], policy["coolDownInSeconds"]) == ("AUTOSCALING", True, 300.0)
    [auto] = policy["autoScalingPolicies"]
    assert (auto["autoScalingPolicyType"], auto["minimumInstanceCount"], auto["maximumInstanceCount"],
            auto["initialInstanceCount"]) == ("THRESHOLD", 1.0, 4.0, 1.0)
    [rule] = auto["rules"]
    assert (rule["metricType"], rule["scaleOutConfiguration"]["threshold"], rule["scaleInConfiguration"]["threshold"]) \
        == ("CPU_UTILIZATION", 80.0, 30.0)


def test_a_built_image_is_pushed_to_ocir_and_the_deployment_pinned_to_its_digest(
    project: tuple[Path, OciCredentials],
) -> None:
    build = {"repository": "triton/vision-server", "tag": "24.08", "baseImage": "nvcr.io/nvidia/tritonserver:24.08-py3",
             "username": "exampletenancy/example.user@example.com"}
    config = {**stack_config(*project, image={"build": build}), "triton-groups:ocirToken": "example-ocir-token"}
    harness = OciStackHarness(config, project=project[0])
    harness.up()

    repository = harness.one("oci:Artifacts/containerRepository:ContainerRepository")
    assert (repository.inputs["displayName"], repository.inputs["isPublic"]) == ("triton/vision-server", False)
    image = harness.one(DOCKER_IMAGE)
    assert image.depends_on(repository)
    assert image.inputs["tags"] == [f"iad.ocir.io/{NAMESPACE}/triton/vision-server:24.08"]
    assert image.inputs["push"] is True
    assert image.inputs["buildOnPreview"] is False
    [registry] = image.inputs["registries"]
    assert registry["address"] == "iad.ocir.io"
    assert registry["username"] == "exampletenancy/example.user@example.com"
    assert rpc.is_rpc_secret(image.raw_inputs["registries"])
    dockerfile = image.inputs["dockerfile"]["inline"]
    for backend in ("onnxruntime", "pytorch", "python"):
        assert f"/opt/tritonserver/backends/{backend} " in dockerfile
    environment = harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"][
        "environmentConfigurationDetails"]
    assert environment["image"] == f"iad.ocir.io/{NAMESPACE}/triton/vision-server:24.08"
    assert environment["imageDigest"].startswith("sha256:") and environment["imageDigest"] != DIGEST
    given = OciStackHarness(stack_config(*project), project=project[0])
    given.up()
    brought = given.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"][
        "environmentConfigurationDetails"]
    assert (environment["entrypoints"], environment["cmds"]) == (brought["entrypoints"], brought["cmds"]), \
        "a built image and a brought NGC image run the same entrypoint step and command"
    assert 'ENTRYPOINT ["/opt/nvidia/nvidia_entrypoint.sh"]' in dockerfile, "as NGC images: replaced by the deployment"
    assert ("oci:ObjectStorage/getNamespace:getNamespace",
            {"compartmentId": "ocid1.compartment.oc1..exampleonlyreplacewithyourcompartment"}) in harness.calls


def test_a_preflight_problem_names_the_stack_key_and_registers_nothing(project: tuple[Path, OciCredentials]) -> None:
    settings = load_stack_settings(project[0] / "stacks" / "Pulumi.dev.yaml")
    deployment = settings.deployment.model_dump(by_alias=True, exclude_none=True)
    del deployment["shape"]["ocpus"]
    harness = OciStackHarness(stack_config(*project, deployment=deployment), project=project[0])

    result = harness.up(check=False)

    assert isinstance(result.error, pulumi.RunError)
    assert str(result.error) == (
        "the stack dev cannot be deployed: stacks/Pulumi.dev.yaml:62: triton-groups:deployment.shape.ocpus: "
        "VM.Standard.E4.Flex is a flexible shape: give ocpus")
    assert [r.type for r in harness.registrations.values()] == ["pulumi:pulumi:Stack"]
    assert harness.state == {}


def grow_past_one_mib(project: tuple[Path, OciCredentials], model: str = "preprocess") -> None:
    """Pad the example's Python model with a comment, so that its artifact zip passes 1 MiB."""
    with (project[0] / "examples" / "vision" / "models" / model / "model.py").open("a") as handle:
        handle.write("#" * 1024 * 1024 + "\n")


def test_artifacts_above_the_inline_limit_go_through_the_configured_bucket(
    project: tuple[Path, OciCredentials],
) -> None:
    grow_past_one_mib(project)
    storage = {"bucket": "example-artifacts", "namespace": "exampletenancy"}
    harness = deployed(project, artifact={"inlineLimitMib": 1, "objectStorage": storage})

    uploads = harness.registered("oci:ObjectStorage/storageObject:StorageObject")
    exports = harness.registered("oci:DataScience/modelArtifactExport:ModelArtifactExport")
    assert [upload.name for upload in uploads] == ["group-preprocess-upload"]
    assert {(e.inputs["sourceBucket"], e.inputs["namespace"], e.inputs["sourceRegion"]) for e in exports} == {
        ("example-artifacts", "exampletenancy", "us-ashburn-1")}
    assert harness.calls == [(GET_MODEL, {"modelId": "group-preprocess-model-id"})], "a read checks the export"


def test_artifacts_above_the_inline_limit_without_a_bucket_are_refused(project: tuple[Path, OciCredentials]) -> None:
    grow_past_one_mib(project)
    harness = OciStackHarness(stack_config(*project, artifact={"inlineLimitMib": 1}), project=project[0])

    result = harness.up(check=False)

    assert "triton-groups:artifact.objectStorage" in " ".join([str(result.error), *result.messages("ERROR")])
    assert harness.state == {}
