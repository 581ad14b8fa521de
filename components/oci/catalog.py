"""CatalogModel: one OCI model-catalog entry (`datascience.Model`) holding one Triton repository zip.

The artifact is an entry of `TritonModelRepository.artifacts`: `{name, path, sha256, size, models}`.
Its identity is its sha256, never its path or mtime: the sha256 is in the content disposition's
file name (a property OCI cannot update, so a new artifact replaces the Model and the preview says
"replace") and in the custom metadata, together with the Triton model names and the group name.

Artifacts above the inline upload limit go through Object Storage: the zip is uploaded as an
`objectstorage.StorageObject` named by its sha256 and copied into the catalog with
`datascience.ModelArtifactExport` (OCI's "export" is bucket -> catalog; "import" is the reverse).
pulumi-oci 5.5 requires an inline artifact on every Model, so such a Model is created with a
small descriptor zip (a JSON naming the object and its sha256) that the export then replaces. The
component writes nothing: the repository provider writes the descriptor beside the zip
(`TritonModelRepositoryArgs.descriptors`, `core.oci_target.descriptor`), and the component declares its path and size.
UNCONFIRMED without an OCI account: that the service accepts an export over an uploaded artifact.

That route is made to survive a `pulumi refresh` and to fail loudly:
- The Model's read writes back `artifactContentLength` and `artifactContentDisposition` from
  HeadModelArtifact, i.e. the exported zip's, not the descriptor's; both are force-new. So on this route
  they are `ignore_changes`, and the content identity moves to the descriptor's file name
  (`<artifact>-<sha256[:16]>.descriptor.zip`, `modelArtifact`, which the read leaves alone): new content is
  still a new (replaced) Model, a refresh replaces nothing.
- The export resource reports success even when the service refuses (the provider takes HTTP 409 as done,
  and its read checks nothing). So `model_id` is given out only after a read of the Model
  (`datascience.get_model`, after the export) shows the artifact's real size; otherwise the update fails
  with a message naming the model, the object and what to do.
- The upload is content-addressed: the object is named by the zip's sha256 (a new name replaces the
  object, never renames the old one), `source` is `ignore_changes` (the provider records it as path plus
  mtime, so a zip rebuilt to the same bytes on a fresh runner would replace it), the path given is relative
  to the project folder, never absolute, and a replacement deletes before it creates (no create-then-delete
  of one name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_oci as oci

from components.core.oci_target.descriptor import OBJECT_PREFIX, Route, descriptor_bytes, descriptor_path, object_name
from components.core.problems import Problem, UserError

ArtifactUpload = Literal["inline", "object_storage"]

METADATA_ARTIFACT_SHA256 = "TritonArtifactSha256"
METADATA_TRITON_MODELS = "TritonModels"
METADATA_GROUP = "TritonGroup"
REPLACING_PROPERTIES = ["modelArtifact", "artifactContentLength", "artifactContentDisposition"]
"""Model properties OCI cannot update: a change replaces the Model (said explicitly so previews show it)."""
READ_BACK_PROPERTIES = ["artifactContentLength", "artifactContentDisposition"]
"""What the Model's read writes back from HeadModelArtifact: after an export, the exported zip's values."""
OBJECT_METADATA_SHA256 = "triton-groups-sha256"


@dataclass(frozen=True)
class ObjectStorageUpload:
    """Where artifacts above the inline limit are uploaded before the catalog copies them."""

    bucket: str
    namespace: pulumi.Input[str]
    region: str
    prefix: str = OBJECT_PREFIX
    depends_on: tuple[pulumi.Resource, ...] = ()
    """What the export must wait for: the IAM policy letting the Data Science service read the bucket."""

    @property
    def route(self) -> Route:
        """What the descriptor of an artifact uploaded here records (`TritonModelRepositoryArgs.descriptors`)."""
        return {"bucket": self.bucket, "prefix": self.prefix}


@dataclass(frozen=True)
class CatalogPlacement:
    """Where a group's catalog entries go (compartment, project, the bucket for large artifacts), their tags, and
    whether they outlive the engine's deletes; the same for every catalog model and model group of a stack."""

    compartment_id: pulumi.Input[str]
    project_id: pulumi.Input[str]
    object_storage: ObjectStorageUpload | None = None
    freeform_tags: Mapping[str, str] | None = None
    keep_for_rollback: bool = False
    """Never deleted by the engine (`retain_on_delete`): a rollback may point the deployment back at it; the smoke
    test deletes it once a newer release has passed (components.core.oci_target.rollback)."""


