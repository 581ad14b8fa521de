"""What Triton derives from a config's platform and backend: the backend that runs it and the file it loads."""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from components.core.spec import DEFAULT_MODEL_FILENAMES, PLATFORM_BACKENDS

ENSEMBLE = "ensemble"

SHIPPED_BACKENDS = frozenset({
    "onnxruntime", "pytorch", "tensorflow", "tensorrt", "tensorrtllm", "python", "openvino", "dali", "fil",
    "vllm", "identity", "repeat", "square",
})
"""Backends found in Triton's release containers; any other name must be a custom backend the image ships."""

CHECKED_BACKENDS = frozenset({"onnxruntime", "pytorch", "tensorflow", "tensorrt"})
"""Backends whose platform Triton cross-checks (model_config_utils.cc GetBackendType)."""


def is_ensemble(config: mc.ModelConfig) -> bool:
    return config.platform == ENSEMBLE


def effective_backend(config: mc.ModelConfig) -> str:
    """The backend Triton runs the model with: `backend`, or the one implied by `platform` ('' if none)."""
    return config.backend or PLATFORM_BACKENDS.get(config.platform, "")


def model_filename(config: mc.ModelConfig) -> str | None:
    """The file or folder Triton loads from a version folder, or None when the backend decides it alone."""
    if config.default_model_filename:
        return config.default_model_filename
    if config.platform in ("tensorflow_savedmodel", "tensorflow_graphdef"):
        return DEFAULT_MODEL_FILENAMES[config.platform]
    return DEFAULT_MODEL_FILENAMES.get(effective_backend(config))


def batching(config: mc.ModelConfig) -> bool:
    """Whether Triton adds a batch dimension in front of every tensor's dims."""
    return config.max_batch_size > 0
