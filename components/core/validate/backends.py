"""What Triton derives from a config's platform and backend: the backend that runs it and the file it loads."""

from __future__ import annotations

from components._internal.schemas import mc

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


def batching(config: mc.ModelConfig) -> bool:
    """Whether Triton adds a batch dimension in front of every tensor's dims."""
    return config.max_batch_size > 0
