"""Releases on OCI under the mock engine: cut from a dev stack's outputs, promoted by a prod stack, rolled back.

The dev stack's smoke test is recorded as passing (there is no OCI deployment to call); a release is made from
its outputs as `triton-groups release create` makes it, and a prod stack that names that release and
`promotesFrom: dev` (read through a StackReference to dev) must build exactly its bytes. For the rollback the
smoke test's provider runs for real, with a transport whose models never become ready and a recording fake
of the Data Science client.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from oci_stack_harness import MODEL_DEPLOYMENT, OciCredentials, OciStackHarness, oci_project, stack_config
from pulumi_engine import PROJECT

from components.core.release import Release, load_release
from components.providers import smoke_test

sys.path.insert(0, str(PROJECT / "policies"))
import rules

MODEL = "oci:DataScience/model:Model"
MODEL_GROUP = "oci:DataScience/modelGroup:ModelGroup"
SMOKE = "pulumi-python:dynamic/triton:InferenceSmokeTest"
DIGEST = "sha256:" + "0" * 64
HISTORY = [{"kind": "update", "result": "succeeded", "version": 4}]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, OciCredentials]:
    return oci_project(tmp_path)


def passing_dev(project: tuple[Path, OciCredentials], **changes: Any) -> OciStackHarness:
    harness = OciStackHarness(stack_config(*project, **changes), project=project[0], smoke="passing")
    harness.up()
    return harness


def cut_release(project: tuple[Path, OciCredentials], dev: OciStackHarness) -> tuple[Release, str]:
    """The release `release create --from-stack dev` writes, from dev's outputs and history."""
    release = Release.from_stack("dev", "triton-groups", dev.last_outputs, HISTORY)
    relative = f"releases/{release.name}.json"
    release.save(project[0] / relative)
    return release, relative


def prod(project: tuple[Path, OciCredentials], release_file: str, dev_outputs: Mapping[str, Any],
         **changes: Any) -> OciStackHarness:
    config = stack_config(*project, release=release_file, promotesFrom="dev", production="true", **changes)
    return OciStackHarness(config, project=project[0], stack="prod", smoke="passing",
                           other_stacks={"dev": dev_outputs})


def catalog_sha256s(harness: OciStackHarness) -> dict[str, str]:
    """{Triton models of a catalog model: the artifact sha256 its metadata records}, from the registrations."""
    found = {}
    for model in harness.registered(MODEL):
        metadata = {entry["key"]: entry["value"] for entry in model.inputs["customMetadataLists"]}
        found[metadata["TritonModels"]] = metadata["TritonArtifactSha256"]
    return found


def test_a_release_is_made_from_an_oci_stacks_outputs_with_the_image_digest_and_every_artifact(
    project: tuple[Path, OciCredentials],
) -> None:
    dev = passing_dev(project)

    release, relative = cut_release(project, dev)

    assert release.image_digest == DIGEST
    assert release.group == "vision-example" and release.passed.stack == "dev"
    assert release.repository_sha256 == dev.resource("repository").outputs["repository_sha256"]
    zips = {a.name: hashlib.sha256((project[0] / a_path).read_bytes()).hexdigest()
            for a, a_path in ((a, next(x["path"] for x in dev.last_outputs["artifacts"] if x["name"] == a.name))
                              for a in release.artifacts)}
    assert {a.name: a.sha256 for a in release.artifacts} == zips
    assert {a.layout for a in release.artifacts} == {"per-model"}
    assert {a.name for a in release.artifacts} == set(catalog_sha256s(dev))
    assert load_release(project[0] / relative) == release
    assert dev.last_outputs["passed_releases"][0]["repository_sha256"] == release.repository_sha256


def test_a_prod_stack_with_a_release_builds_catalog_models_holding_the_releases_sha256s(
    project: tuple[Path, OciCredentials],
) -> None:
    dev = passing_dev(project)
    release, relative = cut_release(project, dev)

    promoted = prod(project, relative, dev.last_outputs)
    promoted.up()

    assert catalog_sha256s(promoted) == {a.name: a.sha256 for a in release.artifacts}
    assert promoted.last_outputs["repository_sha256"] == release.repository_sha256
    assert promoted.last_outputs["release"] == relative
    assert promoted.last_outputs["image_digest"] == release.image_digest


