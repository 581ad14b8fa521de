"""The group spec: what loads, and how every mistake is reported as `file:line: field.path: message`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError
from spec_files import SPEC, spec_problems, write_spec

from components.core.problems import UserError
from components.core.spec import GroupSpec, ModelSpec, load_spec


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test works in its own folder, holding a model file `m.onnx` the specs can point at."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    (tmp_path / "model.py").write_text("class TritonPythonModel: ...\n")
    return tmp_path


def codes(text: str) -> list[str]:
    with pytest.raises(UserError) as caught:
        load_spec(write_spec(text))
    return [p.code for p in caught.value.problems]


def one_model(body: str) -> str:
    """A group of one model whose keys are `body` (indented under `- name: clf` at line 3)."""
    return "name: g\nmodels:\n  - name: clf\n" + textwrap.indent(textwrap.dedent(body).lstrip("\n"), "    ")


def test_a_valid_spec_loads_with_defaults_and_line_numbers() -> None:
    spec = load_spec(write_spec(one_model("""
        platform: onnxruntime_onnx
        versions: {1: m.onnx}
        inputs: [{name: x, data_type: FP32, dims: [-1, 3]}]
    """)))

    assert isinstance(spec, GroupSpec)
    model = spec.model("clf")
    assert model.effective_backend == "onnxruntime"
    assert model.max_batch_size == 0
    assert spec.smoke.repeats == 1
    assert spec.source == Path(SPEC).resolve()
    assert spec.resolve("m.onnx") == Path("m.onnx").resolve()
    assert spec.line("models", 0, "versions", 1) == 5
    assert spec.line("models", 0, "inputs", 0, "dims") == 6


@pytest.mark.parametrize("written", ["FP32", "TYPE_FP32", "fp32", " type_fp32 "])
def test_data_types_are_accepted_with_or_without_the_type_prefix(written: str) -> None:
    spec = load_spec(write_spec(one_model(f"""
        platform: onnxruntime_onnx
        versions: {{1: m.onnx}}
        inputs: [{{name: x, data_type: "{written}", dims: [1]}}]
    """)))

    assert spec.model("clf").inputs[0].data_type == "TYPE_FP32"


def test_an_unknown_data_type_lists_the_known_ones() -> None:
    found = spec_problems(one_model("""
        platform: onnxruntime_onnx
        versions: {1: m.onnx}
        inputs:
          - {name: x, data_type: FLOAT32, dims: [1]}
    """))

    assert found == [
        "group.yaml:7: models[clf].inputs[x].data_type: unknown value 'FLOAT32'; use one of BOOL, UINT8, UINT16, "
        "UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, STRING, BF16"
    ]


@pytest.mark.parametrize("written", ["CPU", "KIND_CPU", "cpu"])
def test_instance_kinds_are_accepted_with_or_without_the_kind_prefix(written: str) -> None:
    spec = load_spec(write_spec(one_model(f"""
        platform: onnxruntime_onnx
        versions: {{1: m.onnx}}
        instance_groups: [{{kind: {written}, count: 2}}]
    """)))

    assert spec.model("clf").instance_groups[0].kind == "KIND_CPU"


def test_an_unknown_key_is_refused_where_it_is_written() -> None:
    found = spec_problems(one_model("""
        platform: onnxruntime_onnx
        versions: {1: m.onnx}
        inputs:
          - name: x
            data_type: FP32
            dims: [1]
            shape: [1]
    """))

    assert found == [
        "group.yaml:10: models[clf].inputs[x].shape: unknown key; remove it or check its spelling "
        "(`triton-groups schema` lists the keys)"
    ]


def test_an_unknown_top_level_key_is_refused() -> None:
    found = spec_problems("""
        name: g
        modles: []
        models: [{name: a, backend: python, versions: {1: model.py}}]
    """)

    assert found == [
        "group.yaml:2: modles: unknown key; remove it or check its spelling (`triton-groups schema` lists the keys)"
    ]


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: clf
            platform: onnxruntime_onnx
            versions: {1: m.onnx}
            max_batch_size: -1
            inputs:
              - {name: x, data_type: FP32, dims: [a]}
          - name: -bad
            backend: python
            versions: {1: model.py}
        smoke: {repeats: 0}
    """)

    assert found == [
        "group.yaml:6: models[clf].max_batch_size: Input should be greater than or equal to 0",
        "group.yaml:8: models[clf].inputs[x].dims[0]: Input should be a valid integer, "
        "unable to parse string as an integer",
        "group.yaml:9: models[-bad].name: '-bad' must be 1 to 64 letters, digits, '_', '.' or '-', not starting "
        "with '.' or '-', so that it is valid as a Triton model folder and as an OCI inference key",
        "group.yaml:12: smoke.repeats: Input should be greater than or equal to 1",
    ]


