"""Triton Python-backend model: HWC uint8 images -> CHW pixels scaled to [0, 1] and normalized.

`preprocess` is plain numpy, so generate.py computes this model's expected outputs with this very
code. `triton_python_backend_utils` exists only inside Triton's Python stub, so it is imported
where it is used rather than at the top of the module.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
"""Per-channel (R, G, B) normalization, applied after scaling to [0, 1]."""

INPUT_NAME = "IMAGE"
OUTPUT_NAME = "PIXELS"


def preprocess(images: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """[N, H, W, 3] uint8 images -> [N, 3, H, W] normalized pixels of `dtype`."""
    scaled = images.astype(np.float32) / np.float32(255.0)
    normalized = (scaled - MEAN) / STD
    return np.ascontiguousarray(normalized.transpose(0, 3, 1, 2), dtype=dtype)


class TritonPythonModel:
    """Preprocesses each request of a batch on its own; the output dtype comes from the model config."""

    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb_utils

        config = json.loads(args["model_config"])
        output = pb_utils.get_output_config_by_name(config, OUTPUT_NAME)
        self.output_dtype = pb_utils.triton_string_to_numpy(output["data_type"])

    def execute(self, requests: list[Any]) -> list[Any]:
        import triton_python_backend_utils as pb_utils

        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, INPUT_NAME).as_numpy()
            if images.ndim != 4 or images.shape[-1] != 3:
                error = pb_utils.TritonError(f"{INPUT_NAME} must be [batch, height, width, 3], got {images.shape}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            pixels = preprocess(images, self.output_dtype)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(OUTPUT_NAME, pixels)]))
        return responses
