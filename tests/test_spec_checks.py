"""Checks across a whole spec: unique names, files that exist, smoke cases naming real tensors."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_files import SPEC, spec_problems, write_spec

from components.core.problems import UserError
from components.core.spec import load_spec
from components.core.spec.checks import check_spec


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text("class TritonPythonModel: ...\n")
    return tmp_path


def test_a_consistent_spec_has_no_cross_field_problem(in_tmp: Path) -> None:
    (in_tmp / "x.npy").write_bytes(b"npy")
    write_spec("""
        name: g
        models:
          - name: a
            backend: python
            versions: {1: model.py}
            inputs: [{name: X, data_type: FP32, dims: [1]}]
            outputs: [{name: Y, data_type: FP32, dims: [1]}]
            smoke:
              - {name: one, inputs: {X: {npy: x.npy}}, expect: {Y: {match: shape, shape: [1]}}}
              - {name: two, inputs: {X: {value: [1.0]}}, expect: {Y: {match: exact, npy: x.npy}}}
    """)

    spec = load_spec(SPEC)

    assert check_spec(spec, SPEC) == []


def test_model_names_must_be_unique_in_a_group() -> None:
    found = spec_problems("""
        name: g
        models:
          - {name: a, backend: python, versions: {1: model.py}}
          - {name: b, backend: python, versions: {1: model.py}}
          - {name: a, backend: python, versions: {1: model.py}}
    """)

    assert found == [
        "group.yaml:5: models[a].name: model name 'a' is used twice; names must be unique in a group "
        "(each is a Triton folder and an OCI inference key)"
    ]


def test_every_missing_path_is_reported_with_its_field() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: py
            backend: python
            versions: {1: model.py, 2: gone.py}
            python:
              execution_env: envs/py311.tar.gz
              stub: stubs/triton_python_backend_stub
            inputs: [{name: X, data_type: FP32, dims: [1]}]
            outputs: [{name: Y, data_type: FP32, dims: [1], label_filename: labels.txt}]
            smoke:
              - name: case
                inputs: {X: {npy: smoke/x.npy}}
                expect: {Y: {match: allclose, npy: smoke/y.npy}}
          - name: byo
            config: byo/config.pbtxt
            versions: {1: byo/1}
    """)

    assert found == [
        "group.yaml:5: models[py].versions.2: gone.py does not exist (paths are relative to the spec file)",
        "group.yaml:7: models[py].python.execution_env: envs/py311.tar.gz does not exist "
        "(paths are relative to the spec file)",
        "group.yaml:8: models[py].python.stub: stubs/triton_python_backend_stub does not exist "
        "(paths are relative to the spec file)",
        "group.yaml:10: models[py].outputs[Y].label_filename: labels.txt does not exist "
        "(paths are relative to the spec file)",
        "group.yaml:13: models[py].smoke[case].inputs.X.npy: smoke/x.npy does not exist "
        "(paths are relative to the spec file)",
        "group.yaml:14: models[py].smoke[case].expect.Y.npy: smoke/y.npy does not exist "
        "(paths are relative to the spec file)",
        "group.yaml:16: models[byo].config: byo/config.pbtxt does not exist (paths are relative to the spec file)",
        "group.yaml:17: models[byo].versions.1: byo/1 does not exist (paths are relative to the spec file)",
    ]


def test_paths_are_relative_to_the_spec_file_not_the_working_folder(in_tmp: Path) -> None:
    nested = in_tmp / "specs"
    nested.mkdir()
    (nested / "group.yaml").write_text("name: g\nmodels: [{name: a, backend: python, versions: {1: model.py}}]\n")

    with pytest.raises(UserError) as caught:
        load_spec(nested / "group.yaml")
    assert [p.field for p in caught.value.problems] == ["models[a].versions.1"]

    (nested / "model.py").write_text("")
    assert load_spec(nested / "group.yaml").resolve("model.py") == (nested / "model.py").resolve()


