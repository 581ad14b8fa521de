"""Rules comparing an ONNX model's graph with its config.pbtxt, as the onnxruntime backend does at load time.

Names, data types and ranks must agree. A batching model (max_batch_size > 0) has a leading -1 batch dimension
in the graph that dims leave out, so the graph's rank is len(dims) + 1. A graph dimension that is symbolic or
unknown (-1) matches any configured size for inputs; outputs must match exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from components._internal.schemas import mc, onnx_pb
from components.core.plan import FileSource, ModelPlan
from components.core.triton import effective_backend, model_filename
from components.core.validate.files import has_path, versions_to_load
from components.core.validate.report import Findings, shape_text, type_name
from components.core.validate.tensors import WILDCARD

_T = onnx_pb.TensorProto
ONNX_TO_TRITON = {
    _T.FLOAT: mc.TYPE_FP32, _T.UINT8: mc.TYPE_UINT8, _T.INT8: mc.TYPE_INT8,
    _T.UINT16: mc.TYPE_UINT16, _T.INT16: mc.TYPE_INT16, _T.INT32: mc.TYPE_INT32,
    _T.INT64: mc.TYPE_INT64, _T.STRING: mc.TYPE_STRING, _T.BOOL: mc.TYPE_BOOL,
    _T.FLOAT16: mc.TYPE_FP16, _T.DOUBLE: mc.TYPE_FP64, _T.UINT32: mc.TYPE_UINT32,
    _T.UINT64: mc.TYPE_UINT64,
}
"""ONNX element types the onnxruntime backend serves, and their Triton data types."""
Control = mc.ModelSequenceBatching.Control
CONTROL_TYPES = {"int32_false_true": mc.TYPE_INT32, "fp32_false_true": mc.TYPE_FP32, "bool_false_true": mc.TYPE_BOOL}


@dataclass(frozen=True)
class GraphTensor:
    """An input or output of an ONNX graph: its element type and its shape (None when the graph gives none)."""

    name: str
    elem_type: int
    shape: tuple[int, ...] | None

    @property
    def triton_type(self) -> int:
        return ONNX_TO_TRITON.get(self.elem_type, mc.TYPE_INVALID)

    @property
    def type_text(self) -> str:
        if self.triton_type != mc.TYPE_INVALID:
            return type_name(self.triton_type)
        return f"ONNX {onnx_pb.TensorProto.DataType.Name(self.elem_type)}"


@dataclass(frozen=True)
class GraphSignature:
    """The graph's inputs that a request must give, its overridable initializers, and its outputs."""

    required: dict[str, GraphTensor]
    overridable: dict[str, GraphTensor]
    outputs: dict[str, GraphTensor]


def read_signature(source: FileSource) -> GraphSignature:
    """Read a graph's inputs (minus initializers) and outputs without loading external weights.

    Raises DecodeError, OSError or ValueError when the file is not an ONNX model (an empty file has no graph).
    """
    loaded = onnx_pb.ModelProto.FromString(source.read())
    if not loaded.HasField("graph"):
        raise ValueError("it holds no graph (an empty file, or not an ONNX model)")
    graph = loaded.graph
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = {value.name: _graph_tensor(value) for value in graph.input}
    return GraphSignature(
        required={n: t for n, t in inputs.items() if n not in initializers},
        overridable={n: t for n, t in inputs.items() if n in initializers},
        outputs={value.name: _graph_tensor(value) for value in graph.output},
    )


def _graph_tensor(value: onnx_pb.ValueInfoProto) -> GraphTensor:
    tensor_type = value.type.tensor_type
    shape = None
    if tensor_type.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else WILDCARD for d in tensor_type.shape.dim)
    return GraphTensor(value.name, tensor_type.elem_type, shape)


def check_onnx(model: ModelPlan, config: mc.ModelConfig, found: Findings) -> None:
    """Compare every ONNX file Triton would load for this model with the config."""
    if effective_backend(config) != "onnxruntime":
        return
    filename = model_filename(config) or "model.onnx"
    for version in versions_to_load(model, config):
        path = f"{version}/{filename}"
        source = model.files.get(path) or model.files.get(f"{path}/model.onnx")
        if source is None:
            if has_path(model, path):
                found.error("default_model_filename", f"{path} is a folder without model.onnx inside; the "
                            "onnxruntime backend loads <folder>/model.onnx", "onnx.unreadable")
            continue
        try:
            signature = read_signature(source)
        except (DecodeError, OSError, ValueError) as exc:
            found.error("default_model_filename", f"{path} is not a readable ONNX model: {exc}; export or copy it "
                        "again", "onnx.unreadable")
            continue
        _compare(path, signature, config, found)


