"""What Triton derives from a model's name, platform and backend: one owner for these rules, with no heavy import.

Every layer asks here: the spec (its models' effective backend), rendering, the validator, the OCI image (which
backends it needs) and the local runtime. Nothing here imports pydantic or the spec, so commands that read only
a repository folder (`build`, `validate` of a folder) stay fast to start.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from components._internal.schemas import mc

if TYPE_CHECKING:
    from components.core.plan import ModelPlan

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = (
    "must be 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-', "
    "so that it is valid as a Triton model folder and as an OCI inference key"
)

ENSEMBLE = "ensemble"

PLATFORM_BACKENDS: dict[str, str] = {
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
    "tensorflow_savedmodel": "tensorflow",
    "tensorflow_graphdef": "tensorflow",
    "tensorrt_plan": "tensorrt",
}
"""Triton's platforms and the backend each one runs on (`ensemble` has no backend)."""

DEFAULT_MODEL_FILENAMES: dict[str, str] = {
    "onnxruntime": "model.onnx",
    "pytorch": "model.pt",
    "tensorflow_savedmodel": "model.savedmodel",
    "tensorflow_graphdef": "model.graphdef",
    "tensorrt": "model.plan",
    "python": "model.py",
    "openvino": "model.xml",
}
"""The file (or folder) a version folder holds by default, per backend (TensorFlow: per platform)."""

SHIPPED_BACKENDS = frozenset({
    "onnxruntime", "pytorch", "tensorflow", "tensorrt", "tensorrtllm", "python", "openvino", "dali", "fil",
    "vllm", "identity", "repeat", "square",
})
"""Backends found in Triton's release containers; any other name must be a custom backend the image ships."""

CHECKED_BACKENDS = frozenset({"onnxruntime", "pytorch", "tensorflow", "tensorrt"})
"""Backends whose platform Triton cross-checks (model_config_utils.cc GetBackendType)."""


def backend_of(platform: str | None, backend: str | None) -> str:
    """The backend Triton runs a model with: `backend`, or the one `platform` implies ('' for none, an ensemble)."""
    return backend or PLATFORM_BACKENDS.get(platform or "", "")


def effective_backend(config: mc.ModelConfig) -> str:
    """`backend_of` a parsed config."""
    return backend_of(config.platform, config.backend)


def model_filename(config: mc.ModelConfig) -> str | None:
    """The file or folder Triton loads from a version folder of `config`, or None when the backend decides it alone.

    `default_model_filename` when set, else the TensorFlow platform's or the backend's default (the backend
    given, or the one its platform runs on).
    """
    if config.default_model_filename:
        return config.default_model_filename
    if config.platform in ("tensorflow_savedmodel", "tensorflow_graphdef"):
        return DEFAULT_MODEL_FILENAMES[config.platform]
    return DEFAULT_MODEL_FILENAMES.get(effective_backend(config))


def is_ensemble(config: mc.ModelConfig) -> bool:
    return config.platform == ENSEMBLE


def batching(config: mc.ModelConfig) -> bool:
    """Whether Triton adds a batch dimension in front of every tensor's dims."""
    return config.max_batch_size > 0


INFERRED_BACKENDS = (
    ("model.savedmodel", "tensorflow", "tensorflow_savedmodel"),
    ("model.graphdef", "tensorflow", "tensorflow_graphdef"),
    ("model.plan", "tensorrt", "tensorrt_plan"),
    ("model.onnx", "onnxruntime", "onnxruntime_onnx"),
    ("model.pt", "pytorch", "pytorch_libtorch"),
    ("model.py", "python", ""),
)
"""(file, backend, platform): what Triton fills in when a config names neither platform nor backend and a version
folder holds that file (core's backend auto-completion, which runs even with auto-complete disabled), in the
order it looks."""


def inferred_backend(model: ModelPlan) -> tuple[str, str, str] | None:
    """The (file, backend, platform) Triton picks for a config without platform and backend, from the version
    folders' files; None when it has either, or no version folder holds a file Triton recognizes."""
    config = model.config
    if config is None or config.platform or config.backend:
        return None
    versions = set(model.version_dirs())
    present = {path.split("/")[1] for path in (*model.files, *model.empty_dirs)
               if "/" in path and path.split("/")[0] in versions}
    return next((entry for entry in INFERRED_BACKENDS if entry[0] in present), None)
