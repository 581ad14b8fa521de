"""What Triton derives from a config's platform and backend: the backend that runs it and the file it loads."""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from components.core.plan import ModelPlan

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
