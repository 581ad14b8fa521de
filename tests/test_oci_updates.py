"""Updates of the `dev` OCI stack under Pulumi mocks: what a change replaces, what it refuses, and CI runners.

Each test deploys, changes one thing, then previews and/or updates again, as `pulumi up` would on the
same stack. The harness replaces a resource when one of its replaceOnChanges properties changes (the
engine's create-before-delete replacement), which is how OCI's immutable catalog models and model
groups get new OCIDs.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pulumi
import pytest
from oci_stack_harness import MODEL_DEPLOYMENT, OciCredentials, OciStackHarness, oci_project, stack_config

from components.core.oci_target.settings import load_stack_settings

MODEL = "oci:DataScience/model:Model"
MODEL_GROUP = "oci:DataScience/modelGroup:ModelGroup"
OTHER_MODELS = ["group-classifier_onnx-model", "group-cnn_torch-model", "group-vision_ensemble-model"]
ARTIFACTS = Path(".triton-groups/artifacts/dev/repository")
"""Where the repository's zips and hash cache go, inside the project folder."""
PREPROCESS_CHANGED = ("model preprocess: 1/model.py changed; its catalog model is replaced and the model group gets a "
                      "new version, which the deployment moves to")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, OciCredentials]:
    return oci_project(tmp_path)


def harness_for(project: tuple[Path, OciCredentials]) -> OciStackHarness:
    return OciStackHarness(stack_config(*project), project=project[0])


def retrain_preprocess(project: Path) -> None:
    """Change one model's file (the Python preprocessing model gets a new line)."""
    model = project / "examples" / "vision" / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "\n# retrained\n")


def deployment_settings(project: Path, **changes: object) -> dict[str, object]:
    settings = load_stack_settings(project / "stacks" / "Pulumi.dev.yaml")
    return {**settings.deployment.model_dump(by_alias=True, exclude_none=True), **changes}


