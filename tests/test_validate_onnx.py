"""ONNX rules: the inputs and outputs of config.pbtxt agree with the model.onnx graph in name, data type and
shape, as the onnxruntime backend checks them when it loads the model (a batching model's graph has one more
dimension, the variable batch dimension, in front)."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from components.core.plan import load_plan
from components.core.problems import Problem
from components.core.validate import validate_plan

Tensor = tuple[str, int, list[int | str]]

CONFIG = """\
name: "m"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 3 ] } ]
"""
BATCHED_X: Tensor = ("x", TensorProto.FLOAT, ["batch", 3])
BATCHED_Y: Tensor = ("y", TensorProto.FLOAT, ["batch", 3])


def onnx_model(inputs: list[Tensor], outputs: list[Tensor], initializers: list[onnx.TensorProto] = ()) -> bytes:
    """A small graph: each output is the first input cast to the output's element type."""
    nodes = [helper.make_node("Cast", [inputs[0][0]], [name], to=elem) for name, elem, _ in outputs]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, e, s) for n, e, s in inputs],
        [helper.make_tensor_value_info(n, e, s) for n, e, s in outputs],
        initializer=list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def validate(root: Path, config: str, model: bytes, path: str = "1/model.onnx",
             config_only: bool = False) -> list[Problem]:
    (root / "m").mkdir(exist_ok=True)
    (root / "m" / "config.pbtxt").write_text(config)
    (root / "m" / path).parent.mkdir(parents=True, exist_ok=True)
    (root / "m" / path).write_bytes(model)
    return validate_plan(load_plan(root), config_only=config_only)


def fields_and_codes(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in problems]


def test_a_batching_model_matches_dims_plus_the_batch_dimension(tmp_path: Path) -> None:
    assert validate(tmp_path, CONFIG, onnx_model([BATCHED_X], [BATCHED_Y])) == []


CASES = [
    # (id, config text replaced, replacement, expected (field, code) list)
    ("input-name", 'name: "x"', 'name: "input"',
     [("input", "onnx.input_missing"), ("input[input]", "onnx.input_name")]),
    ("output-name", 'name: "y"', 'name: "output"', [("output[output]", "onnx.output_name")]),
    ("input-data-type", '"x" data_type: TYPE_FP32', '"x" data_type: TYPE_FP16', [("input[x].data_type",
                                                                                  "onnx.data_type")]),
    ("rank", '"x" data_type: TYPE_FP32 dims: [ 3 ]', '"x" data_type: TYPE_FP32 dims: [ 1, 3 ]',
     [("input[x].dims", "onnx.shape")]),
    ("fixed-size", '"y" data_type: TYPE_FP32 dims: [ 3 ]', '"y" data_type: TYPE_FP32 dims: [ 4 ]',
     [("output[y].dims", "onnx.shape")]),
    ("batch-dimension-counted-twice", "max_batch_size: 4", "max_batch_size: 0",
     [("input[x].dims", "onnx.shape"), ("output[y].dims", "onnx.shape")]),
]


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_config_that_disagrees_with_the_graph_and_its_fix(
    tmp_path: Path, old: str, new: str, expected: list[tuple[str, str]]
) -> None:
    model = onnx_model([BATCHED_X], [BATCHED_Y])
    assert fields_and_codes(validate(tmp_path, CONFIG.replace(old, new), model)) == expected
    assert validate(tmp_path, CONFIG, model) == []


def test_messages_say_both_shapes_and_why(tmp_path: Path) -> None:
    problems = validate(tmp_path, CONFIG.replace("dims: [ 3 ] } ]\noutput", "dims: [ 1, 3 ] } ]\noutput"),
                        onnx_model([BATCHED_X], [BATCHED_Y]))
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: input[x].dims: input 'x': 1/model.onnx has shape [-1,3] but the config gives [-1,1,3] (a "
        "batch dimension, because max_batch_size > 0, then dims); the ranks differ (2 vs 3)"
    ]


def test_a_batching_config_needs_a_variable_first_dimension_in_the_graph(tmp_path: Path) -> None:
    fixed = onnx_model([("x", TensorProto.FLOAT, [1, 3])], [("y", TensorProto.FLOAT, [1, 3])])
    problems = validate(tmp_path, CONFIG, fixed)
    assert fields_and_codes(problems) == [("input[x].dims", "onnx.shape"), ("output[y].dims", "onnx.shape")]
    assert "needs a variable (-1) first dimension for the batch" in problems[0].message
    whole_shape = CONFIG.replace("max_batch_size: 4", "max_batch_size: 0").replace("dims: [ 3 ]", "dims: [ 1, 3 ]")
    assert validate(tmp_path, whole_shape, fixed) == []


def test_a_variable_graph_dimension_fits_any_input_size_but_outputs_must_match_exactly(tmp_path: Path) -> None:
    model = onnx_model([("x", TensorProto.FLOAT, ["batch", "n"])], [("y", TensorProto.FLOAT, ["batch", "n"])])
    problems = validate(tmp_path, CONFIG, model)
    assert fields_and_codes(problems) == [("output[y].dims", "onnx.shape")]
    assert validate(tmp_path, CONFIG.replace('"y" data_type: TYPE_FP32 dims: [ 3 ]',
                                             '"y" data_type: TYPE_FP32 dims: [ -1 ]'), model) == []


