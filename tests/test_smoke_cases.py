"""Smoke cases from the spec become request tensors and expectations: inline or .npy values, datatypes, shapes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from components.core.problems import UserError
from components.core.smoke.cases import PreparedCase, prepare_cases, triton_datatype
from components.core.spec import GroupSpec, load_spec

MODEL = """\
name: group
models:
  - name: scorer
    backend: python
    versions: {{1: model.py}}
    max_batch_size: 4
    inputs:
      - {{name: PIXELS, data_type: TYPE_FP32, dims: [3]}}
      - {{name: IDS, data_type: INT64, dims: [2]}}
      - {{name: TEXT, data_type: STRING, dims: [1]}}
    outputs:
      - {{name: PROBS, data_type: FP32, dims: [3]}}
      - {{name: LABEL, data_type: STRING, dims: [1]}}
    smoke:
{cases}
"""


def spec_with(tmp_path: Path, cases: str) -> GroupSpec:
    (tmp_path / "model.py").write_text("# a python backend model\n")
    text = MODEL.format(cases=textwrap.indent(textwrap.dedent(cases), " " * 6))
    (tmp_path / "group.yaml").write_text(text)
    return load_spec(tmp_path / "group.yaml")


def only_case(spec: GroupSpec) -> PreparedCase:
    (case,) = prepare_cases(spec, spec.model("scorer"))
    return case


def test_triton_datatype_maps_config_names_to_v2_names() -> None:
    assert triton_datatype("TYPE_FP32") == "FP32"
    assert triton_datatype("TYPE_STRING") == "BYTES"
    assert triton_datatype("TYPE_INT64") == "INT64"


def test_inline_inputs_take_the_datatype_of_the_config_input(tmp_path: Path) -> None:
    case = only_case(spec_with(tmp_path, """\
        - name: inline
          inputs:
            PIXELS: {value: [[0, 1, 2]]}
            IDS: {value: [[7, 8]]}
            TEXT: {value: [["hello"]]}
          expect:
            PROBS: {match: allclose, value: [[0.1, 0.2, 0.7]]}
    """))
    pixels, ids, text = case.inputs
    assert (pixels.name, pixels.datatype, pixels.array.dtype, pixels.array.shape) == ("PIXELS", "FP32", np.float32,
                                                                                        (1, 3))
    assert (ids.datatype, ids.array.dtype, ids.array.tolist()) == ("INT64", np.int64, [[7, 8]])
    assert (text.datatype, text.array.dtype, text.array.tolist()) == ("BYTES", object, [[b"hello"]])
    assert case.outputs == ("PROBS",)
    assert case.expectations[0].expected is not None
    assert case.expectations[0].expected.dtype == np.float32


def test_npy_inputs_and_expectations_are_read_relative_to_the_spec(tmp_path: Path) -> None:
    np.save(tmp_path / "pixels.npy", np.arange(6, dtype=np.float64).reshape(2, 3))
    np.save(tmp_path / "probs.npy", np.full((2, 3), 0.5, dtype=np.float32))
    np.save(tmp_path / "words.npy", np.array([["a"], ["b"]]))
    case = only_case(spec_with(tmp_path, """\
        - name: from_files
          inputs:
            PIXELS: {npy: pixels.npy}
            TEXT: {npy: words.npy}
          expect:
            PROBS: {match: allclose, npy: probs.npy, rtol: 0.01, atol: 0.001}
    """))
    pixels, text = case.inputs
    assert pixels.array.dtype == np.float32
    assert pixels.array.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert text.array.tolist() == [[b"a"], [b"b"]]
    (probs,) = case.expectations
    assert (probs.match, probs.rtol, probs.atol) == ("allclose", 0.01, 0.001)
    assert probs.expected is not None
    assert probs.expected.shape == (2, 3)


def test_a_declared_datatype_and_shape_override_the_config_and_the_value(tmp_path: Path) -> None:
    case = only_case(spec_with(tmp_path, """\
        - name: declared
          inputs:
            PIXELS: {value: [1, 2, 3, 4, 5, 6], datatype: FP16, shape: [2, 3]}
          expect:
            PROBS: {match: shape, shape: [2, 3], datatype: FP32}
    """))
    (pixels,) = case.inputs
    assert (pixels.datatype, pixels.array.dtype, pixels.array.shape) == ("FP16", np.float16, (2, 3))
    (probs,) = case.expectations
    assert (probs.match, probs.expected, probs.shape, probs.datatype) == ("shape", None, (2, 3), "FP32")


def test_argmax_and_top_k_expectations_are_indices(tmp_path: Path) -> None:
    case = only_case(spec_with(tmp_path, """\
        - name: ranks
          inputs: {PIXELS: {value: [[1, 2, 3]]}}
          expect:
            PROBS: {match: top_k, k: 2, value: [[2, 1]]}
            LABEL: {match: exact, value: [["three"]]}
    """))
    top, label = case.expectations
    assert top.expected is not None and top.expected.dtype == np.int64
    assert top.k == 2
    assert label.expected is not None
    assert label.expected.tolist() == [[b"three"]]


def test_values_that_would_change_are_refused_with_the_case_and_tensor(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, """\
        - name: lossy
          inputs:
            IDS: {value: [[1.5, 2]]}
            PIXELS: {value: [[1, 2]], shape: [3]}
            TEXT: {value: [[1]]}
          expect:
            PROBS: {match: top_k, k: 2, value: [[1, 1]]}
    """)
    with pytest.raises(UserError) as raised:
        prepare_cases(spec, spec.model("scorer"))
    lines = [str(p) for p in raised.value.problems]
    assert len(lines) == 4
    assert any("models[scorer].smoke[lossy].inputs.IDS: values [[1.5, 2. ]] do not fit INT64 exactly" in line
               for line in lines)
    assert any("inputs.PIXELS: shape [3] does not fit the 2 value(s) given (shape [1, 2])" in line for line in lines)
    assert any("inputs.TEXT: BYTES values must be strings" in line for line in lines)
    assert any("expect.PROBS: top_k indices must be 2 distinct indices per row, got [1, 1]" in line for line in lines)
    assert all(line.startswith(f"{spec.shown_path}:") for line in lines)
    assert all(problem.line is not None for problem in raised.value.problems)


def test_an_integer_that_overflows_its_datatype_is_refused(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, """\
        - name: overflow
          inputs: {IDS: {value: [300], datatype: INT8}}
          expect: {PROBS: {match: shape, shape: [3]}}
    """)
    with pytest.raises(UserError, match=r"values \[300\] do not fit INT8 exactly"):
        prepare_cases(spec, spec.model("scorer"))


def test_a_pickled_npy_file_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    spec = spec_with(tmp_path, """\
        - name: pickled
          inputs: {TEXT: {npy: objects.npy}}
          expect: {PROBS: {match: shape, shape: [3]}}
    """)
    with pytest.raises(UserError, match=r"objects.npy holds Python objects \(pickled\)"):
        prepare_cases(spec, spec.model("scorer"))


def test_a_bring_your_own_config_gives_the_datatypes(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("# a python backend model\n")
    (tmp_path / "config.pbtxt").write_text(
        'name: "byo"\nbackend: "python"\n'
        'input [{name: "X", data_type: TYPE_INT32, dims: [2]}]\n'
        'output [{name: "Y", data_type: TYPE_FP64, dims: [2]}]\n'
    )
    (tmp_path / "group.yaml").write_text(textwrap.dedent("""\
        name: group
        models:
          - name: byo
            config: config.pbtxt
            versions: {1: model.py}
            smoke:
              - name: ints
                inputs: {X: {value: [1, 2]}, EXTRA: {value: [1.0], datatype: FP32}}
                expect: {Y: {match: exact, value: [0.5, 1]}}
    """))
    spec = load_spec(tmp_path / "group.yaml")
    (case,) = prepare_cases(spec, spec.model("byo"))
    x, extra = case.inputs
    assert (x.datatype, x.array.dtype) == ("INT32", np.int32)
    assert extra.datatype == "FP32"
    assert case.expectations[0].expected is not None
    assert case.expectations[0].expected.dtype == np.float64


def test_an_input_the_config_does_not_know_needs_a_datatype(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("# a python backend model\n")
    (tmp_path / "config.pbtxt").write_text('name: "byo"\nbackend: "python"\n')
    (tmp_path / "group.yaml").write_text(textwrap.dedent("""\
        name: group
        models:
          - name: byo
            config: config.pbtxt
            versions: {1: model.py}
            smoke:
              - name: untyped
                inputs: {X: {value: [1, 2]}}
                expect: {Y: {match: shape, shape: [2]}}
    """))
    spec = load_spec(tmp_path / "group.yaml")
    with pytest.raises(UserError, match=r"models\[byo\].smoke\[untyped\].inputs.X: give its datatype"):
        prepare_cases(spec, spec.model("byo"))


def shape_problems(tmp_path: Path, spec_text: str) -> list[str]:
    """What `triton-groups validate` says about the smoke cases of `spec_text`, one string per problem."""
    (tmp_path / "model.py").write_text("# a python backend model\n")
    (tmp_path / "group.yaml").write_text(textwrap.dedent(spec_text))
    spec = load_spec(tmp_path / "group.yaml")
    with pytest.raises(UserError) as caught:
        prepare_cases(spec, spec.models[0])
    return [str(p).removeprefix(f"{tmp_path}/") for p in caught.value.problems]


BATCHING = """\
    name: g
    models:
      - name: m
        backend: python
        versions: {{1: model.py}}
        max_batch_size: {batch}
        inputs: [{{name: IN, data_type: FP32, dims: [4]{reshape}}}, {{name: MASK, data_type: INT64, dims: [-1]}}]
        outputs: [{{name: OUT, data_type: FP32, dims: [2, -1]}}]
        smoke:
          - name: c
            inputs: {{IN: {{value: {value}}}, MASK: {{value: {mask}}}}}
            expect: {{OUT: {{match: {match}}}}}
