"""What the OCI side needs to know of a group's models, from a spec or from a repository plan alike.

A spec knows its models' backends and ensemble steps directly, except for models with a bring-your-own
config.pbtxt, which is read here; a plan (a spec's or a repository folder's) has every model's parsed config.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import text_format

from components._internal.schemas import mc
from components.core.plan import RepositoryPlan
from components.core.render import parse_config
from components.core.spec import GroupSpec, ModelSpec
from components.core.triton import PLATFORM_BACKENDS

GroupSource = GroupSpec | RepositoryPlan
"""A group as the OCI functions accept it: a loaded spec, or a plan (from a spec or a repository folder)."""


@dataclass(frozen=True)
class ModelView:
    """One model: its name (Triton folder and OCI inference key), backend (None for ensembles or when
    unknown) and the models its ensemble steps call."""

    name: str
    backend: str | None
    steps: tuple[str, ...] = ()


def model_views(source: GroupSource) -> list[ModelView]:
    """Every model of `source`, in the source's order."""
    if isinstance(source, GroupSpec):
        return [_spec_view(model, source) for model in source.models]
    return [_config_view(name, plan.config) for name, plan in source.models.items()]


def server_args(source: GroupSource) -> list[str]:
    """The spec's `server_args` ([] for a repository folder)."""
    spec = source if isinstance(source, GroupSpec) else source.spec
    return list(spec.server_args) if spec else []


def group_name(source: GroupSource) -> str:
    """The spec's name, or the repository folder's name."""
    if isinstance(source, GroupSpec):
        return source.name
    return source.spec.name if source.spec else source.origin.name


def _spec_view(model: ModelSpec, spec: GroupSpec) -> ModelView:
    if model.config is None:
        steps = tuple(step.model for step in model.ensemble.steps) if model.ensemble else ()
        return ModelView(model.name, model.effective_backend, steps)
    try:
        config = parse_config(spec.resolve(model.config).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, text_format.ParseError):
        config = None
    return _config_view(model.name, config)


def _config_view(name: str, config: mc.ModelConfig | None) -> ModelView:
    if config is None:
        return ModelView(name, None)
    backend = config.backend or PLATFORM_BACKENDS.get(config.platform)
    steps = tuple(step.model_name for step in config.ensemble_scheduling.step)
    return ModelView(name, backend or None, steps)
