"""The configs printed in the seeds, written as group specs with tiny model files, pass the validator; each
broken the way people typically break it gives the message that says what to fix.

Seed 001 (OCI BYOC sample): densenet_onnx (ONNX, input data_0, output fc6_1) and resnet (its config.pbtxt
verbatim, TorchScript). Seed 004 (Triton ensembles): ensemble_model with five steps over three Python models,
the text_detection ONNX model and the text_recognition TorchScript model.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from components.core.plan import load_plan
from components.core.problems import Problem, errors
from components.core.validate import validate_plan

PYTHON_MODEL = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[]) for _ in requests]
"""

RESNET_CONFIG = """\
name: "resnet"
platform: "pytorch_libtorch"
max_batch_size: 1

input [
{
name: "input",
data_type: TYPE_FP32,
dims: [ 3, 224, 224 ]
}
]

output [
{
name: "output",
data_type: TYPE_FP32,
dims: [ 1000 ]
}
]

instance_group [
{
kind: KIND_CPU
}
]
"""

SEED_001_SPEC = """\
name: seed-001
models:
  - name: densenet_onnx
    platform: onnxruntime_onnx
    max_batch_size: 0
    versions: {1: densenet/model.onnx}
    inputs:
      - {name: data_0, data_type: FP32, dims: [1, 3, 224, 224]}
    outputs:
      - name: fc6_1
        data_type: FP32
        dims: [1, 1000]
        reshape: [1, 1000, 1, 1]
        label_filename: densenet/densenet_labels.txt
  - name: resnet
    config: resnet/config.pbtxt
    versions: {1: resnet/model.pt}
"""

SEED_004_ENSEMBLE_CONFIG = """\
name: "ensemble_model"
platform: "ensemble"
max_batch_size: 256
input [
  {
    name: "input_image"
    data_type: TYPE_UINT8
    dims: [ -1 ]
  }
]
output [
  {
    name: "recognized_text"
    data_type: TYPE_STRING
    dims: [ -1 ]
  }
]
ensemble_scheduling {
  step [
    {
      model_name: "detection_preprocessing"
      model_version: -1
      input_map {
        key: "detection_preprocessing_input"
        value: "input_image"
      }
      output_map {
        key: "detection_preprocessing_output"
        value: "preprocessed_image"
      }
    },
    {
      model_name: "text_detection"
      model_version: -1
      input_map {
        key: "input_images:0"
        value: "preprocessed_image"
      }
      output_map {
        key: "feature_fusion/Conv_7/Sigmoid:0"
        value: "Sigmoid:0"
      },
      output_map {
        key: "feature_fusion/concat_3:0"
        value: "concat_3:0"
      }
    },
    {
      model_name: "detection_postprocessing"
      model_version: -1
      input_map {
        key: "detection_postprocessing_input_1"
        value: "Sigmoid:0"
      }
      input_map {
        key: "detection_postprocessing_input_2"
        value: "concat_3:0"
      }
      input_map {
        key: "detection_postprocessing_input_3"
        value: "preprocessed_image"
      }
      output_map {
        key: "detection_postprocessing_output"
        value: "cropped_images"
      }
    },
    {
      model_name: "text_recognition"
      model_version: -1
      input_map {
        key: "INPUT__0"
        value: "cropped_images"
      }
      output_map {
        key: "OUTPUT__0"
        value: "recognition_output"
      }
    },
    {
      model_name: "recognition_postprocessing"
      model_version: -1
      input_map {
        key: "recognition_postprocessing_input"
        value: "recognition_output"
      }
      output_map {
        key: "recognition_postprocessing_output"
        value: "recognized_text"
      }
    }
  ]
}
"""

