"""Rules on input and output tensors: names, data types, dims and reshape (Triton's ValidateIOShape)."""

from __future__ import annotations

from collections.abc import Sequence

from components._internal.schemas import mc
from components.core.validate.report import Findings, shape_text

WILDCARD = -1
TENSORRT_PLATFORM = "tensorrt_plan"
IMAGE_FORMATS = (mc.ModelInput.FORMAT_NHWC, mc.ModelInput.FORMAT_NCHW)


def tensor_field(kind: str, index: int, name: str) -> str:
    """How a problem names a tensor: `input[IMAGE]`, or `input[0]` when the tensor has no name."""
    return f"{kind}[{name or index}]"


def element_count(dims: Sequence[int]) -> int:
    """Triton's GetElementCount: -1 when any dim is variable, 0 for no dims, else the product."""
    if WILDCARD in dims:
        return WILDCARD
    count = 0
    for position, dim in enumerate(dims):
        count = dim if position == 0 else count * dim
    return count


_DUPLICATE_EFFECT = {
    "input": "it then expects one input more than a request can carry, so every request fails",
    "output": "a request can ask for that output only once",
}
"""What a repeated tensor name does on tritonserver 2.51, which does not check names for repeats."""


def check_tensors(config: mc.ModelConfig, found: Findings) -> None:
    """Every input and output has a name (a repeated one is a warning), a data type and valid dims/reshape."""
    for kind, tensors in (("input", config.input), ("output", config.output)):
        seen: set[str] = set()
        for index, tensor in enumerate(tensors):
            where = tensor_field(kind, index, tensor.name)
            if not tensor.name:
                found.error(f"{where}.name", f"{kind} {index} has no name; give the name the model uses",
                            "config.tensor_name")
            elif tensor.name in seen:
                found.warning(f"{where}.name", f"{kind} name {tensor.name!r} is used twice; Triton loads this, but "
                              f"{_DUPLICATE_EFFECT[kind]}: give each {kind} its own name", "config.duplicate_tensor")
            seen.add(tensor.name)
            _check_tensor(kind, where, tensor, config, found)


def _check_tensor(kind: str, where: str, tensor: mc.ModelInput | mc.ModelOutput, config: mc.ModelConfig,
                  found: Findings) -> None:
    if tensor.data_type == mc.TYPE_INVALID:
        found.error(f"{where}.data_type", f"{kind} {tensor.name!r} has no data_type; set one such as TYPE_FP32",
                    "config.data_type")
    _check_shape(kind, where, tensor, config.max_batch_size, found)
    if isinstance(tensor, mc.ModelInput) and tensor.format in IMAGE_FORMATS and len(tensor.dims) != 3:
        found.error(f"{where}.format", f"format {mc.ModelInput.Format.Name(tensor.format)} needs exactly 3 dims "
                    f"(without the batch dimension), got {shape_text(tensor.dims)}", "config.format")
    if tensor.is_shape_tensor and config.platform != TENSORRT_PLATFORM:
        found.error(f"{where}.is_shape_tensor", "shape tensors exist only for TensorRT models (platform "
                    "tensorrt_plan); remove is_shape_tensor", "config.shape_tensor")
    if tensor.is_non_linear_format_io:
        if config.platform != TENSORRT_PLATFORM:
            found.error(f"{where}.is_non_linear_format_io", "non-linear IO formats exist only for TensorRT models; "
                        "remove is_non_linear_format_io", "config.non_linear_format")
        elif len(tensor.dims) != 3:
            found.error(f"{where}.is_non_linear_format_io", f"a non-linear format {kind} needs exactly 3 dims, got "
                        f"{shape_text(tensor.dims)}", "config.non_linear_format")


def _check_shape(kind: str, where: str, tensor: mc.ModelInput | mc.ModelOutput, max_batch_size: int,
                 found: Findings) -> None:
    dims = list(tensor.dims)
    if not dims:
        found.error(f"{where}.dims", f"{kind} {tensor.name!r} has no dims; give its shape without the batch "
                    "dimension (for a scalar: dims [ 1 ], with reshape: { shape: [ ] } when max_batch_size > 0)",
                    "config.dims")
        return
    if _bad_sizes("dims", dims, kind, where, tensor, found) or not tensor.HasField("reshape"):
        return
    shape = list(tensor.reshape.shape)
    if not shape and max_batch_size == 0:
        found.error(f"{where}.reshape", f"{kind} {tensor.name!r} has an empty reshape but the model does not batch "
                    "(max_batch_size 0); scalars are not supported, so give the shape the model sees",
                    "config.reshape")
        return
    if _bad_sizes("reshape", shape, kind, where, tensor, found):
        return
    problem = _reshape_mismatch(dims, shape)
    if problem:
        found.error(f"{where}.reshape", f"{kind} {tensor.name!r}: dims {shape_text(dims)} and reshape "
                    f"{shape_text(shape)} {problem}", "config.reshape")


def _bad_sizes(field_name: str, sizes: list[int], kind: str, where: str, tensor: mc.ModelInput | mc.ModelOutput,
               found: Findings) -> bool:
    """Report and return True when a size in `sizes` (the tensor's dims or reshape) is neither 1 or more nor -1."""
    if all(d >= 1 or d == WILDCARD for d in sizes):
        return False
    found.error(f"{where}.{field_name}", f"{field_name} {shape_text(sizes)} of {kind} {tensor.name!r}: every dimension "
                "must be 1 or more, or -1 for a variable size", f"config.{field_name}")
    return True


def _reshape_mismatch(dims: list[int], shape: list[int]) -> str | None:
    """Why dims cannot be reshaped to shape, following Triton's rule; None when they can."""
    dims_count, shape_count = element_count(dims), element_count(shape)
    if dims_count != shape_count and (shape_count != 0 or dims_count != 1):
        return "hold different numbers of elements; make their products equal (an empty reshape needs dims [ 1 ])"
    if dims_count != WILDCARD:
        return None
    dims_chunks, shape_chunks = _chunks(dims), _chunks(shape)
    if len(dims_chunks) != len(shape_chunks):
        return "have different numbers of variable (-1) dimensions; use the same number in both"
    if dims_chunks != shape_chunks:
        return ("differ between their variable (-1) dimensions; the fixed dimensions between each -1 must hold the "
                "same number of elements")
    return None


def _chunks(dims: list[int]) -> list[int]:
    """The element counts of the fixed runs between -1 dims, as Triton compares them."""
    chunks, current = [], 1
    for dim in dims:
        if dim == WILDCARD:
            chunks.append(current)
            current = 1
        else:
            current *= dim
    chunks.append(current)
    return chunks
