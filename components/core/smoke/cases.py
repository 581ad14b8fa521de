"""Turn a model's smoke cases from the spec into request tensors and expectations, before any request is sent.

Inputs come inline (`value`) or from a .npy file; their datatype is the SmokeInput's `datatype`, else
the model config input's `data_type` (TYPE_FP32 -> FP32, TYPE_STRING -> BYTES); their shape is the
value's own unless `shape` is given. Values are converted only when nothing is lost (1.5 is not an
INT32, 300 is not an INT8). Every problem is reported at once as a UserError naming the case and tensor.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
from tritonclient.utils import triton_to_np_dtype

from components._internal.schemas import mc
from components.core.plan import brought_config
from components.core.problems import Problem, UserError
from components.core.render import render_config
from components.core.smoke.checks import Expectation
from components.core.smoke.transport import Tensor
from components.core.source_files import NotUsable, open_regular
from components.core.spec import GroupSpec, ModelSpec, SmokeExpectation, SmokeInput

INDEX_DATATYPE = "INT64"
"""argmax and top_k expectations are indices."""
NUMPY_FILE_STARTS = (b"\x93NUMPY", b"PK\x03\x04")
"""The first bytes of a .npy file (np.save) and of an .npz archive (np.savez, a zip)."""


@dataclass(frozen=True)
class PreparedCase:
    """One smoke case ready to send: the request tensors and what each requested output must look like."""

    model: str
    name: str
    inputs: tuple[Tensor, ...]
    expectations: tuple[Expectation, ...]
    version: int | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """The outputs to request: those with an expectation."""
        return tuple(e.output for e in self.expectations)


def triton_datatype(type_name: str) -> str:
    """The v2 protocol name of a model-config data type: TYPE_FP32 -> FP32, TYPE_STRING -> BYTES."""
    name = type_name.removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def prepare_cases(spec: GroupSpec, model: ModelSpec) -> list[PreparedCase]:
    """Every smoke case of `model`, in spec order; UserError listing every case that cannot be built.

    Each tensor's shape is checked as Triton checks a request (see `_shape_problem`): an input against its
    dims and the model's max_batch_size, and an expected shape or value against the output's, so that a case
    the server would refuse (HTTP 400) or could never pass is reported before anything is served.
    """
    index = spec.index_of(model)
    config = _config(spec, model)
    inputs_by_name = {t.name: t for t in config.input}
    outputs_by_name = {t.name: t for t in config.output}
    problems: list[Problem] = []
    prepared = []
    for case_index, case in enumerate(model.smoke):
        label = f"models[{model.name}].smoke[{case.name}]"

        def report(kind: str, tensor: str, message: str, case_index: int = case_index, label: str = label) -> None:
            line = spec.line("models", index, "smoke", case_index, kind, tensor)
            problems.append(Problem(spec.shown_path, f"{label}.{kind}.{tensor}", message,
                                    "smoke.input" if kind == "inputs" else "smoke.expect", line))

        inputs = []
        for tensor, given in case.inputs.items():
            found = inputs_by_name.get(tensor)
            try:
                built = _input_tensor(spec, tensor, given, _datatype(found))
                if found is not None:
                    _check_input_shape(built.array.shape, found, config.max_batch_size)
                inputs.append(built)
            except ValueError as exc:
                report("inputs", tensor, str(exc))
        batch = _request_batch(inputs, inputs_by_name, config.max_batch_size)
        if isinstance(batch, str):
            report("inputs", next(iter(case.inputs)), batch)
            batch = None
        expectations = []
        for tensor, expected in case.expect.items():
            found = outputs_by_name.get(tensor)
            try:
                built_expectation = _expectation(spec, tensor, expected, _datatype(found))
                if found is not None:
                    _check_expected_shape(built_expectation, found, config.max_batch_size, batch)
                expectations.append(built_expectation)
            except ValueError as exc:
                report("expect", tensor, str(exc))
        prepared.append(PreparedCase(model.name, case.name, tuple(inputs), tuple(expectations), case.version))
    if problems:
        raise UserError(problems)
    return prepared


def _config(spec: GroupSpec, model: ModelSpec) -> mc.ModelConfig:
    """The model's config as Triton reads it (empty when a bring-your-own config cannot be read: load reports that)."""
    if model.config:
        return brought_config(spec.resolve(model.config)) or mc.ModelConfig()
    return render_config(model, spec)


