"""Name rules: every model name is valid as a Triton model folder and an OCI inference key, and unique."""

from __future__ import annotations

from pathlib import Path

from components.core.plan import RepositoryPlan, load_plan
from components.core.spec import GroupSpec
from components.core.validate import validate_plan

CONFIG = """\
backend: "python"
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
"""


def test_a_folder_name_that_cannot_be_an_inference_key(tmp_path: Path) -> None:
    for name in ("-classifier", "classifier"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.pbtxt").write_text(CONFIG)
    problems = validate_plan(load_plan(tmp_path), config_only=True)
    assert [(p.file, p.field, p.code) for p in problems] == [("-classifier/config.pbtxt", "name", "names.invalid")]
    assert problems[0].message.startswith("model name '-classifier' must be 1 to 64 letters, digits, '_', '.' or '-'")
    (tmp_path / "-classifier").rename(tmp_path / "classifier.v2")
    assert validate_plan(load_plan(tmp_path), config_only=True) == []


def test_a_spec_naming_two_models_alike(tmp_path: Path) -> None:
    model = {"name": "same", "backend": "python", "versions": {1: "model.py"}}
    duplicated = GroupSpec.model_validate({"name": "group", "models": [model, model]})
    problems = validate_plan(RepositoryPlan(models={}, origin=tmp_path, spec=duplicated), config_only=True)
    assert [str(p) for p in problems] == [
        "same/config.pbtxt: name: model name 'same' is used 2 times in group 'group'; each model needs its own name "
        "(it is its folder and its inference key)"
    ]
    renamed = GroupSpec.model_validate({"name": "group", "models": [model, {**model, "name": "other"}]})
    assert validate_plan(RepositoryPlan(models={}, origin=tmp_path, spec=renamed), config_only=True) == []
