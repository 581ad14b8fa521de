"""Ensemble rules: steps name real models and their real inputs and outputs, tensors flow from ensemble inputs
to ensemble outputs with one writer each and no cycle (also across nested ensembles), data types and shapes
agree along every edge, and batch sizes fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.core.plan import load_plan
from components.core.problems import Problem, Severity
from components.core.validate import validate_plan

PRE = """\
name: "pre"
backend: "python"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
"""
POST = """\
name: "post"
backend: "python"
max_batch_size: 8
input [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "Y" data_type: TYPE_STRING dims: [ 1 ] } ]
"""
ENSEMBLE = """\
name: "ens"
platform: "ensemble"
max_batch_size: 8
input [ { name: "RAW" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]
ensemble_scheduling {
  step [
    { model_name: "pre" model_version: -1
      input_map { key: "IN" value: "RAW" } output_map { key: "OUT" value: "features" } },
    { model_name: "post" model_version: -1
      input_map { key: "X" value: "features" } output_map { key: "Y" value: "TEXT" } }
  ]
}
"""
PYTHON_MODEL = "class TritonPythonModel:\n    pass\n"


def validate(root: Path, configs: dict[str, str], config_only: bool = False) -> list[Problem]:
    """Write each model's config (Python models get 1/model.py, ensembles an empty 1/) and validate."""
    for name, text in configs.items():
        (root / name / "1").mkdir(parents=True, exist_ok=True)
        (root / name / "config.pbtxt").write_text(text)
        if 'platform: "ensemble"' not in text:
            (root / name / "1" / "model.py").write_text(PYTHON_MODEL)
    return validate_plan(load_plan(root), config_only=config_only)


def found(problems: list[Problem]) -> list[tuple[str, str, str]]:
    return [(p.file.split("/")[0], p.field, p.code) for p in problems]


def test_the_base_ensemble_is_valid(tmp_path: Path) -> None:
    assert validate(tmp_path, {"pre": PRE, "post": POST, "ens": ENSEMBLE}) == []


CASES = [
    # (id, model whose config is broken, text replaced, replacement, expected (model, field, code) list)
    ("unknown-step-model", "ens", '"pre"', '"prep"',
     [("ens", "ensemble_scheduling.step[0].model_name", "ensemble.unknown_model")]),
    ("unknown-step-input", "ens", 'key: "IN"', 'key: "INPUT"',
     [("ens", "ensemble_scheduling.step[0].input_map", "ensemble.unmapped_input"),
      ("ens", "ensemble_scheduling.step[0].input_map[INPUT]", "ensemble.unknown_input")]),
    ("unknown-step-output", "ens", 'key: "OUT"', 'key: "OUTPUT"',
     [("ens", "ensemble_scheduling.step[0].output_map[OUTPUT]", "ensemble.unknown_output")]),
    ("data-type-along-an-edge", "post", '"X" data_type: TYPE_FP32', '"X" data_type: TYPE_FP16',
     [("ens", "ensemble_scheduling.step[1].input_map[X]", "ensemble.data_type")]),
    ("shape-along-an-edge", "post", "dims: [ 4 ]", "dims: [ 5 ]",
     [("ens", "ensemble_scheduling.step[1].input_map[X]", "ensemble.shape")]),
    ("step-batches-less-than-the-ensemble", "post", "max_batch_size: 8", "max_batch_size: 4",
     [("ens", "max_batch_size", "ensemble.batch_size")]),
    ("ensemble-input-not-used", "ens", 'input [ { name: "RAW" data_type: TYPE_FP32 dims: [ -1 ] } ]',
     'input [ { name: "RAW" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "EXTRA" data_type: TYPE_FP32 dims: [ 1 ] } ]',
     [("ens", "input[EXTRA]", "ensemble.input_unused")]),
    ("tensor-read-but-never-written", "ens", 'key: "X" value: "features"', 'key: "X" value: "feature"',
     [("ens", "ensemble_scheduling.step[0].output_map[OUT]", "ensemble.tensor_unused"),
      ("ens", "ensemble_scheduling.step[1].input_map[X]", "ensemble.tensor_unwritten"),
      ("ens", "output[TEXT]", "ensemble.output_unreachable")]),
    ("tensor-written-twice", "ens", 'output_map { key: "Y" value: "TEXT" }',
     'output_map { key: "Y" value: "features" }',
     [("ens", "ensemble_scheduling.step[1]", "ensemble.cycle"),
      ("ens", "ensemble_scheduling.step[1].output_map[Y]", "ensemble.data_type"),
      ("ens", "ensemble_scheduling.step[1].output_map[Y]", "ensemble.duplicate_writer"),
      ("ens", "output[TEXT]", "ensemble.output_unwritten")]),
    ("ensemble-output-not-written", "ens", '"TEXT" data_type', '"TEXT2" data_type',
     [("ens", "ensemble_scheduling.step[1].output_map[Y]", "ensemble.tensor_unused"),
      ("ens", "output[TEXT2]", "ensemble.output_unwritten")]),
    ("step-version-not-served", "ens", '"post" model_version: -1', '"post" model_version: 2',
     [("ens", "ensemble_scheduling.step[1].model_version", "ensemble.model_version")]),
    ("instance-group-on-an-ensemble", "ens", "max_batch_size: 8", "max_batch_size: 8\ninstance_group [ { count: 2 } ]",
     [("ens", "instance_group", "ensemble.field")]),
    ("warmup-on-an-ensemble", "ens", "max_batch_size: 8", 'max_batch_size: 8\nmodel_warmup [ { name: "w" } ]',
     [("ens", "model_warmup", "ensemble.field")]),
    ("ensemble-with-a-backend", "ens", 'platform: "ensemble"', 'platform: "ensemble"\nbackend: "python"',
     [("ens", "backend", "config.backend")]),
    ("step-without-outputs", "ens", 'output_map { key: "Y" value: "TEXT" }', "",
     [("ens", "ensemble_scheduling.step[1].output_map", "ensemble.step"),
      ("ens", "output[TEXT]", "ensemble.output_unwritten")]),
    ("steps-on-a-python-model", "pre", 'max_batch_size: 8', 'max_batch_size: 8\nensemble_scheduling { step [ { '
     'model_name: "post" } ] }', [("pre", "ensemble_scheduling", "ensemble.platform")]),
]


@pytest.mark.parametrize(("model", "old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_ensemble_gives_the_problems_and_the_original_passes(
    tmp_path: Path, model: str, old: str, new: str, expected: list[tuple[str, str, str]]
) -> None:
    configs = {"pre": PRE, "post": POST, "ens": ENSEMBLE}
    assert old in configs[model]
    assert found(validate(tmp_path, {**configs, model: configs[model].replace(old, new)})) == expected
    assert validate(tmp_path, configs) == []


def test_messages_name_the_step_the_tensor_and_the_fix(tmp_path: Path) -> None:
    problems = validate(tmp_path, {"pre": PRE, "post": POST.replace("dims: [ 4 ]", "dims: [ 5 ]"), "ens": ENSEMBLE})
    assert [str(p) for p in problems] == [
        "ens/config.pbtxt: ensemble_scheduling.step[1].input_map[X]: tensor 'features' has shape [-1,5] as input "
        "'X' of model 'post' but [-1,4] as output 'OUT' of model 'pre' (batch dimension included when the model "
        "batches); make the dims agree (-1 matches any size)"
    ]


def test_a_step_that_does_not_batch_fits_when_its_dims_include_the_batch(tmp_path: Path) -> None:
    whole = POST.replace("max_batch_size: 8", "max_batch_size: 0").replace("dims: [ 4 ]", "dims: [ -1, 4 ]")
    whole = whole.replace("dims: [ 1 ]", "dims: [ -1, 1 ]")
    assert validate(tmp_path, {"pre": PRE, "post": whole, "ens": ENSEMBLE}) == []
    assert found(validate(tmp_path, {"post": whole.replace("[ -1, 4 ]", "[ -1, 5 ]")})) == [
        ("ens", "ensemble_scheduling.step[1].input_map[X]", "ensemble.shape")
    ]


def test_steps_forming_a_loop_are_a_cycle(tmp_path: Path) -> None:
    ident = ('name: "ident"\nbackend: "python"\nmax_batch_size: 8\n'
             'input [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
             'output [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n')
    looped = """\
name: "ens"
platform: "ensemble"
max_batch_size: 8
input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling { step [
  { model_name: "ident" model_version: -1 input_map { key: "X" value: "RAW" } output_map { key: "Y" value: "OUT" } },
  { model_name: "ident" model_version: -1 input_map { key: "X" value: "t2" } output_map { key: "Y" value: "t3" } },
  { model_name: "ident" model_version: -1 input_map { key: "X" value: "t3" } output_map { key: "Y" value: "t2" } }
] }
"""
    problems = validate(tmp_path, {"ident": ident, "ens": looped})
    assert [str(p) for p in problems] == [
        "ens/config.pbtxt: ensemble_scheduling.step[1]: steps form a cycle: step 1 (ident) -> step 2 (ident) -> "
        "step 1 (ident); an ensemble must be a directed acyclic graph, so break the loop"
    ]
    straight = looped.replace('value: "t2" } output_map { key: "Y" value: "t3" }',
                              'value: "OUT" } output_map { key: "Y" value: "t3" }')
    straight = straight.replace('value: "t3" } output_map { key: "Y" value: "t2" }',
                                'value: "t3" } output_map { key: "Y" value: "OUT2" }')
    straight = straight.replace('output [ { name: "OUT"', 'output [ { name: "OUT2" data_type: TYPE_FP32 dims: [ 4 ] },'
                                ' { name: "OUT"')
    assert validate(tmp_path, {"ens": straight}) == []


def test_ensembles_that_contain_each_other_are_a_cycle(tmp_path: Path) -> None:
    outer = ENSEMBLE.replace('name: "ens"', 'name: "outer"').replace('model_name: "post"', 'model_name: "inner"')
    outer = outer.replace('key: "X" value: "features" } output_map { key: "Y"',
                          'key: "features" value: "features" } output_map { key: "TEXT"')
    inner = """\
name: "inner"
platform: "ensemble"
max_batch_size: 8
input [ { name: "features" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]
ensemble_scheduling { step [ { model_name: "post" model_version: -1 input_map { key: "X" value: "features" }
  output_map { key: "Y" value: "TEXT" } } ] }
"""
    configs = {"pre": PRE, "post": POST, "outer": outer, "inner": inner}
    assert validate(tmp_path, configs) == []
    looped = inner.replace('output [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]',
                           'output [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]\ninput [ { name: "RAW" '
                           'data_type: TYPE_FP32 dims: [ -1 ] } ]')
    looped = looped.replace("step [ {", 'step [ { model_name: "outer" model_version: -1 '
                            'input_map { key: "RAW" value: "RAW" } output_map { key: "TEXT" value: "unused" } }, {')
    problems = [p for p in validate(tmp_path, {**configs, "inner": looped}) if p.code == "ensemble.cycle"]
    assert [str(p) for p in problems] == [
        "inner/config.pbtxt: ensemble_scheduling.step[0].model_name: circular dependency between ensembles: "
        "inner -> outer -> inner; an ensemble cannot contain itself, directly or through other ensembles",
        "outer/config.pbtxt: ensemble_scheduling.step[1].model_name: circular dependency between ensembles: "
        "outer -> inner -> outer; an ensemble cannot contain itself, directly or through other ensembles",
    ]


def test_an_ensemble_that_names_itself_as_a_step_is_a_cycle(tmp_path: Path) -> None:
    itself = ENSEMBLE.replace('model_name: "post"', 'model_name: "ens"').replace(
        'key: "X" value: "features" } output_map { key: "Y"', 'key: "RAW" value: "features" } output_map { key: "TEXT"')
    cycles = [p for p in validate(tmp_path, {"pre": PRE, "ens": itself}) if p.code == "ensemble.cycle"]
    assert [p.message.split(";")[0] for p in cycles] == ["circular dependency between ensembles: ens -> ens"]


def test_an_ensemble_without_steps(tmp_path: Path) -> None:
    bare = ENSEMBLE[: ENSEMBLE.index("ensemble_scheduling")]
    assert found(validate(tmp_path, {"ens": bare}, config_only=True)) == [
        ("ens", "ensemble_scheduling", "ensemble.no_steps")
    ]


def test_an_optional_ensemble_input_feeding_a_required_input_is_a_warning(tmp_path: Path) -> None:
    optional = ENSEMBLE.replace("dims: [ -1 ] } ]", "dims: [ -1 ] optional: true } ]")
    problems = validate(tmp_path, {"pre": PRE, "post": POST, "ens": optional})
    assert [(p.field, p.code, p.severity) for p in problems] == [
        ("ensemble_scheduling.step[0].input_map[IN]", "ensemble.optional_input", Severity.WARNING)
    ]
    optional_step = PRE.replace("dims: [ -1 ] } ]", "dims: [ -1 ] optional: true } ]")
    assert validate(tmp_path, {"pre": optional_step}) == []


def test_config_only_checks_step_versions_against_the_version_folders_listed(tmp_path: Path) -> None:
    pinned = ENSEMBLE.replace('"post" model_version: -1', '"post" model_version: 2')
    assert found(validate(tmp_path, {"pre": PRE, "post": POST, "ens": pinned}, config_only=True)) == [
        ("ens", "ensemble_scheduling.step[1].model_version", "ensemble.model_version")
    ]
    broken = pinned.replace('key: "X" value: "features"', 'key: "X" value: "feature"')
    assert "ensemble.tensor_unwritten" in {p.code for p in validate(tmp_path, {"ens": broken}, config_only=True)}


def test_config_only_without_version_folders_knows_only_a_specific_policy(tmp_path: Path) -> None:
    pinned = ENSEMBLE.replace('"post" model_version: -1', '"post" model_version: 2')
    specific = POST + "version_policy { specific { versions: [ 1 ] } }\n"
    for name, text in {"pre": PRE, "post": POST, "ens": pinned}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.pbtxt").write_text(text)
    assert validate_plan(load_plan(tmp_path), config_only=True) == []
    (tmp_path / "post" / "config.pbtxt").write_text(specific)
    assert found(validate_plan(load_plan(tmp_path), config_only=True)) == [
        ("ens", "ensemble_scheduling.step[1].model_version", "ensemble.model_version")
    ]


def test_a_step_without_model_version_asks_for_version_0(tmp_path: Path) -> None:
    unpinned = ENSEMBLE.replace('"post" model_version: -1', '"post"')
    problems = validate(tmp_path, {"pre": PRE, "post": POST, "ens": unpinned})
    assert [str(p) for p in problems] == [
        "ens/config.pbtxt: ensemble_scheduling.step[1].model_version: the step needs version 0 (model_version is 0 "
        "when left out) of model 'post', which Triton does not load: its default version_policy (latest 1) over "
        "version folders 1 serves 1; write model_version: -1 for the latest, or serve that version"
    ]
