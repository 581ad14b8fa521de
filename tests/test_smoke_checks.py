"""The verdicts on one output: each match kind passing and failing, and what a failure message says."""

from __future__ import annotations

import numpy as np
import pytest

from components.core.smoke.checks import Expectation, check_output, datatype_of


def expect(match: str, expected=None, **options) -> Expectation:
    array = None if expected is None else np.asarray(expected)
    return Expectation(output="OUT", match=match, expected=array, **options)  # type: ignore[arg-type]


# exact


def test_exact_passes_on_equal_values() -> None:
    got = np.array([[1, 2, 3]], dtype=np.int64)
    assert check_output(expect("exact", [[1, 2, 3]]), got) is None


def test_exact_failure_names_the_first_differing_elements_with_indices() -> None:
    got = np.array([[1.0, 2.5, 3.0], [4.0, 5.0, 7.0]], dtype=np.float32)
    reason = check_output(expect("exact", np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)), got)
    assert reason is not None
    assert reason.startswith("2 of 6 elements differ; first at [0, 1]: expected 2.0, got 2.5; [1, 2]: expected 6.0, "
                             "got 7.0;")
    assert "expected [[1., 2., 3.], [4., 5., 6.]] (FP32 [2, 3]), got [[1. , 2.5, 3. ], [4. , 5. , 7. ]] (FP32 [2, 3])" \
        in reason


def test_exact_lists_at_most_five_differences() -> None:
    reason = check_output(expect("exact", np.zeros(10, dtype=np.int32)), np.arange(10, dtype=np.int32))
    assert reason is not None
    assert reason.startswith("9 of 10 elements differ; first at [1]: expected 0, got 1;")
    assert "[5]: expected 0, got 5" in reason
    assert "[6]:" not in reason


def test_exact_treats_nan_as_equal_to_nan() -> None:
    got = np.array([np.nan, 1.0], dtype=np.float32)
    assert check_output(expect("exact", np.array([np.nan, 1.0], dtype=np.float32)), got) is None


def test_exact_compares_strings_as_bytes() -> None:
    got = np.array([b"cat", b"dog"], dtype=object)
    assert check_output(expect("exact", np.array([b"cat", b"dog"], dtype=object)), got) is None
    reason = check_output(expect("exact", np.array(["cat", "cow"])), got)
    assert reason is not None
    assert "first at [1]: expected 'cow', got b'dog'" in reason


def test_exact_with_another_shape_says_both_shapes() -> None:
    reason = check_output(expect("exact", [1, 2, 3]), np.array([[1, 2, 3]]))
    assert reason is not None
    assert reason.startswith("expected shape [3], got shape [1, 3]")


# allclose


def test_allclose_passes_within_tolerance() -> None:
    got = np.array([1.0, 2.0001], dtype=np.float32)
    assert check_output(expect("allclose", [1.0, 2.0], rtol=1e-3, atol=0.0), got) is None


def test_allclose_failure_gives_max_abs_and_rel_error_and_first_differences() -> None:
    got = np.array([1.0, 2.5, 4.0], dtype=np.float32)
    reason = check_output(expect("allclose", [1.0, 2.0, 3.0], rtol=1e-5, atol=1e-8), got)
    assert reason is not None
    assert reason.startswith("2 of 3 elements differ beyond rtol=1e-05, atol=1e-08 "
                             "(max abs error 1, max rel error 0.333333); "
                             "first at [1]: expected 2.0, got 2.5; [2]: expected 3.0, got 4.0;")


def test_allclose_refuses_strings() -> None:
    reason = check_output(expect("allclose", [1.0]), np.array([b"x"], dtype=object))
    assert reason is not None
    assert reason.startswith("allclose compares numbers, got BYTES")


def test_allclose_relative_error_against_zero_is_infinite() -> None:
    reason = check_output(expect("allclose", [0.0, 1.0], atol=0.1), np.array([0.5, 1.0]))
    assert reason is not None
    assert "max abs error 0.5, max rel error inf" in reason


# argmax


def test_argmax_passes_with_one_index_per_row() -> None:
    got = np.array([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]], dtype=np.float32)
    assert check_output(expect("argmax", [1, 0]), got) is None


