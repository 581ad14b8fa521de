"""The production policy pack (policies/): each rule with a passing and a failing resource, then for real.

The rules are plain functions (policies/rules.py), called here directly; the pack itself runs under the real
engine through `pulumi preview --policy-pack policies` on the local stack, in its own virtualenv (`make policies`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from processes import servers_using
from pulumi_engine import PROJECT, EngineProject

sys.path.insert(0, str(PROJECT / "policies"))
import rules

POLICIES = PROJECT / "policies"


def deployment(environment: dict[str, Any] | None = None, scaling: dict[str, Any] | None = None,
               logs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ModelDeployment's properties as the policy engine passes them (pulumi-oci, camelCase), MODEL_GROUP."""
    return {
        "modelDeploymentConfigurationDetails": {
            "deploymentType": "MODEL_GROUP",
            "environmentConfigurationDetails": environment or {
                "image": "ocid1.region.iad.ocir.io/ns/triton:24.08", "imageDigest": "sha256:" + "ab" * 32},
            "infrastructureConfigurationDetails": {"scalingPolicy": scaling or {"policyType": "FIXED_SIZE",
                                                                                "instanceCount": 2}},
        },
        "categoryLogDetails": logs if logs is not None else {"access": {"logId": "ocid1.log.a"},
                                                              "predict": {"logId": "ocid1.log.p"}},
    }


def smoke_test(coverage: dict[str, Any] | None = None, budget: float | None = 50.0,
               groups: dict[str, Any] | None = None, gpu_count: int | None = 0) -> dict[str, Any]:
    return {"deployment_facts": {
        "coverage": coverage or {"m": {"cases": 1, "value_checks": 1}},
        "latency_budget_ms": budget,
        "instance_groups": groups or {"m": [{"kind": "KIND_CPU", "count": 1, "gpus": []}]},
        "target": {"kind": "oci", "shape": "VM.Standard.E4.Flex", "gpu_count": gpu_count},
    }}


def test_the_image_must_be_pinned_by_digest() -> None:
    assert rules.image_pinned_by_digest(rules.MODEL_DEPLOYMENT, deployment()) == []
    tagged = deployment(environment={"image": "nvcr.io/nvidia/tritonserver:24.08-py3", "imageDigest": ""})
    assert rules.image_pinned_by_digest(rules.MODEL_DEPLOYMENT, tagged) == [
        "the image nvcr.io/nvidia/tritonserver:24.08-py3 is not pinned by digest; set triton-groups:image digest "
        "(sha256:...) so that every instance runs the very image that was tested"]
    assert rules.image_pinned_by_digest(rules.SMOKE_TEST, tagged) == []


def test_production_runs_two_instances_or_autoscales_from_two() -> None:
    assert rules.at_least_two_instances(rules.MODEL_DEPLOYMENT, deployment()) == []
    one = deployment(scaling={"policyType": "FIXED_SIZE", "instanceCount": 1})
    assert rules.at_least_two_instances(rules.MODEL_DEPLOYMENT, one)[0].startswith("the deployment runs 1 instance")
    autoscaling = {"policyType": "AUTOSCALING", "autoScalingPolicies": [{"minimumInstanceCount": 2}]}
    assert rules.at_least_two_instances(rules.MODEL_DEPLOYMENT, deployment(scaling=autoscaling)) == []
    autoscaling["autoScalingPolicies"][0]["minimumInstanceCount"] = 1
    assert rules.at_least_two_instances(rules.MODEL_DEPLOYMENT, deployment(scaling=autoscaling))[0].startswith(
        "autoscaling has a minimum of 1 instance(s)")


def test_access_and_predict_logs_must_be_enabled() -> None:
    assert rules.logs_enabled(rules.MODEL_DEPLOYMENT, deployment()) == []
    only_access = deployment(logs={"access": {"logId": "ocid1.log.a"}})
    assert rules.logs_enabled(rules.MODEL_DEPLOYMENT, only_access)[0].startswith("the predict log(s) are not enabled")


