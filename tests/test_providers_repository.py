"""TritonModelRepository: artifacts rebuilt only when content changes, rebuilt to the same sha256 when missing."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from components.core.changes import model_changes
from components.core.package import plan_content
from components.core.plan import load_plan
from components.providers.repository import (
    ArtifactMismatch,
    TritonModelRepositoryProvider,
    ensure_artifacts,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vision"


@pytest.fixture
def group(tmp_path: Path) -> Path:
    """A copy of the example group that a test may edit; returns its spec path."""
    shutil.copytree(EXAMPLE, tmp_path / "vision", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "vision" / "group.yaml"


def inputs(spec: Path, out: Path, layout: str = "single") -> dict:
    """The inputs the resource sends its provider, content computed as the program does."""
    return {"spec_path": str(spec), "layout": layout, "out_dir": str(out),
            "content": plan_content(load_plan(spec), out)[0]}


def test_create_builds_artifacts_whose_manifest_is_the_content(group: Path, tmp_path: Path) -> None:
    props = inputs(group, tmp_path / "out")
    created = TritonModelRepositoryProvider().create(props)
    (artifact,) = created.outs["artifacts"]
    assert artifact["name"] == "repository"
    assert Path(artifact["path"]).is_file() and Path(artifact["path"]).stat().st_size == artifact["size"]
    assert sorted(artifact["models"]) == ["classifier_onnx", "cnn_torch", "preprocess", "vision_ensemble"]
    assert created.outs["manifest"] == props["content"]
    assert "1/model.onnx" in created.outs["manifest"]["classifier_onnx"]
    assert len(created.outs["repository_sha256"]) == 64


def test_diff_ignores_mtimes_and_sees_a_changed_model_file(group: Path, tmp_path: Path) -> None:
    provider = TritonModelRepositoryProvider()
    outs = provider.create(inputs(group, tmp_path / "out")).outs
    model = group.parent / "models" / "classifier_onnx" / "model.onnx"
    os.utime(model, (1, 1))
    assert provider.diff("id", outs, inputs(group, tmp_path / "out")).changes is False

    model.write_bytes(model.read_bytes() + b"\0")
    news = inputs(group, tmp_path / "out")
    assert provider.diff("id", outs, news).changes is True
    changes = model_changes(outs["content"], news["content"])
    assert [change.describe() for change in changes] == ["model classifier_onnx: 1/model.onnx changed"]
    updated = provider.update("id", outs, news).outs
    assert updated["repository_sha256"] != outs["repository_sha256"]


def test_a_layout_change_rebuilds_one_zip_per_model(group: Path, tmp_path: Path) -> None:
    provider = TritonModelRepositoryProvider()
    outs = provider.create(inputs(group, tmp_path / "out")).outs
    news = inputs(group, tmp_path / "out", layout="per-model")
    assert provider.diff("id", outs, news).changes is True
    per_model = provider.update("id", outs, news).outs
    assert sorted(a["name"] for a in per_model["artifacts"]) == sorted(outs["manifest"])
    assert per_model["repository_sha256"] == outs["repository_sha256"]


def test_a_missing_artifact_is_no_change_and_is_rebuilt_to_the_same_sha256(group: Path, tmp_path: Path) -> None:
    provider = TritonModelRepositoryProvider()
    outs = provider.create(inputs(group, tmp_path / "out")).outs
    (artifact,) = outs["artifacts"]
    shutil.rmtree(tmp_path / "out")  # a CI runner starts with an empty folder

    assert provider.read("id", outs).outs == outs
    assert provider.diff("id", outs, inputs(group, tmp_path / "out")).changes is False
    (path,) = ensure_artifacts(outs["spec_path"], outs["layout"], outs["out_dir"], outs["artifacts"])
    assert path == Path(artifact["path"]) and path.stat().st_size == artifact["size"]


def test_ensure_artifacts_refuses_a_rebuild_that_differs_from_the_state(group: Path, tmp_path: Path) -> None:
    outs = TritonModelRepositoryProvider().create(inputs(group, tmp_path / "out")).outs
    Path(outs["artifacts"][0]["path"]).unlink()
    (group.parent / "models" / "preprocess" / "model.py").write_text("# edited since the deployment\n")
    with pytest.raises(ArtifactMismatch, match="changed since"):
        ensure_artifacts(outs["spec_path"], outs["layout"], outs["out_dir"], outs["artifacts"])


def test_check_rejects_an_unknown_layout(group: Path, tmp_path: Path) -> None:
    checked = TritonModelRepositoryProvider().check({}, {**inputs(group, tmp_path / "out"), "layout": "zip"})
    assert [(f.property, f.reason) for f in checked.failures] == [
        ("layout", "layout is one of single, per-model, not 'zip'")
    ]


def test_delete_removes_the_recorded_artifacts(group: Path, tmp_path: Path) -> None:
    provider = TritonModelRepositoryProvider()
    outs = provider.create(inputs(group, tmp_path / "out")).outs
    provider.delete("id", outs)
    assert not Path(outs["artifacts"][0]["path"]).exists()




ROUTE = {"bucket": "artifacts", "prefix": "triton-groups"}


def test_the_descriptor_of_an_object_storage_artifact_is_written_by_the_provider(group: Path, tmp_path: Path) -> None:
    provider = TritonModelRepositoryProvider()
    outs = provider.create({**inputs(group, tmp_path / "out"), "descriptors": {"repository": ROUTE}}).outs
    (artifact,) = outs["artifacts"]
    descriptor = Path(artifact["path"]).with_name(f"repository-{artifact['sha256'][:16]}.descriptor.zip")

    with zipfile.ZipFile(descriptor) as archive:
        assert archive.namelist() == ["triton-groups-artifact.json"]
        assert json.loads(archive.read("triton-groups-artifact.json")) == {
            "artifact": "repository", "sha256": artifact["sha256"], "size": artifact["size"],
            "models": ["classifier_onnx", "cnn_torch", "preprocess", "vision_ensemble"],
            "object": f"triton-groups/repository-{artifact['sha256']}.zip", "bucket": "artifacts"}
    shutil.rmtree(tmp_path / "out")  # a fresh CI runner: the zip and its descriptor are written again
    ensure_artifacts(outs["spec_path"], outs["layout"], outs["out_dir"], outs["artifacts"], outs["descriptors"])
    assert descriptor.is_file()
    provider.delete("id", outs)
    assert not descriptor.exists()


def test_a_new_bucket_rewrites_the_descriptor_and_none_is_written_without_one(group: Path, tmp_path: Path) -> None:
    provider = TritonModelRepositoryProvider()
    outs = provider.create(inputs(group, tmp_path / "out")).outs
    assert list((tmp_path / "out").glob("*.descriptor.zip")) == []

    news = {**inputs(group, tmp_path / "out"), "descriptors": {"repository": {**ROUTE, "bucket": "other"}}}
    assert provider.diff("id", outs, news).changes is True
    provider.update("id", outs, news)
    (descriptor,) = (tmp_path / "out").glob("*.descriptor.zip")
    with zipfile.ZipFile(descriptor) as archive:
        assert json.loads(archive.read("triton-groups-artifact.json"))["bucket"] == "other"
