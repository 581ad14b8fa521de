"""The checks of a `target: oci` stack, run before any resource is registered.

`check_stack(config)` reads the stack config (`read_settings`), loads and validates the spec, runs the
core's pre-flight checks (`preflight`, `artifact_problems`) and decides each artifact's upload route
from an upper bound of its size. Any problem stops the program with a `pulumi.RunError` naming the
stack config key or the spec field (`run_error`: one line per problem, no traceback).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.core.oci_target.descriptor import OBJECT_PREFIX, Route
from components.core.oci_target.names import deployed_models
from components.core.oci_target.preflight import artifact_problems, preflight
from components.core.oci_target.settings import CONFIG_KEYS, CONFIG_NAMESPACE, OciSettings, read_settings
from components.core.package import artifact_size_bounds
from components.core.plan import RepositoryPlan, plan_from_spec
from components.core.problems import Problem, Severity, UserError, errors
from components.core.spec import GroupSpec, load_spec
from components.core.validate import validate_plan
from components.oci.catalog import ArtifactUpload
from components.providers.paths import project_root, resolve_path
from components.providers.problems import run_error


@dataclass(frozen=True)
class OciPlan:
    """Everything checked before any resource exists: the settings, the spec, the deployed models and the
    upload route of each artifact."""

    settings: OciSettings
    spec: GroupSpec
    plan: RepositoryPlan
    models: list[str]
    uploads: dict[str, ArtifactUpload]
    region: str | None
    """The region large artifacts are copied from: the stack's, else the OCI provider's (None when unknown)."""

    @property
    def descriptors(self) -> dict[str, Route] | None:
        """{artifact: {bucket, prefix}} of the artifacts uploaded through Object Storage, whose descriptor zips the
        repository provider writes (None when there are none)."""
        storage = self.settings.artifact.object_storage
        routes = {name: {"bucket": storage.bucket, "prefix": OBJECT_PREFIX}
                  for name, upload in self.uploads.items() if upload == "object_storage"} if storage else {}
        return routes or None


def check_stack(config: pulumi.Config) -> OciPlan:
    """Read and check everything the deployment needs; raise pulumi.RunError naming each problem."""
    stack = pulumi.get_stack()
    values = {key: config.get(key) for key in CONFIG_KEYS}
    stack_file = project_root() / "stacks" / f"Pulumi.{stack}.yaml"
    try:
        settings = read_settings(values, stack, stack_file=stack_file)
    except UserError as exc:
        raise run_error(exc, f"the stack config of {stack} cannot be used") from None
    spec_label = f"the spec {settings.spec} (stack config {CONFIG_NAMESPACE}:spec)"
    try:
        spec = load_spec(resolve_path(settings.spec))
    except UserError as exc:
        raise run_error(exc, f"{spec_label} cannot be used") from None
    plan = plan_from_spec(spec)
    invalid = errors(validate_plan(plan))
    if invalid:
        raise run_error(invalid, f"{spec_label} is not valid")
    problems = preflight(settings, spec)
    models = deployed_models(settings, spec)
    problems += _layout_problems(settings, spec, models)
    try:
        sizes = artifact_size_bounds(plan, settings.layout, [model for model in models if model in plan.models])
    except UserError as exc:
        raise run_error(exc, f"{spec_label} cannot be packaged") from None
    problems += artifact_problems(settings, sizes)
    limit = settings.artifact.inline_limit_bytes
    uploads: dict[str, ArtifactUpload] = {
        name: "object_storage" if size > limit else "inline" for name, size in sizes.items()
    }
    region = settings.region or pulumi.Config("oci").get("region")
    if "object_storage" in uploads.values() and region is None:
        problems.append(settings.problem(("region",), "large artifacts are copied into the model catalog from "
                                         "Object Storage in a region: give region (e.g. us-ashburn-1)",
                                         "oci.region"))
    for warning in (p for p in problems if p.severity is Severity.WARNING):
        pulumi.log.warn(str(warning))
    if errors(problems):
        raise run_error(errors(problems), f"the stack {stack} cannot be deployed")
    return OciPlan(settings, spec, plan, models, uploads, region)


def _layout_problems(settings: OciSettings, spec: GroupSpec, models: list[str]) -> list[Problem]:
    if settings.layout == "single" and sorted(models) != sorted(model.name for model in spec.models):
        return [settings.problem(("models",), "the single layout deploys the whole repository in one artifact; "
                                 "use layout: per-model to deploy some models only, or remove models",
                                 "oci.models_single_layout")]
    return []