def test_a_model_file_edited_after_the_release_stops_prod_naming_model_file_and_both_sha256s(
    project: tuple[Path, OciCredentials],
) -> None:
    dev = passing_dev(project)
    release, relative = cut_release(project, dev)
    model = project[0] / "examples" / "vision" / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "# edited after the release\n")
    edited = hashlib.sha256(model.read_bytes()).hexdigest()
    promoted = prod(project, relative, dev.last_outputs)

    result = promoted.up(check=False)

    assert str(result.error) == (
        f"this stack cannot promote {relative}; nothing was changed: {relative}: models.preprocess: model "
        f"preprocess: 1/model.py has sha256 {edited}, the release has "
        f"{release.models['preprocess']['1/model.py']['sha256']}")
    assert [r.type for r in promoted.registrations.values()] == ["pulumi:pulumi:Stack"]
    assert promoted.state == {}


def test_an_image_digest_other_than_the_releases_stops_prod(project: tuple[Path, OciCredentials]) -> None:
    dev = passing_dev(project)
    _, relative = cut_release(project, dev)
    other = "sha256:" + "1" * 64
    image = {"name": "iad.ocir.io/exampletenancy/triton/vision-server:24.08", "digest": other}

    result = prod(project, relative, dev.last_outputs, image=image).up(check=False)

    assert str(result.error).endswith(f"{relative}: image_digest: the image is {other}, the release has {DIGEST}")


def test_a_release_the_source_stacks_outputs_do_not_list_as_passed_is_refused_before_any_oci_resource(
    project: tuple[Path, OciCredentials],
) -> None:
    dev = passing_dev(project)
    release, relative = cut_release(project, dev)
    promoted = prod(project, relative, {**dev.last_outputs, "passed_releases": []})

    result = promoted.up(check=False)

    assert f"dev's outputs do not list repository {release.repository_sha256} among the releases that passed" \
        in str(result.error)
    assert sorted(state.type for state in promoted.state.values() if state.type.startswith("oci:")) == [], \
        "nothing is created in OCI, not even the project, the image repository, the policy or the logs"


