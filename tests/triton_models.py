"""Tiny Triton models and repositories written to a folder, shared by the tests.

Each writer makes real files Triton loads: a Python-backend add/sub model, a one-model Python repository,
an ONNX model computing X * factor + 1 and a TorchScript module returning (a * b, a - b).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from onnx import TensorProto, helper

PYTHON_CONFIG = """\
name: "m"
backend: "python"
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
"""
"""The config of `one_model_repository`'s model `m`: one FP32 input IN and one output OUT of 3 values."""

PYTHON_MODEL = "class TritonPythonModel:\n    pass\n"
"""The smallest Python-backend model file: it loads, and answers nothing."""

ADD_SUB_CONFIG = """\
name: "{name}"
backend: "python"
max_batch_size: 8
input {{ name: "A" data_type: TYPE_FP32 dims: [4] }}
input {{ name: "B" data_type: TYPE_FP32 dims: [4] }}
output {{ name: "SUM" data_type: TYPE_FP32 dims: [4] }}
output {{ name: "DIFF" data_type: TYPE_FP32 dims: [4] }}
instance_group {{ kind: KIND_CPU count: 1 }}
"""

SCALE_ONNX_CONFIG = """\
name: "scale_onnx"
platform: "onnxruntime_onnx"
max_batch_size: 8
input { name: "X" data_type: TYPE_FP32 dims: [4] }
output { name: "Y" data_type: TYPE_FP32 dims: [4] }
"""
"""The config of `write_scale_onnx`'s model served as `scale_onnx`."""

ADD_SUB_MODEL = """\
import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        time.sleep({startup_s})

    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "A").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "B").as_numpy()
            outputs = [pb_utils.Tensor("SUM", a + b), pb_utils.Tensor("DIFF", a - b)]
            responses.append(pb_utils.InferenceResponse(outputs))
        return responses
"""


def write_model(repo: Path, name: str, config: str, files: dict[str, str] | None = None) -> Path:
    """The model folder `repo/name` with `config` as config.pbtxt, an empty version 1 and `files` (relative paths)."""
    folder = repo / name
    (folder / "1").mkdir(parents=True, exist_ok=True)
    (folder / "config.pbtxt").write_text(config)
    for rel, text in (files or {}).items():
        (folder / rel).write_text(text)
    return folder


def one_model_repository(root: Path, config: str = PYTHON_CONFIG, files: dict[str, bytes] | None = None) -> Path:
    """A one-model repository `root/repo/m` holding `config` and `files` (default: a Python model); returns it."""
    model = root / "repo" / "m"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(config)
    for name, data in (files if files is not None else {"1/model.py": PYTHON_MODEL.encode()}).items():
        (model / name).write_bytes(data)
    return root / "repo"


def write_add_sub(repo: Path, name: str = "add_sub", startup_s: float = 0) -> Path:
    """A Python model `name` answering SUM = A + B and DIFF = A - B on [batch, 4] floats, after `startup_s` s of
    loading; returns its folder."""
    return write_model(repo, name, ADD_SUB_CONFIG.format(name=name),
                       {"1/model.py": ADD_SUB_MODEL.format(startup_s=startup_s)})


def write_scale_onnx(path: Path, factor: float = 2.0) -> Path:
    """An ONNX model computing Y = X * factor + 1 on a [batch, 4] float tensor."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["X", "factor"], ["scaled"]), helper.make_node("Add", ["scaled", "one"], ["Y"])],
        "scale",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor("factor", TensorProto.FLOAT, [], [factor]),
         helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


class MulDiff(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return a * b, a - b


def write_muldiff_torchscript(path: Path) -> Path:
    """A TorchScript module returning (a * b, a - b)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(MulDiff()).save(str(path))
    return path