def test_changing_one_model_replaces_its_catalog_model_and_moves_the_deployment_to_a_new_group(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = harness_for(project)
    harness.up()
    before = {name: harness.resource(name) for name in [*OTHER_MODELS, "group-preprocess-model", "group-group",
                                                         "group-history", "deployment-deployment"]}
    retrain_preprocess(project[0])

    preview = harness.preview()
    update = harness.up()

    assert sorted(preview.replaced) == sorted(update.replaced) == ["group-group", "group-preprocess-model"]
    assert "deployment-deployment" in preview.updated and "deployment-deployment" in update.updated
    assert set(OTHER_MODELS) <= set(preview.unchanged) & set(update.unchanged)
    assert PREPROCESS_CHANGED in preview.messages()
    for name in OTHER_MODELS:
        assert harness.resource(name).inputs == before[name].inputs
        assert harness.resource(name).id == before[name].id
    preprocess = harness.resource("group-preprocess-model")
    assert preprocess.id != before["group-preprocess-model"].id
    assert preprocess.inputs["artifactContentDisposition"] != before["group-preprocess-model"].inputs[
        "artifactContentDisposition"]
    group = harness.resource("group-group")
    assert group.id != before["group-group"].id
    members = {e["inferenceKey"]: e["modelId"] for e in group.inputs["memberModelEntries"]["memberModelDetails"]}
    assert members["preprocess"] == preprocess.id
    assert group.inputs["modelGroupVersionHistoryId"] == before["group-history"].id == harness.resource(
        "group-history").id
    assert group.inputs["versionLabel"] != before["group-group"].inputs["versionLabel"]
    deployment = harness.resource("deployment-deployment")
    assert deployment.id == before["deployment-deployment"].id
    configuration = deployment.inputs["modelDeploymentConfigurationDetails"]
    assert configuration["modelGroupConfigurationDetails"] == {"modelGroupId": group.id}
    assert harness.one(MODEL_DEPLOYMENT).depends_on(harness.one(MODEL_GROUP))
    assert harness.one(MODEL_GROUP).delete_before_replace is False


def test_an_update_touching_two_option_groups_stops_and_says_how_to_split_it(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = harness_for(project)
    harness.up()
    deployed = harness.resource("deployment-deployment")
    threads = deployment_settings(project[0], environment={"OMP_NUM_THREADS": "2"})
    new_image = {"name": "iad.ocir.io/exampletenancy/triton/vision-server:24.09", "digest": "sha256:" + "1" * 64}

    refused = harness.up(stack_config(*project, deployment=threads, image=new_image), check=False)

    assert isinstance(refused.error, pulumi.RunError)
    message = str(refused.error)
    assert message.startswith("this update changes the environment variables and load-balancer bandwidth or BYOC "
                              "options of the live model deployment at once")
    assert "1. environment variables (triton-groups:deployment.environment)" in message
    assert "2. load-balancer bandwidth or BYOC (triton-groups:deployment.bandwidthMbps, triton-groups:image" in message
    assert harness.resource("deployment-deployment").inputs == deployed.inputs

    staged = harness.up(stack_config(*project, deployment=threads))
    assert "deployment-deployment" in staged.updated
    assert "this update changes the environment variables options of the live model deployment" in staged.messages()
    final = harness.up(stack_config(*project, deployment=threads, image=new_image))
    assert "deployment-deployment" in final.updated
    environment = harness.resource("deployment-deployment").inputs["modelDeploymentConfigurationDetails"][
        "environmentConfigurationDetails"]
    assert environment["imageDigest"] == "sha256:" + "1" * 64
    assert environment["environmentVariables"] == {"OMP_NUM_THREADS": "2", "CONTAINER_TYPE": "TRITON"}


def test_a_model_change_with_a_rename_or_new_logs_is_refused_too(project: tuple[Path, OciCredentials]) -> None:
    harness = harness_for(project)
    harness.up()
    retrain_preprocess(project[0])
    renamed = deployment_settings(project[0], displayName="vision-v2")
    logs = {"logGroupId": "ocid1.loggroup.oc1.iad.exampleonly", "predictLogId": "ocid1.log.oc1.iad.exampleonly"}

    assert "the name and description and models options" in str(
        harness.preview(stack_config(*project, deployment=renamed), check=False).error)
    assert "the models and logging options" in str(harness.preview(stack_config(*project, logging=logs),
                                                                   check=False).error)


def test_a_shape_change_replaces_a_model_group_deployment_and_the_smoke_test_follows_its_new_url(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = harness_for(project)
    harness.up()
    before = harness.resource("deployment-deployment")
    old_url = harness.last_outputs["endpoint"]
    bigger = deployment_settings(project[0], shape={"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 4,
                                                    "memoryInGbs": 32})
    new_image = {"name": "iad.ocir.io/exampletenancy/triton/vision-server:24.09", "digest": "sha256:" + "1" * 64}
    changed = stack_config(*project, deployment=bigger, image=new_image)

    preview = harness.preview(changed)
    update = harness.up(changed)

    assert "deployment-deployment" in preview.replaced and "deployment-deployment" in update.replaced
    warning = ("the model deployment is replaced: the compute shape or scaling of a MODEL_GROUP deployment changes, "
               "which pulumi-oci cannot update (infrastructureConfigurationDetails). The new deployment gets a new "
               "OCID and URL (the endpoint output and the smoke test follow it); the old one is deleted once the new "
               "one is created")
    assert warning in preview.messages("WARNING") and warning in update.messages("WARNING")
    assert harness.one(MODEL_DEPLOYMENT).replace_on_changes == (
        "modelDeploymentConfigurationDetails.deploymentType",
        "modelDeploymentConfigurationDetails.infrastructureConfigurationDetails")
    after = harness.resource("deployment-deployment")
    assert after.id != before.id
    assert harness.last_outputs["endpoint"] != old_url and harness.last_outputs["endpoint"].endswith(after.id)
    assert harness.resource("smoke").inputs["endpoint"] == harness.last_outputs["endpoint"]
    assert harness.resource("smoke").inputs["deployment_id"] == after.id
    assert "smoke" in update.updated


def test_a_shape_change_updates_a_single_model_deployment_in_place(project: tuple[Path, OciCredentials]) -> None:
    harness = OciStackHarness(stack_config(*project, layout="single"), project=project[0])
    harness.up()
    before = harness.resource("deployment-deployment")
    bigger = deployment_settings(project[0], scaling={"instanceCount": 2})

    update = harness.up(stack_config(*project, layout="single", deployment=bigger))

    assert "deployment-deployment" in update.updated
    assert harness.resource("deployment-deployment").id == before.id
    assert "this update changes the compute options of the live model deployment" in update.messages()


def test_a_ci_runner_without_the_zips_previews_no_change_and_rebuilds_them_on_up(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = harness_for(project)
    harness.up()
    models = {r.name: r.inputs for r in harness.registered(MODEL)}
    recorded = {project[0] / inputs["modelArtifact"]: inputs["customMetadataLists"][0]["value"]
                for inputs in models.values()}
    shutil.rmtree(project[0] / ARTIFACTS)

    preview = harness.preview()

    assert not any((project[0] / ARTIFACTS).glob("*.zip"))
    assert preview.changed == []
    assert {r.name: r.inputs for r in harness.registered(MODEL)} == models

    update = harness.up()

    assert update.changed == []
    assert {r.name: r.inputs for r in harness.registered(MODEL)} == models
    for artifact, sha256 in recorded.items():
        assert hashlib.sha256(artifact.read_bytes()).hexdigest() == sha256


def test_a_ci_runner_without_the_zips_previews_which_model_changed_from_the_stack_state(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = harness_for(project)
    harness.up()
    shutil.rmtree(project[0] / ".triton-groups")
    retrain_preprocess(project[0])

    preview = harness.preview()

    assert [line for line in preview.messages() if line.startswith("model ")] == [PREPROCESS_CHANGED]
    assert sorted(preview.replaced) == ["group-group", "group-preprocess-model"]
