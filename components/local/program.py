"""The local stack's program: the stack config read, the spec checked, one LocalTritonDeployment made.

The stack config is `components.core.stack_settings.LocalSettings` (spec, httpPort, protocol, stateDir,
rollback, release, promotesFrom, production). A missing or invalid setting, or an invalid spec, stops the
program with an error naming the stack file, the key or the spec's problems, never a traceback.
The stack exports `modelContent`; the next preview or update reads it back through a StackReference to
this stack and logs one line per changed model ("model cnn_torch: 1/model.pt changed").
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.core.content import case_digests, cases_digest
from components.core.facts import deployment_facts
from components.core.package import plan_content
from components.core.plan import load_plan
from components.core.problems import UserError, errors
from components.core.release import Built
from components.core.render import config_dicts
from components.core.stack_settings import CONFIG_NAMESPACE, LocalSettings, check_settings, config_keys
from components.core.validate import validate_plan
from components.core.validate.gpus import local_gpu_count
from components.local.deployment import LocalTritonDeployment, LocalTritonDeploymentArgs
from components.providers.diffing import CONTENT_OUTPUT, log_model_changes, previous_outputs
from components.providers.paths import portable_path, project_root, resolve_path
from components.providers.problems import run_error
from components.stacks.promotion import (
    PASSED_RELEASES_OUTPUT,
    checked_on_source_stack,
    gate_promotion,
    passed_releases,
    promotion_from,
)


def read_local_settings(config: pulumi.Config) -> LocalSettings:
    """The stack's `LocalSettings`, or a RunError naming the stack file and every key that is wrong."""
    stack = pulumi.get_stack()
    values = {key: config.get(key.removeprefix(f"{CONFIG_NAMESPACE}:")) for key in config_keys(LocalSettings)}
    try:
        return check_settings(LocalSettings, values, stack,
                              stack_file=project_root() / "stacks" / f"Pulumi.{stack}.yaml")
    except UserError as exc:
        raise run_error(exc, f"the stack config of {stack} cannot be used") from None


def deploy_local(config: pulumi.Config) -> dict[str, pulumi.Input[Any]]:
    """Deploy the spec the stack config names on a local tritonserver; return the stack outputs to export."""
    settings = read_local_settings(config)
    spec_path = portable_path(settings.spec)
    try:
        plan = load_plan(resolve_path(spec_path))
    except UserError as exc:
        raise run_error(exc, f"the spec {spec_path} (stack config {CONFIG_NAMESPACE}:spec) cannot be used") from None
    if plan.spec is None:
        raise pulumi.RunError(f"stack config {CONFIG_NAMESPACE}:spec is the folder {spec_path}; give a group spec "
                              "(YAML): its smoke cases test the deployment")
    problems = validate_plan(plan)
    for warning in (p for p in problems if not p.is_error):
        pulumi.log.warn(str(warning))
    if errors(problems):
        raise run_error(errors(problems), f"the spec {spec_path} is not valid")
    state_dir = portable_path(settings.state_dir or f".triton-groups/local/{pulumi.get_stack()}")
    content, repository_sha256 = plan_content(plan, resolve_path(state_dir) / "artifacts")
    promotion = promotion_from(settings.release, settings.promotes_from, project_root())
    spec_input: pulumi.Input[str] = spec_path
    if promotion is not None:
        gate_promotion(promotion, Built(plan.spec.name, content, repository_sha256))
        spec_input = checked_on_source_stack(promotion).apply(lambda _: spec_path)
    args = LocalTritonDeploymentArgs(
        spec_input, content=content, configs=config_dicts(plan), cases_sha256=cases_digest(plan.spec),
        cases=case_digests(plan.spec), state_dir=state_dir,
        deployment_facts=deployment_facts(plan, "local", None, local_gpu_count()), http_port=settings.http_port,
        protocol=settings.protocol, rollback=settings.rollback)
    deployment = LocalTritonDeployment(plan.spec.name, args)
    content = deployment.repository.content
    previous = previous_outputs()
    pulumi.Output.all(previous, content).apply(lambda pair: log_model_changes(*pair, resource=deployment.repository))
    return {
        "group": plan.spec.name,
        "release": promotion.release_file if promotion else None,
        "repository_sha256": deployment.repository.repository_sha256,
        PASSED_RELEASES_OUTPUT: pulumi.Output.all(previous, deployment.smoke_passed).apply(
            lambda pair: passed_releases(*pair)),
        "endpoint": deployment.endpoint,
        "endpoints": deployment.endpoints,
        "pid": deployment.pid,
        "artifacts": deployment.artifacts,
        "smoke_summary": deployment.smoke_summary,
        "smoke_report": deployment.smoke_report,
        "smoke_passed": deployment.smoke_passed,
        CONTENT_OUTPUT: content,
    }