SEED_004_COMPONENTS = """\
  - name: detection_preprocessing
    backend: python
    max_batch_size: 256
    versions: {1: python/model.py}
    inputs: [{name: detection_preprocessing_input, data_type: UINT8, dims: [-1]}]
    outputs: [{name: detection_preprocessing_output, data_type: FP32, dims: [-1, -1, 3]}]
    instance_groups: [{kind: CPU}]
  - name: text_detection
    platform: onnxruntime_onnx
    max_batch_size: 256
    versions: {1: text_detection.onnx}
    inputs: [{name: "input_images:0", data_type: FP32, dims: [-1, -1, 3]}]
    outputs:
      - {name: "feature_fusion/Conv_7/Sigmoid:0", data_type: FP32, dims: [-1, -1, 1]}
      - {name: "feature_fusion/concat_3:0", data_type: FP32, dims: [-1, -1, 5]}
  - name: detection_postprocessing
    backend: python
    max_batch_size: 256
    versions: {1: python/model.py}
    inputs:
      - {name: detection_postprocessing_input_1, data_type: FP32, dims: [-1, -1, 1]}
      - {name: detection_postprocessing_input_2, data_type: FP32, dims: [-1, -1, 5]}
      - {name: detection_postprocessing_input_3, data_type: FP32, dims: [-1, -1, 3]}
    outputs: [{name: detection_postprocessing_output, data_type: FP32, dims: [-1, -1, -1]}]
    instance_groups: [{kind: CPU}]
  - name: text_recognition
    platform: pytorch_libtorch
    max_batch_size: 256
    versions: {1: text_recognition.pt}
    inputs: [{name: INPUT__0, data_type: FP32, dims: [1, 32, 100]}]
    outputs: [{name: OUTPUT__0, data_type: FP32, dims: [26, 37]}]
  - name: recognition_postprocessing
    backend: python
    max_batch_size: 256
    versions: {1: python/model.py}
    inputs: [{name: recognition_postprocessing_input, data_type: FP32, dims: [26, 37]}]
    outputs: [{name: recognition_postprocessing_output, data_type: STRING, dims: [-1]}]
    instance_groups: [{kind: CPU}]
"""

SEED_004_SPEC = """\
name: seed-004
models:
  - name: ensemble_model
    platform: ensemble
    max_batch_size: 256
    inputs: [{name: input_image, data_type: UINT8, dims: [-1]}]
    outputs: [{name: recognized_text, data_type: STRING, dims: [-1]}]
    ensemble:
      steps:
        - model: detection_preprocessing
          input_map: {detection_preprocessing_input: input_image}
          output_map: {detection_preprocessing_output: preprocessed_image}
        - model: text_detection
          input_map: {"input_images:0": preprocessed_image}
          output_map:
            "feature_fusion/Conv_7/Sigmoid:0": "Sigmoid:0"
            "feature_fusion/concat_3:0": "concat_3:0"
        - model: detection_postprocessing
          input_map:
            detection_postprocessing_input_1: "Sigmoid:0"
            detection_postprocessing_input_2: "concat_3:0"
            detection_postprocessing_input_3: preprocessed_image
          output_map: {detection_postprocessing_output: cropped_images}
        - model: text_recognition
          input_map: {INPUT__0: cropped_images}
          output_map: {OUTPUT__0: recognition_output}
        - model: recognition_postprocessing
          input_map: {recognition_postprocessing_input: recognition_output}
          output_map: {recognition_postprocessing_output: recognized_text}
""" + SEED_004_COMPONENTS


def densenet_onnx() -> onnx.ModelProto:
    """A tiny stand-in for densenet121: data_0 [1,3,224,224] -> pooled -> 1x1 conv -> fc6_1 [1,1000,1,1]."""
    weights = helper.make_tensor("fc_weights", TensorProto.FLOAT, [1000, 3, 1, 1], [0.001] * 3000)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["data_0"], ["pooled"]),
         helper.make_node("Conv", ["pooled", "fc_weights"], ["fc6_1"])],
        "densenet_stand_in",
        [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("fc6_1", TensorProto.FLOAT, [1, 1000, 1, 1])],
        initializer=[weights],
    )
    return checked(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))


