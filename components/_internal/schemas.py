"""The protobuf schemas the project reads, loaded from their generated modules without the libraries around them.

- `mc`: Triton's model configuration (tritonclient's `model_config_pb2`). `from tritonclient.grpc import
  model_config_pb2` first runs `tritonclient.grpc`'s `__init__`, which imports grpc, numpy, ml_dtypes and the
  whole gRPC client: about 0.2 s on every command and Pulumi run, although the schema needs only protobuf.
- `onnx_pb`: the ONNX model format (onnx's `onnx_ml_pb2`). `import onnx` imports numpy and onnx's helpers
  (about 0.15 s); reading a graph's inputs and outputs needs only `ModelProto`.
Each generated file is loaded by its path, under its own module name, once; a later import of the library (the
smoke tests' client, onnxruntime's shim) finds it in `sys.modules` and reuses it, so there is one descriptor
pool entry and one class per message. Every module of the project takes the schemas from here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_generated(module: str, distribution: str, relative: str) -> ModuleType:
    """The generated module `module`, from `relative` inside the installed package `distribution`."""
    loaded = sys.modules.get(module)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec(distribution)
    if package is None or package.origin is None:
        raise ImportError(f"{distribution} is not installed; reinstall the project (`make venv`)")
    spec = importlib.util.spec_from_file_location(module, Path(package.origin).parent / relative)
    if spec is None or spec.loader is None:
        raise ImportError(f"{distribution} has no {relative}")
    generated = importlib.util.module_from_spec(spec)
    sys.modules[module] = generated
    try:
        spec.loader.exec_module(generated)
    except BaseException:
        del sys.modules[module]
        raise
    return generated


mc = load_generated("tritonclient.grpc.model_config_pb2", "tritonclient", "grpc/model_config_pb2.py")
onnx_pb = load_generated("onnx.onnx_ml_pb2", "onnx", "onnx_ml_pb2.py")
