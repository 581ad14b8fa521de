"""`triton-groups build SPEC --out DIR`: validates, then writes reproducible artifact zips and prints them."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from components.cli import main

SPEC = """\
name: tiny
models:
  - name: double
    backend: python
    versions: {1: double/model.py}
    max_batch_size: 4
    inputs: [{name: X, data_type: FP32, dims: [2]}]
    outputs: [{name: Y, data_type: FP32, dims: [2]}]
  - name: identity_onnx
    platform: onnxruntime_onnx
    versions: {1: identity.onnx}
    max_batch_size: 4
    inputs: [{name: X, data_type: FP32, dims: [2]}]
    outputs: [{name: Y, data_type: FP32, dims: [2]}]
"""
MODEL_PY = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "X").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("Y", (x * 2).astype(np.float32))]))
        return responses
"""


def write_spec(folder: Path) -> Path:
    """A group of two models: a Python-backend one and an ONNX identity built with onnx.helper."""
    (folder / "double").mkdir(parents=True)
    (folder / "double" / "model.py").write_text(MODEL_PY)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])],
        "identity",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, folder / "identity.onnx")
    spec = folder / "group.yaml"
    spec.write_text(SPEC)
    return spec


def run_build(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["build", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_build_prints_the_artifacts_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path / "group")
    out = tmp_path / "out"

    code, printed, errors = run_build(capsys, str(spec), "--out", str(out), "--json")

    assert (code, errors) == (0, "")
    result = json.loads(printed)
    assert sorted(result) == ["artifacts", "repository_sha256"]
    [artifact] = result["artifacts"]
    assert sorted(artifact) == ["files", "name", "path", "sha256", "size"]
    folder = spec.parent.resolve()
    assert artifact["files"] == [
        {"path": "double/1/model.py", "source": str(folder / "double" / "model.py")},
        {"path": "double/config.pbtxt", "source": f"rendered from {spec.resolve()}"},
        {"path": "identity_onnx/1/model.onnx", "source": str(folder / "identity.onnx")},
        {"path": "identity_onnx/config.pbtxt", "source": f"rendered from {spec.resolve()}"},
    ]
    zip_path = Path(artifact["path"])
    assert (artifact["name"], zip_path) == ("repository", out.absolute() / "repository.zip")
    assert artifact["sha256"] == hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert artifact["size"] == zip_path.stat().st_size
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        config = archive.read("identity_onnx/config.pbtxt").decode()
    assert names == [
        "double/", "double/1/", "double/1/model.py", "double/config.pbtxt",
        "identity_onnx/", "identity_onnx/1/", "identity_onnx/1/model.onnx", "identity_onnx/config.pbtxt",
        "repository.manifest.json",
    ]
    assert 'platform: "onnxruntime_onnx"' in config
    assert (out / ".hash-cache.json").is_file()


def test_the_same_spec_built_twice_prints_the_same_hashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path / "group")
    args = [str(spec), "--layout", "per-model", "--json", "--cache", str(tmp_path / "hashes.json")]

    first = json.loads(run_build(capsys, *args, "--out", str(tmp_path / "a"))[1])
    second = json.loads(run_build(capsys, *args, "--out", str(tmp_path / "b"))[1])

    assert [a["name"] for a in first["artifacts"]] == ["double", "identity_onnx"]
    assert [(a["name"], a["sha256"], a["size"]) for a in first["artifacts"]] == [
        (a["name"], a["sha256"], a["size"]) for a in second["artifacts"]
    ]
    assert first["repository_sha256"] == second["repository_sha256"]
    assert (tmp_path / "hashes.json").is_file()
    assert not (tmp_path / "a" / ".hash-cache.json").exists()


def test_build_without_json_prints_each_artifact_and_the_source_of_each_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path / "group")

    code, printed, _ = run_build(capsys, str(spec), "--out", str(tmp_path / "out"), "--layout", "per-model")

    lines = printed.splitlines()
    out, folder = tmp_path.absolute() / "out", spec.parent.resolve()
    assert code == 0
    assert [line.split()[0] for line in lines if not line.startswith(" ")][:2] == [
        str(out / "double.zip"), str(out / "identity_onnx.zip")
    ]
    assert lines[1:3] == [f"  double/1/model.py  <- {folder / 'double' / 'model.py'}",
                          f"  double/config.pbtxt  <- rendered from {spec.resolve()}"]
    assert lines[4:6] == [f"  identity_onnx/1/model.onnx  <- {folder / 'identity.onnx'}",
                          f"  identity_onnx/config.pbtxt  <- rendered from {spec.resolve()}"]
    assert lines[6].startswith("repository sha256:")


def test_an_out_that_is_a_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path / "group")
    taken = tmp_path / "taken"
    taken.write_text("not a folder")

    code, printed, errors = run_build(capsys, str(spec), "--out", str(taken))

    assert (code, printed) == (1, "")
    assert errors == f"{taken}: is not a folder; give a folder to write the artifacts in\n"
