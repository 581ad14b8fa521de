"""Serve ONNX and TorchScript models on the local tritonserver, which only has the Python backend.

For the local target only, each such model becomes a Python-backend model with the same name,
inputs, outputs, max_batch_size, batching, instance groups (on the CPU) and version folders: the
model file stays in its version folder and `shim_model.py` is added beside it as `model.py`, which
runs the file with onnxruntime or torch. The plan given is never changed (the OCI artifacts are
built from it); `shim_plan` returns a new plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from components._internal.schemas import mc
from components.core.plan import CONFIG_NAME, FileSource, ModelPlan, RepositoryPlan
from components.core.render import config_text

LOG = logging.getLogger("triton_groups.runtime")

RUNTIME_PARAMETER = "TRITON_GROUPS_SHIM_RUNTIME"
FILE_PARAMETER = "TRITON_GROUPS_SHIM_FILE"
SHIM_SOURCE = Path(__file__).with_name("shim_model.py")
PYTHON_MODEL_FILE = "model.py"

_RUNTIME_BY_PLATFORM = {"onnxruntime_onnx": "onnxruntime", "pytorch_libtorch": "torch"}
_RUNTIME_BY_BACKEND = {"onnxruntime": "onnxruntime", "pytorch": "torch"}
_DEFAULT_FILES = {"onnxruntime": "model.onnx", "torch": "model.pt"}


@dataclass(frozen=True)
class ShimResult:
    """The plan to serve locally, and the names of the models it serves through the shim (sorted)."""

    plan: RepositoryPlan
    shimmed: tuple[str, ...]


def shim_runtime(config: mc.ModelConfig | None) -> str | None:
    """`onnxruntime` or `torch` when the local server must run this model through the shim, else None."""
    if config is None:
        return None
    return _RUNTIME_BY_PLATFORM.get(config.platform) or _RUNTIME_BY_BACKEND.get(config.backend)


def shim_config(config: mc.ModelConfig, runtime: str) -> mc.ModelConfig:
    """A copy of `config` that runs on the Python backend: platform cleared, CPU instances, shim parameters."""
    shimmed = mc.ModelConfig()
    shimmed.CopyFrom(config)
    model_file = config.default_model_filename or _DEFAULT_FILES[runtime]
    shimmed.ClearField("platform")
    shimmed.ClearField("default_model_filename")
    shimmed.ClearField("runtime")
    shimmed.backend = "python"
    for group in shimmed.instance_group:
        group.kind = mc.ModelInstanceGroup.Kind.KIND_CPU
        group.ClearField("gpus")
    shimmed.optimization.ClearField("execution_accelerators")
    shimmed.parameters[RUNTIME_PARAMETER].string_value = runtime
    shimmed.parameters[FILE_PARAMETER].string_value = model_file
    return shimmed


def shim_model(model: ModelPlan, runtime: str) -> ModelPlan:
    """`model` as a Python-backend model: new config.pbtxt, and model.py added to every version folder."""
    assert model.config is not None
    config = shim_config(model.config, runtime)
    files = dict(model.files)
    files[CONFIG_NAME] = FileSource(data=config_text(config).encode())
    code = FileSource(data=SHIM_SOURCE.read_bytes())
    for version in model.version_dirs():
        files[f"{version}/{PYTHON_MODEL_FILE}"] = code
    empty = frozenset(d for d in model.empty_dirs if d not in model.version_dirs())
    return replace(model, files=dict(sorted(files.items())), config=config, empty_dirs=empty)


def shim_plan(plan: RepositoryPlan) -> ShimResult:
    """A new plan where every ONNX/TorchScript model runs through the shim; other models are shared as they are."""
    models: dict[str, ModelPlan] = {}
    shimmed: list[str] = []
    for name, model in plan.models.items():
        runtime = shim_runtime(model.config)
        if runtime is None:
            models[name] = model
            continue
        models[name] = shim_model(model, runtime)
        shimmed.append(name)
        LOG.info("model %s: served locally by the Python backend running %s on the CPU (no %s backend in the "
                 "local tritonserver)", name, runtime, model.config.platform or model.config.backend)
    return ShimResult(replace(plan, models=models), tuple(sorted(shimmed)))