@pytest.mark.parametrize("name", ["-lead", ".hidden", "a/b", "with space", "x" * 65, ""])
def test_model_names_must_be_valid_folder_names_and_inference_keys(name: str) -> None:
    found = codes(f"""
        name: g
        models: [{{name: "{name}", backend: python, versions: {{1: model.py}}}}]
    """)

    assert found == ["spec.name"]


def test_the_group_name_follows_the_same_rule() -> None:
    found = spec_problems("""
        name: my group
        models: [{name: a, backend: python, versions: {1: model.py}}]
    """)

    assert len(found) == 1
    assert found[0].startswith("group.yaml:1: name: 'my group' must be 1 to 64 letters")


def test_required_keys_are_named() -> None:
    assert spec_problems("name: g\n") == ["group.yaml:1: models: required; add it"]
    assert spec_problems("name: g\nmodels: []\n") == [
        "group.yaml:2: models: List should have at least 1 item after validation, not 0"
    ]


def test_a_yaml_syntax_error_gives_its_line() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: a
            backend: python
           versions: {1: model.py}
    """)

    assert len(found) == 1
    assert found[0].startswith("group.yaml:5: not valid YAML: ")


def test_a_duplicate_yaml_key_is_refused_at_its_second_occurrence() -> None:
    found = spec_problems("""
        name: g
        models:
          - name: a
            backend: python
            versions: {1: model.py}
            backend: onnxruntime
    """)

    assert found == ["group.yaml:6: not valid YAML: duplicate key 'backend'"]


@pytest.mark.parametrize("text", ["- name: g\n", "just text\n", "", "# only a comment\n"])
def test_the_top_level_must_be_a_mapping(text: str) -> None:
    assert spec_problems(text) == ["group.yaml:1: the spec must be a mapping with name: and models:"]


def test_a_missing_spec_file_says_so() -> None:
    with pytest.raises(UserError) as caught:
        load_spec("nowhere.yaml")

    assert [str(p) for p in caught.value.problems] == [
        "nowhere.yaml: no such file; give the path of a group spec (YAML)"
    ]
    assert caught.value.problems[0].code == "spec.missing"


@pytest.mark.parametrize(("inside", "message"), [
    ([], "is a folder; give the group spec file (YAML) itself"),
    (["group.yaml", "notes.txt"], "is a folder; give the group spec file (YAML) itself, e.g. vision/group.yaml"),
])
def test_a_folder_given_as_the_spec_asks_for_the_spec_file(inside: list[str], message: str) -> None:
    Path("vision").mkdir()
    for name in inside:
        Path("vision", name).write_text("name: g\n")

    with pytest.raises(UserError) as caught:
        load_spec("vision")

    assert [str(p) for p in caught.value.problems] == [f"vision: {message}"]


def test_a_spec_that_is_not_utf8_says_where_and_to_save_it_as_utf8() -> None:
    Path(SPEC).write_bytes("name: café\n".encode("latin-1"))

    with pytest.raises(UserError) as caught:
        load_spec(SPEC)

    assert [str(p) for p in caught.value.problems] == [
        "group.yaml: is not UTF-8 text (byte 0xe9 at offset 9); save it as UTF-8"
    ]


def test_a_bring_your_own_config_refuses_the_fields_it_would_override(in_tmp: Path) -> None:
    (in_tmp / "config.pbtxt").write_text('name: "clf"\nbackend: "python"\n')

    found = spec_problems(one_model("""
        config: config.pbtxt
        platform: onnxruntime_onnx
        versions: {1: m.onnx}
        inputs: [{name: x, data_type: FP32, dims: [1]}]
        parameters: {A: "1"}
    """))

    assert found == [
        "group.yaml:3: models[clf]: config: config.pbtxt is used as is; move platform, inputs, parameters into "
        "that file or drop config"
    ]


def test_a_bring_your_own_config_with_versions_and_smoke_loads(in_tmp: Path) -> None:
    (in_tmp / "config.pbtxt").write_text('name: "clf"\nbackend: "python"\n')

    spec = load_spec(write_spec(one_model("""
        config: config.pbtxt
        versions: {1: model.py}
        max_batch_size: 4
        smoke:
          - name: any_tensor_name
            inputs: {IN: {value: [1.0]}}
            expect: {OUT: {match: shape, shape: [1]}}
    """)))

    assert spec.model("clf").config == "config.pbtxt"
    assert spec.model("clf").effective_backend is None


def test_a_model_needs_a_platform_or_a_backend() -> None:
    assert spec_problems(one_model("versions: {1: m.onnx}")) == [
        "group.yaml:3: models[clf]: give platform (onnxruntime_onnx, pytorch_libtorch, ensemble, ...) "
        "or backend (python, ...)"
    ]


def test_a_platform_and_a_backend_must_agree() -> None:
    found = spec_problems(one_model("""
        platform: onnxruntime_onnx
        backend: pytorch
        versions: {1: m.onnx}
    """))

    assert found == [
        "group.yaml:5: models[clf].backend: platform onnxruntime_onnx runs on backend onnxruntime, not pytorch"
    ]


def test_a_platform_with_its_own_backend_is_accepted() -> None:
    spec = load_spec(write_spec(one_model("""
        platform: pytorch_libtorch
        backend: pytorch
        versions: {1: m.onnx}
    """)))

    assert spec.model("clf").effective_backend == "pytorch"


def test_python_settings_need_backend_python() -> None:
    found = spec_problems(one_model("""
        platform: onnxruntime_onnx
        versions: {1: m.onnx}
        python: {execution_env: m.onnx}
    """))

    assert found == [
        "group.yaml:6: models[clf].python: these settings are for the Python backend; add backend: python or "
        "remove them"
    ]


def test_platform_ensemble_needs_an_ensemble_section() -> None:
    assert spec_problems(one_model("platform: ensemble")) == [
        "group.yaml:4: models[clf].platform: platform: ensemble needs an ensemble: section with its steps"
    ]


def test_an_ensemble_section_needs_platform_ensemble() -> None:
    found = spec_problems(one_model("""
        backend: python
        versions: {1: model.py}
        ensemble:
          steps: [{model: a, input_map: {X: X}, output_map: {Y: Y}}]
    """))

    assert found == ["group.yaml:6: models[clf].ensemble: an ensemble: section needs platform: ensemble"]


def test_an_ensemble_needs_no_versions_but_at_least_one_step() -> None:
    found = spec_problems(one_model("""
        platform: ensemble
        ensemble: {steps: []}
    """))

    assert found == ["group.yaml:5: models[clf].ensemble.steps: List should have at least 1 item after validation, "
                     "not 0"]


def test_cross_field_rules_are_reported_with_the_field_errors_of_the_same_model() -> None:
    found = spec_problems(one_model("""
        platform: onnxruntime_onnx
        backend: pytorch
        max_batch_size: -1
        python: {stub: m.onnx}
    """))

    assert found == [
        "group.yaml:3: models[clf].versions: required unless platform: ensemble; "
        "give {1: path/to/model file or folder}",
        "group.yaml:5: models[clf].backend: platform onnxruntime_onnx runs on backend onnxruntime, not pytorch",
        "group.yaml:6: models[clf].max_batch_size: Input should be greater than or equal to 0",
        "group.yaml:7: models[clf].python: these settings are for the Python backend; add backend: python or "
        "remove them",
    ]


def test_a_rule_is_not_guessed_from_a_field_that_is_itself_invalid() -> None:
    found = spec_problems(one_model("""
        platform: [onnxruntime_onnx]
        backend: pytorch
    """))

    assert found == ["group.yaml:4: models[clf].platform: Input should be a valid string"]


def test_the_rules_also_hold_for_models_built_in_python() -> None:
    with pytest.raises(ValidationError, match="platform: ensemble needs an ensemble: section"):
        ModelSpec(name="pipeline", platform="ensemble")


def test_other_models_need_versions() -> None:
    assert spec_problems(one_model("backend: python")) == [
        "group.yaml:3: models[clf].versions: required unless platform: ensemble; "
        "give {1: path/to/model file or folder}"
    ]


def test_version_numbers_start_at_one() -> None:
    found = spec_problems(one_model("""
        backend: python
        versions:
          1: model.py
          0: model.py
          -2: model.py
    """))

    assert found == [
        "group.yaml:7: models[clf].versions.0: version numbers start at 1, got 0",
        "group.yaml:8: models[clf].versions.-2: version numbers start at 1, got -2",
    ]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("{latest: 1, all: true}", "version_policy: give exactly one of latest: N, all: true or specific: [versions]"),
        ("{}", "version_policy: give exactly one of latest: N, all: true or specific: [versions]"),
        ("{all: false}", "version_policy: give exactly one of latest: N, all: true or specific: [versions]"),
        ("{latest: 0}", "version_policy.latest: Input should be greater than or equal to 1"),
        ("{specific: []}", "version_policy.specific: List should have at least 1 item after validation, not 0"),
        ("{specific: [2, 0]}", "version_policy.specific[1]: version numbers start at 1, got 0"),
    ],
)
def test_a_version_policy_is_exactly_one_of_latest_all_specific(policy: str, message: str) -> None:
    found = spec_problems(one_model(f"""
        backend: python
        versions: {{1: model.py}}
        version_policy: {policy}
    """))

    assert found == [f"group.yaml:6: models[clf].{message}"]


def test_a_version_policy_rule_is_reported_with_an_unknown_key_beside_it() -> None:
    found = spec_problems(one_model("""
        backend: python
        versions: {1: model.py}
        version_policy: {latest: 1, all: true, newest: 2}
    """))

    assert found == [
        "group.yaml:6: models[clf].version_policy: give exactly one of latest: N, all: true or specific: [versions]",
        "group.yaml:6: models[clf].version_policy.newest: unknown key; remove it or check its spelling "
        "(`triton-groups schema` lists the keys)",
    ]


def test_an_instance_group_needs_a_positive_count_and_a_known_kind() -> None:
    found = spec_problems(one_model("""
        backend: python
        versions: {1: model.py}
        instance_groups:
          - {kind: TPU}
          - {kind: CPU, count: 0}
    """))

    assert found == [
        "group.yaml:7: models[clf].instance_groups[0].kind: unknown value 'TPU'; use one of AUTO, GPU, CPU, MODEL",
        "group.yaml:8: models[clf].instance_groups[1].count: Input should be greater than or equal to 1",
    ]


def test_queue_policies_are_checked_per_priority_level() -> None:
    found = spec_problems(one_model("""
        backend: python
        versions: {1: model.py}
        dynamic_batching:
          priority_levels: 2
          priority_queue_policy:
            1: {timeout_action: DROP}
            2: {max_queue_size: -1}
    """))

    assert found == [
        "group.yaml:9: models[clf].dynamic_batching.priority_queue_policy.1.timeout_action: "
        "Input should be 'REJECT' or 'DELAY'",
        "group.yaml:10: models[clf].dynamic_batching.priority_queue_policy.2.max_queue_size: "
        "Input should be greater than or equal to 0",
    ]


def smoke_model(cases: str) -> str:
    """A python model with input x and output y, whose smoke list is `cases` (first case at line 9)."""
    return one_model("""
        backend: python
        versions: {1: model.py}
        inputs: [{name: x, data_type: FP32, dims: [1]}]
        outputs: [{name: y, data_type: FP32, dims: [1]}]
        smoke:
    """) + textwrap.indent(textwrap.dedent(cases).lstrip("\n"), "      ")


def test_valid_smoke_cases_load() -> None:
    spec = load_spec(write_spec(smoke_model("""
        - name: inline
          version: 1
          inputs: {x: {value: [[1.5]], datatype: FP32, shape: [1, 1]}}
          expect: {y: {match: allclose, value: [[3.0]], rtol: 0.01, atol: 0.001}}
        - name: classes
          inputs: {x: {value: [[1.5]]}}
          expect: {y: {match: top_k, k: 1, value: [[0]], shape: [1, 1], datatype: TYPE_FP32}}
    """)))

    first, second = spec.model("clf").smoke
    assert first.inputs["x"].datatype == "TYPE_FP32"
    assert first.expect["y"].rtol == 0.01
    assert second.expect["y"].k == 1
    assert second.expect["y"].datatype == "TYPE_FP32"


def test_a_smoke_input_is_a_value_or_an_npy_file() -> None:
    found = spec_problems(smoke_model("""
        - name: both
          inputs: {x: {value: [1.0], npy: in.npy}}
          expect: {y: {match: shape, shape: [1, 1]}}
        - name: neither
          inputs:
            x: {datatype: FP32}
          expect: {y: {match: shape, shape: [1, 1]}}
    """))

    assert found == [
        "group.yaml:10: models[clf].smoke[both].inputs.x: give exactly one of value or npy",
        "group.yaml:14: models[clf].smoke[neither].inputs.x: give exactly one of value or npy",
    ]


def test_a_smoke_case_needs_inputs_and_expectations() -> None:
    found = spec_problems(smoke_model("""
        - name: empty
          inputs: {}
          expect: {}
    """))

    assert found == [
        "group.yaml:10: models[clf].smoke[empty].inputs: Dictionary should have at least 1 item after validation, "
        "not 0",
        "group.yaml:11: models[clf].smoke[empty].expect: Dictionary should have at least 1 item after validation, "
        "not 0",
    ]


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        ("{match: shape, value: [1], shape: [1]}", "match: shape checks no value; remove value/npy"),
        ("{match: shape}", "match: shape needs shape, datatype or both"),
        ("{match: allclose}", "match: allclose needs the expected value or npy"),
        ("{match: exact}", "match: exact needs the expected value or npy"),
        ("{match: argmax, value: [1], npy: out.npy}", "give value or npy, not both"),
        ("{match: top_k, value: [[1]]}", "k goes with match: top_k, and top_k needs k"),
        ("{match: argmax, value: [1], k: 2}", "k goes with match: top_k, and top_k needs k"),
    ],
)
def test_smoke_expectations_must_be_consistent_with_their_match_kind(expectation: str, message: str) -> None:
    found = spec_problems(smoke_model(f"""
        - name: case
          inputs: {{x: {{value: [1.0]}}}}
          expect:
            y: {expectation}
    """))

    assert found == [f"group.yaml:12: models[clf].smoke[case].expect.y: {message}"]


def test_an_unknown_match_kind_and_bad_tolerances_are_refused() -> None:
    found = spec_problems(smoke_model("""
        - name: case
          inputs: {x: {value: [1.0]}}
          expect:
            y:
              match: close
              value: [1.0]
              rtol: -1
    """))

    assert found == [
        "group.yaml:13: models[clf].smoke[case].expect.y.match: "
        "Input should be 'exact', 'allclose', 'argmax', 'top_k' or 'shape'",
        "group.yaml:15: models[clf].smoke[case].expect.y.rtol: Input should be greater than or equal to 0",
    ]


def test_a_smoke_expectation_rule_is_reported_with_a_bad_tolerance_beside_it() -> None:
    found = spec_problems(smoke_model("""
        - name: case
          inputs: {x: {value: [1.0], shape: [one]}}
          expect:
            y: {match: top_k, value: [[0]], rtol: -1}
    """))

    assert found == [
        "group.yaml:10: models[clf].smoke[case].inputs.x.shape[0]: Input should be a valid integer, "
        "unable to parse string as an integer",
        "group.yaml:12: models[clf].smoke[case].expect.y: k goes with match: top_k, and top_k needs k",
        "group.yaml:12: models[clf].smoke[case].expect.y.rtol: Input should be greater than or equal to 0",
    ]


def test_an_unknown_match_kind_is_not_also_blamed_for_a_missing_value() -> None:
    found = spec_problems(smoke_model("""
        - name: case
          inputs: {x: {value: [1.0]}}
          expect: {y: {match: close}}
    """))

    assert found == [
        "group.yaml:11: models[clf].smoke[case].expect.y.match: "
        "Input should be 'exact', 'allclose', 'argmax', 'top_k' or 'shape'"
    ]


def test_group_smoke_settings_are_checked() -> None:
    found = spec_problems("""
        name: g
        models: [{name: a, backend: python, versions: {1: model.py}}]
        smoke:
          repeats: 5
          latency_budget_ms: 0
          timeout: 10
    """)

    assert found == [
        "group.yaml:5: smoke.latency_budget_ms: Input should be greater than 0",
        "group.yaml:6: smoke.timeout: unknown key; remove it or check its spelling "
        "(`triton-groups schema` lists the keys)",
    ]


def test_the_v2_name_bytes_means_triton_string(tmp_path) -> None:
    from components.core.spec import InputSpec

    assert InputSpec(name="text", data_type="BYTES", dims=[1]).data_type == "TYPE_STRING"