def text_detection_onnx() -> onnx.ModelProto:
    """A tiny stand-in for the EAST text detector: NHWC image -> score map [N,H,W,1] and geometry [N,H,W,5]."""
    axes = helper.make_tensor("channel_axis", TensorProto.INT64, [1], [3])
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input_images:0", "channel_axis"], ["mean"], keepdims=1),
         helper.make_node("Sigmoid", ["mean"], ["feature_fusion/Conv_7/Sigmoid:0"]),
         helper.make_node("Concat", ["input_images:0", "mean", "mean"], ["feature_fusion/concat_3:0"], axis=3)],
        "east_stand_in",
        [helper.make_tensor_value_info("input_images:0", TensorProto.FLOAT, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info("feature_fusion/Conv_7/Sigmoid:0", TensorProto.FLOAT, ["N", "H", "W", 1]),
         helper.make_tensor_value_info("feature_fusion/concat_3:0", TensorProto.FLOAT, ["N", "H", "W", 5])],
        initializer=[axes],
    )
    return checked(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))


def checked(model: onnx.ModelProto) -> onnx.ModelProto:
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def write_seed_001(root: Path, spec: str = SEED_001_SPEC, resnet_config: str = RESNET_CONFIG) -> Path:
    (root / "densenet").mkdir()
    onnx.save(densenet_onnx(), root / "densenet" / "model.onnx")
    (root / "densenet" / "densenet_labels.txt").write_text("".join(f"class_{i}\n" for i in range(1000)))
    (root / "resnet").mkdir()
    (root / "resnet" / "config.pbtxt").write_text(resnet_config)
    (root / "resnet" / "model.pt").write_bytes(b"TorchScript archive stand-in: validation checks presence only")
    (root / "group.yaml").write_text(spec)
    return root / "group.yaml"


def write_seed_004(root: Path, spec: str = SEED_004_SPEC) -> Path:
    (root / "python").mkdir()
    (root / "python" / "model.py").write_text(PYTHON_MODEL)
    onnx.save(text_detection_onnx(), root / "text_detection.onnx")
    (root / "text_recognition.pt").write_bytes(b"TorchScript archive stand-in: validation checks presence only")
    (root / "ensemble_model").mkdir()
    (root / "ensemble_model" / "config.pbtxt").write_text(SEED_004_ENSEMBLE_CONFIG)
    (root / "group.yaml").write_text(spec)
    return root / "group.yaml"