"""


def test_an_input_without_the_batch_axis_of_a_batching_model_is_refused_before_serving(tmp_path: Path) -> None:
    text = BATCHING.format(batch=8, reshape="", value="[1, 2, 3, 4]", mask="[[1, 1]]", match="shape, shape: [1, 2, 3]")

    assert shape_problems(tmp_path, text) == [
        "group.yaml:11: models[m].smoke[c].inputs.IN: shape [4] does not fit the input's dims [4] with max_batch_size "
        "8: a request carries [batch, *dims], e.g. [1, 4]"
    ]


def test_batch_sizes_beyond_max_batch_size_or_differing_between_inputs_are_refused(tmp_path: Path) -> None:
    text = BATCHING.format(batch=2, reshape="", value="[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]",
                           mask="[[1], [1], [1]]", match="shape, shape: [3, 2, 5]")
    assert shape_problems(tmp_path, text) == [
        "group.yaml:11: models[m].smoke[c].inputs.IN: batch size 3 of shape [3, 4] is not 1 to max_batch_size 2",
        "group.yaml:11: models[m].smoke[c].inputs.MASK: batch size 3 of shape [3, 1] is not 1 to max_batch_size 2",
        "group.yaml:12: models[m].smoke[c].expect.OUT: expected shape: batch size 3 of shape [3, 2, 5] is not 1 to "
        "max_batch_size 2",
    ]

    text = BATCHING.format(batch=4, reshape="", value="[[1, 2, 3, 4], [1, 2, 3, 4]]", mask="[[1]]",
                           match="shape, shape: [2, 2, 5]")
    assert shape_problems(tmp_path, text) == [
        "group.yaml:11: models[m].smoke[c].inputs.IN: the inputs of one request share one batch size, these differ: "
        "IN 2, MASK 1"
    ]


def test_without_batching_the_shape_is_dims_and_reshape_is_not_what_the_request_carries(tmp_path: Path) -> None:
    text = BATCHING.format(batch=0, reshape=", reshape: [2, 2]", value="[[1, 2], [3, 4]]", mask="[1, 1, 1]",
                           match="allclose, value: [[1.0, 2.0, 3.0]]")

    assert shape_problems(tmp_path, text) == [
        "group.yaml:11: models[m].smoke[c].inputs.IN: shape [2, 2] does not fit the input's dims [4] (max_batch_size "
        "0: no batch axis); the request carries dims, reshape [2, 2] is what the model sees",
        "group.yaml:12: models[m].smoke[c].expect.OUT: the expected value's shape: shape [1, 3] does not fit the "
        "output's dims [2, -1] (max_batch_size 0: no batch axis)",
    ]


def test_shapes_that_fit_dims_wildcards_and_the_batch_axis_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("# a python backend model\n")
    (tmp_path / "group.yaml").write_text(textwrap.dedent(BATCHING.format(
        batch=4, reshape="", value="[[1, 2, 3, 4], [5, 6, 7, 8]]", mask="[[1, 1, 1], [1, 0, 0]]",
        match="allclose, value: [[[1.0], [2.0]], [[3.0], [4.0]]]")))
    spec = load_spec(tmp_path / "group.yaml")

    [case] = prepare_cases(spec, spec.models[0])

    assert [tensor.array.shape for tensor in case.inputs] == [(2, 4), (2, 3)]
