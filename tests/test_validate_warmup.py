"""model_warmup rules: each sample gives every input a data source with the input's data type and fixed dims,
and a data file in the model's warmup/ folder that is large enough."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.core.plan import load_plan
from components.core.problems import Problem, Severity
from components.core.validate import validate_plan

BASE = """\
name: "m"
backend: "python"
max_batch_size: 8
input [ { name: "IMAGE" data_type: TYPE_FP32 dims: [ -1, 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
"""



def sample(value: str, batch_size: int = 1, more_inputs: str = "") -> str:
    """A model_warmup section with one sample "w" giving input IMAGE as `value`."""
    return (f'model_warmup [ {{ name: "w" batch_size: {batch_size} inputs {{ key: "IMAGE" value: {{ {value} }} }} '
            f"{more_inputs} }} ]")

GOOD = "data_type: TYPE_FP32 dims: [ 2, 3 ] zero_data: true"


def validate(root: Path, text: str, files: dict[str, bytes] | None = None, config_only: bool = False) -> list[Problem]:
    (root / "m" / "1").mkdir(parents=True, exist_ok=True)
    (root / "m" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    (root / "m" / "config.pbtxt").write_text(text)
    for rel, data in (files or {}).items():
        (root / "m" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "m" / rel).write_bytes(data)
    return validate_plan(load_plan(root), config_only=config_only)


CASES = [
    # (id, broken sample input, fixed sample input, expected field)
    ("no-data-source", "data_type: TYPE_FP32 dims: [ 2, 3 ]", GOOD, "model_warmup[w].inputs[IMAGE]"),
    ("variable-dims", "data_type: TYPE_FP32 dims: [ -1, 3 ] random_data: true",
     "data_type: TYPE_FP32 dims: [ 5, 3 ] random_data: true", "model_warmup[w].inputs[IMAGE].dims"),
    ("wrong-data-type", "data_type: TYPE_FP16 dims: [ 2, 3 ] zero_data: true", GOOD,
     "model_warmup[w].inputs[IMAGE].data_type"),
    ("dims-do-not-fit", "data_type: TYPE_FP32 dims: [ 2, 4 ] zero_data: true", GOOD,
     "model_warmup[w].inputs[IMAGE].dims"),
]


@pytest.mark.parametrize(("broken", "fixed", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_warmup_input_gives_the_problem_and_its_fix_passes(
    tmp_path: Path, broken: str, fixed: str, field: str
) -> None:
    assert [(p.field, p.code) for p in validate(tmp_path, BASE + sample(broken))] == [(field, "config.warmup")]
    assert validate(tmp_path, BASE + sample(fixed)) == []


def test_a_sample_must_cover_every_required_input(tmp_path: Path) -> None:
    two_inputs = BASE.replace("dims: [ -1, 3 ] } ]", 'dims: [ -1, 3 ] }, { name: "SCALE" data_type: TYPE_FP32 '
                              'dims: [ 1 ] } ]')
    problems = validate(tmp_path, two_inputs + sample(GOOD))
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: model_warmup[w].inputs: the sample gives no data for input(s) SCALE; Triton sends the sample "
        "as a request, which needs every required input"
    ]
    optional = two_inputs.replace("dims: [ 1 ] } ]", "dims: [ 1 ] optional: true } ]")
    assert validate(tmp_path, optional + sample(GOOD)) == []


def test_a_sample_names_only_inputs_or_control_tensors(tmp_path: Path) -> None:
    unknown = sample(GOOD, more_inputs='inputs { key: "START" value: { data_type: TYPE_INT32 dims: [ 1 ] '
                     'zero_data: true } }')
    problems = validate(tmp_path, BASE + unknown)
    assert [(p.field, p.code) for p in problems] == [("model_warmup[w].inputs[START]", "config.warmup")]
    control = ('sequence_batching { control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START '
               'int32_false_true: [ 0, 1 ] } ] } ] }\n')
    assert validate(tmp_path, BASE + control + unknown) == []


def test_batch_size_rules(tmp_path: Path) -> None:
    zero = validate(tmp_path, BASE + sample(GOOD, batch_size=0))
    assert [(p.field, p.severity) for p in zero] == [("model_warmup[w].batch_size", Severity.WARNING)]
    not_batching = BASE.replace("max_batch_size: 8", "max_batch_size: 0")
    many = validate(tmp_path, not_batching + sample(GOOD, batch_size=4))
    assert [(p.field, p.severity) for p in many] == [("model_warmup[w].batch_size", Severity.ERROR)]
    assert validate(tmp_path, not_batching + sample(GOOD)) == []


def test_a_warmup_data_file_must_be_in_the_warmup_folder_and_large_enough(tmp_path: Path) -> None:
    from_file = BASE + sample('data_type: TYPE_FP32 dims: [ 2, 3 ] input_data_file: "image.raw"')
    missing = validate(tmp_path, from_file)
    assert [(p.field, p.code) for p in missing] == [
        ("model_warmup[w].inputs[IMAGE].input_data_file", "files.warmup")
    ]
    assert "warmup/image.raw is not in the model folder" in missing[0].message
    too_small = validate(tmp_path, from_file, {"warmup/image.raw": bytes(20)})
    assert [p.message for p in too_small] == [
        "warmup/image.raw holds 20 bytes but the sample needs 24 ([2, 3] elements); give a larger file or smaller dims"
    ]
    assert validate(tmp_path, from_file, {"warmup/image.raw": bytes(24)}) == []


def test_config_only_skips_the_warmup_data_file(tmp_path: Path) -> None:
    from_file = BASE + sample('data_type: TYPE_FP32 dims: [ 2, 3 ] input_data_file: "image.raw"')
    assert validate(tmp_path, from_file, config_only=True) == []
