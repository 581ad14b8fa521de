"""Rendering spec models into Triton's ModelConfig, laying them out as a repository, and round-trips."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from components.core.plan import is_version_folder, load_plan, materialize, plan_from_spec
from components.core.problems import UserError
from components.core.render import (
    EXECUTION_ENV_PARAMETER,
    PYTHON_STUB_NAME,
    config_text,
    execution_env_path,
    parse_config,
    render_config,
)
from components.core.spec import GroupSpec, load_spec
from components.core.validate.files import available_versions

FEATURES = """
name: features
models:
  - name: tensors
    platform: onnxruntime_onnx
    versions: {1: model.onnx}
    max_batch_size: 4
    inputs:
      - {name: IMAGE, data_type: UINT8, dims: [2, 2], reshape: [4]}
      - {name: MASK, data_type: BOOL, dims: [-1], optional: true}
    outputs:
      - {name: SCORES, data_type: FP16, dims: [1, 3], reshape: [3], label_filename: labels/classes.txt}
  - name: scheduled
    backend: python
    versions: {1: model.py}
    max_batch_size: 8
    instance_groups:
      - {kind: CPU, count: 2, name: cpus}
      - {kind: GPU, count: 1, gpus: [0, 1]}
    dynamic_batching:
      preferred_batch_size: [2, 4]
      max_queue_delay_microseconds: 500
      preserve_ordering: true
      priority_levels: 2
      default_priority_level: 2
      default_queue_policy: {timeout_action: DELAY, default_timeout_microseconds: 1000, max_queue_size: 16}
      priority_queue_policy:
        2: {max_queue_size: 4}
        1: {timeout_action: REJECT, default_timeout_microseconds: 10, allow_timeout_override: true}
    parameters: {b_second: "2", a_first: "1"}
  - name: pythonic
    backend: python
    versions: {1: model.py, 2: model.py}
    version_policy: {specific: [2]}
    python: {execution_env: envs/py311.tar.gz, stub: stubs/my_stub}
    parameters: {shm-default-byte-size: "1048576"}
  - name: chain
    platform: ensemble
    max_batch_size: 4
    inputs: [{name: IMAGE, data_type: UINT8, dims: [2, 2]}]
    outputs: [{name: OUT, data_type: FP16, dims: [1, 3]}]
    ensemble:
      steps:
        - model: tensors
          input_map: {IMAGE: IMAGE}
          output_map: {SCORES: scores}
        - model: scheduled
          version: 1
          input_map: {IN: scores}
          output_map: {OUT: OUT}
  - name: extra
    platform: pytorch_libtorch
    versions: {1: model.pt}
    extra_config: |
      instance_group { kind: KIND_CPU count: 3 }
      model_warmup {
        name: "zeros" batch_size: 1
        inputs { key: "INPUT__0" value { data_type: TYPE_FP32 dims: 4 zero_data: true } }
      }
