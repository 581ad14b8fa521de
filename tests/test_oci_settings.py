"""OCI stack settings: read from Pulumi config values or a stack file, every problem naming its key."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from components.core.oci_target.names import deployed_models, resource_names
from components.core.oci_target.settings import CONFIG_KEYS, OciSettings, load_stack_settings, read_settings
from components.core.problems import UserError
from components.core.spec import GroupSpec
from components.core.stack_settings import LocalSettings, check_settings, config_keys

DIGEST = "sha256:" + "ab" * 32


def stack_values(**changes: Any) -> dict[str, Any]:
    """The config values of a small valid OCI stack, as `pulumi.Config` gives them (bare keys)."""
    values: dict[str, Any] = {
        "target": "oci",
        "spec": "examples/vision/group.yaml",
        "compartmentId": "ocid1.compartment.oc1..aaaa",
        "projectId": "ocid1.datascienceproject.oc1.iad.aaaa",
        "image": {"name": "iad.ocir.io/tenancy/triton/vision:1.0.0", "digest": DIGEST},
        "deployment": {"shape": {"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGbs": 16}},
    }
    values.update(changes)
    return values


def problems_of(values: dict[str, Any], stack: str = "dev") -> list[str]:
    with pytest.raises(UserError) as raised:
        read_settings(values, stack)
    return [str(problem) for problem in raised.value.problems]


def test_a_minimal_stack_reads_with_defaults() -> None:
    settings = read_settings(stack_values(), "dev")
    assert settings.compartment_id == "ocid1.compartment.oc1..aaaa"
    assert settings.layout == "single"
    assert settings.deployment.server_port == settings.deployment.health_check_port == 8000
    assert settings.deployment.shape.memory_in_gbs == 16
    assert settings.deployment.scaling.policy_type == "FIXED_SIZE"
    assert settings.deployment.scaling.fixed_count == 1
    assert settings.deployment.nvidia_entrypoint is True
    assert settings.smoke.auth == "api_key"
    assert settings.smoke.headers.model_key == ("model-key",)
    assert settings.smoke.headers.model_name == ("model_name",)
    assert settings.smoke.headers.model_version == ("model_version",)
    assert settings.artifact.inline_limit_bytes == 2048 * 1024 * 1024
    assert settings.file == "stacks/Pulumi.dev.yaml"


def test_the_release_settings_mean_what_they_mean_on_a_local_stack() -> None:
    """release, promotesFrom, rollback (on by default) and production: one definition for both targets."""
    plain = read_settings(stack_values(), "dev")
    assert (plain.rollback, plain.release, plain.promotes_from, plain.production) == (True, None, None, False)
    promoting = read_settings(stack_values(release="releases/r.json", promotesFrom="staging", rollback="false",
                                           production="true"), "prod")
    assert (promoting.rollback, promoting.release, promoting.promotes_from, promoting.production) == (
        False, "releases/r.json", "staging", True)
    local = check_settings(LocalSettings, {"target": "local", "spec": "g.yaml", "release": "releases/r.json",
                                           "promotesFrom": "staging", "rollback": "false", "production": "true"},
                           "prod")
    shared = ("rollback", "release", "promotes_from", "production")
    assert [getattr(local, name) for name in shared] == [getattr(promoting, name) for name in shared]
    assert {f"triton-groups:{key}" for key in ("release", "promotesFrom", "rollback", "production")} <= {
        f"triton-groups:{key}" for key in CONFIG_KEYS} & set(config_keys(LocalSettings))
    assert problems_of(stack_values(rollback="sometimes")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:rollback: Input should be a valid boolean, unable to interpret input"]


def test_object_values_may_come_as_json_text_and_keys_with_the_namespace() -> None:
    values = {f"triton-groups:{key}": json.dumps(value) if isinstance(value, dict) else value
              for key, value in stack_values().items()}
    assert read_settings(values, "dev") == read_settings(stack_values(), "dev")


def test_the_config_keys_are_the_camel_case_names() -> None:
    assert {"compartmentId", "projectId", "regionKey", "deployment", "freeformTags"} <= set(CONFIG_KEYS)


def test_an_unknown_or_snake_case_key_is_reported_with_its_config_key() -> None:
    deployment = {"shape": {"instanceShapeName": "VM.GPU.A10.1"}, "server_port": 9000}
    found = problems_of(stack_values(deployment=deployment, logLevel="debug"))
    assert "stacks/Pulumi.dev.yaml: triton-groups:deployment.server_port: unknown key; remove it or check its " \
           "spelling (keys are camelCase)" in found
    assert any(p.startswith("stacks/Pulumi.dev.yaml: triton-groups:logLevel: unknown key") for p in found)


def test_a_missing_required_key_is_named() -> None:
    values = stack_values()
    del values["compartmentId"]
    assert problems_of(values) == ["stacks/Pulumi.dev.yaml: triton-groups:compartmentId: required; add it"]


def test_the_target_must_be_oci() -> None:
    assert problems_of(stack_values(target="local")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:target: these settings are for target: oci"]


def test_an_existing_image_needs_its_digest() -> None:
    found = problems_of(stack_values(image={"name": "iad.ocir.io/tenancy/triton/vision:1.0.0"}))
    assert len(found) == 1
    assert found[0].startswith("stacks/Pulumi.dev.yaml: triton-groups:image: image.digest is required")


def test_an_image_is_either_existing_or_built() -> None:
    build = {"repository": "triton/vision", "tag": "1", "baseImage": "nvcr.io/nvidia/tritonserver:24.08-py3",
             "username": "tenancy/jane"}
    both = {"name": "iad.ocir.io/tenancy/triton/vision:1.0.0", "digest": DIGEST, "build": build}
    assert "give either name and digest" in problems_of(stack_values(image=both))[0]
    assert "give either name and digest" in problems_of(stack_values(image={}))[0]
    settings = read_settings(stack_values(image={"build": build}, regionKey="IAD"), "dev")
    assert settings.image.build is not None and settings.image.build.platform == "linux/amd64"
    assert settings.ocir_image("tenancy") == "iad.ocir.io/tenancy/triton/vision:1"


def test_the_region_key_is_derived_from_the_region() -> None:
    assert read_settings(stack_values(region="us-ashburn-1"), "dev").ocir_registry == "iad.ocir.io"
    assert read_settings(stack_values(region="eu-frankfurt-1"), "dev").resolved_region_key == "fra"
    assert read_settings(stack_values(), "dev").ocir_registry is None


def test_a_project_is_existing_or_created_not_both() -> None:
    values = stack_values()
    del values["projectId"]
    assert problems_of(values) == ["stacks/Pulumi.dev.yaml: triton-groups:project: give projectId (an existing "
                                   "project) or project: {displayName} (to create one)"]
    created = read_settings({**values, "project": {"displayName": "vision"}}, "dev")
    assert created.project is not None and created.project.display_name == "vision"
    assert "give projectId" in problems_of({**stack_values(), "project": {"displayName": "vision"}})[0]


def test_scaling_is_fixed_or_autoscaling() -> None:
    auto = {"minInstances": 1, "maxInstances": 3}
    deployment = {"shape": {"instanceShapeName": "VM.GPU.A10.1"}, "scaling": {"autoscaling": auto}}
    scaling = read_settings(stack_values(deployment=deployment), "dev").deployment.scaling
    assert scaling.policy_type == "AUTOSCALING"
    assert scaling.autoscaling is not None and scaling.autoscaling.initial == 1
    assert scaling.autoscaling.cool_down_seconds == 300
    both = {**deployment, "scaling": {"instanceCount": 2, "autoscaling": auto}}
    assert problems_of(stack_values(deployment=both)) == [
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.scaling: give instanceCount (fixed size) or "
        "autoscaling, not both"]
    zero = {**deployment, "scaling": {"instanceCount": 0}}
    assert problems_of(stack_values(deployment=zero))[0].startswith(
        "stacks/Pulumi.dev.yaml: triton-groups:deployment.scaling.instanceCount: Input should be greater than")


def test_logging_is_existing_logs_or_created() -> None:
    created = read_settings(stack_values(logging={"create": True}), "dev")
    assert created.logging is not None and created.logging.create
    existing = {"logGroupId": "ocid1.loggroup.oc1.iad.a", "predictLogId": "ocid1.log.oc1.iad.b"}
    assert read_settings(stack_values(logging=existing), "dev").logging == created.logging.model_copy(
        update={"create": False, "log_group_id": "ocid1.loggroup.oc1.iad.a", "predict_log_id": "ocid1.log.oc1.iad.b"})
    assert "remove the log ids or create" in problems_of(stack_values(logging={"create": True, **existing}))[0]
    assert "give logGroupId" in problems_of(stack_values(logging={"predictLogId": "ocid1.log.oc1.iad.b"}))[0]
    assert "give accessLogId and/or predictLogId" in problems_of(
        stack_values(logging={"logGroupId": "ocid1.loggroup.oc1.iad.a"}))[0]


def test_routing_headers_take_a_name_or_a_list_of_names() -> None:
    headers = {"modelName": ["model_name", "model-name"], "modelVersion": "model-version", "modelKey": []}
    settings = read_settings(stack_values(smoke={"headers": headers}), "dev")
    assert settings.smoke.headers.model_name == ("model_name", "model-name")
    assert settings.smoke.headers.model_version == ("model-version",)
    assert settings.smoke.headers.model_key == ()
    found = problems_of(stack_values(smoke={"headers": {"modelName": "model name"}}))
    assert found == ["stacks/Pulumi.dev.yaml: triton-groups:smoke.headers.modelName: 'model name' is not a valid "
                     "HTTP header name"]


def test_the_ocir_token_is_named_never_read() -> None:
    build = {"repository": "triton/vision", "tag": "1", "baseImage": "nvcr.io/nvidia/tritonserver:24.08-py3",
             "username": "tenancy/jane"}
    settings = read_settings(stack_values(image={"build": build}, ocirToken="s3cr3t-token"), "dev")
    assert settings.image.build is not None and settings.image.build.token_config_key == "ocirToken"
    assert "s3cr3t-token" not in settings.model_dump_json()
    renamed = {**build, "tokenConfigKey": "registryPassword"}
    settings = read_settings(stack_values(image={"build": renamed}, registryPassword="s3cr3t-token"), "dev")
    assert "s3cr3t-token" not in settings.model_dump_json()
    assert problems_of(stack_values(image={"build": build}, registryPassword="s3cr3t-token")) == [
        "stacks/Pulumi.dev.yaml: triton-groups:registryPassword: unknown key; remove it or check its spelling "
        "(keys are camelCase)"]


def test_settings_are_immutable() -> None:
    settings = read_settings(stack_values(), "dev")
    with pytest.raises(ValidationError):
        settings.layout = "per-model"  # type: ignore[misc]


def test_a_stack_file_gives_line_numbers_and_its_secrets_stay_encrypted(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(textwrap.dedent(f"""\
        config:
          oci:region: us-ashburn-1
          triton-groups:target: oci
          triton-groups:spec: group.yaml
          triton-groups:compartmentId: ocid1.compartment.oc1..aaaa
          triton-groups:projectId: ocid1.datascienceproject.oc1.iad.aaaa
          triton-groups:ocirToken:
            secure: v1:AAAAencrypted
          triton-groups:image:
            name: iad.ocir.io/tenancy/triton/vision:1.0.0
            digest: {DIGEST}
          triton-groups:deployment:
            shape:
              instanceShapeName: VM.Standard.E4.Flex
              ocpus: -1
    """))
    with pytest.raises(UserError) as raised:
        load_stack_settings(stack)
    assert [str(p) for p in raised.value.problems] == [
        "stacks/Pulumi.dev.yaml:15: triton-groups:deployment.shape.ocpus: Input should be greater than 0"]
    stack.write_text(stack.read_text().replace("ocpus: -1", "ocpus: 2"))
    settings = load_stack_settings(stack)
    assert settings.deployment.shape.ocpus == 2
    assert settings.line("deployment", "shape", "ocpus") == 15
    problem = settings.problem(("image", "digest"), "a message", "oci.image_digest")
    assert str(problem) == "stacks/Pulumi.dev.yaml:11: triton-groups:image.digest: a message"


def vision_spec() -> GroupSpec:
    return GroupSpec.model_validate({"name": "vision", "models": [
        {"name": "pre", "backend": "python", "versions": {1: "pre.py"}},
        {"name": "classifier", "platform": "onnxruntime_onnx", "versions": {1: "c.onnx"}},
        {"name": "pipeline", "platform": "ensemble", "ensemble": {"steps": [
            {"model": "pre", "input_map": {"IN": "RAW"}, "output_map": {"OUT": "PIXELS"}},
            {"model": "classifier", "input_map": {"PIXELS": "PIXELS"}, "output_map": {"PROBS": "PROBS"}}]}},
    ]})


def test_resource_names_follow_the_group_and_the_layout() -> None:
    spec = vision_spec()
    single = resource_names(read_settings(stack_values(), "dev"), spec)
    assert (single.deployment, single.model_group, single.models) == (
        "vision", "vision-group", {"repository": "vision/repository"})
    assert single.log_group is single.project is None
    values = stack_values(layout="per-model", models=["pre", "classifier"], logging={"create": True})
    values["deployment"] = {**copy.deepcopy(values["deployment"]), "displayName": "Vision (prod)"}
    per_model = resource_names(read_settings(values, "dev"), spec)
    assert per_model.deployment == "Vision (prod)"
    assert per_model.models == {"pre": "vision/pre", "classifier": "vision/classifier"}
    assert (per_model.log_group, per_model.access_log, per_model.predict_log) == (
        "vision-logs", "vision-access", "vision-predict")


def test_deployed_models_are_the_listed_ones_or_all() -> None:
    spec = vision_spec()
    assert deployed_models(read_settings(stack_values(), "dev"), spec) == ["pre", "classifier", "pipeline"]
    assert deployed_models(read_settings(stack_values(models=["classifier"]), "dev"), spec) == ["classifier"]


def test_the_settings_model_documents_its_keys() -> None:
    schema = OciSettings.model_json_schema(by_alias=True)
    assert "compartmentId" in schema["properties"]
    assert "tokenConfigKey" in schema["$defs"]["ImageBuildSettings"]["properties"]