class NeverReady:
    """A transport to a deployment whose models never load: every smoke run fails."""

    endpoint = "https://modeldeployment.example/never-ready"

    def wait_ready(self, models: Sequence[str], timeout_s: float) -> dict[str, str | None]:
        return dict.fromkeys(models, "failed to load: the new weights are broken")

    def infer(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("no inference on a deployment that is not ready")

    def close(self) -> None:
        pass


class RecordingDataScience:
    """Plays Data Science for one deployment: it serves what the engine deployed until the program's rollback
    points it elsewhere; every call is recorded."""

    def __init__(self, harness: OciStackHarness) -> None:
        self.harness = harness
        self.pointed: str | None = None
        self.calls: list[tuple[str, str, Any]] = []

    def deployed_group(self) -> str:
        details = self.harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"]
        return details["modelGroupConfigurationDetails"]["modelGroupId"]

    def get_model_deployment(self, model_deployment_id: str) -> Any:
        group = SimpleNamespace(model_group_id=self.pointed or self.deployed_group())
        return SimpleNamespace(data=SimpleNamespace(
            lifecycle_state="ACTIVE", model_deployment_configuration_details=SimpleNamespace(
                deployment_type="MODEL_GROUP", model_group_configuration_details=group)))

    def update_model_deployment(self, model_deployment_id: str, update_model_deployment_details: Any) -> None:
        configuration = update_model_deployment_details.model_deployment_configuration_details
        self.pointed = configuration.model_group_configuration_details.model_group_id
        self.calls.append(("update_model_deployment", model_deployment_id, configuration))

    def delete_model_group(self, model_group_id: str) -> None:
        self.calls.append(("delete_model_group", model_group_id, None))

    def delete_model(self, model_id: str) -> None:
        self.calls.append(("delete_model", model_id, None))


def test_a_failed_smoke_test_points_the_deployment_back_at_the_previous_group_which_is_kept(
    project: tuple[Path, OciCredentials], monkeypatch: pytest.MonkeyPatch,
) -> None:
    dev = passing_dev(project)
    passed = dict(dev.last_outputs)
    first_group = dev.resource("group-group").id
    fake = RecordingDataScience(dev)
    monkeypatch.setitem(smoke_test.DEPLOYMENT_CLIENTS, "oci", lambda auth: fake)
    monkeypatch.setitem(smoke_test.TRANSPORTS, "oci", lambda endpoint, options: NeverReady())
    model = project[0] / "examples" / "vision" / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "# a change whose smoke test fails\n")
    dev.smoke, dev.skipped_providers = "run", ()

    failed = dev.up(check=False)

    second_group = dev.resource("group-group").id
    assert second_group != first_group, "the change made a new model group"
    message = str(failed.error)
    assert "failed to load: the new weights are broken" in message
    assert (f"rolled back: the deployment serves release {passed['repository_sha256'][:12]} (model group "
            f"{first_group}, passed ") in message
    assert f"model group {second_group} is kept, and the next `pulumi up` tries this change again" in message
    [(call, deployment_id, configuration)] = fake.calls
    assert (call, deployment_id) == ("update_model_deployment", "deployment-deployment-id")
    assert (configuration.deployment_type, configuration.update_type) == ("MODEL_GROUP", "LIVE")
    assert configuration.model_group_configuration_details.model_group_id == first_group
    assert dev.one(MODEL_GROUP).retain_on_delete, "the engine never deletes a group a rollback may need"
    assert all(model.retain_on_delete for model in dev.registered(MODEL))
    assert dev.last_outputs == passed, "the outputs still name the release that serves"
    assert dev.last_outputs["serving"]["id"] == first_group

    preview = dev.preview()
    assert "smoke" in preview.updated, "the failed change is still to do"

    again = dev.up(check=False)
    assert again.error is not None
    assert [call[0] for call in fake.calls] == ["update_model_deployment"] * 3
    assert fake.calls[1][2].model_group_configuration_details.model_group_id == second_group, \
        "the retry points the deployment at the new group before testing it"
    assert fake.calls[2][2].model_group_configuration_details.model_group_id == first_group
    assert not [call for call in fake.calls if call[0].startswith("delete")]


def test_the_deployment_facts_cover_only_the_models_the_stack_deploys(project: tuple[Path, OciCredentials]) -> None:
    some = passing_dev(project, models=["preprocess", "classifier_onnx"])

    facts = some.one(SMOKE).inputs["deployment_facts"]
    assert set(facts["coverage"]) == set(facts["instance_groups"]) == {"preprocess", "classifier_onnx"}


def test_the_smoke_resource_carries_the_deployment_facts_the_policy_pack_judges(
    project: tuple[Path, OciCredentials],
) -> None:
    dev = passing_dev(project)
    smoke = dev.one(SMOKE).inputs

    facts = smoke["deployment_facts"]
    assert facts["target"] == {"kind": "oci", "shape": "VM.Standard.E4.Flex", "gpu_count": 0.0}
    assert set(facts["coverage"]) == {"preprocess", "classifier_onnx", "cnn_torch", "vision_ensemble"}
    assert rules.gpus_within_target(rules.SMOKE_TEST, smoke) == []
    assert rules.smoke_checks_values_within_budget(rules.SMOKE_TEST, smoke) == [
        "the group has no latency budget; set smoke.latency_budget_ms in the spec (a p99 in ms)"]
    budgeted = {**smoke, "deployment_facts": {**facts, "latency_budget_ms": 250.0}}
    assert rules.smoke_checks_values_within_budget(rules.SMOKE_TEST, budgeted) == []
    gpu = {**facts, "instance_groups": {**facts["instance_groups"],
                                        "cnn_torch": [{"kind": "KIND_GPU", "count": 1, "gpus": [0]}]}}
    assert rules.gpus_within_target(rules.SMOKE_TEST, {**smoke, "deployment_facts": gpu}) == [
        "model cnn_torch: a KIND_GPU instance group, but the oci target (shape VM.Standard.E4.Flex) has no GPU; "
        "use KIND_CPU or a GPU shape"]
