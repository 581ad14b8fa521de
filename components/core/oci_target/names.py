"""Which models a stack deploys, and the display names of the OCI resources it creates."""

from __future__ import annotations

from dataclasses import dataclass

from components.core.oci_target.group import GroupSource, model_views
from components.core.oci_target.settings import OciSettings
from components.core.package import REPOSITORY_ARTIFACT
from components.core.plan import group_name


def deployed_models(settings: OciSettings, source: GroupSource) -> list[str]:
    """The models the deployment serves: the stack's `models` (in its order) or every model of the group."""
    if settings.models is not None:
        return list(settings.models)
    return [view.name for view in model_views(source)]


@dataclass(frozen=True)
class ResourceNames:
    """Display names of the OCI resources of one stack. `models` maps each artifact (a model name, or
    `repository` for the single layout) to its catalog entry's name; the log names are None unless the
    stack creates its logs."""

    project: str | None
    deployment: str
    model_group: str
    models: dict[str, str]
    log_group: str | None
    access_log: str | None
    predict_log: str | None


def resource_names(settings: OciSettings, source: GroupSource) -> ResourceNames:
    """The names, from the group's name (a spec name is at most 64 safe characters, so generated names always
    meet OCI's display-name rule; the user-given ones are checked by `preflight`)."""
    group = group_name(source)
    if settings.layout == "single":
        models = {REPOSITORY_ARTIFACT: f"{group}/{REPOSITORY_ARTIFACT}"}
    else:
        models = {name: f"{group}/{name}" for name in deployed_models(settings, source)}
    created_logs = settings.logging is not None and settings.logging.create
    return ResourceNames(
        project=settings.project.display_name if settings.project else None,
        deployment=group if settings.deployment.display_name is None else settings.deployment.display_name,
        model_group=f"{group}-group",
        models=models,
        log_group=f"{group}-logs" if created_logs else None,
        access_log=f"{group}-access" if created_logs else None,
        predict_log=f"{group}-predict" if created_logs else None,
    )