def _compare(path: str, graph: GraphSignature, config: mc.ModelConfig, found: Findings) -> None:
    controls = _control_tensors(config)
    states = {state.input_name for state in config.sequence_batching.state}
    accepted = {**graph.required, **graph.overridable}
    for index, tensor in enumerate(config.input):
        where = f"input[{tensor.name or index}]"
        given = accepted.get(tensor.name)
        if given is None:
            found.error(where, f"{path} has no input {tensor.name!r}; its inputs are "
                        f"{', '.join(sorted(graph.required)) or 'none'}", "onnx.input_name")
            continue
        _compare_tensor(path, "input", where, tensor, given, config.max_batch_size, exact=False, found=found)
    listed = {t.name for t in config.input} | set(controls) | states
    unlisted = sorted(set(graph.required) - listed)
    for name in unlisted:
        found.error("input", f"{path} needs input {name!r}, which config.pbtxt does not list; add it to input",
                    "onnx.input_missing")
    expected = (sum(1 for t in config.input if not t.optional) + len(config.batch_input) + len(controls)
                + len(states))
    explained = unlisted or any(t.name not in accepted for t in config.input) or set(controls) - set(graph.required)
    if not explained and expected != len(graph.required):
        found.error("input", f"config.pbtxt expects {expected} required inputs but {path} has "
                    f"{len(graph.required)} ({', '.join(sorted(graph.required))}); mark only inputs the model can "
                    "do without as optional", "onnx.input_count")
    for name, data_type in controls.items():
        _compare_control(path, name, data_type, graph, config.max_batch_size, found)
    for index, tensor in enumerate(config.output):
        where = f"output[{tensor.name or index}]"
        given = graph.outputs.get(tensor.name)
        if given is None:
            found.error(where, f"{path} has no output {tensor.name!r}; its outputs are "
                        f"{', '.join(sorted(graph.outputs)) or 'none'}", "onnx.output_name")
            continue
        _compare_tensor(path, "output", where, tensor, given, config.max_batch_size, exact=True, found=found)


def _compare_tensor(path: str, kind: str, where: str, tensor: mc.ModelInput | mc.ModelOutput, given: GraphTensor,
                    max_batch_size: int, exact: bool, found: Findings) -> None:
    if given.triton_type == mc.TYPE_INVALID:
        found.error(f"{where}.data_type", f"{kind} {tensor.name!r} of {path} is {given.type_text}, which the "
                    "onnxruntime backend does not serve", "onnx.data_type")
    elif given.triton_type != tensor.data_type:
        found.error(f"{where}.data_type", f"{path} has {kind} {tensor.name!r} as {given.type_text} but config.pbtxt "
                    f"says {type_name(tensor.data_type)}; use {given.type_text}", "onnx.data_type")
    if given.shape is None:
        return
    uses_reshape = tensor.HasField("reshape")
    dims = tuple(tensor.reshape.shape if uses_reshape else tensor.dims)
    field = f"{where}.{'reshape' if uses_reshape else 'dims'}"
    problem = _shape_mismatch(given.shape, dims, max_batch_size > 0, exact)
    if problem:
        found.error(field, f"{kind} {tensor.name!r}: {path} has shape {shape_text(given.shape)} but "
                    f"{problem}", "onnx.shape")


def _shape_mismatch(model_shape: tuple[int, ...], dims: tuple[int, ...], batching: bool, exact: bool) -> str | None:
    """Why the config's dims do not fit the graph's shape (onnxruntime's CompareDimsSupported), or None."""
    if batching:
        if not model_shape or model_shape[0] != WILDCARD:
            return ("max_batch_size > 0 needs a variable (-1) first dimension for the batch; set max_batch_size 0 "
                    "and give the full shape as dims, or export the model with a dynamic batch dimension")
        full = (WILDCARD, *dims)
        what = f"the config gives {shape_text(full)} (a batch dimension, because max_batch_size > 0, then dims)"
    else:
        full = dims
        what = f"the config gives {shape_text(full)} (max_batch_size 0: dims are the full shape)"
    fits = len(model_shape) == len(full) and all(
        m == c for m, c in zip(model_shape, full, strict=True) if exact or m != WILDCARD
    )
    if fits:
        return None
    if len(model_shape) != len(full):
        return f"{what}; the ranks differ ({len(model_shape)} vs {len(full)})"
    return f"{what}; make the fixed sizes equal"


def _control_tensors(config: mc.ModelConfig) -> dict[str, int]:
    """The sequence control tensors the backend feeds the model, with the data type it feeds."""
    found: dict[str, int] = {}
    for control_input in config.sequence_batching.control_input:
        for control in control_input.control:
            if control.kind == Control.CONTROL_SEQUENCE_CORRID:
                found[control_input.name] = control.data_type
            else:
                given = [CONTROL_TYPES[n] for n in CONTROL_TYPES if getattr(control, n)]
                found[control_input.name] = given[0] if given else mc.TYPE_INVALID
    return found


def _compare_control(path: str, name: str, data_type: int, graph: GraphSignature, max_batch_size: int,
                     found: Findings) -> None:
    where = f"sequence_batching.control_input[{name}]"
    given = graph.required.get(name)
    if given is None:
        found.error(where, f"{path} has no input {name!r} for this sequence control tensor", "onnx.sequence_control")
        return
    if data_type != mc.TYPE_INVALID and given.triton_type != data_type:
        found.error(where, f"{path} has control input {name!r} as {given.type_text} but the control gives "
                    f"{type_name(data_type)}", "onnx.sequence_control")
    if given.shape is not None:
        debatched = given.shape[1:] if max_batch_size > 0 else given.shape
        if debatched != (1,):
            found.error(where, f"{path} has control input {name!r} with shape {shape_text(given.shape)}; control "
                        "tensors have dims [1] (after the batch dimension)", "onnx.sequence_control")
