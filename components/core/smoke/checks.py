"""The verdicts: does one output tensor meet its expectation? A plain reason string when it does not.

`check_output(expectation, got)` returns None when the output passes, otherwise a one-line reason
that says what was expected against what came back, and for value mismatches the first differing
elements with their indices (and the max abs/rel error for allclose). `shape` and `datatype` are
checked in every mode when given; a `-1` in an expected shape matches any size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from tritonclient.utils import np_to_triton_dtype

from components.core.spec import MatchKind

SHOWN_DIFFERENCES = 5
"""How many differing elements (or rows) a reason lists."""


@dataclass(frozen=True)
class Expectation:
    """What one output must look like, with the expected value already as an array.

    `expected` holds the values for exact/allclose, the index per row for argmax, and the k indices
    per row (last axis of length k) for top_k; it is None for match `shape`. `datatype` is a
    Triton v2 name (FP32, INT64, BYTES, ...).
    """

    output: str
    match: MatchKind
    expected: np.ndarray | None = None
    rtol: float = 1e-5
    atol: float = 1e-8
    k: int | None = None
    shape: tuple[int, ...] | None = None
    datatype: str | None = None


def check_output(expectation: Expectation, got: np.ndarray) -> str | None:
    """None when `got` meets `expectation`, else the reason (without the output's name)."""
    reasons = []
    if expectation.shape is not None and not _shape_matches(expectation.shape, got.shape):
        reasons.append(f"shape: expected {_dims(expectation.shape)}, got {_dims(got.shape)}")
    if expectation.datatype is not None and datatype_of(got) != expectation.datatype:
        reasons.append(f"datatype: expected {expectation.datatype}, got {datatype_of(got)}")
    if reasons:
        return "; ".join(reasons)
    if expectation.match == "shape":
        return None
    if expectation.expected is None:
        raise ValueError(f"match {expectation.match} needs an expected value")
    if expectation.match == "exact":
        return _check_exact(expectation.expected, got)
    if expectation.match == "allclose":
        return _check_allclose(expectation.expected, got, expectation.rtol, expectation.atol)
    if expectation.match == "argmax":
        return _check_argmax(expectation.expected, got)
    if expectation.k is None:
        raise ValueError("match top_k needs k")
    return _check_top_k(expectation.expected, got, expectation.k)


def datatype_of(array: np.ndarray) -> str:
    """The Triton v2 datatype name of a numpy array (object and bytes arrays are BYTES)."""
    if array.dtype == np.object_ or array.dtype.kind in "SU":
        return "BYTES"
    return np_to_triton_dtype(array.dtype) or str(array.dtype)


def _shape_matches(expected: Iterable[int], got: tuple[int, ...]) -> bool:
    expected = tuple(expected)
    return len(expected) == len(got) and all(e in (-1, g) for e, g in zip(expected, got, strict=True))


def _dims(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _show(array: np.ndarray) -> str:
    """A short one-line rendering of an array: its values (summarized when long), shape and datatype."""
    text = np.array2string(array, threshold=12, edgeitems=3, separator=", ", max_line_width=10**6)
    return f"{' '.join(text.split())} ({datatype_of(array)} {_dims(array.shape)})"


def _index(position: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in position) + "]"


def _value(item: object) -> str:
    return repr(item) if isinstance(item, bytes | str) else str(item)


def _differences(mask: np.ndarray, expected: np.ndarray, got: np.ndarray) -> str:
    positions = np.argwhere(mask)[:SHOWN_DIFFERENCES]
    shown = [
        f"{_index(tuple(p))}: expected {_value(expected[tuple(p)])}, got {_value(got[tuple(p)])}" for p in positions
    ]
    return "first at " + "; ".join(shown)


def _same_shape(expected: np.ndarray, got: np.ndarray) -> str | None:
    if expected.shape == got.shape:
        return None
    return (f"expected shape {_dims(expected.shape)}, got shape {_dims(got.shape)}: "
            f"expected {_show(expected)}, got {_show(got)}")


def _check_exact(expected: np.ndarray, got: np.ndarray) -> str | None:
    mismatch = _same_shape(expected, got)
    if mismatch:
        return mismatch
    if expected.dtype == np.object_ or got.dtype == np.object_:
        differ = np.array([_as_bytes(e) != _as_bytes(g) for e, g in zip(expected.flat, got.flat, strict=True)],
                          dtype=bool).reshape(got.shape)
    else:
        differ = expected != got
        if expected.dtype.kind in "fc" and got.dtype.kind in "fc":
            differ &= ~(np.isnan(expected) & np.isnan(got))
    count = int(np.count_nonzero(differ))
    if count == 0:
        return None
    return (f"{count} of {got.size} elements differ; {_differences(differ, expected, got)}; "
            f"expected {_show(expected)}, got {_show(got)}")


def _as_bytes(item: object) -> object:
    return item.encode() if isinstance(item, str) else item


def _check_allclose(expected: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> str | None:
    if got.dtype.kind not in "biufc":
        return f"allclose compares numbers, got {datatype_of(got)}: {_show(got)}"
    mismatch = _same_shape(expected, got)
    if mismatch:
        return mismatch
    want = expected.astype(np.float64)
    have = got.astype(np.float64)
    differ = ~np.isclose(have, want, rtol=rtol, atol=atol, equal_nan=True)
    count = int(np.count_nonzero(differ))
    if count == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_error = np.abs(have - want)
        rel_error = np.where(want != 0, abs_error / np.abs(want), np.where(abs_error == 0, 0.0, np.inf))
    return (f"{count} of {got.size} elements differ beyond rtol={rtol:g}, atol={atol:g} "
            f"(max abs error {np.nanmax(abs_error):.6g}, max rel error {np.nanmax(rel_error):.6g}); "
            f"{_differences(differ, expected, got)}; expected {_show(expected)}, got {_show(got)}")


def _rows(got: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]] | str:
    """The output as (rows, last axis) plus the shape of the row grid; a reason when it has no last axis."""
    if got.ndim == 0 or got.shape[-1] == 0:
        return f"needs an output with a non-empty last axis, got {_show(got)}"
    if got.dtype.kind not in "biuf":
        return f"compares numbers, got {datatype_of(got)}: {_show(got)}"
    return got.reshape(-1, got.shape[-1]), got.shape[:-1]


def _row_label(row: int, grid: tuple[int, ...]) -> str:
    return "row " + _index(np.unravel_index(row, grid)) if grid else "the output"


def _check_argmax(expected: np.ndarray, got: np.ndarray) -> str | None:
    rows = _rows(got)
    if isinstance(rows, str):
        return "argmax " + rows
    values, grid = rows
    wanted = expected.reshape(-1)
    if wanted.size != values.shape[0]:
        return (f"argmax along the last axis gives {values.shape[0]} index(es) (rows {_dims(grid)}), "
                f"expected {wanted.size}: {_show(expected)}; got {_show(got)}")
    found = values.argmax(axis=-1)
    wrong = []
    for row, (want, have) in enumerate(zip(wanted.tolist(), found.tolist(), strict=True)):
        in_range = 0 <= want < values.shape[1]
        if in_range and values[row, want] == values[row, have]:
            continue
        shown_want = f"(value {_value(values[row, want])})" if in_range else \
            f"(outside the last axis of {values.shape[1]})"
        wrong.append(f"{_row_label(row, grid)}: expected index {want} {shown_want}, got index {have} "
                     f"(value {_value(values[row, have])})")
    if not wrong:
        return None
    return f"argmax differs in {len(wrong)} of {len(found)} row(s); " + "; ".join(wrong[:SHOWN_DIFFERENCES])


def _check_top_k(expected: np.ndarray, got: np.ndarray, k: int) -> str | None:
    rows = _rows(got)
    if isinstance(rows, str):
        return "top_k " + rows
    values, grid = rows
    if k > values.shape[1]:
        return f"top_k: k={k} but the last axis has {values.shape[1]} element(s): {_show(got)}"
    wanted = expected.reshape(-1, k)
    if wanted.shape[0] != values.shape[0]:
        return (f"top_k along the last axis gives {values.shape[0]} row(s) (rows {_dims(grid)}), "
                f"expected {wanted.shape[0]} set(s) of {k}: {_show(expected)}; got {_show(got)}")
    wrong = []
    for row in range(values.shape[0]):
        want = {int(i) for i in wanted[row]}
        if _is_top_k(values[row], want, k):
            continue
        have = sorted(int(i) for i in np.argsort(-values[row], kind="stable")[:k])
        wrong.append(f"{_row_label(row, grid)}: expected top-{k} indices {sorted(want)}, got {have} "
                     f"(values [{', '.join(_value(values[row, i]) for i in have)}])")
    if not wrong:
        return None
    return f"top_k differs in {len(wrong)} of {values.shape[0]} row(s); " + "; ".join(wrong[:SHOWN_DIFFERENCES])


def _is_top_k(row: np.ndarray, indices: set[int], k: int) -> bool:
    """Whether `indices` is a valid set of the k largest values of `row` (any choice among ties counts)."""
    if len(indices) != k or any(not 0 <= i < row.size for i in indices):
        return False
    threshold = np.sort(row)[-k]
    above = {int(i) for i in np.flatnonzero(row > threshold)}
    return above <= indices and all(row[i] >= threshold for i in indices)
