"""The production rules of triton-groups, as plain functions over the engine's view of resources.

Each rule takes a resource's type and properties (as the policy engine passes them: pulumi-oci's in camelCase,
the dynamic resources' in snake_case) and returns the violations, one message each, naming the model, the
resource or the setting and what to do. No Pulumi or triton-groups import: the pack runs in its own
virtualenv (pulumi-policy pins an older protobuf than tritonclient needs), and the tests call these directly.
The facts about the group itself (smoke coverage, instance groups, the target's GPUs) come from the
`deployment_facts` the program records on the smoke-test resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MODEL_DEPLOYMENT = "oci:DataScience/modelDeployment:ModelDeployment"
SMOKE_TEST = "pulumi-python:dynamic/triton:InferenceSmokeTest"
MIN_PRODUCTION_INSTANCES = 2


def _path(props: Mapping[str, Any], *keys: str) -> Any:
    value: Any = props
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _deployment_config(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return _path(props, "modelDeploymentConfigurationDetails") or {}


def image_pinned_by_digest(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The Triton image is pinned by digest (`imageDigest` sha256:...), never a bare tag."""
    if resource_type != MODEL_DEPLOYMENT:
        return []
    environment = _path(_deployment_config(props), "environmentConfigurationDetails") or {}
    image, digest = environment.get("image") or "", environment.get("imageDigest") or ""
    if (isinstance(digest, str) and digest.startswith("sha256:")) or "@sha256:" in str(image):
        return []
    return [f"the image {image or '(none)'} is not pinned by digest; set triton-groups:image digest (sha256:...) "
            "so that every instance runs the very image that was tested"]


def _scaling_policy(config: Mapping[str, Any]) -> Mapping[str, Any]:
    for holder in ("infrastructureConfigurationDetails", "modelConfigurationDetails"):
        policy = _path(config, holder, "scalingPolicy")
        if isinstance(policy, Mapping):
            return policy
    return {}


def at_least_two_instances(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A production deployment runs at least two instances, or autoscales with a minimum of two."""
    if resource_type != MODEL_DEPLOYMENT:
        return []
    policy = _scaling_policy(_deployment_config(props))
    if policy.get("policyType") == "AUTOSCALING":
        minimums = [p.get("minimumInstanceCount") for p in policy.get("autoScalingPolicies") or []
                    if isinstance(p, Mapping)]
        if minimums and all(isinstance(m, int | float) and m >= MIN_PRODUCTION_INSTANCES for m in minimums):
            return []
        return [f"autoscaling has a minimum of {int(min(minimums, default=0))} instance(s); a production deployment "
                f"keeps at least {MIN_PRODUCTION_INSTANCES} (triton-groups:deployment "
                "scaling.autoscaling.minInstances)"]
    count = policy.get("instanceCount")
    if isinstance(count, int | float) and count >= MIN_PRODUCTION_INSTANCES:
        return []
    return [f"the deployment runs {int(count or 0)} instance(s); a production deployment runs at least "
            f"{MIN_PRODUCTION_INSTANCES} (triton-groups:deployment scaling.instanceCount) or autoscales from 2"]


def logs_enabled(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Access and predict logs are enabled, so that a production incident can be read back."""
    if resource_type != MODEL_DEPLOYMENT:
        return []
    logs = _path(props, "categoryLogDetails") or {}
    missing = [kind for kind in ("access", "predict") if not _path(logs, kind, "logId")]
    if not missing:
        return []
    return [f"the {' and '.join(missing)} log(s) are not enabled; set triton-groups:logging (create: true, or "
            "logGroupId, accessLogId and predictLogId) for a production deployment"]


def _facts(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if resource_type != SMOKE_TEST:
        return None
    facts = props.get("deployment_facts")
    return facts if isinstance(facts, Mapping) else None


def smoke_checks_values_within_budget(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every deployed model has a smoke case that checks values (not shape alone), and the run has a budget."""
    facts = _facts(resource_type, props)
    if facts is None:
        return []
    found = [
        f"model {model}: no smoke case checks values ({int(counts.get('cases', 0))} case(s), all `match: shape`); "
        "add a case with expected values (exact, allclose, argmax or top_k)"
        for model, counts in sorted((facts.get("coverage") or {}).items())
        if not counts.get("value_checks")
    ]
    if facts.get("latency_budget_ms") is None:
        found.append("the group has no latency budget; set smoke.latency_budget_ms in the spec (a p99 in ms)")
    return found


def gpus_within_target(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """KIND_GPU instance groups only where the target has GPUs, and `gpus` ids within its count."""
    facts = _facts(resource_type, props)
    if facts is None:
        return []
    target = facts.get("target") or {}
    if target.get("gpu_count") is None:
        return []
    count = int(target["gpu_count"])  # the engine passes numbers as floats
    where = f"the {target.get('kind', 'target')} target" + (f" (shape {target['shape']})" if target.get("shape")
                                                              else "")
    found = []
    for model, groups in sorted((facts.get("instance_groups") or {}).items()):
        for group in groups:
            if group.get("kind") == "KIND_GPU" and count == 0:
                found.append(f"model {model}: a KIND_GPU instance group, but {where} has no GPU; use KIND_CPU or a "
                             "GPU shape")
            beyond = [int(gpu) for gpu in group.get("gpus") or [] if gpu >= count]
            if beyond and count:
                found.append(f"model {model}: gpus {beyond} beyond the {count} GPU(s) of {where}")
    return found


def promotion_names_a_release(config: Mapping[str, str], production: bool) -> list[str]:
    """A production stack, and any stack that promotes, names the release it serves (triton-groups:release)."""
    if config.get("triton-groups:release"):
        return []
    if production or config.get("triton-groups:promotesFrom"):
        return ["this stack names no release; set triton-groups:release to a file made by `triton-groups release "
                "create` on the stack it promotes from (triton-groups:promotesFrom)"]
    return []


RESOURCE_RULES = {
    "image-pinned-by-digest": image_pinned_by_digest,
    "at-least-two-instances": at_least_two_instances,
    "access-and-predict-logs": logs_enabled,
    "smoke-checks-values-within-budget": smoke_checks_values_within_budget,
    "gpus-within-target": gpus_within_target,
}
"""Policy name -> rule over one resource; `promotion_names_a_release` is the stack-level rule."""
