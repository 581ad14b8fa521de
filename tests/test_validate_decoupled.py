"""Ensembles over decoupled models: the refusals of Triton's loader are errors (one broken config and its fix per
rule in the corpus); an ensemble made decoupled by its steps gets a warning that only streaming reaches it."""

from __future__ import annotations

from pathlib import Path

from validation_corpus import CASES, Case

from components.core.plan import load_plan
from components.core.problems import Problem, Severity, errors
from components.core.validate import validate_plan

BY_ID = {case.id: case for case in CASES}


def validate(tmp_path: Path, case_id: str) -> list[Problem]:
    case: Case = BY_ID[case_id]
    return validate_plan(load_plan(case.write(tmp_path / "repo")), config_only=True)


def test_an_ensemble_with_a_decoupled_step_is_reached_only_by_streaming(tmp_path: Path) -> None:
    assert [str(p) for p in validate(tmp_path, "decoupled/first_step")] == [
        "ens/config.pbtxt: model_transaction_policy: warning: this ensemble is decoupled because step 0 (a) is "
        "decoupled: it answers only over gRPC streaming (HTTP and unary gRPC infer refuse decoupled models, and so "
        "do smoke cases)"
    ]


def test_decoupled_written_on_an_ensemble_without_decoupled_steps_is_overridden(tmp_path: Path) -> None:
    assert [(p.field, p.code, p.severity) for p in validate(tmp_path, "decoupled/declared_on_the_ensemble")] == [
        ("model_transaction_policy.decoupled", "ensemble.decoupled_ignored", Severity.WARNING)
    ]


def test_outputs_of_two_origins_name_each_output_and_its_origin(tmp_path: Path) -> None:
    assert [str(p) for p in errors(validate(tmp_path, "decoupled.outputs_of_two_origins/broken"))] == [
        "ens/config.pbtxt: output: the ensemble outputs originate from different decoupled models: 'R1' from "
        "decoupled step 0 (a), 'R2' from the request; Triton gathers one response from tensors of one origin, so "
        "every output must come from the same decoupled step (or none from a decoupled step)"
    ]


def test_a_join_is_reported_once_not_again_downstream(tmp_path: Path) -> None:
    problems = errors(validate(tmp_path, "decoupled.join_then_more_steps/broken"))
    assert [(p.field, p.code) for p in problems] == [
        ("ensemble_scheduling.step[1].input_map", "ensemble.decoupled_inputs")
    ]


def test_a_nested_ensemble_over_a_decoupled_model_makes_the_outer_one_decoupled(tmp_path: Path) -> None:
    problems = errors(validate(tmp_path, "decoupled.response_cache_nested/broken"))
    assert [str(p) for p in problems] == [
        "ens/config.pbtxt: response_cache.enable: the response cache does not support decoupled models, and this "
        "ensemble is decoupled because step 0 (inner) is decoupled; disable the response cache"
    ]
