"""The validator against the corpus of tests/validation_corpus.py: it rejects at least 95% of the repositories
Triton refuses to load, naming the model and the tensor or step, and accepts every repository Triton loads.

Each repository is validated as `triton-groups validate --config-only` does, and fully, with the corpus's
target (no GPU). `bench/triton_rejects.py` checks the corpus's verdicts on the real tritonserver.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from google.protobuf import text_format
from validation_corpus import CASES, CONFIG_ONLY_MISSES, GPU_COUNT, PYTHON_MODEL, Case

from components.cli import main
from components.core.plan import CONFIG_NAME, FileSource, ModelPlan, RepositoryPlan, load_plan
from components.core.problems import Problem, errors
from components.core.render import parse_config
from components.core.validate import GpuTarget, validate_plan

TARGET = GpuTarget(GPU_COUNT, "this machine")
REJECTED_GOAL = 0.95


def problems_of(case: Case, root: Path, config_only: bool) -> list[Problem]:
    return validate_plan(load_plan(case.write(root)), config_only=config_only, gpu_target=TARGET)


def test_each_area_of_the_issue_has_broken_configs_fixes_and_other_valid_configs() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    counts = Counter((case.rule.split(".")[0].split("/")[0], case.invalid) for case in CASES)
    for area in ("batch_input", "batch_output", "decoupled", "version", "gpus"):
        assert counts[(area, True)] >= 4, area
    assert {area for area, _ in counts} >= {"batch_io", "decoupled", "version", "general"}
    assert sum(case.invalid for case in CASES) >= 50
    assert sum(not case.invalid for case in CASES) >= 50


@pytest.mark.parametrize("config_only", [True, False], ids=["config-only", "full"])
def test_the_rejection_rate_over_the_corpus(tmp_path: Path, config_only: bool) -> None:
    missed: dict[str, list[str]] = {}
    refused: dict[str, list[str]] = {}
    for index, case in enumerate(CASES):
        problems = problems_of(case, tmp_path / str(index), config_only)
        if case.invalid and not case.named_by(problems):
            missed[case.id] = [str(p) for p in problems]
        if not case.invalid and errors(problems):
            refused[case.id] = [str(p) for p in errors(problems)]
    invalid = sum(case.invalid for case in CASES)
    assert (invalid - len(missed)) / invalid >= REJECTED_GOAL, missed
    assert refused == {}
    assert set(missed) == (CONFIG_ONLY_MISSES if config_only else set()), missed


def test_the_errors_read_as_triton_names_things(tmp_path: Path) -> None:
    by_id = {case.id: case for case in CASES}
    shown = {case_id: [str(p) for p in errors(problems_of(by_id[case_id], tmp_path / str(n), True))]
             for n, case_id in enumerate(["batch_input.unknown_source/broken", "decoupled.join_with_the_request/broken",
                                          "version.older_than_latest_2/broken", "gpus.listed_gpu/broken"])}
    assert shown == {
        "batch_input.unknown_source/broken": [
            "m/config.pbtxt: batch_input[IDX].source_input: unknown source input name 'NOPE': a batch input is "
            "derived from a model input (not from another batch input); its inputs are IN"],
        "decoupled.join_with_the_request/broken": [
            "ens/config.pbtxt: ensemble_scheduling.step[1].input_map: step 1 (c) receives inputs originated from "
            "different decoupled models: 'RAW' from the request, 'm1' from decoupled step 0 (a); each response of a "
            "decoupled step runs the steps after it once, so all inputs of a step must come from one decoupled step "
            "or all from the request: pass the other tensor through that decoupled model, or split the ensemble"],
        "version.older_than_latest_2/broken": [
            "ens/config.pbtxt: ensemble_scheduling.step[0].model_version: the step needs version 1 of model 'a', "
            "which Triton does not load: its version_policy latest 2 over version folders 1, 2, 3 serves 2, 3; write "
            "model_version: -1 for the latest, or serve that version"],
        "gpus.listed_gpu/broken": [
            "m/config.pbtxt: instance_group[0].gpus: instance group m_0 of model m asks for GPU id(s) 0, but this "
            "machine has no GPU; remove gpus and use KIND_CPU, or serve it on a target with GPUs"],
    }


def test_validate_config_only_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_id = {case.id: case for case in CASES}
    broken = by_id["batch_output.target_twice/broken"].write(tmp_path / "broken")
    fixed = by_id["batch_output.target_twice/fixed"].write(tmp_path / "fixed")
    assert main(["validate", "--config-only", str(broken)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "m/config.pbtxt: batch_output[OUT].target_name: target output name 'OUT' can only be specified once; remove "
        "the repeat")
    assert main(["validate", "--config-only", str(fixed)]) == 0


def test_no_edit_of_a_corpus_config_makes_the_validator_fail() -> None:
    """Every corpus repository with one line of one config dropped, or one token changed, gives problems, never
    an exception."""
    checked = 0
    for case in CASES:
        for name, model in case.models.items():
            lines = model.config.splitlines()
            variants = ["\n".join(lines[:i] + lines[i + 1:]) for i in range(len(lines))]
            variants += [model.config.replace(token, other) for token, other in _SWAPS if token in model.config]
            for text in variants:
                validate_plan(_in_memory(case, {name: text}), config_only=False, gpu_target=TARGET)
                checked += 1
    assert checked > 1000


_SWAPS = [("TYPE_FP32", "TYPE_STRING"), ("-1", "-7"), ("4", "0"), ('"IN"', '""'), ('"OUT"', '"IN"'),
          ("KIND_CPU", "KIND_GPU"), ('"a"', '"ens"'), ('"RAW"', '"RES"'), ("8", "0"), ("true", "false"),
          ('"inner"', '"ens"'), ("model_version: -1", "model_version: 9")]


def _in_memory(case: Case, replaced: dict[str, str]) -> RepositoryPlan:
    """The case's repository as a plan, with the config texts in `replaced` instead of its own."""
    models = {}
    for name, model in case.models.items():
        text = replaced.get(name, model.config)
        files = {CONFIG_NAME: FileSource(data=text.encode())}
        files.update({f"{v}/{model.model_file}": FileSource(data=PYTHON_MODEL.encode()) for v in model.versions})
        try:
            config, error = parse_config(text), None
        except text_format.ParseError as exc:
            config, error = None, str(exc)
        models[name] = ModelPlan(name, files, config, error)
    return RepositoryPlan(models, Path("/nonexistent"))
