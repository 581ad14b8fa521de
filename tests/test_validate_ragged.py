"""batch_input and batch_output: what Triton refuses is an error in its words (the corpus has one broken config
and its fix per rule); what it loads but cannot work is a warning."""

from __future__ import annotations

from pathlib import Path

from validation_corpus import Case, batch_input, batch_output, one, python

from components.core.plan import load_plan
from components.core.problems import Problem, Severity
from components.core.validate import validate_plan


def validate(tmp_path: Path, config: str) -> list[Problem]:
    return validate_plan(load_plan(Case("c", "c", one(config), "m", False).write(tmp_path / "repo")), config_only=True)


def test_a_batch_input_with_two_sources_reads_as_triton_says_it(tmp_path: Path) -> None:
    text = python(extra=batch_input("BATCH_ITEM_SHAPE", source='"IN", "IN"'))
    assert [str(p) for p in validate(tmp_path, text)] == [
        "m/config.pbtxt: batch_input[IDX].source_input: batch input kind 'BATCH_ITEM_SHAPE' expects 1 source input, "
        "got 2; name the one model input it is derived from"
    ]


def test_an_element_count_may_be_int32_or_fp32_but_not_int64(tmp_path: Path) -> None:
    for data_type in ("TYPE_INT32", "TYPE_FP32"):
        assert validate(tmp_path / data_type, python(extra=batch_input(data_type=f"data_type: {data_type}"))) == []
    int64 = python(extra=batch_input(data_type="data_type: TYPE_INT64"))
    assert [str(p) for p in validate(tmp_path / "64", int64)] == [
        "m/config.pbtxt: batch_input[IDX].data_type: batch input data type is TYPE_INT64; it must be TYPE_INT32 or "
        "TYPE_FP32"
    ]


def test_what_triton_loads_but_cannot_work_is_a_warning(tmp_path: Path) -> None:
    cases = {
        "input": python(extra=batch_input(target='"IN"')),
        "output": python(extra=batch_input(target='"OUT"')),
        "twice": python(extra=batch_input() + batch_input("BATCH_ITEM_SHAPE")),
        "none": python(extra=batch_input(target="")),
        "scattered": python(extra=batch_output() + batch_output()),
    }
    found = {name: [(p.field, p.code, p.severity) for p in validate(tmp_path / name, text)]
             for name, text in cases.items()}
    warning = Severity.WARNING
    assert found == {
        "input": [("batch_input[IN].target_name", "config.batch_input_target", warning)],
        "output": [("batch_input[OUT].target_name", "config.batch_input_target", warning)],
        "twice": [("batch_input[IDX].target_name", "config.batch_input_target", warning)] * 2,
        "none": [("batch_input[0].target_name", "config.batch_input_target", warning)],
        "scattered": [("batch_output[OUT]", "config.batch_output_target", warning)],
    }


def test_a_batch_output_without_target_is_an_error_because_it_crashes_the_server(tmp_path: Path) -> None:
    problems = validate(tmp_path, python(extra=batch_output(target="")))
    assert [(p.field, p.code, p.severity) for p in problems] == [
        ("batch_output[0].target_name", "config.batch_output", Severity.ERROR)
    ]
    assert "crashes the server" in problems[0].message