def problem_lines(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def test_seed_001_densenet_and_resnet_are_valid(tmp_path: Path) -> None:
    problems = validate_plan(load_plan(write_seed_001(tmp_path)))
    assert problems == []


def test_seed_001_densenet_dims_without_the_batch_dimension_break_the_onnx_rank(tmp_path: Path) -> None:
    broken = SEED_001_SPEC.replace("dims: [1, 3, 224, 224]", "dims: [3, 224, 224]")
    problems = validate_plan(load_plan(write_seed_001(tmp_path, spec=broken)))
    assert problem_lines(problems) == [
        "densenet_onnx/config.pbtxt: input[data_0].dims: input 'data_0': 1/model.onnx has shape [1,3,224,224] but "
        "the config gives [3,224,224] (max_batch_size 0: dims are the full shape); the ranks differ (4 vs 3)"
    ]


def test_seed_001_densenet_with_a_batch_size_needs_a_dynamic_batch_dimension(tmp_path: Path) -> None:
    broken = SEED_001_SPEC.replace("max_batch_size: 0", "max_batch_size: 8")
    problems = validate_plan(load_plan(write_seed_001(tmp_path, spec=broken)))
    assert {(p.field, p.code) for p in problems} == {("input[data_0].dims", "onnx.shape"),
                                                     ("output[fc6_1].reshape", "onnx.shape")}
    assert "needs a variable (-1) first dimension for the batch" in problems[0].message


def test_seed_001_resnet_config_named_differently_from_its_folder(tmp_path: Path) -> None:
    broken = RESNET_CONFIG.replace('name: "resnet"', 'name: "resnet50"')
    problems = validate_plan(load_plan(write_seed_001(tmp_path, resnet_config=broken)))
    assert problem_lines(problems) == [
        "resnet/config.pbtxt: name: name 'resnet50' does not match the model folder 'resnet'; Triton requires them "
        'to be equal: write name: "resnet" or leave name out'
    ]


def test_seed_001_as_a_repository_folder_is_valid_too(tmp_path: Path) -> None:
    from components.core.plan import materialize

    repository = materialize(load_plan(write_seed_001(tmp_path)), tmp_path / "repository")
    assert validate_plan(load_plan(repository)) == []


def test_seed_004_ensemble_and_its_five_models_are_valid(tmp_path: Path) -> None:
    assert validate_plan(load_plan(write_seed_004(tmp_path))) == []


def test_seed_004_verbatim_ensemble_config_is_valid(tmp_path: Path) -> None:
    (tmp_path / "empty_version").mkdir()
    spec = ("name: seed-004\nmodels:\n  - name: ensemble_model\n    config: ensemble_model/config.pbtxt\n"
            "    versions: {1: empty_version}\n" + SEED_004_COMPONENTS)
    assert validate_plan(load_plan(write_seed_004(tmp_path, spec=spec))) == []


def test_seed_004_step_with_a_wrong_input_name(tmp_path: Path) -> None:
    broken = SEED_004_SPEC.replace("input_map: {INPUT__0: cropped_images}", "input_map: {INPUT0: cropped_images}")
    problems = validate_plan(load_plan(write_seed_004(tmp_path, spec=broken)))
    assert problem_lines(problems) == [
        "ensemble_model/config.pbtxt: ensemble_scheduling.step[3].input_map: input 'INPUT__0' of model "
        "'text_recognition' is not mapped to any ensemble tensor; add input_map { key: \"INPUT__0\" value: "
        "\"<tensor>\" }",
        "ensemble_model/config.pbtxt: ensemble_scheduling.step[3].input_map[INPUT0]: model 'text_recognition' has "
        "no input 'INPUT0'; its inputs are INPUT__0",
    ]


def test_seed_004_step_reading_a_tensor_nobody_writes(tmp_path: Path) -> None:
    broken = SEED_004_SPEC.replace("detection_postprocessing_input_2: \"concat_3:0\"",
                                   "detection_postprocessing_input_2: \"concat_3\"")
    problems = errors(validate_plan(load_plan(write_seed_004(tmp_path, spec=broken))))
    assert [(p.field, p.code) for p in problems] == [
        ("ensemble_scheduling.step[1].output_map[feature_fusion/concat_3:0]", "ensemble.tensor_unused"),
        ("ensemble_scheduling.step[2].input_map[detection_postprocessing_input_2]", "ensemble.tensor_unwritten"),
        ("output[recognized_text]", "ensemble.output_unreachable"),
    ]
    assert problems[1].message == (
        "step 2 (detection_postprocessing) reads tensor 'concat_3', which no step writes and which is not an "
        "ensemble input; map a step output or an ensemble input to it"
    )


def test_seed_004_python_model_with_a_mismatched_data_type(tmp_path: Path) -> None:
    broken = SEED_004_SPEC.replace("{name: recognition_postprocessing_input, data_type: FP32",
                                   "{name: recognition_postprocessing_input, data_type: FP16")
    problems = validate_plan(load_plan(write_seed_004(tmp_path, spec=broken)))
    assert problem_lines(problems) == [
        "ensemble_model/config.pbtxt: ensemble_scheduling.step[4].input_map[recognition_postprocessing_input]: "
        "tensor 'recognition_output' is TYPE_FP16 as input 'recognition_postprocessing_input' of model "
        "'recognition_postprocessing' but TYPE_FP32 as output 'OUTPUT__0' of model 'text_recognition'; make the "
        "data types equal"
    ]