def test_smoke_cases_must_name_the_model_inputs_and_outputs() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: clf
            backend: python
            versions: {1: model.py}
            inputs: [{name: IMAGE, data_type: UINT8, dims: [2]}, {name: SCALE, data_type: FP32, dims: [1]}]
            outputs: [{name: PROBS, data_type: FP32, dims: [2]}]
            smoke:
              - name: typo
                inputs:
                  IMAGES: {value: [[1, 2]]}
                expect:
                  PROB: {match: argmax, value: [0]}
    """)

    assert found == [
        "group.yaml:11: models[clf].smoke[typo].inputs.IMAGES: clf has no input 'IMAGES'; "
        "its inputs are ['IMAGE', 'SCALE']",
        "group.yaml:13: models[clf].smoke[typo].expect.PROB: clf has no output 'PROB'; its outputs are ['PROBS']",
    ]


def test_smoke_case_names_must_be_unique_in_a_model() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: clf
            backend: python
            versions: {1: model.py}
            inputs: [{name: X, data_type: FP32, dims: [1]}]
            outputs: [{name: Y, data_type: FP32, dims: [1]}]
            smoke:
              - {name: same, inputs: {X: {value: [1.0]}}, expect: {Y: {match: shape, shape: [1]}}}
              - {name: same, inputs: {X: {value: [2.0]}}, expect: {Y: {match: shape, shape: [1]}}}
          - name: other
            backend: python
            versions: {1: model.py}
            inputs: [{name: X, data_type: FP32, dims: [1]}]
            outputs: [{name: Y, data_type: FP32, dims: [1]}]
            smoke:
              - {name: same, inputs: {X: {value: [1.0]}}, expect: {Y: {match: shape, shape: [1]}}}
    """)

    assert found == ["group.yaml:10: models[clf].smoke[same].name: smoke case 'same' is used twice in this model"]


def test_one_run_reports_field_errors_rules_duplicate_names_and_missing_files_together() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: a
            platform: onnxruntime_onnx
            backend: pytorch
            versions: {1: model.py}
            max_batch_size: many
          - name: b
            backend: python
            versions: {1: model.py, 2: gone.py}
          - name: a
            backend: python
            versions: {1: model.py}
    """)

    assert found == [
        "group.yaml:5: models[a].backend: platform onnxruntime_onnx runs on backend onnxruntime, not pytorch",
        "group.yaml:7: models[a].max_batch_size: Input should be a valid integer, unable to parse string as an "
        "integer",
        "group.yaml:10: models[b].versions.2: gone.py does not exist (paths are relative to the spec file)",
        "group.yaml:11: models[a].name: model name 'a' is used twice; names must be unique in a group "
        "(each is a Triton folder and an OCI inference key)",
    ]


def test_a_wrong_group_setting_does_not_hide_the_model_checks() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: clf
            backend: python
            versions: {1: model.py}
            inputs: [{name: X, data_type: FP32, dims: [1]}]
            outputs: [{name: Y, data_type: FP32, dims: [1]}]
            smoke:
              - {name: c, inputs: {X: {npy: x.npy}}, expect: {Z: {match: shape, shape: [1]}}}
        smoke: {repeats: 0}
    """)

    assert found == [
        "group.yaml:9: models[clf].smoke[c].expect.Z: clf has no output 'Z'; its outputs are ['Y']",
        "group.yaml:9: models[clf].smoke[c].inputs.X.npy: x.npy does not exist (paths are relative to the spec file)",
        "group.yaml:10: smoke.repeats: Input should be greater than or equal to 1",
    ]


def test_a_bring_your_own_config_is_not_checked_against_spec_tensors(in_tmp: Path) -> None:
    (in_tmp / "config.pbtxt").write_text('name: "a"\nbackend: "python"\n')
    write_spec("""
        name: g
        models:
          - name: a
            config: config.pbtxt
            versions: {1: model.py}
            smoke:
              - {name: c, inputs: {IN: {value: [1.0]}}, expect: {OUT: {match: shape, shape: [1]}}}
    """)

    assert load_spec(SPEC).model("a").smoke[0].name == "c"