"""
"""A spec using every rendered feature; `feature_spec` writes it with every file it names."""


@pytest.fixture
def feature_spec(tmp_path: Path) -> GroupSpec:
    for name in ("model.onnx", "model.py", "model.pt", "labels/classes.txt", "envs/py311.tar.gz", "stubs/my_stub"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "group.yaml").write_text(FEATURES.lstrip("\n"))
    return load_spec(tmp_path / "group.yaml")


def rendered(spec: GroupSpec, name: str) -> mc.ModelConfig:
    return render_config(spec.model(name), spec)


def test_inputs_and_outputs_with_reshape_optional_and_labels(feature_spec: GroupSpec) -> None:
    config = rendered(feature_spec, "tensors")

    assert config.name == "tensors"
    assert config.platform == "onnxruntime_onnx"
    assert config.backend == ""
    assert config.max_batch_size == 4
    image, mask = config.input
    assert (image.name, image.data_type, list(image.dims), list(image.reshape.shape), image.optional) == (
        "IMAGE", mc.TYPE_UINT8, [2, 2], [4], False)
    assert (mask.name, mask.data_type, list(mask.dims), mask.HasField("reshape"), mask.optional) == (
        "MASK", mc.TYPE_BOOL, [-1], False, True)
    (scores,) = config.output
    assert (scores.name, scores.data_type, list(scores.dims), list(scores.reshape.shape)) == (
        "SCORES", mc.TYPE_FP16, [1, 3], [3])
    assert scores.label_filename == "classes.txt"


def test_instance_groups_dynamic_batching_and_priority_queue_policies(feature_spec: GroupSpec) -> None:
    config = rendered(feature_spec, "scheduled")

    cpus, gpus = config.instance_group
    assert (cpus.name, cpus.kind, cpus.count, list(cpus.gpus)) == ("cpus", mc.ModelInstanceGroup.KIND_CPU, 2, [])
    assert (gpus.name, gpus.kind, gpus.count, list(gpus.gpus)) == ("", mc.ModelInstanceGroup.KIND_GPU, 1, [0, 1])
    batching = config.dynamic_batching
    assert list(batching.preferred_batch_size) == [2, 4]
    assert batching.max_queue_delay_microseconds == 500
    assert batching.preserve_ordering is True
    assert (batching.priority_levels, batching.default_priority_level) == (2, 2)
    default = batching.default_queue_policy
    assert (default.timeout_action, default.default_timeout_microseconds, default.max_queue_size) == (
        mc.ModelQueuePolicy.DELAY, 1000, 16)
    assert sorted(batching.priority_queue_policy) == [1, 2]
    first = batching.priority_queue_policy[1]
    assert (first.timeout_action, first.default_timeout_microseconds, first.allow_timeout_override) == (
        mc.ModelQueuePolicy.REJECT, 10, True)
    assert batching.priority_queue_policy[2].max_queue_size == 4


def test_empty_dynamic_batching_is_still_turned_on(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("")
    (tmp_path / "group.yaml").write_text(
        "name: g\nmodels: [{name: a, backend: python, versions: {1: model.py}, dynamic_batching: {}}]\n"
    )
    spec = load_spec(tmp_path / "group.yaml")

    config = rendered(spec, "a")

    assert config.HasField("dynamic_batching")
    assert "dynamic_batching {\n}" in config_text(config)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("{latest: 2}", "version_policy {\n  latest {\n    num_versions: 2\n  }\n}\n"),
        ("{all: true}", "version_policy {\n  all {\n  }\n}\n"),
        ("{specific: [1, 3]}", "version_policy {\n  specific {\n    versions: 1\n    versions: 3\n  }\n}\n"),
    ],
)
def test_version_policies(tmp_path: Path, policy: str, expected: str) -> None:
    (tmp_path / "model.py").write_text("")
    (tmp_path / "group.yaml").write_text(textwrap.dedent(f"""
        name: g
        models:
          - name: a
            backend: python
            versions: {{1: model.py, 3: model.py}}
            version_policy: {policy}
    """))
    spec = load_spec(tmp_path / "group.yaml")

    text = config_text(rendered(spec, "a"))

    assert expected in text


def test_parameters_are_string_values_in_key_order(feature_spec: GroupSpec) -> None:
    config = rendered(feature_spec, "scheduled")

    assert {key: value.string_value for key, value in config.parameters.items()} == {"a_first": "1", "b_second": "2"}
    text = config_text(config)
    assert text.index('key: "a_first"') < text.index('key: "b_second"')


def test_a_python_execution_env_is_a_parameter_pointing_into_the_model_folder(feature_spec: GroupSpec) -> None:
    config = rendered(feature_spec, "pythonic")

    assert config.backend == "python"
    assert config.parameters[EXECUTION_ENV_PARAMETER].string_value == "$$TRITON_MODEL_DIRECTORY/env/py311.tar.gz"
    assert config.parameters["shm-default-byte-size"].string_value == "1048576"
    assert execution_env_path("some/where/env.tar.gz") == "$$TRITON_MODEL_DIRECTORY/env/env.tar.gz"
    assert list(config.version_policy.specific.versions) == [2]


def test_the_plan_places_env_stub_labels_and_version_files(feature_spec: GroupSpec, tmp_path: Path) -> None:
    plan = plan_from_spec(feature_spec)

    assert sorted(plan.models) == ["chain", "extra", "pythonic", "scheduled", "tensors"]
    pythonic = plan.models["pythonic"].files
    assert sorted(pythonic) == ["1/model.py", "2/model.py", "config.pbtxt", "env/py311.tar.gz", PYTHON_STUB_NAME]
    assert pythonic["env/py311.tar.gz"].path == tmp_path / "envs" / "py311.tar.gz"
    assert pythonic[PYTHON_STUB_NAME].path == tmp_path / "stubs" / "my_stub"
    assert pythonic[PYTHON_STUB_NAME].executable
    assert sorted(plan.models["tensors"].files) == ["1/model.onnx", "classes.txt", "config.pbtxt"]
    assert sorted(plan.models["extra"].files) == ["1/model.pt", "config.pbtxt"]
    assert plan.models["chain"].version_dirs() == ["1"]
    assert plan.models["pythonic"].version_dirs() == ["1", "2"]


def test_materialize_writes_the_stub_executable_and_everything_else_read_only(
    feature_spec: GroupSpec, tmp_path: Path
) -> None:
    target = materialize(plan_from_spec(feature_spec), tmp_path / "repo")

    stub = target / "pythonic" / PYTHON_STUB_NAME
    assert stub.read_bytes() == b"stubs/my_stub"
    assert os.access(stub, os.X_OK)
    env = target / "pythonic" / "env" / "py311.tar.gz"
    assert env.read_bytes() == b"envs/py311.tar.gz"
    assert stat.S_IMODE(env.stat().st_mode) == 0o644
    assert (target / "chain" / "1").is_dir()
    assert not any((target / "chain" / "1").iterdir())
    assert parse_config((target / "scheduled" / "config.pbtxt").read_text()) == rendered(feature_spec, "scheduled")


def test_ensemble_steps(feature_spec: GroupSpec) -> None:
    config = rendered(feature_spec, "chain")

    assert config.platform == "ensemble"
    first, second = config.ensemble_scheduling.step
    assert (first.model_name, first.model_version, dict(first.input_map), dict(first.output_map)) == (
        "tensors", -1, {"IMAGE": "IMAGE"}, {"SCORES": "scores"})
    assert (second.model_name, second.model_version, dict(second.input_map), dict(second.output_map)) == (
        "scheduled", 1, {"IN": "scores"}, {"OUT": "OUT"})


def test_extra_config_is_merged_into_the_rendered_config(feature_spec: GroupSpec) -> None:
    config = rendered(feature_spec, "extra")

    assert config.platform == "pytorch_libtorch"
    (group,) = config.instance_group
    assert (group.kind, group.count) == (mc.ModelInstanceGroup.KIND_CPU, 3)
    (warmup,) = config.model_warmup
    assert warmup.name == "zeros"
    assert warmup.inputs["INPUT__0"].zero_data is True


def test_extra_config_that_triton_would_refuse_is_a_problem_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("")
    (tmp_path / "group.yaml").write_text(textwrap.dedent("""
        name: g
        models:
          - name: a
            backend: python
            versions: {1: model.py}
            extra_config: |
              model_warmup { nmae: "w" }
    """).lstrip("\n"))
    spec = load_spec(tmp_path / "group.yaml")

    with pytest.raises(UserError) as caught:
        render_config(spec.model("a"), spec)

    (problem,) = caught.value.problems
    assert (problem.code, problem.field, problem.line) == ("spec.extra_config", "models[a].extra_config", 6)
    assert 'has no field named "nmae"' in problem.message
    with pytest.raises(UserError):
        plan_from_spec(spec)


@pytest.mark.parametrize("name", ["tensors", "scheduled", "pythonic", "chain", "extra"])
def test_render_print_parse_print_is_identical(feature_spec: GroupSpec, name: str) -> None:
    config = rendered(feature_spec, name)

    text = config_text(config)
    parsed = parse_config(text)

    assert parsed == config
    assert config_text(parsed) == text


def test_the_plan_holds_the_canonical_text_of_each_rendered_config(feature_spec: GroupSpec) -> None:
    plan = plan_from_spec(feature_spec)

    for name, model in plan.models.items():
        text = model.files["config.pbtxt"].read().decode()
        assert text == config_text(rendered(feature_spec, name))
        assert model.config == parse_config(text)
        assert model.config_error is None


BYO_CONFIG = """\
# written by hand; comments and layout must survive
name: "byo"
backend: "python"
max_batch_size: 2
input [ { name: "X", data_type: TYPE_FP32, dims: [ 1 ] } ]
output [ { name: "Y", data_type: TYPE_FP32, dims: [ 1 ] } ]
"""


def test_a_bring_your_own_config_is_kept_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / "config.pbtxt").write_text(BYO_CONFIG)
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "model.py").write_text("")
    (tmp_path / "v1" / "helpers.py").write_text("")
    (tmp_path / "group.yaml").write_text(
        "name: g\nmodels: [{name: byo, config: config.pbtxt, versions: {1: v1}, max_batch_size: 2}]\n"
    )

    plan = load_plan(tmp_path / "group.yaml")

    model = plan.models["byo"]
    assert model.files["config.pbtxt"].read() == BYO_CONFIG.encode()
    assert sorted(model.files) == ["1/helpers.py", "1/model.py", "config.pbtxt"]
    assert model.config is not None
    assert (model.config.backend, [t.name for t in model.config.input]) == ("python", ["X"])
    repo = materialize(plan, tmp_path / "repo")
    assert (repo / "byo" / "config.pbtxt").read_text() == BYO_CONFIG


def test_a_bring_your_own_config_that_does_not_parse_is_kept_with_its_error(tmp_path: Path) -> None:
    (tmp_path / "config.pbtxt").write_text('name: "byo"\nbackend: "python"\nmax_batch_sise: 2\n')
    (tmp_path / "model.py").write_text("")
    (tmp_path / "group.yaml").write_text(
        "name: g\nmodels: [{name: byo, config: config.pbtxt, versions: {1: model.py}}]\n"
    )

    model = load_plan(tmp_path / "group.yaml").models["byo"]

    assert model.config is None
    assert model.config_error is not None
    assert model.config_error.startswith("does not parse against Triton's model configuration schema")
    assert "max_batch_sise" in model.config_error
    assert sorted(model.files) == ["1/model.py", "config.pbtxt"]


def test_a_default_model_filename_names_the_version_file(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"w")
    (tmp_path / "group.yaml").write_text(
        "name: g\nmodels: [{name: a, platform: onnxruntime_onnx, default_model_filename: net.onnx, "
        "versions: {1: weights.bin}}]\n"
    )

    model = load_plan(tmp_path / "group.yaml").models["a"]

    assert sorted(model.files) == ["1/net.onnx", "config.pbtxt"]
    assert model.config is not None and model.config.default_model_filename == "net.onnx"


def test_a_version_folder_is_copied_whole_with_its_empty_folders(tmp_path: Path) -> None:
    (tmp_path / "v1" / "model.savedmodel" / "variables").mkdir(parents=True)
    (tmp_path / "v1" / "model.savedmodel" / "saved_model.pb").write_bytes(b"pb")
    (tmp_path / "v2").mkdir()
    (tmp_path / "group.yaml").write_text(
        "name: g\nmodels: [{name: tf, platform: tensorflow_savedmodel, versions: {1: v1, 2: v2}}]\n"
    )

    plan = load_plan(tmp_path / "group.yaml")
    repo = materialize(plan, tmp_path / "repo")

    assert sorted(plan.models["tf"].files) == ["1/model.savedmodel/saved_model.pb", "config.pbtxt"]
    assert plan.models["tf"].empty_dirs == {"1/model.savedmodel/variables", "2"}
    assert plan.models["tf"].version_dirs() == ["1", "2"]
    assert (repo / "tf" / "1" / "model.savedmodel" / "variables").is_dir()
    assert (repo / "tf" / "2").is_dir()


def test_version_folders_are_those_triton_loads_for_the_plan_and_the_validator_alike(tmp_path: Path) -> None:
    for folder in ["1", "2", "10", "0", "01", "007", "v1", "latest", "1.5", "\u0663", "warmup"]:
        (tmp_path / "repo" / "m" / folder).mkdir(parents=True)
        (tmp_path / "repo" / "m" / folder / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    (tmp_path / "repo" / "m" / "config.pbtxt").write_text('name: "m"\nbackend: "python"\n')

    model = load_plan(tmp_path / "repo").models["m"]

    assert all(is_version_folder(name) for name in ["1", "0", "42", "1000"])
    assert not any(is_version_folder(name) for name in ["01", "00", "-1", "+1", " 1", "1 ", "1\n", "\u0663", ""])
    assert model.version_dirs() == ["0", "1", "2", "10"]
    assert available_versions(model) == [0, 1, 2, 10]


def test_text_format_refuses_what_triton_would_refuse() -> None:
    with pytest.raises(text_format.ParseError):
        parse_config('name: "a"\ninstance_group { kind: KIND_TPU }\n')
