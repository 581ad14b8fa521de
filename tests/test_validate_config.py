"""Per-config rules: name, platform and backend, max_batch_size, version policy, inputs and outputs.

Each case breaks one rule of a small valid Python-backend config and then fixes it: the broken config gives
exactly the expected problem, the fixed one none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.core.plan import load_plan
from components.core.problems import Problem, Severity
from components.core.validate import validate_plan

BASE = """\
name: "m"
backend: "python"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
# more
"""


def validate_config(root: Path, text: str) -> list[Problem]:
    """Validate one model folder `m` holding `text` as its config.pbtxt (config rules only)."""
    (root / "m").mkdir(exist_ok=True)
    (root / "m" / "config.pbtxt").write_text(text)
    return validate_plan(load_plan(root), config_only=True)


CASES = [
    # (id, text to replace in BASE, broken replacement, fixed replacement, expected field, expected code)
    ("name-differs-from-folder", 'name: "m"', 'name: "model"', 'name: "m"', "name", "config.name"),
    ("name-may-be-left-out", 'name: "m"', 'name: "other"', "", "name", "config.name"),
    ("no-platform-nor-backend", 'backend: "python"', "", 'backend: "python"', "platform",
     "config.platform_missing"),
    ("unknown-platform", 'backend: "python"', 'platform: "onnx"', 'platform: "onnxruntime_onnx"', "platform",
     "config.platform"),
    ("platform-backend-pair", 'backend: "python"', 'platform: "pytorch_libtorch" backend: "onnxruntime"',
     'platform: "pytorch_libtorch" backend: "pytorch"', "platform", "config.platform_backend"),
    ("negative-max-batch-size", "max_batch_size: 4", "max_batch_size: -1", "max_batch_size: 0", "max_batch_size",
     "config.max_batch_size"),
    ("latest-zero-versions", "# more", "version_policy { latest { num_versions: 0 } }",
     "version_policy { latest { num_versions: 2 } }", "version_policy.latest.num_versions", "config.version_policy"),
    ("specific-without-versions", "# more", "version_policy { specific { } }",
     "version_policy { specific { versions: [ 1 ] } }", "version_policy.specific.versions", "config.version_policy"),
    ("tensor-without-name", 'name: "IN"', 'name: ""', 'name: "IN"', "input[0].name", "config.tensor_name"),
    ("no-data-type", '"IN" data_type: TYPE_FP32', '"IN"', '"IN" data_type: TYPE_FP32', "input[IN].data_type",
     "config.data_type"),
    ("empty-dims", '"OUT" data_type: TYPE_FP32 dims: [ 3 ]', '"OUT" data_type: TYPE_FP32 dims: [ ]',
     '"OUT" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ ] }', "output[OUT].dims", "config.dims"),
    ("zero-dim", "TYPE_FP32 dims: [ 3 ] } ]\noutput", "TYPE_FP32 dims: [ 0 ] } ]\noutput",
     "TYPE_FP32 dims: [ -1 ] } ]\noutput", "input[IN].dims", "config.dims"),
    ("empty-reshape-without-batching", "max_batch_size: 4\ninput [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 3 ]",
     "max_batch_size: 0\ninput [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ ] }",
     "max_batch_size: 0\ninput [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ 1, 1 ] }",
     "input[IN].reshape", "config.reshape"),
    ("reshape-element-count", "dims: [ 3 ] } ]\noutput", "dims: [ 3 ] reshape { shape: [ 2, 2 ] } } ]\noutput",
     "dims: [ 3 ] reshape { shape: [ 3, 1 ] } } ]\noutput", "input[IN].reshape", "config.reshape"),
    ("reshape-variable-runs", "dims: [ 3 ] } ]\noutput", "dims: [ 2, 4, -1, 6 ] reshape { shape: [ 8, -1, 2, 6 ] "
     "} } ]\noutput", "dims: [ 2, 4, -1, 6 ] reshape { shape: [ 8, -1, 1, 6 ] } } ]\noutput", "input[IN].reshape",
     "config.reshape"),
    ("reshape-variable-count", "dims: [ 3 ] } ]\noutput", "dims: [ -1, 4 ] reshape { shape: [ -1, 2, -1 ] } } ]"
     "\noutput", "dims: [ -1, 4 ] reshape { shape: [ -1, 2, 2 ] } } ]\noutput", "input[IN].reshape",
     "config.reshape"),
    ("image-format-needs-3-dims", "dims: [ 3 ] } ]\noutput", "format: FORMAT_NCHW dims: [ 3, 224 ] } ]\noutput",
     "format: FORMAT_NCHW dims: [ 3, 224, 224 ] } ]\noutput", "input[IN].format", "config.format"),
    ("shape-tensor-only-tensorrt", "dims: [ 3 ] } ]\noutput", "dims: [ 3 ] is_shape_tensor: true } ]\noutput",
     "dims: [ 3 ] } ]\noutput", "input[IN].is_shape_tensor", "config.shape_tensor"),
]


@pytest.mark.parametrize(("old", "broken", "fixed", "field", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_config_gives_the_problem_and_its_fix_passes(
    tmp_path: Path, old: str, broken: str, fixed: str, field: str, code: str
) -> None:
    assert old in BASE
    assert [(p.field, p.code) for p in validate_config(tmp_path, BASE.replace(old, broken))] == [(field, code)]
    assert validate_config(tmp_path, BASE.replace(old, fixed)) == []


def test_a_repeated_tensor_name_is_a_warning_as_triton_loads_it(tmp_path: Path) -> None:
    repeated = BASE.replace('input [ { name: "IN"',
                            'input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] }, { name: "IN"')
    assert [str(p) for p in validate_config(tmp_path, repeated)] == [
        "m/config.pbtxt: input[IN].name: warning: input name 'IN' is used twice; Triton loads this, but it then "
        "expects one input more than a request can carry, so every request fails: give each input its own name"
    ]
    twice = BASE.replace('output [ { name: "OUT"', 'output [ { name: "A" data_type: TYPE_FP32 dims: [ 1 ] }, '
                         '{ name: "A"')
    assert [(p.field, p.code, p.severity) for p in validate_config(tmp_path, twice)] == [
        ("output[A].name", "config.duplicate_tensor", Severity.WARNING)
    ]


def test_problems_print_as_model_config_field_and_message(tmp_path: Path) -> None:
    problems = validate_config(tmp_path, BASE.replace("dims: [ 3 ] } ]\noutput", "dims: [ 3, 0 ] } ]\noutput"))
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: input[IN].dims: dims [3,0] of input 'IN': every dimension must be 1 or more, or -1 for a "
        "variable size"
    ]


def test_a_backend_triton_does_not_ship_is_only_a_warning(tmp_path: Path) -> None:
    problems = validate_config(tmp_path, BASE.replace('backend: "python"', 'backend: "my_custom"'))
    assert [(p.field, p.code, p.severity) for p in problems] == [
        ("backend", "config.backend_unknown", Severity.WARNING)
    ]
    assert str(problems[0]).startswith("m/config.pbtxt: backend: warning: backend 'my_custom' is not one Triton ships")


def test_a_model_without_inputs_or_outputs_gets_warnings(tmp_path: Path) -> None:
    bare = 'name: "m"\nbackend: "python"\n'
    problems = validate_config(tmp_path, bare)
    assert [(p.field, p.code, p.severity) for p in problems] == [
        ("input", "config.no_input", Severity.WARNING),
        ("output", "config.no_output", Severity.WARNING),
    ]
    assert validate_config(tmp_path, BASE) == []


def test_a_known_platform_without_backend_is_filled_in_by_triton(tmp_path: Path) -> None:
    text = BASE.replace('backend: "python"', 'platform: "onnxruntime_onnx"')
    assert validate_config(tmp_path, text) == []


def test_problems_are_sorted_by_model_then_field(tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.pbtxt").write_text(
            f'name: "{name}"\nmax_batch_size: -1\ninput [ {{ name: "IN" dims: [ 1 ] }} ]\n'
            'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]\nbackend: "python"\n')
    problems = validate_plan(load_plan(tmp_path), config_only=True)
    assert [(p.file, p.field) for p in problems] == [
        ("a/config.pbtxt", "input[IN].data_type"), ("a/config.pbtxt", "max_batch_size"),
        ("b/config.pbtxt", "input[IN].data_type"), ("b/config.pbtxt", "max_batch_size"),
    ]


def test_a_config_without_platform_or_backend_gets_the_backend_of_its_model_file(tmp_path: Path) -> None:
    bare = BASE.replace('backend: "python"\n', "")
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    problems = validate_config(tmp_path, bare)
    assert [(p.field, p.code, p.severity) for p in problems] == [
        ("backend", "config.backend_inferred", Severity.WARNING)
    ]
    assert problems[0].message.startswith("neither platform nor backend is set; Triton picks backend 'python' because")
    (tmp_path / "m" / "1" / "model.py").rename(tmp_path / "m" / "1" / "model.bin")
    assert [p.code for p in validate_config(tmp_path, bare)] == ["config.platform_missing"]
