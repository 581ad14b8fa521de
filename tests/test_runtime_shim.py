"""The local shim: ONNX and TorchScript models become Python-backend models that run the same file on the CPU.

These tests need no server: they check the plan transformation and run the shim's runners directly.
Serving through the shim on the real tritonserver is tested in test_runtime_server.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from triton_models import PYTHON_MODEL, write_model, write_muldiff_torchscript, write_scale_onnx
from tritonclient.grpc import model_config_pb2 as mc

from components.core.plan import CONFIG_NAME, load_plan, materialize
from components.core.render import parse_config
from components.core.runtime.shim import FILE_PARAMETER, RUNTIME_PARAMETER, SHIM_SOURCE, shim_plan
from components.core.runtime.shim_model import OnnxRunner, TorchRunner, positional_order, run_batch

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

ONNX_CONFIG = """
name: "scale"
platform: "onnxruntime_onnx"
max_batch_size: 8
input { name: "X" data_type: TYPE_FP32 dims: [4] }
output { name: "Y" data_type: TYPE_FP32 dims: [4] }
instance_group { kind: KIND_GPU count: 2 gpus: [0] }
dynamic_batching { preferred_batch_size: [4] max_queue_delay_microseconds: 100 }
optimization { execution_accelerators { gpu_execution_accelerator { name: "tensorrt" } } }
"""

TORCH_CONFIG = """
name: "muldiff"
backend: "pytorch"
default_model_filename: "net.pt"
max_batch_size: 0
input { name: "INPUT__1" data_type: TYPE_FP32 dims: [3] }
input { name: "INPUT__0" data_type: TYPE_FP32 dims: [3] }
output { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [3] }
output { name: "OUTPUT__1" data_type: TYPE_FP32 dims: [3] }
"""

ECHO_CONFIG = """
name: "echo"
backend: "python"
max_batch_size: 0
input { name: "IN" data_type: TYPE_FP32 dims: [1] }
output { name: "OUT" data_type: TYPE_FP32 dims: [1] }
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write_scale_onnx(repo / "scale" / "1" / "model.onnx")
    write_scale_onnx(repo / "scale" / "2" / "model.onnx", factor=3.0)
    (repo / "scale" / CONFIG_NAME).write_text(ONNX_CONFIG)
    write_muldiff_torchscript(repo / "muldiff" / "1" / "net.pt")
    (repo / "muldiff" / CONFIG_NAME).write_text(TORCH_CONFIG)
    write_model(repo, "echo", ECHO_CONFIG, {"1/model.py": PYTHON_MODEL})
    return repo


def test_onnx_and_torch_models_are_shimmed_and_python_models_are_left_alone(repository: Path) -> None:
    plan = load_plan(repository)
    result = shim_plan(plan)
    assert result.shimmed == ("muldiff", "scale")
    assert result.plan.models["echo"] is plan.models["echo"]


def test_the_shim_config_keeps_the_model_contract_and_runs_on_python_on_the_cpu(repository: Path) -> None:
    original = load_plan(repository).models["scale"].config
    shimmed = shim_plan(load_plan(repository)).plan.models["scale"]
    config = shimmed.config
    assert config is not None and original is not None
    assert (config.backend, config.platform) == ("python", "")
    assert [(g.kind, list(g.gpus), g.count) for g in config.instance_group] == [(mc.ModelInstanceGroup.KIND_CPU, [], 2)]
    assert config.input == original.input and config.output == original.output
    assert config.max_batch_size == 8 and config.dynamic_batching == original.dynamic_batching
    assert not config.optimization.execution_accelerators.gpu_execution_accelerator
    assert config.parameters[RUNTIME_PARAMETER].string_value == "onnxruntime"
    assert config.parameters[FILE_PARAMETER].string_value == "model.onnx"
    assert parse_config(shimmed.files[CONFIG_NAME].read().decode()) == config


def test_the_model_file_stays_in_each_version_folder_with_the_shim_beside_it(repository: Path, tmp_path: Path) -> None:
    shimmed = shim_plan(load_plan(repository)).plan.models["scale"]
    assert sorted(shimmed.files) == ["1/model.onnx", "1/model.py", "2/model.onnx", "2/model.py", CONFIG_NAME]
    served = materialize(shim_plan(load_plan(repository)).plan, tmp_path / "served")
    assert (served / "scale" / "2" / "model.py").read_bytes() == SHIM_SOURCE.read_bytes()
    original = repository / "scale" / "2" / "model.onnx"
    assert (served / "scale" / "2" / "model.onnx").read_bytes() == original.read_bytes()


