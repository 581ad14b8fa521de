"""Large artifacts on the `dev` OCI stack under Pulumi mocks: upload, export, what waits for it, refresh.

An artifact above `artifact.inlineLimitMib` is uploaded to Object Storage and exported into its catalog
model, which was created with a small descriptor zip. The harness plays the catalog: a read of the model
(`datascience.get_model`, HeadModelArtifact) gives the exported zip's size and disposition once the export
ran, or the descriptor's when the harness plays a service that refuses the export. It also records an
upload's `source` as pulumi-oci does (path plus mtime, force-new).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from oci_stack_harness import (
    EXPORT,
    MODEL,
    MODEL_DEPLOYMENT,
    STORAGE_OBJECT,
    OciCredentials,
    OciStackHarness,
    oci_project,
    stack_config,
)

MODEL_GROUP = "oci:DataScience/modelGroup:ModelGroup"
STORAGE = {"bucket": "example-artifacts", "namespace": "exampletenancy"}
LARGE = {"inlineLimitMib": 1, "objectStorage": STORAGE}


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, OciCredentials]:
    project = oci_project(tmp_path)
    grow_past_one_mib(project[0])
    return project


def grow_past_one_mib(project: Path, text: str = "") -> None:
    """Pad the example's Python model with a comment (and `text`), so that its zip passes 1 MiB."""
    model = project / "examples" / "vision" / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "#" * 1024 * 1024 + f"\n{text}")


def large_harness(project: tuple[Path, OciCredentials], *, refuse_exports: bool = False, **changes: object
                  ) -> OciStackHarness:
    return OciStackHarness(stack_config(*project, artifact=LARGE, **changes), project=project[0],
                           refuse_exports=refuse_exports)


@pytest.mark.parametrize("layout", ["per-model", "single"])
def test_the_model_group_and_the_deployment_wait_for_the_export(
    project: tuple[Path, OciCredentials], layout: str
) -> None:
    harness = large_harness(project, layout=layout)
    harness.up()

    [export] = harness.registered(EXPORT)
    deployment = harness.one(MODEL_DEPLOYMENT)
    assert deployment.depends_on(export)
    if layout == "per-model":
        assert harness.one(MODEL_GROUP).depends_on(export)
        assert export.inputs["modelId"] == harness.resource("group-preprocess-model").id


def test_a_refresh_after_the_export_replaces_nothing(project: tuple[Path, OciCredentials]) -> None:
    harness = large_harness(project)
    harness.up()
    model = harness.resource("group-preprocess-model")
    zip_size = os.path.getsize(project[0] / harness.resource("group-preprocess-upload").inputs["source"])

    refreshed = harness.refresh(harness.read_back)

    assert "group-preprocess-model" in refreshed.updated
    read = harness.resource("group-preprocess-model").inputs
    assert read["artifactContentLength"] == str(zip_size) != model.inputs["artifactContentLength"]
    assert read["artifactContentDisposition"] != model.inputs["artifactContentDisposition"]
    preview = harness.preview()
    update = harness.up()
    assert "group-preprocess-model" in preview.unchanged and "group-preprocess-model" in update.unchanged
    assert preview.replaced == update.replaced == []
    assert harness.resource("group-preprocess-model").id == model.id


def test_new_content_still_replaces_the_exported_model(project: tuple[Path, OciCredentials]) -> None:
    harness = large_harness(project)
    harness.up()
    harness.refresh(harness.read_back)
    before = {name: harness.resource(name) for name in ("group-preprocess-model", "group-preprocess-upload")}
    grow_past_one_mib(project[0], "# retrained\n")

    update = harness.up()

    assert {"group-preprocess-model", "group-preprocess-upload", "group-group"} <= set(update.replaced)
    model = harness.resource("group-preprocess-model")
    assert model.id != before["group-preprocess-model"].id
    assert model.inputs["modelArtifact"] != before["group-preprocess-model"].inputs["modelArtifact"]
    upload = harness.resource("group-preprocess-upload")
    assert upload.inputs["object"] != before["group-preprocess-upload"].inputs["object"]
    assert harness.registrations["group-preprocess-upload"].delete_before_replace is True
    descriptors = sorted(path.name for path in (project[0] / ".triton-groups").rglob("*.descriptor.zip"))
    assert descriptors == [Path(model.inputs["modelArtifact"]).name], "the old descriptor is removed"


def test_an_export_the_service_refuses_fails_the_update_and_nothing_serves_the_descriptor(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = large_harness(project, refuse_exports=True)

    result = harness.up(check=False)

    message = str(result.error)
    assert message.startswith("catalog model vision-example/preprocess (group-preprocess-model-id) holds an artifact "
                              "of ")
    assert ("bytes after the export from oci://example-artifacts@exampletenancy/triton-groups/preprocess-"
            in message)
    assert "OCI did not take the export (pulumi-oci reports an export it refused, HTTP 409, as done)" in message
    assert "triton-groups:iam" in message and "triton-groups:artifact.inlineLimitMib" in message
    assert not [state for state in harness.state.values() if state.type in (MODEL_GROUP, MODEL_DEPLOYMENT)]


def test_an_upload_changes_only_when_its_bytes_change(project: tuple[Path, OciCredentials]) -> None:
    harness = large_harness(project)
    harness.up()
    upload = harness.resource("group-preprocess-upload")
    assert not Path(upload.inputs["source"]).is_absolute()
    assert not Path(upload.outputs["source"].rsplit(" ", 1)[0]).is_absolute()
    assert upload.inputs["object"].startswith("triton-groups/preprocess-")
    shutil.rmtree(project[0] / ".triton-groups")  # a fresh CI runner: the zip is rebuilt, same bytes, new mtime

    update = harness.up()

    assert "group-preprocess-upload" in update.unchanged
    assert update.replaced == [] and update.deleted == []
    rebuilt = project[0] / upload.inputs["source"]
    assert rebuilt.is_file() and f"{rebuilt.stat().st_mtime_ns}" not in upload.outputs["source"]
    assert harness.resource("group-preprocess-upload").id == upload.id


def test_the_model_on_the_inline_route_keeps_its_read_back_fields_compared(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = OciStackHarness(stack_config(*project), project=project[0])
    harness.up()

    registrations = harness.registered(MODEL)
    assert registrations and all(model.ignore_changes == () for model in registrations)
    assert harness.registered(STORAGE_OBJECT) == []
    assert harness.refresh(harness.read_back).updated == [], "what HeadModelArtifact gives is what was uploaded"


def test_the_descriptor_each_model_is_created_with_is_written_before_it_and_again_on_a_fresh_runner(
    project: tuple[Path, OciCredentials],
) -> None:
    harness = large_harness(project)
    harness.up()
    model = harness.resource("group-preprocess-model").inputs
    descriptor = project[0] / model["modelArtifact"]
    assert descriptor.name.endswith(".descriptor.zip")
    assert model["artifactContentLength"] == str(descriptor.stat().st_size)
    shutil.rmtree(project[0] / ".triton-groups")  # a fresh CI runner

    update = harness.up()

    assert "group-preprocess-model" in update.unchanged
    assert model["artifactContentLength"] == str(descriptor.stat().st_size)
