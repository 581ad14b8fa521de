"""Python-backend model that runs an ONNX or TorchScript file on the CPU, for the local tritonserver only.

The local server (from the nvidia-pytriton wheel) has no onnxruntime or pytorch backend. The shim
(`components.core.runtime.shim`) copies this file as `model.py` into every version folder of such a
model, beside the unchanged model file, and points to that file with two config parameters:
TRITON_GROUPS_SHIM_RUNTIME (`onnxruntime` or `torch`) and TRITON_GROUPS_SHIM_FILE (its name).

This file runs inside Triton's Python stub: it imports nothing from triton-groups, and imports
Triton's `triton_python_backend_utils` only when Triton initializes it (the runners work without it).
Semantics follow Triton's own backends: ONNX tensors are matched by name; TorchScript inputs and
outputs go by position, either the `<name>__<index>` convention or the config order. When
max_batch_size > 0, the requests of one batch are concatenated along the first axis, run once and
split again.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

RUNTIME_PARAMETER = "TRITON_GROUPS_SHIM_RUNTIME"
FILE_PARAMETER = "TRITON_GROUPS_SHIM_FILE"
INDEXED_NAME = re.compile(r"^.+__(\d+)$")


def _parameter(config: dict, key: str) -> str:
    value = config.get("parameters", {}).get(key, {}).get("string_value")
    if not value:
        raise ValueError(f"shim config has no parameter {key}")
    return value


def positional_order(tensors: list[dict]) -> list[dict]:
    """Tensors in the order TorchScript sees them: by `__<index>` suffix when all have one, else config order."""
    matches = [INDEXED_NAME.match(t["name"]) for t in tensors]
    if tensors and all(matches):
        indexes = {t["name"]: int(m.group(1)) for t, m in zip(tensors, matches, strict=True) if m}
        return sorted(tensors, key=lambda t: indexes[t["name"]])
    return list(tensors)


def stackable(feeds: list[dict[str, np.ndarray]]) -> bool:
    """True when the requests carry the same inputs with the same shapes past the batch dimension."""
    first = feeds[0]
    return all(
        feed.keys() == first.keys() and all(feed[n].shape[1:] == first[n].shape[1:] for n in first)
        for feed in feeds[1:]
    )


def run_batch(runner: OnnxRunner | TorchRunner, feeds: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Run several requests at once: concatenate along the batch axis, run once, split the outputs back."""
    sizes = [len(next(iter(feed.values()))) if feed else 0 for feed in feeds]
    joined = {name: np.concatenate([feed[name] for feed in feeds]) for name in feeds[0]}
    results = runner.run(joined)
    uneven = sorted(name for name, array in results.items() if len(array) != sum(sizes))
    if uneven:
        raise ValueError(f"outputs {uneven} do not keep the batch dimension of the inputs ({sum(sizes)})")
    bounds = np.cumsum(sizes)[:-1]
    split = {name: np.split(array, bounds) for name, array in results.items()}
    return [{name: parts[i] for name, parts in split.items()} for i in range(len(feeds))]


class OnnxRunner:
    """An ONNX file in onnxruntime on the CPU; checks at load that the config's tensors match the graph's."""

    def __init__(self, path: str, inputs: list[dict], outputs: list[dict]) -> None:
        import onnxruntime

        if os.path.isdir(path):
            path = os.path.join(path, "model.onnx")
        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        model_inputs = {i.name for i in self.session.get_inputs()}
        model_outputs = {o.name for o in self.session.get_outputs()}
        unknown_inputs = sorted({t["name"] for t in inputs} - model_inputs)
        unknown_outputs = sorted({t["name"] for t in outputs} - model_outputs)
        missing = sorted(model_inputs - {t["name"] for t in inputs})
        if unknown_inputs or unknown_outputs or missing:
            raise ValueError(
                f"config does not match {os.path.basename(path)}: unknown inputs {unknown_inputs}, "
                f"unknown outputs {unknown_outputs}, model inputs missing from the config {missing}; "
                f"the model has inputs {sorted(model_inputs)} and outputs {sorted(model_outputs)}"
            )
        self.output_names = [t["name"] for t in outputs]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, results, strict=True))


class TorchRunner:
    """A TorchScript file in torch on the CPU; tensors passed and returned by position."""

    def __init__(self, path: str, inputs: list[dict], outputs: list[dict]) -> None:
        import torch

        self.torch = torch
        self.module = torch.jit.load(path, map_location="cpu")
        self.module.eval()
        self.input_names = [t["name"] for t in positional_order(inputs)]
        self.output_names = [t["name"] for t in positional_order(outputs)]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        missing = [name for name in self.input_names if name not in feeds]
        if missing:
            raise ValueError(f"TorchScript models take every input by position; missing {missing}")
        args = [torch.from_numpy(feeds[n] if feeds[n].flags.writeable else feeds[n].copy()) for n in self.input_names]
        with torch.inference_mode():
            result = self.module(*args)
        if isinstance(result, torch.Tensor):
            result = (result,)
        if not isinstance(result, (tuple, list)) or len(result) < len(self.output_names):
            raise ValueError(f"the module returned {type(result).__name__}, expected {len(self.output_names)} tensors")
        return {name: tensor.detach().cpu().numpy() for name, tensor in zip(self.output_names, result, strict=False)}


class TritonPythonModel:
    """Runs the model file named by the shim parameters; one runner per model instance."""

    def initialize(self, args: dict) -> None:
        import triton_python_backend_utils

        self.pb = triton_python_backend_utils
        config = json.loads(args["model_config"])
        runtime = _parameter(config, RUNTIME_PARAMETER)
        path = os.path.join(args["model_repository"], args["model_version"], _parameter(config, FILE_PARAMETER))
        if not os.path.exists(path):
            raise FileNotFoundError(f"model file {path} not found")
        inputs, outputs = config.get("input", []), config.get("output", [])
        runners = {"onnxruntime": OnnxRunner, "torch": TorchRunner}
        if runtime not in runners:
            raise ValueError(f"unknown shim runtime {runtime!r}")
        self.runner = runners[runtime](path, inputs, outputs)
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.input_names = [t["name"] for t in inputs]
        self.output_types = {t["name"]: self.pb.triton_string_to_numpy(t["data_type"]) for t in outputs}

    def execute(self, requests: list) -> list:
        feeds = [self._feeds(request) for request in requests]
        if self.batched and len(requests) > 1 and stackable(feeds):
            try:
                return [self._response(results) for results in run_batch(self.runner, feeds)]
            except Exception:
                pass  # run the requests one by one below, so each gets its own answer or error
        responses = []
        for feed in feeds:
            try:
                responses.append(self._response(self.runner.run(feed)))
            except Exception as exc:
                responses.append(self._error(exc))
        return responses

    def _feeds(self, request) -> dict[str, np.ndarray]:
        found = {}
        for name in self.input_names:
            tensor = self.pb.get_input_tensor_by_name(request, name)
            if tensor is not None:
                found[name] = tensor.as_numpy()
        return found

    def _response(self, results: dict[str, np.ndarray]):
        tensors = [
            self.pb.Tensor(name, np.ascontiguousarray(array).astype(self.output_types[name], copy=False))
            for name, array in results.items()
        ]
        return self.pb.InferenceResponse(output_tensors=tensors)

    def _error(self, exc: Exception):
        return self.pb.InferenceResponse(error=self.pb.TritonError(f"{type(exc).__name__}: {exc}"))