def test_every_model_has_a_value_checking_case_and_the_group_a_budget() -> None:
    assert rules.smoke_checks_values_within_budget(rules.SMOKE_TEST, smoke_test()) == []
    shape_only = smoke_test(coverage={"m": {"cases": 2, "value_checks": 0}}, budget=None)
    assert rules.smoke_checks_values_within_budget(rules.SMOKE_TEST, shape_only) == [
        "model m: no smoke case checks values (2 case(s), all `match: shape`); add a case with expected values "
        "(exact, allclose, argmax or top_k)",
        "the group has no latency budget; set smoke.latency_budget_ms in the spec (a p99 in ms)",
    ]


def test_gpu_instance_groups_only_where_the_target_has_gpus() -> None:
    gpu = {"m": [{"kind": "KIND_GPU", "count": 1, "gpus": [0, 2]}]}
    assert rules.gpus_within_target(rules.SMOKE_TEST, smoke_test()) == []
    assert rules.gpus_within_target(rules.SMOKE_TEST, smoke_test(groups=gpu, gpu_count=0)) == [
        "model m: a KIND_GPU instance group, but the oci target (shape VM.Standard.E4.Flex) has no GPU; use "
        "KIND_CPU or a GPU shape"]
    assert rules.gpus_within_target(rules.SMOKE_TEST, smoke_test(groups=gpu, gpu_count=2)) == [
        "model m: gpus [2] beyond the 2 GPU(s) of the oci target (shape VM.Standard.E4.Flex)"]
    assert rules.gpus_within_target(rules.SMOKE_TEST, smoke_test(groups=gpu, gpu_count=None)) == []


def test_a_production_or_promoting_stack_names_a_release() -> None:
    assert rules.promotion_names_a_release({"triton-groups:release": "releases/r.json"}, production=True) == []
    assert rules.promotion_names_a_release({}, production=False) == []
    assert rules.promotion_names_a_release({}, production=True)[0].startswith("this stack names no release")
    assert rules.promotion_names_a_release({"triton-groups:promotesFrom": "dev"}, production=False) != []


def policy_venv() -> Path:
    """The pack's virtualenv (`make policies`), made here if missing."""
    result = subprocess.run(["make", "-s", "-C", str(PROJECT), "policies"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return POLICIES / ".venv"


def shape_only_example(project: EngineProject) -> None:
    """The example group with cnn_torch's smoke cases reduced to a shape check."""
    spec_path = project.group / "group.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    for model in spec["models"]:
        if model["name"] == "cnn_torch":
            model["smoke"] = [{"name": "shape_only", "inputs": model["smoke"][0]["inputs"],
                               "expect": {"OUTPUT__0": {"match": "shape", "shape": [1, 10]}}}]
    spec["smoke"]["latency_budget_ms"] = 1000
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))


@pytest.mark.engine
def test_a_production_stack_whose_model_checks_no_value_fails_the_preview_naming_it(tmp_path: Path) -> None:
    policy_venv()
    project = EngineProject(tmp_path / "project", config={"triton-groups:production": "true"})
    shape_only_example(project)

    preview = project.run("preview", "--policy-pack", str(POLICIES), check=False)

    assert preview.returncode != 0
    assert "[mandatory]  smoke-checks-values-within-budget" in preview.output
    assert "model cnn_torch: no smoke case checks values (1 case(s), all `match: shape`)" in preview.output
    assert "[mandatory]  promotion-names-a-release" in preview.output
    assert servers_using(project.root) == []


@pytest.mark.engine
def test_elsewhere_the_same_rules_are_advisory_and_the_preview_succeeds(tmp_path: Path) -> None:
    policy_venv()
    project = EngineProject(tmp_path / "project")
    shape_only_example(project)

    preview = project.run("preview", "--policy-pack", str(POLICIES))

    assert preview.returncode == 0
    assert "[advisory]  smoke-checks-values-within-budget" in preview.output
    assert "model cnn_torch: no smoke case checks values" in preview.output
