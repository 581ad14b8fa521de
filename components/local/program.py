"""The local stack's program: the stack config read, the spec checked, one LocalTritonDeployment made.

Stack config (namespace `triton-groups`): `spec` (required; a path relative to the project),
`httpPort` (optional), `protocol` (http | grpc, default http), `stateDir` (optional, default
`.triton-groups/local/<stack>`). A missing or invalid setting, or an invalid spec, stops the program
with a one-line error naming the stack config key or the spec's problems, never a traceback.
The stack exports `modelContent`; the next preview or update reads it back through a StackReference to
this stack and logs one line per changed model ("model cnn_torch: 1/model.pt changed").
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.core.plan import load_plan
from components.core.problems import UserError, errors
from components.core.validate import validate_plan
from components.local.deployment import PROTOCOLS, LocalTritonDeployment, LocalTritonDeploymentArgs
from components.providers.diffing import CONTENT_OUTPUT, log_model_changes, previous_outputs
from components.providers.paths import portable_path, resolve_path
from components.providers.problems import run_error

NAMESPACE = "triton-groups"


def require_setting(config: pulumi.Config, key: str, example: str) -> str:
    """A required stack setting, or a RunError naming the key and where to set it."""
    value = config.get(key)
    if not value:
        raise pulumi.RunError(
            f"stack config {NAMESPACE}:{key} is not set; set it in stacks/Pulumi.{pulumi.get_stack()}.yaml "
            f"(e.g. `pulumi config set {NAMESPACE}:{key} {example}`)"
        )
    return value


def deploy_local(config: pulumi.Config) -> dict[str, pulumi.Input[Any]]:
    """Deploy the spec the stack config names on a local tritonserver; return the stack outputs to export."""
    spec_path = portable_path(require_setting(config, "spec", "examples/vision/group.yaml"))
    protocol = config.get("protocol") or "http"
    if protocol not in PROTOCOLS:
        raise pulumi.RunError(f"stack config {NAMESPACE}:protocol is {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    try:
        http_port = config.get_int("httpPort")
    except pulumi.ConfigTypeError:
        raise pulumi.RunError(f"stack config {NAMESPACE}:httpPort must be a port number") from None
    try:
        plan = load_plan(resolve_path(spec_path))
    except UserError as exc:
        raise run_error(exc, f"the spec {spec_path} (stack config {NAMESPACE}:spec) cannot be used") from None
    if plan.spec is None:
        raise pulumi.RunError(f"stack config {NAMESPACE}:spec is the folder {spec_path}; give a group spec (YAML): "
                              "its smoke cases test the deployment")
    problems = validate_plan(plan)
    for warning in (p for p in problems if not p.is_error):
        pulumi.log.warn(str(warning))
    if errors(problems):
        raise run_error(errors(problems), f"the spec {spec_path} is not valid")
    args = LocalTritonDeploymentArgs(spec_path, http_port=http_port, protocol=protocol,
                                     state_dir=config.get("stateDir"))
    deployment = LocalTritonDeployment(plan.spec.name, args)
    content = deployment.repository.content
    pulumi.Output.all(previous_outputs(), content).apply(
        lambda pair: log_model_changes(*pair, resource=deployment.repository)
    )
    return {
        "endpoint": deployment.endpoint,
        "endpoints": deployment.endpoints,
        "pid": deployment.pid,
        "artifacts": deployment.artifacts,
        "smoke_summary": deployment.smoke_summary,
        "smoke_report": deployment.smoke_report,
        "smoke_passed": deployment.smoke_passed,
        CONTENT_OUTPUT: content,
    }