@dataclass(frozen=True)
class CatalogModelArgs:
    """One artifact of a `TritonModelRepository`, and where its catalog entry goes.

    `artifact` is `{name, path, sha256, size, models}`; `upload` picks the route (decide it before
    the zip exists, from an upper bound of its size); the placement's `object_storage` is needed for that route.
    """

    placement: CatalogPlacement
    group_name: str
    artifact: pulumi.Input[Mapping[str, Any]]
    display_name: str
    description: str = ""
    upload: ArtifactUpload = "inline"


class CatalogModel(pulumi.ComponentResource):
    """A `datascience.Model` for one artifact. Outputs `model_id` (known once the artifact is in the catalog),
    `artifact_sha256`, `triton_models`; `ready` lists what a model group or deployment must wait for (the
    Model, and the export on the Object Storage route)."""

    model: oci.datascience.Model
    export: oci.datascience.ModelArtifactExport | None
    ready: list[pulumi.Resource]
    model_id: pulumi.Output[str]
    artifact_sha256: pulumi.Output[str]
    triton_models: pulumi.Output[list[str]]

    def __init__(self, name: str, args: CatalogModelArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.upload == "object_storage" and args.placement.object_storage is None:
            raise UserError(Problem("", "object_storage", f"{args.display_name}: the artifact is above the inline "
                                    "upload limit; give an Object Storage bucket for large artifacts",
                                    "oci.artifact.bucket"))
        super().__init__("triton-groups:oci:CatalogModel", name, None, opts)
        artifact = pulumi.Output.from_input(args.artifact)
        self.artifact_sha256 = artifact.apply(lambda a: str(a["sha256"]))
        self.triton_models = artifact.apply(lambda a: sorted(a["models"]))
        storage = args.placement.object_storage if args.upload == "object_storage" else None
        inline = artifact.apply(lambda a: _inline_file(a, storage))
        self.model = oci.datascience.Model(
            f"{name}-model",
            compartment_id=args.placement.compartment_id,
            project_id=args.placement.project_id,
            display_name=args.display_name,
            description=args.description or None,
            model_artifact=inline.apply(lambda file: file[0]),
            artifact_content_length=inline.apply(lambda file: str(file[1])),
            artifact_content_disposition=artifact.apply(_content_disposition),
            custom_metadata_lists=artifact.apply(lambda a: _metadata(a, args.group_name)),
            freeform_tags=args.placement.freeform_tags,
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=REPLACING_PROPERTIES,
                                        ignore_changes=READ_BACK_PROPERTIES if storage is not None else None,
                                        retain_on_delete=args.placement.keep_for_rollback or None),
        )
        self.export = None
        self.ready = [self.model]
        self.model_id = self.model.id
        if storage is not None:
            self.export = self._copy_through_object_storage(name, storage, artifact)
            self.ready.append(self.export)
            self.model_id = self._exported_model_id(args.display_name, storage, artifact)
        self.register_outputs({"model_id": self.model_id, "artifact_sha256": self.artifact_sha256,
                               "triton_models": self.triton_models})

    def _copy_through_object_storage(
        self, name: str, storage: ObjectStorageUpload, artifact: pulumi.Output[Mapping[str, Any]]
    ) -> oci.datascience.ModelArtifactExport:
        """Upload the zip to the bucket and export it into the Model, over the descriptor it was created with."""
        uploaded = oci.objectstorage.StorageObject(
            f"{name}-upload",
            bucket=storage.bucket,
            namespace=storage.namespace,
            object=artifact.apply(lambda a: _object_name(a, storage)),
            source=artifact.apply(lambda a: portable_source(str(a["path"]))),
            content_type="application/zip",
            metadata=artifact.apply(lambda a: {OBJECT_METADATA_SHA256: str(a["sha256"])}),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["source"], replace_on_changes=["object"],
                                        delete_before_replace=True),
        )
        return oci.datascience.ModelArtifactExport(
            f"{name}-export",
            artifact_source_type="ORACLE_OBJECT_STORAGE",
            model_id=self.model.id,
            namespace=storage.namespace,
            source_bucket=storage.bucket,
            source_object_name=uploaded.object,
            source_region=storage.region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[uploaded, *storage.depends_on]),
        )

    def _exported_model_id(
        self, display_name: str, storage: ObjectStorageUpload, artifact: pulumi.Output[Mapping[str, Any]]
    ) -> pulumi.Output[str]:
        """The Model's OCID once a read after the export shows the artifact's size in the catalog; fails the
        update when the catalog still holds another artifact (the descriptor: the service refused the export)."""
        assert self.export is not None
        read = oci.datascience.get_model_output(
            model_id=self.model.id, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self.export]))
        location = pulumi.Output.all(artifact, storage.namespace).apply(
            lambda values: f"oci://{storage.bucket}@{values[1]}/{_object_name(values[0], storage)}")
        return pulumi.Output.all(self.model.id, read, artifact, location).apply(
            lambda values: checked_export(values[0], values[1].artifact_content_length, int(values[2]["size"]),
                                          display_name, values[3]))