def test_a_backend_only_torch_config_keeps_its_model_file_name(repository: Path) -> None:
    config = shim_plan(load_plan(repository)).plan.models["muldiff"].config
    assert config is not None
    assert (config.backend, config.default_model_filename) == ("python", "")
    assert config.parameters[RUNTIME_PARAMETER].string_value == "torch"
    assert config.parameters[FILE_PARAMETER].string_value == "net.pt"


def test_the_original_plan_is_not_changed(repository: Path) -> None:
    plan = load_plan(repository)
    before = {name: (dict(model.files), model.config.SerializeToString()) for name, model in plan.models.items()
              if model.config is not None}
    shim_plan(plan)
    after = {name: (dict(model.files), model.config.SerializeToString()) for name, model in plan.models.items()
             if model.config is not None}
    assert after == before
    assert plan.models["scale"].config.platform == "onnxruntime_onnx"  # type: ignore[union-attr]


def test_shimmed_models_are_logged_by_name(repository: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="triton_groups.runtime"):
        shim_plan(load_plan(repository))
    messages = [r.getMessage() for r in caplog.records if r.name == "triton_groups.runtime"]
    assert any("model scale:" in m and "onnxruntime" in m for m in messages)
    assert any("model muldiff:" in m and "torch" in m for m in messages)
    assert not any("echo" in m for m in messages)


def test_the_onnx_runner_matches_tensors_by_name(tmp_path: Path) -> None:
    runner = OnnxRunner(str(write_scale_onnx(tmp_path / "m.onnx")), [{"name": "X"}], [{"name": "Y"}])
    out = runner.run({"X": np.arange(8, dtype=np.float32).reshape(2, 4)})
    np.testing.assert_array_equal(out["Y"], np.arange(8, dtype=np.float32).reshape(2, 4) * 2 + 1)


def test_the_onnx_runner_refuses_a_config_that_does_not_match_the_graph(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown inputs \['XX'\].*missing from the config \['X'\]"):
        OnnxRunner(str(write_scale_onnx(tmp_path / "m.onnx")), [{"name": "XX"}], [{"name": "Y"}])


def test_torch_tensors_follow_the_index_convention_not_the_config_order(tmp_path: Path) -> None:
    inputs = [{"name": "INPUT__1"}, {"name": "INPUT__0"}]
    assert [t["name"] for t in positional_order(inputs)] == ["INPUT__0", "INPUT__1"]
    assert [t["name"] for t in positional_order([{"name": "b"}, {"name": "a"}])] == ["b", "a"]
    runner = TorchRunner(str(write_muldiff_torchscript(tmp_path / "m.pt")), inputs,
                         [{"name": "OUTPUT__1"}, {"name": "OUTPUT__0"}])
    a, b = np.array([1, 2, 3], np.float32), np.array([4, 5, 6], np.float32)
    out = runner.run({"INPUT__1": b, "INPUT__0": a})
    np.testing.assert_array_equal(out["OUTPUT__0"], a * b)
    np.testing.assert_array_equal(out["OUTPUT__1"], a - b)


def test_a_batch_of_requests_runs_once_and_is_split_back(tmp_path: Path) -> None:
    runner = OnnxRunner(str(write_scale_onnx(tmp_path / "m.onnx")), [{"name": "X"}], [{"name": "Y"}])
    feeds = [{"X": np.full((n, 4), n, np.float32)} for n in (1, 3, 2)]
    answers = run_batch(runner, feeds)
    assert [a["Y"].shape for a in answers] == [(1, 4), (3, 4), (2, 4)]
    for n, answer in zip((1, 3, 2), answers, strict=True):
        np.testing.assert_array_equal(answer["Y"], np.full((n, 4), n * 2 + 1, np.float32))


def test_a_batch_whose_outputs_lose_the_batch_dimension_is_refused() -> None:
    class Summing:
        def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {"Y": feeds["X"].sum(axis=0)}

    with pytest.raises(ValueError, match="do not keep the batch dimension"):
        run_batch(Summing(), [{"X": np.ones((1, 4))}, {"X": np.ones((2, 4))}])  # type: ignore[arg-type]