def test_argmax_accepts_any_index_among_ties() -> None:
    got = np.array([[0.5, 0.5, 0.0]])
    assert check_output(expect("argmax", [1]), got) is None


def test_argmax_failure_names_the_row_and_both_indices() -> None:
    got = np.array([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]], dtype=np.float32)
    reason = check_output(expect("argmax", [1, 2]), got)
    assert reason == "argmax differs in 1 of 2 row(s); row [1]: expected index 2 (value 0.05), got index 0 (value 0.9)"


def test_argmax_of_a_single_row_takes_a_scalar() -> None:
    got = np.array([3, 9, 4])
    assert check_output(expect("argmax", 1), got) is None
    assert check_output(expect("argmax", 0), got) == (
        "argmax differs in 1 of 1 row(s); the output: expected index 0 (value 3), got index 1 (value 9)"
    )


def test_argmax_with_an_index_outside_the_axis_fails() -> None:
    reason = check_output(expect("argmax", [5]), np.array([[1, 2]]))
    assert reason is not None
    assert "expected index 5 (outside the last axis of 2)" in reason


def test_argmax_with_a_wrong_number_of_rows_fails() -> None:
    reason = check_output(expect("argmax", [1, 1, 1]), np.zeros((2, 4)))
    assert reason is not None
    assert reason.startswith("argmax along the last axis gives 2 index(es) (rows [2]), expected 3")


# top_k


def test_top_k_passes_when_the_set_matches_in_any_order() -> None:
    got = np.array([[0.1, 0.4, 0.05, 0.3, 0.15]])
    assert check_output(expect("top_k", [[3, 1]], k=2), got) is None


def test_top_k_failure_names_the_row_and_both_sets() -> None:
    got = np.array([[0.1, 0.4, 0.05, 0.3, 0.15], [5, 4, 3, 2, 1]])
    reason = check_output(expect("top_k", [[1, 3], [0, 4]], k=2), got)
    assert reason == (
        "top_k differs in 1 of 2 row(s); row [1]: expected top-2 indices [0, 4], got [0, 1] (values [5.0, 4.0])"
    )


def test_top_k_accepts_any_choice_among_ties_at_the_boundary() -> None:
    got = np.array([9, 5, 5, 1])
    assert check_output(expect("top_k", [0, 2], k=2), got) is None
    assert check_output(expect("top_k", [0, 1], k=2), got) is None
    assert check_output(expect("top_k", [1, 2], k=2), got) is not None


def test_top_k_larger_than_the_axis_fails() -> None:
    reason = check_output(expect("top_k", [0, 1, 2], k=3), np.array([1.0, 2.0]))
    assert reason is not None
    assert reason.startswith("top_k: k=3 but the last axis has 2 element(s)")


# shape and datatype, in every mode


def test_shape_mode_checks_only_shape_and_datatype() -> None:
    got = np.zeros((4, 10), dtype=np.float32)
    assert check_output(expect("shape", shape=(-1, 10), datatype="FP32"), got) is None
    assert check_output(expect("shape", shape=(4, 11)), got) == "shape: expected [4, 11], got [4, 10]"
    assert check_output(expect("shape", datatype="INT64"), got) == "datatype: expected INT64, got FP32"


def test_shape_and_datatype_are_checked_in_value_modes_too() -> None:
    got = np.array([[0.0, 1.0]], dtype=np.float64)
    reason = check_output(expect("argmax", [1], shape=(2,), datatype="FP32"), got)
    assert reason == "shape: expected [2], got [1, 2]; datatype: expected FP32, got FP64"


def test_datatype_of_names_triton_types() -> None:
    assert datatype_of(np.zeros(1, np.float32)) == "FP32"
    assert datatype_of(np.zeros(1, np.int64)) == "INT64"
    assert datatype_of(np.array([b"a"], dtype=object)) == "BYTES"
    assert datatype_of(np.array([True])) == "BOOL"


@pytest.mark.parametrize("match", ["exact", "allclose", "argmax", "top_k"])
def test_value_modes_need_an_expected_value(match: str) -> None:
    with pytest.raises(ValueError, match="needs"):
        check_output(expect(match, k=1 if match == "top_k" else None), np.zeros(2))