def checked_export(model_id: str, catalog_length: str | None, size: int, display_name: str, source: str) -> str:
    """`model_id` when the catalog's artifact has the exported zip's size; else pulumi.RunError saying what to do."""
    if catalog_length is not None and str(catalog_length).isdigit() and int(catalog_length) == size:
        return model_id
    raise pulumi.RunError(
        f"catalog model {display_name} ({model_id}) holds an artifact of {catalog_length or 'unknown'} bytes after "
        f"the export from {source}, not the {size} bytes of that zip: OCI did not take the export (pulumi-oci reports "
        "an export it refused, HTTP 409, as done). Check the IAM policy letting the Data Science service read the "
        "bucket (triton-groups:iam), then replace the model (`pulumi up --replace <its URN>`), or upload it inline "
        "by raising triton-groups:artifact.inlineLimitMib above its size")


def portable_source(path: str) -> str:
    """The upload's `source` as the state records it: relative to the working folder (the project folder the
    engine runs the program and its providers in), never an absolute path of this machine."""
    given = Path(path)
    return os.path.relpath(given) if given.is_absolute() else path


def _metadata(artifact: Mapping[str, Any], group_name: str) -> list[oci.datascience.ModelCustomMetadataListArgs]:
    """What a catalog entry records: the artifact's sha256, the Triton models it holds, the group."""
    entries = {
        METADATA_ARTIFACT_SHA256: (str(artifact["sha256"]), "sha256 of the artifact zip"),
        METADATA_TRITON_MODELS: (",".join(sorted(artifact["models"])), "Triton models in the artifact"),
        METADATA_GROUP: (group_name, "triton-groups group spec name"),
    }
    return [
        oci.datascience.ModelCustomMetadataListArgs(key=key, value=value, description=text, category="other")
        for key, (value, text) in entries.items()
    ]


def _content_disposition(artifact: Mapping[str, Any]) -> str:
    """The artifact's file name carries its sha256, so that new content is a new (replaced) Model."""
    return f'attachment; filename="{artifact["name"]}-{str(artifact["sha256"])[:16]}.zip"'


def _inline_file(artifact: Mapping[str, Any], storage: ObjectStorageUpload | None) -> tuple[str, int]:
    """The file a Model uploads inline and its size: the zip itself, or its descriptor when the zip goes through
    Object Storage (written by the repository provider; only its path and size are worked out here). Sizes cross
    the engine as floats; OCI takes an integer."""
    if storage is None:
        return str(artifact["path"]), int(artifact["size"])
    return descriptor_path(artifact), len(descriptor_bytes(artifact, storage.route))


def _object_name(artifact: Mapping[str, Any], storage: ObjectStorageUpload) -> str:
    return object_name(artifact, storage.prefix)