def _datatype(tensor: mc.ModelInput | mc.ModelOutput | None) -> str | None:
    """The v2 datatype of a config tensor (None when the config has no tensor of that name)."""
    return triton_datatype(mc.DataType.Name(tensor.data_type)) if tensor is not None else None


def _fits(shape: Sequence[int], dims: Sequence[int]) -> bool:
    """Whether `shape` is `dims`, a -1 on either side matching any size."""
    return len(shape) == len(dims) and all(-1 in (s, d) or s == d for s, d in zip(shape, dims, strict=True))


def _shape_problem(shape: Sequence[int], dims: Sequence[int], max_batch_size: int, what: str) -> str | None:
    """Why a tensor of `shape` does not fit a config tensor of `dims` (None when it does), as Triton checks a
    request: with max_batch_size N > 0 the shape is [batch, *dims] with batch 1 to N, with 0 it is dims."""
    shape, dims = list(shape), list(dims)
    if max_batch_size > 0:
        if not (shape and _fits(shape[1:], dims)):
            return (f"shape {shape} does not fit {what} dims {dims} with max_batch_size {max_batch_size}: a request "
                    f"carries [batch, *dims], e.g. {[1, *dims]}")
        if shape[0] != -1 and not 1 <= shape[0] <= max_batch_size:
            return f"batch size {shape[0]} of shape {shape} is not 1 to max_batch_size {max_batch_size}"
        return None
    if not _fits(shape, dims):
        return f"shape {shape} does not fit {what} dims {dims} (max_batch_size 0: no batch axis)"
    return None


def _check_input_shape(shape: Sequence[int], tensor: mc.ModelInput, max_batch_size: int) -> None:
    """ValueError when an input of `shape` would be refused by Triton (it checks `dims`, not `reshape`)."""
    reason = _shape_problem(shape, tensor.dims, max_batch_size, "the input's")
    if reason is not None:
        seen = f"; the request carries dims, reshape {list(tensor.reshape.shape)} is what the model sees" \
            if tensor.HasField("reshape") else ""
        raise ValueError(reason + seen)


def _request_batch(inputs: Sequence[Tensor], configs: Mapping[str, mc.ModelInput], max_batch_size: int
                   ) -> int | str | None:
    """The batch size of a case's request (None when the model does not batch); a reason when its inputs differ."""
    if max_batch_size <= 0:
        return None
    sizes = {tensor.name: tensor.array.shape[0] for tensor in inputs if tensor.name in configs and tensor.array.ndim}
    if len(set(sizes.values())) > 1:
        return (f"the inputs of one request share one batch size, these differ: "
                f"{', '.join(f'{name} {size}' for name, size in sizes.items())}")
    return next(iter(sizes.values()), None)


def _check_expected_shape(expectation: Expectation, tensor: mc.ModelOutput, max_batch_size: int,
                          batch: int | None) -> None:
    """ValueError when the expected shape (given, or of an exact/allclose value) can never be the output's."""
    dims = list(tensor.dims)
    shapes = [] if expectation.shape is None else [("expected shape", list(expectation.shape))]
    if expectation.match in ("exact", "allclose") and expectation.expected is not None:
        shapes.append(("the expected value's shape", list(expectation.expected.shape)))
    for what, shape in shapes:
        reason = _shape_problem(shape, dims, max_batch_size, "the output's")
        if reason is None and batch is not None and shape and shape[0] not in (-1, batch):
            reason = f"batch size {shape[0]} differs from the request's, {batch}"
        if reason is not None:
            raise ValueError(f"{what}: {reason}")


def _input_tensor(spec: GroupSpec, name: str, given: SmokeInput, config_type: str | None) -> Tensor:
    datatype = triton_datatype(given.datatype) if given.datatype else config_type
    if datatype is None:
        raise ValueError("give its datatype (FP32, INT64, BYTES, ...): the model config has no input of this name")
    raw = _load_npy(spec, given.npy) if given.npy else _inline(given.value, datatype)
    array = _convert(raw, datatype)
    if given.shape is not None:
        array = _reshape(array, given.shape)
    return Tensor(name=name, array=array, datatype=datatype)