def test_reshape_is_what_the_graph_is_compared_with(tmp_path: Path) -> None:
    model = onnx_model([("x", TensorProto.FLOAT, [-1, 3, 1])], [BATCHED_Y])
    problems = validate(tmp_path, CONFIG, model)
    assert fields_and_codes(problems) == [("input[x].dims", "onnx.shape")]
    reshaped = CONFIG.replace("dims: [ 3 ] } ]\noutput", "dims: [ 3 ] reshape { shape: [ 3, 1 ] } } ]\noutput")
    assert validate(tmp_path, reshaped, model) == []


def test_every_graph_input_must_be_listed(tmp_path: Path) -> None:
    model = onnx_model([BATCHED_X, ("mask", TensorProto.BOOL, ["batch", 3])], [BATCHED_Y])
    problems = validate(tmp_path, CONFIG, model)
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: input: 1/model.onnx needs input 'mask', which config.pbtxt does not list; add it to input"
    ]
    both = CONFIG.replace("dims: [ 3 ] } ]\noutput", 'dims: [ 3 ] }, { name: "mask" data_type: TYPE_BOOL '
                          'dims: [ 3 ] } ]\noutput')
    assert validate(tmp_path, both, model) == []


def test_an_input_backed_by_an_initializer_may_be_listed_as_optional(tmp_path: Path) -> None:
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [1], [2.0])
    model = onnx_model([("x", TensorProto.FLOAT, [3]), ("scale", TensorProto.FLOAT, [1])],
                       [("y", TensorProto.FLOAT, [3])], initializers=[scale])
    unbatched = CONFIG.replace("max_batch_size: 4", "max_batch_size: 0")
    assert validate(tmp_path, unbatched, model) == []
    listed = unbatched.replace("dims: [ 3 ] } ]\noutput", 'dims: [ 3 ] }, { name: "scale" data_type: TYPE_FP32 '
                               'dims: [ 1 ] } ]\noutput')
    assert fields_and_codes(validate(tmp_path, listed, model)) == [("input", "onnx.input_count")]
    optional = listed.replace("dims: [ 1 ] }", "dims: [ 1 ] optional: true }")
    assert validate(tmp_path, optional, model) == []


def test_sequence_control_tensors_must_be_graph_inputs_of_dims_1(tmp_path: Path) -> None:
    control = ('sequence_batching { control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START '
               'int32_false_true: [ 0, 1 ] } ] } ] }\n')
    without = onnx_model([BATCHED_X], [BATCHED_Y])
    assert fields_and_codes(validate(tmp_path, CONFIG + control, without)) == [
        ("sequence_batching.control_input[START]", "onnx.sequence_control")
    ]
    wrong = onnx_model([BATCHED_X, ("START", TensorProto.FLOAT, ["batch", 2])], [BATCHED_Y])
    assert len(validate(tmp_path, CONFIG + control, wrong)) == 2
    right = onnx_model([BATCHED_X, ("START", TensorProto.INT32, ["batch", 1])], [BATCHED_Y])
    assert validate(tmp_path, CONFIG + control, right) == []


def test_weights_in_an_external_file_are_not_loaded(tmp_path: Path) -> None:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    proto = onnx.load_model_from_string(onnx_model([BATCHED_X], [BATCHED_Y], initializers=[weights]))
    onnx.external_data_helper.convert_model_to_external_data(proto, location="weights.bin", size_threshold=0)
    problems = validate(tmp_path, CONFIG, proto.SerializeToString())
    assert not (tmp_path / "m" / "1" / "weights.bin").exists()
    assert problems == []


def test_a_model_onnx_folder_holds_model_onnx(tmp_path: Path) -> None:
    model = onnx_model([BATCHED_X], [BATCHED_Y])
    problems = validate(tmp_path, CONFIG, model, path="1/model.onnx/weights.onnx")
    assert [p.message for p in problems] == [
        "1/model.onnx is a folder without model.onnx inside; the onnxruntime backend loads <folder>/model.onnx"
    ]
    assert validate(tmp_path, CONFIG.replace('name: "x"', 'name: "z"'), model, path="1/model.onnx/model.onnx") != []
    assert validate(tmp_path, CONFIG, model, path="1/model.onnx/model.onnx") == []


def test_a_file_that_is_not_onnx_is_reported(tmp_path: Path) -> None:
    problems = validate(tmp_path, CONFIG, b"\xff\xffnot a protobuf")
    assert fields_and_codes(problems) == [("default_model_filename", "onnx.unreadable")]
    assert problems[0].message.startswith("1/model.onnx is not a readable ONNX model")
    assert validate(tmp_path, CONFIG, onnx_model([BATCHED_X], [BATCHED_Y])) == []


def test_config_only_does_not_read_the_graph(tmp_path: Path) -> None:
    mismatched = onnx_model([("other", TensorProto.INT64, [5])], [BATCHED_Y])
    assert validate(tmp_path, CONFIG, mismatched) != []
    assert validate(tmp_path, CONFIG, mismatched, config_only=True) == []
