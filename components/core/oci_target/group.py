"""What the OCI side needs to know of a group's models, from a spec or from a repository plan alike.

A spec knows its models' backends and ensemble steps directly, except for models with a bring-your-own
config.pbtxt, which is read here; a plan (a spec's or a repository folder's) has every model's parsed config.
"""

from __future__ import annotations

from dataclasses import dataclass

from components._internal.schemas import mc
from components.core.plan import RepositoryPlan, brought_config, plan_from_spec
from components.core.spec import GroupSpec, ModelSpec
from components.core.triton import PLATFORM_BACKENDS

GroupSource = GroupSpec | RepositoryPlan
"""A group as the OCI functions accept it: a loaded spec, or a plan (from a spec or a repository folder)."""


@dataclass(frozen=True)
class InstanceGroupView:
    """One instance group of a model's config: its kind (`KIND_GPU`, ...) and the GPU ids it names."""

    kind: str
    gpus: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelView:
    """One model: its name (Triton folder and OCI inference key), backend (None for ensembles or when
    unknown), the models its ensemble steps call and its instance groups."""

    name: str
    backend: str | None
    steps: tuple[str, ...] = ()
    instance_groups: tuple[InstanceGroupView, ...] = ()


def model_views(source: GroupSource) -> list[ModelView]:
    """Every model of `source`, in the source's order."""
    if isinstance(source, GroupSpec):
        return [_spec_view(model, source) for model in source.models]
    return [_config_view(name, plan.config) for name, plan in source.models.items()]


def server_args(source: GroupSource) -> list[str]:
    """The spec's `server_args` ([] for a repository folder)."""
    spec = source if isinstance(source, GroupSpec) else source.spec
    return list(spec.server_args) if spec else []


def _spec_view(model: ModelSpec, spec: GroupSpec) -> ModelView:
    if model.config is None:
        steps = tuple(step.model for step in model.ensemble.steps) if model.ensemble else ()
        groups = tuple(InstanceGroupView(group.kind, tuple(group.gpus)) for group in model.instance_groups)
        return ModelView(model.name, model.effective_backend, steps, groups)
    return _config_view(model.name, brought_config(spec.resolve(model.config)))


def _config_view(name: str, config: mc.ModelConfig | None) -> ModelView:
    if config is None:
        return ModelView(name, None)
    backend = config.backend or PLATFORM_BACKENDS.get(config.platform)
    steps = tuple(step.model_name for step in config.ensemble_scheduling.step)
    groups = tuple(InstanceGroupView(mc.ModelInstanceGroup.Kind.Name(group.kind), tuple(group.gpus))
                   for group in config.instance_group)
    return ModelView(name, backend or None, steps, groups)


def as_plan(source: GroupSource) -> RepositoryPlan:
    """The repository plan of `source` (a spec's is rendered, which reads its files; a plan is itself)."""
    return plan_from_spec(source) if isinstance(source, GroupSpec) else source


def default_versions(source: GroupSource) -> dict[str, int]:
    """The version Triton serves for a request naming no version: the highest version folder its version
    policy loads (a model with none, or a config that does not parse, is left out)."""
    versions: dict[str, int] = {}
    for name, model in as_plan(source).models.items():
        found = [int(folder) for folder in model.version_dirs()]
        policy = model.config.version_policy if model.config is not None else None
        if policy is not None and policy.WhichOneof("policy_choice") == "specific":
            found = [version for version in found if version in set(policy.specific.versions)]
        if found:
            versions[name] = max(found)
    return versions