def _expectation(spec: GroupSpec, name: str, given: SmokeExpectation, config_type: str | None) -> Expectation:
    declared = triton_datatype(given.datatype) if given.datatype else None
    expected = None
    if given.match != "shape":
        datatype = INDEX_DATATYPE if given.match in ("argmax", "top_k") else declared or config_type
        raw = _load_npy(spec, given.npy) if given.npy else _inline(given.value, datatype)
        expected = _convert(raw, datatype) if datatype else raw
        if given.match == "top_k" and given.k is not None:
            _check_top_k_sets(expected, given.k)
    return Expectation(
        output=name,
        match=given.match,
        expected=expected,
        rtol=given.rtol,
        atol=given.atol,
        k=given.k,
        shape=tuple(given.shape) if given.shape is not None else None,
        datatype=declared,
    )


def _check_top_k_sets(expected: np.ndarray, k: int) -> None:
    if expected.ndim == 0 or expected.shape[-1] != k:
        raise ValueError(f"top_k with k: {k} expects {k} indices per row (last axis of length {k}), "
                         f"got shape {list(expected.shape)}")
    for row in expected.reshape(-1, k):
        if len(set(row.tolist())) != k:
            raise ValueError(f"top_k indices must be {k} distinct indices per row, got {row.tolist()}")


def _load_npy(spec: GroupSpec, relative: str) -> np.ndarray:
    path = spec.resolve(relative)
    try:
        with open_regular(path) as handle:
            array = _numpy_array(handle, relative)
    except NotUsable as exc:
        if exc.code == "missing":
            raise ValueError(f"{relative} does not exist (paths are relative to the spec file)") from None
        raise ValueError(f"{relative} {exc.reason}; give a .npy file written with np.save") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{relative} is an .npz archive; give one array saved with np.save")
    return array


def _numpy_array(handle: BinaryIO, relative: str) -> Any:
    """What np.load reads from the open regular file `handle`: an array, or an .npz archive (refused by the caller)."""
    try:
        return np.load(handle, allow_pickle=False)
    except OSError as exc:
        raise ValueError(f"{relative} cannot be read ({exc.strerror or exc}); check the file") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        handle.seek(0)
        if not handle.read(6).startswith(NUMPY_FILE_STARTS):
            raise ValueError(f"{relative} is not a .npy file (no NumPy header); write it with np.save(path, array)") \
                from None
        if "pickle" in str(exc):
            raise ValueError(f"{relative} holds Python objects (pickled); save strings as a str or bytes array "
                             "(np.save(path, np.array(['a', 'b'])))") from None
        raise ValueError(f"{relative} is not a readable .npy file ({exc}); write it again with np.save") from None


def _inline(value: Any, datatype: str | None) -> np.ndarray:
    """The spec's inline value as an array: objects for BYTES (`_convert` encodes the strings), else numbers."""
    if datatype == "BYTES":
        return np.array(value, dtype=object)
    try:
        return np.asarray(value)
    except ValueError as exc:
        raise ValueError(f"value must be a number or a rectangular nested list: {exc}") from None


def _map_objects(array: np.ndarray, func: Callable[[Any], Any]) -> np.ndarray:
    mapped = np.empty(array.shape, dtype=object)
    for position, item in np.ndenumerate(array):
        mapped[position] = func(item)
    return mapped


def _convert(array: np.ndarray, datatype: str) -> np.ndarray:
    """`array` as the numpy dtype of `datatype`, refusing conversions that would change a value."""
    if datatype == "BYTES":
        if array.dtype.kind in "SU" or array.dtype == np.object_:
            converted = _map_objects(array, lambda item: item.encode() if isinstance(item, str) else item)
            if all(isinstance(item, bytes) for item in converted.flat):
                return converted
        raise ValueError(f"BYTES values must be strings, got {array.dtype} values {_short(array)}")
    target = triton_to_np_dtype(datatype)
    if target is None:
        raise ValueError(f"unknown Triton datatype {datatype}")
    target = np.dtype(target)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{datatype} values must be numbers, got {_short(array)}")
    if target.kind in "biu":
        converted = array.astype(target)
        if not np.array_equal(converted.astype(np.float64), array.astype(np.float64)):
            raise ValueError(f"values {_short(array)} do not fit {datatype} exactly")
        return converted
    return array.astype(target)


def _reshape(array: np.ndarray, shape: list[int]) -> np.ndarray:
    try:
        return array.reshape(shape)
    except ValueError:
        raise ValueError(f"shape {shape} does not fit the {array.size} value(s) given (shape {list(array.shape)})") \
            from None


def _short(array: np.ndarray) -> str:
    return " ".join(np.array2string(array, threshold=8, edgeitems=2, separator=", ").split())
