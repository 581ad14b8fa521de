"""model_changes: which models of a repository changed between two contents, and the preview's line for each."""

from __future__ import annotations

from components.core.changes import FileChange, ModelChange, model_changes

DEPLOYED = {
    "classifier_onnx": {"config.pbtxt": "c1", "1/model.onnx": "w1"},
    "preprocess": {"config.pbtxt": "p1", "1/model.py": "p2"},
    "legacy": {"config.pbtxt": "l1"},
}


def describe(old: dict, new: dict) -> list[str]:
    return [change.describe() for change in model_changes(old, new)]


def test_the_same_content_is_no_change() -> None:
    assert model_changes(DEPLOYED, {model: dict(files) for model, files in DEPLOYED.items()}) == []
    assert model_changes({}, {}) == []


def test_a_changed_file_names_its_model_and_path() -> None:
    new = {**DEPLOYED, "classifier_onnx": {"config.pbtxt": "c1", "1/model.onnx": "w2"}}

    assert model_changes(DEPLOYED, new) == [
        ModelChange("classifier_onnx", "changed", (FileChange("1/model.onnx", "changed"),))
    ]
    assert describe(DEPLOYED, new) == ["model classifier_onnx: 1/model.onnx changed"]


def test_added_removed_and_changed_files_of_one_model_are_listed_by_path() -> None:
    new = {**DEPLOYED, "preprocess": {"config.pbtxt": "p9", "2/model.py": "p3"}}

    assert describe(DEPLOYED, new) == ["model preprocess: 1/model.py removed, 2/model.py added, config.pbtxt changed"]


def test_added_and_removed_models_are_one_line_each_sorted_by_model() -> None:
    new = {key: value for key, value in DEPLOYED.items() if key != "legacy"} | {"detector": {"config.pbtxt": "d1"}}

    assert describe(DEPLOYED, new) == ["model detector: added", "model legacy: removed"]
    assert [change.kind for change in model_changes(DEPLOYED, new)] == ["added", "removed"]


def test_a_config_change_alone_is_reported() -> None:
    new = {**DEPLOYED, "legacy": {"config.pbtxt": "l2"}}

    assert describe(DEPLOYED, new) == ["model legacy: config.pbtxt changed"]


def test_an_empty_folder_entry_is_a_file_like_any_other() -> None:
    new = {**DEPLOYED, "legacy": {"config.pbtxt": "l1", "1/": ""}}

    assert describe(DEPLOYED, new) == ["model legacy: 1/ added"]
