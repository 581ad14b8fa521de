"""HeterogeneousModelGroup: one CatalogModel per Triton model, joined in a HETEROGENEOUS model group.

OCI model groups are immutable: a membership change (a model's artifact changed, so its catalog
Model was replaced) makes a new group. The group is replaced create-before-delete
(`delete_before_replace=False`, `replace_on_changes=["memberModelEntries"]`): the new group exists
first, the deployment (which depends on it) moves to it, and the engine deletes the old group last.
Every version is linked through one `ModelGroupVersionHistory`, created once and kept.
With `keep_for_rollback` the group and its catalog models are never deleted by the engine (`retain_on_delete`):
after a failed smoke test the deployment is pointed back at the previous group, which must still exist; the
smoke test deletes a superseded group once a newer release has passed (components.core.oci_target.rollback).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_oci as oci

from components.oci.catalog import ArtifactUpload, CatalogModel, CatalogModelArgs, CatalogPlacement

GROUP_TYPE = "HETEROGENEOUS"


@dataclass(frozen=True)
class HeterogeneousModelGroupArgs:
    """The group's Triton models (each one its own inference key) and their per-model artifacts.

    `artifacts` maps each model to its artifact, an entry of `TritonModelRepository.artifacts` built
    with layout "per-model" (`{name, path, sha256, size, models}`, holding that model only). `uploads`
    names the models whose artifact goes through Object Storage (default inline). Display names
    default to the group name for the group and `<group>/<model>` for each catalog model.
    """

    placement: CatalogPlacement
    group_name: str
    models: Sequence[str]
    artifacts: Mapping[str, pulumi.Input[Mapping[str, Any]]]
    description: str = ""
    display_name: str | None = None
    model_display_names: Mapping[str, str] = field(default_factory=dict)
    uploads: Mapping[str, ArtifactUpload] = field(default_factory=dict)


class HeterogeneousModelGroup(pulumi.ComponentResource):
    """Outputs `model_group_id`, `members` ({inference key: model OCID}) and `version_label`. The group waits
    for every member's `ready` resources (its Model and, for a large artifact, the export into it); `ready`
    lists them all, with the group last, for what serves the group."""

    catalog_models: dict[str, CatalogModel]
    ready: list[pulumi.Resource]
    model_group: oci.datascience.ModelGroup
    model_group_id: pulumi.Output[str]
    members: pulumi.Output[dict[str, str]]
    version_label: pulumi.Output[str]

    def __init__(
        self, name: str, args: HeterogeneousModelGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not args.models or len(set(args.models)) != len(args.models):
            raise ValueError(f"a model group needs distinct model names, got {list(args.models)}")
        if set(args.artifacts) != set(args.models):
            raise ValueError(f"give one artifact per model: models {sorted(args.models)}, "
                             f"artifacts {sorted(args.artifacts)}")
        super().__init__("triton-groups:oci:HeterogeneousModelGroup", name, None, opts)
        self.catalog_models = {
            model: CatalogModel(
                f"{name}-{model}",
                CatalogModelArgs(
                    placement=args.placement,
                    group_name=args.group_name,
                    artifact=args.artifacts[model],
                    display_name=args.model_display_names.get(model, f"{args.group_name}/{model}"),
                    description=f"Triton model {model} of group {args.group_name}",
                    upload=args.uploads.get(model, "inline"),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for model in args.models
        }
        self.ready = [resource for catalog in self.catalog_models.values() for resource in catalog.ready]
        history = oci.datascience.ModelGroupVersionHistory(
            f"{name}-history",
            compartment_id=args.placement.compartment_id,
            project_id=args.placement.project_id,
            display_name=args.group_name,
            description=f"versions of the triton-groups model group {args.group_name}",
            freeform_tags=args.placement.freeform_tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.members = pulumi.Output.all(
            *(catalog.model_id.apply(lambda model_id, key=key: (key, model_id))
              for key, catalog in self.catalog_models.items())
        ).apply(dict)
        self.version_label = pulumi.Output.all(
            *(catalog.artifact_sha256.apply(lambda sha, key=key: (key, sha))
              for key, catalog in self.catalog_models.items())
        ).apply(membership_label)
        self.model_group = oci.datascience.ModelGroup(
            f"{name}-group",
            compartment_id=args.placement.compartment_id,
            project_id=args.placement.project_id,
            create_type="CREATE",
            display_name=args.display_name or args.group_name,
            description=args.description or None,
            model_group_details=oci.datascience.ModelGroupModelGroupDetailsArgs(type=GROUP_TYPE),
            member_model_entries=oci.datascience.ModelGroupMemberModelEntriesArgs(
                member_model_details=[
                    oci.datascience.ModelGroupMemberModelEntriesMemberModelDetailArgs(
                        inference_key=key, model_id=catalog.model_id
                    )
                    for key, catalog in self.catalog_models.items()
                ]
            ),
            model_group_version_history_id=history.id,
            version_label=self.version_label,
            freeform_tags=args.placement.freeform_tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=self.ready,
                replace_on_changes=["memberModelEntries"],
                delete_before_replace=False,
                retain_on_delete=args.placement.keep_for_rollback or None,
            ),
        )
        self.ready = [*self.ready, self.model_group]
        self.model_group_id = self.model_group.id
        self.register_outputs({"model_group_id": self.model_group_id, "members": self.members,
                               "version_label": self.version_label})


def membership_label(members: Sequence[tuple[str, str]]) -> str:
    """A short, stable label of the membership: the same artifacts under the same keys give the same label."""
    text = "\n".join(f"{key}={sha}" for key, sha in sorted(members))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
