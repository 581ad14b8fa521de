"""`triton-groups preview-report` on real `pulumi preview` output of the local stack, against checked-in goldens.

One deployed copy of the example; each case edits the group, runs the report, and puts the files back. The
goldens (tests/golden/preview_report/*.md) are the reviewed expectations: after an intended change of the
report's wording, run with TRITON_GROUPS_UPDATE_GOLDEN=1 once and review the diff before committing it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from pulumi_engine import EXAMPLE, EngineProject

from components.core.preview_report import PreviewReport

GOLDEN = Path(__file__).parent / "golden" / "preview_report"


def edit_spec(project: EngineProject, change: Callable[[dict], None]) -> None:
    path = project.group / "group.yaml"
    spec = yaml.safe_load(path.read_text())
    change(spec)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def model(spec: dict, name: str) -> dict:
    return next(entry for entry in spec["models"] if entry["name"] == name)


def weights_changed(project: EngineProject) -> None:
    with (project.group / "models" / "cnn_torch" / "model.pt").open("ab") as weights:
        weights.write(b"\0" * 16)


def config_field_changed(project: EngineProject) -> None:
    edit_spec(project, lambda spec: model(spec, "classifier_onnx").update(max_batch_size=16))


def model_added(project: EngineProject) -> None:
    def add(spec: dict) -> None:
        copy = json.loads(json.dumps(model(spec, "preprocess")))
        copy["name"] = "preprocess_copy"
        spec["models"].append(copy)

    edit_spec(project, add)


def model_removed(project: EngineProject) -> None:
    edit_spec(project, lambda spec: spec.update(models=[m for m in spec["models"] if m["name"] != "cnn_torch"]))


def smoke_case_changed(project: EngineProject) -> None:
    def change(spec: dict) -> None:
        model(spec, "classifier_onnx")["smoke"][1]["expect"]["PROBS"]["k"] = 2
        model(spec, "classifier_onnx")["smoke"][1]["expect"]["PROBS"]["value"] = [[9, 7], [7, 8]]

    edit_spec(project, change)


CASES: dict[str, Callable[[EngineProject], None] | None] = {
    "nothing_changed": None,
    "weights_changed": weights_changed,
    "config_field_changed": config_field_changed,
    "model_added": model_added,
    "model_removed": model_removed,
    "smoke_case_changed": smoke_case_changed,
}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProject]:
    project = EngineProject(tmp_path_factory.mktemp("preview-report") / "project")
    project.up()
    yield project
    project.run("destroy", "--yes", "--skip-preview", check=False)


def restore_example(project: EngineProject) -> None:
    shutil.rmtree(project.group)
    shutil.copytree(EXAMPLE, project.group, ignore=shutil.ignore_patterns("__pycache__"))


@pytest.mark.triton
@pytest.mark.engine
@pytest.mark.parametrize("case", list(CASES))
def test_the_report_of_a_real_preview_matches_its_golden(deployed: EngineProject, case: str) -> None:
    edit = CASES[case]
    try:
        if edit is not None:
            edit(deployed)
        result = deployed.triton_groups("preview-report", "--stack", "local")
    finally:
        restore_example(deployed)

    assert result.returncode == 0, result.stderr
    golden = GOLDEN / f"{case}.md"
    if os.environ.get("TRITON_GROUPS_UPDATE_GOLDEN") == "1":
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


@pytest.mark.triton
@pytest.mark.engine
def test_the_json_form_names_the_same_changes(deployed: EngineProject) -> None:
    try:
        config_field_changed(deployed)
        result = deployed.triton_groups("preview-report", "--stack", "local", "--format", "json")
    finally:
        restore_example(deployed)

    report = json.loads(result.stdout)
    assert report["succeeded"] and report["changes_anything"]
    [changed] = report["models"]
    assert changed["model"] == "classifier_onnx"
    assert changed["config"] == [{"field": "max_batch_size", "old": "8", "new": "16"}]


def deployment_step(op: str) -> dict:
    """A preview step of an OCI model deployment, shaped as the engine streams it (resourcePreEvent)."""
    urn = "urn:pulumi:prod::triton-groups::triton-groups:oci:TritonModelDeployment$oci:DataScience/" \
          "modelDeployment:ModelDeployment::deployment"
    state = {"type": "oci:DataScience/modelDeployment:ModelDeployment", "urn": urn, "inputs": {}}
    return {"resourcePreEvent": {"metadata": {"op": op, "urn": urn, "type": state["type"], "old": state,
                                              "new": state}}}


def test_a_replaced_deployment_is_flagged_with_its_new_url() -> None:
    events = [deployment_step("create-replacement"), deployment_step("replace"), deployment_step("delete-replaced"),
              {"summaryEvent": {"result": "succeeded", "resourceChanges": {"replace": 1, "same": 7}}}]

    report = PreviewReport.from_events("prod", events)

    assert [(r.name, r.consequence) for r in report.replacements] == [("deployment", "a new deployment URL")]
    assert "- `deployment` (oci:DataScience/modelDeployment:ModelDeployment): a new deployment URL" in \
        report.to_markdown()


def test_a_failed_preview_says_so_with_its_errors() -> None:
    events = [{"diagnosticEvent": {"severity": "error", "message": "the spec is not valid: models[0]: ...\n"}},
              {"summaryEvent": {"result": "failed", "resourceChanges": {}}}]

    report = PreviewReport.from_events("dev", events)

    assert not report.succeeded
    assert report.to_markdown().splitlines()[3:] == ["**The preview failed.**", "",
                                                     "- the spec is not valid: models[0]: ..."]
