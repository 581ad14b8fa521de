"""Model folder rules: config.pbtxt present and parsable, version folders, the model file Triton loads in each
served version, label files and the Python execution environment. `config_only` skips the file checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from triton_models import PYTHON_CONFIG

from components.core.plan import load_plan
from components.core.problems import Problem, Severity
from components.core.validate import validate_plan

PYTHON_MODEL = "class TritonPythonModel:\n    def execute(self, requests):\n        return []\n"


def validate(root: Path, files: dict[str, str], config_only: bool = False) -> list[Problem]:
    """Write the model folder `m` (paths ending in / are empty folders) and validate the repository."""
    for rel, text in files.items():
        path = root / "m" / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return validate_plan(load_plan(root), config_only=config_only)


def fields_and_codes(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in problems]


def test_a_valid_python_model_folder(tmp_path: Path) -> None:
    assert validate(tmp_path, {"config.pbtxt": PYTHON_CONFIG, "1/model.py": PYTHON_MODEL}) == []


def test_a_missing_config_is_reported_and_adding_it_fixes_it(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"1/model.py": PYTHON_MODEL})
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: no config.pbtxt; Triton needs one when the model config is strict"
    ]
    assert problems[0].code == "config.missing"
    assert validate(tmp_path, {"config.pbtxt": PYTHON_CONFIG}) == []


def test_a_config_that_does_not_parse_is_reported_with_the_parser_message(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"config.pbtxt": PYTHON_CONFIG + "max_batch: 4\n", "1/model.py": PYTHON_MODEL})
    assert fields_and_codes(problems) == [("", "config.parse")]
    assert "max_batch" in problems[0].message
    assert validate(tmp_path, {"config.pbtxt": PYTHON_CONFIG + "max_batch_size: 4\n"}) == []


def test_a_model_needs_a_version_folder(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"config.pbtxt": PYTHON_CONFIG, "model.py": PYTHON_MODEL})
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: no version is available to load; Triton needs at least one version: add a version folder 1/ "
        "holding the model"
    ]
    assert validate(tmp_path, {"1/model.py": PYTHON_MODEL}) == []


def test_the_served_version_must_hold_the_model_file(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"config.pbtxt": PYTHON_CONFIG, "1/model.py": PYTHON_MODEL, "2/other.py": ""})
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: default_model_filename: version folder 2/ has no model.py, the file the python backend "
        "loads; put the model there or set default_model_filename"
    ]
    assert validate(tmp_path, {"2/model.py": PYTHON_MODEL}) == []


def test_default_model_filename_names_the_file_to_look_for(tmp_path: Path) -> None:
    config = PYTHON_CONFIG + 'default_model_filename: "serve.py"\n'
    problems = validate(tmp_path, {"config.pbtxt": config, "1/model.py": PYTHON_MODEL})
    assert fields_and_codes(problems) == [("default_model_filename", "files.model_file")]
    assert validate(tmp_path, {"1/serve.py": PYTHON_MODEL}) == []


def test_only_versions_the_policy_serves_need_the_model_file(tmp_path: Path) -> None:
    files = {"config.pbtxt": PYTHON_CONFIG, "1/notes.txt": "old", "2/model.py": PYTHON_MODEL}
    assert validate(tmp_path, files) == []
    all_versions = PYTHON_CONFIG + "version_policy { all { } }\n"
    problems = validate(tmp_path, {"config.pbtxt": all_versions})
    assert [p.message for p in problems] == [
        "version folder 1/ has no model.py, the file the python backend loads; put the model there or set "
        "default_model_filename"
    ]
    assert validate(tmp_path, {"1/model.py": PYTHON_MODEL}) == []


def test_specific_versions_must_exist(tmp_path: Path) -> None:
    config = PYTHON_CONFIG + "version_policy { specific { versions: [ 1, 3 ] } }\n"
    problems = validate(tmp_path, {"config.pbtxt": config, "1/model.py": PYTHON_MODEL})
    assert fields_and_codes(problems) == [("version_policy.specific.versions", "files.version_missing")]
    assert problems[0].message == "version 3 is listed but there is no folder 3/; add it or remove the version"
    assert validate(tmp_path, {"3/model.py": PYTHON_MODEL}) == []


def test_folders_triton_ignores_are_warnings(tmp_path: Path) -> None:
    files = {"config.pbtxt": PYTHON_CONFIG, "1/model.py": PYTHON_MODEL, "01/model.py": PYTHON_MODEL,
             "latest/model.py": PYTHON_MODEL, "env/env.tar.gz": "", "warmup/": ""}
    problems = validate(tmp_path, files)
    assert [(p.message, p.severity) for p in problems] == [
        ("folder 01/ is ignored: Triton does not read version folders with leading zeros; rename it 1/",
         Severity.WARNING),
        ("folder latest/ is ignored: Triton reads only numeric version folders (1/, 2/, ...)", Severity.WARNING),
    ]


def test_a_python_model_file_must_define_triton_python_model(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"config.pbtxt": PYTHON_CONFIG, "1/model.py": "class Model:\n    pass\n"})
    assert fields_and_codes(problems) == [("default_model_filename", "files.python_model")]
    assert validate(tmp_path, {"1/model.py": PYTHON_MODEL}) == []


def test_a_label_file_must_be_in_the_model_folder(tmp_path: Path) -> None:
    config = PYTHON_CONFIG.replace('"OUT" data_type: TYPE_FP32 dims: [ 3 ]',
                                   '"OUT" data_type: TYPE_FP32 dims: [ 3 ] label_filename: "labels.txt"')
    problems = validate(tmp_path, {"config.pbtxt": config, "1/model.py": PYTHON_MODEL})
    assert fields_and_codes(problems) == [("output[OUT].label_filename", "files.label")]
    assert validate(tmp_path, {"labels.txt": "cat\ndog\nbird\n"}) == []


def test_an_execution_environment_in_the_model_folder_must_be_there(tmp_path: Path) -> None:
    config = PYTHON_CONFIG + ('parameters { key: "EXECUTION_ENV_PATH" value: { string_value: '
                              '"$$TRITON_MODEL_DIRECTORY/env/py311.tar.gz" } }\n')
    problems = validate(tmp_path, {"config.pbtxt": config, "1/model.py": PYTHON_MODEL})
    assert fields_and_codes(problems) == [("parameters[EXECUTION_ENV_PATH]", "files.execution_env")]
    assert validate(tmp_path, {"env/py311.tar.gz": "packed"}) == []


def test_an_ensemble_needs_an_empty_version_folder(tmp_path: Path) -> None:
    step = PYTHON_CONFIG.replace('name: "m"', 'name: "step"')
    (tmp_path / "step" / "1").mkdir(parents=True)
    (tmp_path / "step" / "config.pbtxt").write_text(step)
    (tmp_path / "step" / "1" / "model.py").write_text(PYTHON_MODEL)
    ensemble = """\
name: "m"
platform: "ensemble"
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
ensemble_scheduling { step [ { model_name: "step" model_version: -1 input_map { key: "IN" value: "IN" }
  output_map { key: "OUT" value: "OUT" } } ] }
"""
    problems = validate(tmp_path, {"config.pbtxt": ensemble})
    assert [p.message for p in problems] == [
        "no version is available to load; Triton needs at least one version: add an (empty) version folder 1/"
    ]
    assert validate(tmp_path, {"1/": ""}) == []


@pytest.mark.parametrize("files", [
    {"config.pbtxt": PYTHON_CONFIG},
    {"config.pbtxt": PYTHON_CONFIG + "version_policy { specific { versions: [ 7 ] } }\n", "1/model.py": ""},
])
def test_config_only_skips_every_file_check(tmp_path: Path, files: dict[str, str]) -> None:
    assert validate(tmp_path, files) != []
    assert validate(tmp_path, {}, config_only=True) == []
