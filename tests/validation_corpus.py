"""A corpus of model repositories Triton refuses to load, each with its fix, and repositories it loads.

Every case is a small repository of Python-backend models and ensembles (what the local tritonserver can
load), `load` names the model asked for (an ensemble brings its steps), and `invalid` says whether Triton
refuses it. That judgement was checked on the real server: `bench/triton_rejects.py` loads every case on
tritonserver 2.51 (CPU only, no GPU: the GPU cases assume a target without GPUs) and records what it did in
bench/RESULTS.md. For an invalid case, `names` lists what the validator's error must name, as Triton's message
names the model, tensor or step: the error must be in `<model>/config.pbtxt` and mention each string.

`pair(...)` makes a broken case and its fix (`<rule>/broken`, `<rule>/fixed`); `valid(...)` a case that loads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from components.core.problems import Problem, errors

PYTHON_MODEL = """\
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[]) for _ in requests]
"""
"""A Python-backend model that loads and answers warmup requests; the corpus is about what Triton accepts at
load time."""
GPU_COUNT = 0
"""The GPUs of the server the corpus describes (the local tritonserver's machine)."""
CONFIG_ONLY_MISSES = frozenset({"general.specific_version_without_folder/broken"})
"""Refusals that need the version folders checked, which `--config-only` leaves out by design."""


@dataclass(frozen=True)
class Model:
    """One model folder: its config.pbtxt and its version folders (a Python model gets 1/model.py in each)."""

    config: str
    versions: tuple[int, ...] = (1,)
    model_file: str = "model.py"


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    models: dict[str, Model]
    load: str
    invalid: bool
    names: tuple[str, ...] = field(default_factory=tuple)

    @property
    def expected_file(self) -> str:
        """The config that an invalid case's error is reported in: the first of `names`."""
        return f"{self.names[0]}/config.pbtxt"

    def named_by(self, problems: Iterable[Problem]) -> bool:
        """Whether an error among `problems` is in the expected config and names everything `names` lists."""
        return bool(self.names) and any(
            p.file == self.expected_file and all(name in str(p) for name in self.names[1:]) for p in errors(problems))

    def write(self, root: Path) -> Path:
        """Write the repository under `root` and return it."""
        for name, model in self.models.items():
            folder = root / name
            folder.mkdir(parents=True)
            (folder / "config.pbtxt").write_text(model.config)
            for version in model.versions:
                (folder / str(version)).mkdir()
                if 'platform: "ensemble"' not in model.config:
                    (folder / str(version) / model.model_file).write_text(PYTHON_MODEL)
        return root


CASES: list[Case] = []


def pair(rule: str, broken: dict[str, Model], fixed: dict[str, Model], names: tuple[str, ...],
         load: str = "m") -> None:
    """A config Triton refuses (`names`: the model, then what the error names) and the fix it loads."""
    CASES.append(Case(f"{rule}/broken", rule, broken, load, True, names))
    CASES.append(Case(f"{rule}/fixed", rule, fixed, load, False))


def valid(case_id: str, models: dict[str, Model], load: str = "m") -> None:
    CASES.append(Case(case_id, case_id.split("/")[0], models, load, False))


RAGGED_INPUT = 'input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] allow_ragged_batch: true } ]'
VARIABLE_OUTPUT = 'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]'


def python(name: str = "m", *, inputs: str = RAGGED_INPUT, outputs: str = VARIABLE_OUTPUT, max_batch_size: int = 8,
           extra: str = "", decoupled: bool = False, group: str = "instance_group [ { kind: KIND_CPU } ]") -> str:
    """A Python-backend config (one CPU instance unless `group` says otherwise)."""
    policy = "model_transaction_policy { decoupled: true }\n" if decoupled else ""
    return (f'name: "{name}"\nbackend: "python"\nmax_batch_size: {max_batch_size}\n{inputs}\n{outputs}\n{group}\n'
            f"{policy}{extra}\n")


def one(config: str, versions: tuple[int, ...] = (1,)) -> dict[str, Model]:
    return {"m": Model(config, versions)}


# --- batch_input and batch_output (ragged batching) ---

TWO_INPUTS = ('input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] allow_ragged_batch: true }, '
              '{ name: "IN2" data_type: TYPE_FP32 dims: [ -1 ] } ]')
TWO_OUTPUTS = ('output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] }, '
               '{ name: "OUT2" data_type: TYPE_FP32 dims: [ -1 ] } ]')
KINDS = ("BATCH_ELEMENT_COUNT", "BATCH_ACCUMULATED_ELEMENT_COUNT", "BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO",
         "BATCH_MAX_ELEMENT_COUNT_AS_SHAPE", "BATCH_ITEM_SHAPE", "BATCH_ITEM_SHAPE_FLATTEN")
WRONG_TYPES = ("TYPE_INT64", "TYPE_UINT32", "TYPE_FP16", "TYPE_INT64", "TYPE_FP64", "TYPE_INT16")


def batch_input(kind: str = "BATCH_ELEMENT_COUNT", target: str = '"IDX"', source: str = '"IN"',
                data_type: str = "data_type: TYPE_INT32") -> str:
    return f"batch_input [ {{ kind: {kind} target_name: [ {target} ] {data_type} source_input: [ {source} ] }} ]\n"


def batch_output(target: str = '"OUT"', source: str = '"IN"', kind: str = "BATCH_SCATTER_WITH_INPUT_SHAPE") -> str:
    return f"batch_output [ {{ target_name: [ {target} ] kind: {kind} source_input: [ {source} ] }} ]\n"


for _kind, _wrong in zip(KINDS, WRONG_TYPES, strict=True):
    _rule = f"batch_input.{_kind.lower()}"
    pair(f"{_rule}.two_sources", one(python(inputs=TWO_INPUTS, extra=batch_input(_kind, source='"IN", "IN2"'))),
         one(python(inputs=TWO_INPUTS, extra=batch_input(_kind))), ("m", "batch_input[IDX].source_input", _kind))
    pair(f"{_rule}.data_type", one(python(extra=batch_input(_kind, data_type=f"data_type: {_wrong}"))),
         one(python(extra=batch_input(_kind, data_type="data_type: TYPE_FP32"))),
         ("m", "batch_input[IDX].data_type", _wrong))
pair("batch_input.no_source", one(python(extra=batch_input(source=""))), one(python(extra=batch_input())),
     ("m", "batch_input[IDX].source_input", "got 0"))
pair("batch_input.unknown_source", one(python(extra=batch_input(source='"NOPE"'))), one(python(extra=batch_input())),
     ("m", "batch_input[IDX].source_input", "'NOPE'"))
pair("batch_input.source_is_a_batch_input", one(python(extra=batch_input() + batch_input(
    "BATCH_ITEM_SHAPE", target='"SHAPE"', source='"IDX"'))), one(python(extra=batch_input() + batch_input(
        "BATCH_ITEM_SHAPE", target='"SHAPE"'))), ("m", "batch_input[SHAPE].source_input", "'IDX'"))
pair("batch_input.no_data_type", one(python(extra=batch_input(data_type=""))), one(python(extra=batch_input())),
     ("m", "batch_input[IDX].data_type", "TYPE_INVALID"))
pair("batch_input.unknown_kind", one(python(extra=batch_input(kind="42"))), one(python(extra=batch_input())),
     ("m", "batch_input[0].kind", "42 is not a value of Kind"))
pair("batch_output.unknown_target", one(python(extra=batch_output(target='"NOPE"'))), one(python(extra=batch_output())),
     ("m", "batch_output[NOPE].target_name", "'NOPE'"))
pair("batch_output.target_is_an_input", one(python(extra=batch_output(target='"IN"'))),
     one(python(extra=batch_output())), ("m", "batch_output[IN].target_name", "'IN'"))
pair("batch_output.target_twice", one(python(extra=batch_output(target='"OUT", "OUT"'))),
     one(python(extra=batch_output())), ("m", "batch_output[OUT].target_name", "once"))
pair("batch_output.no_source", one(python(extra=batch_output(source=""))), one(python(extra=batch_output())),
     ("m", "batch_output[OUT].source_input", "got 0"))
pair("batch_output.two_sources", one(python(inputs=TWO_INPUTS, extra=batch_output(source='"IN", "IN2"'))),
     one(python(inputs=TWO_INPUTS, extra=batch_output())), ("m", "batch_output[OUT].source_input", "got 2"))
pair("batch_output.unknown_source", one(python(extra=batch_output(source='"NOPE"'))),
     one(python(extra=batch_output())), ("m", "batch_output[OUT].source_input", "'NOPE'"))
pair("batch_output.source_is_a_batch_input", one(python(extra=batch_input() + batch_output(source='"IDX"'))),
     one(python(extra=batch_input() + batch_output())), ("m", "batch_output[OUT].source_input", "'IDX'"))
pair("batch_output.no_target", one(python(extra=batch_output(target=""))), one(python(extra=batch_output())),
     ("m", "batch_output[0].target_name"))
pair("batch_output.unknown_kind", one(python(extra=batch_output(kind="42"))), one(python(extra=batch_output())),
     ("m", "batch_output[0].kind", "42 is not a value of Kind"))
valid("batch_io/every_kind", one(python(inputs=TWO_INPUTS, outputs=TWO_OUTPUTS, extra="".join(
    batch_input(kind, target=f'"T{index}"', source='"IN2"' if index % 2 else '"IN"')
    for index, kind in enumerate(KINDS)) + batch_output(target='"OUT", "OUT2"'))))
valid("batch_io/source_not_ragged", one(python(inputs='input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]',
                                               extra=batch_input())))
valid("batch_io/without_batching", one(python(max_batch_size=0, extra=batch_input() + batch_output())))
valid("batch_io/target_is_an_input", one(python(extra=batch_input(target='"IN"'))))
valid("batch_io/target_is_an_output", one(python(extra=batch_input(target='"OUT"'))))
valid("batch_io/target_twice", one(python(extra=batch_input() + batch_input("BATCH_ITEM_SHAPE"))))
valid("batch_io/no_input_target", one(python(extra=batch_input(target=""))))
valid("batch_io/output_scattered_twice", one(python(extra=batch_output() + batch_output())))

# --- ensembles over decoupled models ---

HEAD = ('name: "ens"\nplatform: "ensemble"\nmax_batch_size: 8\n'
        'input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] } ]\n{outputs}\n')
ONE_OUTPUT = 'output [ { name: "RES" data_type: TYPE_FP32 dims: [ 4 ] } ]'
TWO_ENSEMBLE_OUTPUTS = ('output [ { name: "R1" data_type: TYPE_FP32 dims: [ 4 ] }, '
                        '{ name: "R2" data_type: TYPE_FP32 dims: [ 4 ] } ]')
FOUR = 'dims: [ 4 ]'


def step_model(name: str, decoupled: bool = False, two_inputs: bool = False) -> Model:
    """A Python model with input IN (or X and Y) and output OUT, FP32 [4]."""
    inputs = (f'input [ {{ name: "X" data_type: TYPE_FP32 {FOUR} }}, {{ name: "Y" data_type: TYPE_FP32 {FOUR} }} ]'
              if two_inputs else f'input [ {{ name: "IN" data_type: TYPE_FP32 {FOUR} }} ]')
    return Model(python(name, inputs=inputs, outputs=f'output [ {{ name: "OUT" data_type: TYPE_FP32 {FOUR} }} ]',
                        decoupled=decoupled))


def step(model: str, reads: dict[str, str], writes: str, version: int = -1) -> str:
    maps = " ".join(f'input_map {{ key: "{key}" value: "{value}" }}' for key, value in reads.items())
    return f'{{ model_name: "{model}" model_version: {version} {maps} output_map {{ key: "OUT" value: "{writes}" }} }}'


def ensemble(*steps: str, outputs: str = ONE_OUTPUT, name: str = "ens", extra: str = "") -> Model:
    head = HEAD.replace('name: "ens"', f'name: "{name}"').replace("{outputs}", outputs)
    return Model(f"{head}ensemble_scheduling {{ step [ {', '.join(steps)} ] }}\n{extra}", (1,))


def models(ens: Model, **steps: Model) -> dict[str, Model]:
    return {**steps, "ens": ens}


DEC_A, DEC_B, PLAIN_B, JOIN_C = (step_model("a", True), step_model("b", True), step_model("b"),
                                 step_model("c", two_inputs=True))
pair("decoupled.join_two_decoupled_steps",
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("b", {"IN": "RAW"}, "m2"),
                     step("c", {"X": "m1", "Y": "m2"}, "RES")), a=DEC_A, b=DEC_B, c=JOIN_C),
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("b", {"IN": "m1"}, "m2"),
                     step("c", {"X": "m1", "Y": "m2"}, "RES")), a=DEC_A, b=PLAIN_B, c=JOIN_C),
     ("ens", "ensemble_scheduling.step[2].input_map", "(c)", "'m1'", "'m2'"), load="ens")
pair("decoupled.join_with_the_request",
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("c", {"X": "m1", "Y": "RAW"}, "RES")), a=DEC_A, c=JOIN_C),
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("c", {"X": "m1", "Y": "m1"}, "RES")), a=DEC_A, c=JOIN_C),
     ("ens", "ensemble_scheduling.step[1].input_map", "(c)", "'RAW' from the request"), load="ens")
pair("decoupled.join_with_a_plain_step",
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("b", {"IN": "RAW"}, "m2"),
                     step("c", {"X": "m1", "Y": "m2"}, "RES")), a=DEC_A, b=PLAIN_B, c=JOIN_C),
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("b", {"IN": "m1"}, "m2"),
                     step("c", {"X": "m1", "Y": "m2"}, "RES")), a=DEC_A, b=PLAIN_B, c=JOIN_C),
     ("ens", "ensemble_scheduling.step[2].input_map", "(c)"), load="ens")
pair("decoupled.join_then_more_steps",
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("c", {"X": "m1", "Y": "RAW"}, "m3"),
                     step("d", {"IN": "m3"}, "RES")), a=DEC_A, c=JOIN_C, d=step_model("d")),
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("c", {"X": "m1", "Y": "m1"}, "m3"),
                     step("d", {"IN": "m3"}, "RES")), a=DEC_A, c=JOIN_C, d=step_model("d")),
     ("ens", "ensemble_scheduling.step[1].input_map", "(c)"), load="ens")
pair("decoupled.chained_decoupled_join",
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("b", {"IN": "m1"}, "m2"),
                     step("c", {"X": "m1", "Y": "m2"}, "RES")), a=DEC_A, b=DEC_B, c=JOIN_C),
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("b", {"IN": "m1"}, "m2"),
                     step("c", {"X": "m2", "Y": "m2"}, "RES")), a=DEC_A, b=DEC_B, c=JOIN_C),
     ("ens", "ensemble_scheduling.step[2].input_map", "(c)"), load="ens")
pair("decoupled.outputs_of_two_origins",
     models(ensemble(step("a", {"IN": "RAW"}, "R1"), step("b", {"IN": "RAW"}, "R2"), outputs=TWO_ENSEMBLE_OUTPUTS),
            a=DEC_A, b=PLAIN_B),
     models(ensemble(step("a", {"IN": "RAW"}, "R1"), step("b", {"IN": "R1"}, "R2"), outputs=TWO_ENSEMBLE_OUTPUTS),
            a=DEC_A, b=PLAIN_B),
     ("ens", "output", "'R1'", "'R2'"), load="ens")
pair("decoupled.outputs_of_two_decoupled_steps",
     models(ensemble(step("a", {"IN": "RAW"}, "R1"), step("b", {"IN": "RAW"}, "R2"), outputs=TWO_ENSEMBLE_OUTPUTS),
            a=DEC_A, b=DEC_B),
     models(ensemble(step("a", {"IN": "RAW"}, "m1"), step("b", {"IN": "m1"}, "R1"), step("d", {"IN": "R1"}, "R2"),
                     outputs=TWO_ENSEMBLE_OUTPUTS), a=DEC_A, b=DEC_B, d=step_model("d")),
     ("ens", "output", "'R1'", "'R2'"), load="ens")
pair("decoupled.same_model_twice_in_parallel",
     models(ensemble(step("a", {"IN": "RAW"}, "R1"), step("a", {"IN": "RAW"}, "R2"), outputs=TWO_ENSEMBLE_OUTPUTS),
            a=DEC_A),
     models(ensemble(step("a", {"IN": "RAW"}, "R1"), step("b", {"IN": "R1"}, "R2"), outputs=TWO_ENSEMBLE_OUTPUTS),
            a=DEC_A, b=PLAIN_B),
     ("ens", "output", "step 0 (a)", "step 1 (a)"), load="ens")
_INNER = ensemble(step("a", {"IN": "RAW"}, "RES"), name="inner")
pair("decoupled.nested_ensemble_joined_with_the_request",
     models(ensemble('{ model_name: "inner" model_version: -1 input_map { key: "RAW" value: "RAW" } '
                     'output_map { key: "RES" value: "m1" } }', step("c", {"X": "m1", "Y": "RAW"}, "RES")),
            a=DEC_A, inner=_INNER, c=JOIN_C),
     models(ensemble('{ model_name: "inner" model_version: -1 input_map { key: "RAW" value: "RAW" } '
                     'output_map { key: "RES" value: "m1" } }', step("c", {"X": "m1", "Y": "m1"}, "RES")),
            a=DEC_A, inner=_INNER, c=JOIN_C),
     ("ens", "ensemble_scheduling.step[1].input_map", "step 0 (inner)"), load="ens")
_CACHE = "response_cache { enable: true }\n"
pair("decoupled.response_cache",
     models(ensemble(step("a", {"IN": "RAW"}, "RES"), extra=_CACHE), a=DEC_A),
     models(ensemble(step("a", {"IN": "RAW"}, "RES")), a=DEC_A), ("ens", "response_cache.enable"), load="ens")
pair("decoupled.response_cache_nested",
     models(ensemble('{ model_name: "inner" model_version: -1 input_map { key: "RAW" value: "RAW" } '
                     'output_map { key: "RES" value: "RES" } }', extra=_CACHE), a=DEC_A, inner=_INNER),
     models(ensemble('{ model_name: "inner" model_version: -1 input_map { key: "RAW" value: "RAW" } '
                     'output_map { key: "RES" value: "RES" } }', extra=_CACHE), a=step_model("a"), inner=_INNER),
     ("ens", "response_cache.enable", "(inner)"), load="ens")
_CHAIN = ensemble(step("a", {"IN": "RAW"}, "mid"), step("b", {"IN": "mid"}, "RES"))
valid("decoupled/first_step", models(_CHAIN, a=DEC_A, b=PLAIN_B), load="ens")
valid("decoupled/last_step", models(_CHAIN, a=step_model("a"), b=DEC_B), load="ens")
valid("decoupled/every_step", models(_CHAIN, a=DEC_A, b=DEC_B), load="ens")
valid("decoupled/declared_on_the_ensemble", models(
    Model(_CHAIN.config + "model_transaction_policy { decoupled: true }\n"), a=step_model("a"), b=PLAIN_B), load="ens")
pair("decoupled.response_cache_declared",
     models(Model(_CHAIN.config + "model_transaction_policy { decoupled: true }\n" + _CACHE), a=step_model("a"),
            b=PLAIN_B),
     models(Model(_CHAIN.config + _CACHE), a=step_model("a"), b=PLAIN_B), ("ens", "response_cache.enable"),
     load="ens")
valid("decoupled/join_without_decoupled_steps", models(ensemble(
    step("b", {"IN": "RAW"}, "m2"), step("c", {"X": "RAW", "Y": "m2"}, "RES")), b=PLAIN_B, c=JOIN_C), load="ens")
valid("decoupled/cache_without_decoupled_steps", models(ensemble(step("a", {"IN": "RAW"}, "RES"), extra=_CACHE),
                                                        a=step_model("a")), load="ens")

# --- the version an ensemble step asks for, against the step model's version policy ---


def pinned(version: int, policy: str = "", folders: tuple[int, ...] = (1,)) -> dict[str, Model]:
    """An ensemble whose one step asks for `version` of model `a` (`policy`, version folders `folders`)."""
    text = ensemble(step("a", {"IN": "RAW"}, "RES", version)).config
    if version == 0:
        text = text.replace("model_version: 0 ", "")
    return models(Model(text), a=Model(step_model("a").config + policy, folders))


_LATEST_2 = "version_policy { latest { num_versions: 2 } }\n"
_SPECIFIC = "version_policy { specific { versions: [ 1, 3 ] } }\n"
pair("version.no_such_folder", pinned(2), pinned(-1), ("ens", "ensemble_scheduling.step[0].model_version", "'a'"),
     load="ens")
pair("version.older_than_latest_1", pinned(1, folders=(1, 2)), pinned(2, folders=(1, 2)),
     ("ens", "ensemble_scheduling.step[0].model_version", "version 1"), load="ens")
pair("version.older_than_latest_2", pinned(1, _LATEST_2, (1, 2, 3)), pinned(2, _LATEST_2, (1, 2, 3)),
     ("ens", "ensemble_scheduling.step[0].model_version", "latest 2"), load="ens")
pair("version.not_in_specific", pinned(2, _SPECIFIC, (1, 2, 3)), pinned(3, _SPECIFIC, (1, 2, 3)),
     ("ens", "ensemble_scheduling.step[0].model_version", "specific [1, 3]"), load="ens")
pair("version.left_out", pinned(0), pinned(1), ("ens", "ensemble_scheduling.step[0].model_version", "version 0"),
     load="ens")
pair("version.below_latest", pinned(-2), pinned(-1), ("ens", "ensemble_scheduling.step[0].model_version", "-2"),
     load="ens")
valid("version/all", pinned(1, "version_policy { all { } }\n", (1, 2, 3)), load="ens")
valid("version/latest_more_than_folders", pinned(1, "version_policy { latest { num_versions: 5 } }\n", (1, 2)),
      load="ens")
valid("version/folder_0", pinned(0, folders=(0,)), load="ens")

# --- GPU ids against a target without GPUs ---

pair("gpus.listed_gpu", one(python(group="instance_group [ { kind: KIND_GPU gpus: [ 0 ] } ]")),
     one(python(group="instance_group [ { kind: KIND_CPU } ]")), ("m", "instance_group[0].gpus", "m_0"))
pair("gpus.any_gpu", one(python(group="instance_group [ { kind: KIND_GPU } ]")),
     one(python(group="instance_group [ { kind: KIND_AUTO } ]")), ("m", "instance_group[0].kind", "KIND_GPU"))
pair("gpus.auto_with_gpus", one(python(group='instance_group [ { name: "g" kind: KIND_AUTO gpus: [ 0 ] } ]')),
     one(python(group='instance_group [ { name: "g" kind: KIND_AUTO } ]')), ("m", "instance_group[g].gpus", "g"))
pair("gpus.second_group", one(python(group="instance_group [ { kind: KIND_CPU }, { kind: KIND_GPU gpus: [ 1 ] } ]")),
     one(python(group="instance_group [ { kind: KIND_CPU }, { kind: KIND_CPU count: 2 } ]")),
     ("m", "instance_group[1].gpus", "GPU id(s) 1"))

# --- rules the validator had before, as a check that they still agree with Triton ---

_BASE = python(inputs='input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]',
               outputs='output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]')


def edited(old: str, new: str, text: str = _BASE) -> dict[str, Model]:
    assert old in text, old
    return one(text.replace(old, new))


pair("general.no_dims", edited("dims: [ 4 ] } ]\noutput", "dims: [ ] } ]\noutput"), one(_BASE),
     ("m", "input[IN].dims"))
pair("general.zero_dim", edited('"OUT" data_type: TYPE_FP32 dims: [ 4 ]', '"OUT" data_type: TYPE_FP32 dims: [ 0 ]'),
     one(_BASE), ("m", "output[OUT].dims"))
pair("general.reshape_count", edited("dims: [ 4 ] } ]\noutput", "dims: [ 4 ] reshape { shape: [ 3 ] } } ]\noutput"),
     edited("dims: [ 4 ] } ]\noutput", "dims: [ 4 ] reshape { shape: [ 2, 2 ] } } ]\noutput"),
     ("m", "input[IN].reshape"))
valid("general/duplicate_input", edited('input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]',
                                        'input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] }, '
                                        '{ name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]'))
valid("general/duplicate_output", edited('output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]',
                                         'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] }, '
                                         '{ name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]'))
pair("general.no_data_type", edited('"OUT" data_type: TYPE_FP32', '"OUT"'), one(_BASE), ("m", "output[OUT].data_type"))
pair("general.name_mismatch", edited('name: "m"', 'name: "n"'), one(_BASE), ("m", "name", "'n'"))
pair("general.negative_batch", edited("max_batch_size: 8", "max_batch_size: -1"), one(_BASE), ("m", "max_batch_size"))
pair("general.preferred_above_max", edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { "
                                           "preferred_batch_size: [ 16 ] }\n"),
     edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { preferred_batch_size: [ 8 ] }\n"),
     ("m", "dynamic_batching.preferred_batch_size", "16"))
pair("general.cpu_group_with_gpus", edited("{ kind: KIND_CPU }", "{ kind: KIND_CPU gpus: [ 0 ] }"), one(_BASE),
     ("m", "instance_group[0].gpus"))
pair("general.default_priority_out_of_range",
     edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { priority_levels: 2 "
            "default_priority_level: 3 }\n"),
     edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { priority_levels: 2 "
            "default_priority_level: 2 }\n"), ("m", "dynamic_batching.default_priority_level"))
pair("general.latest_zero", edited("KIND_CPU } ]\n", "KIND_CPU } ]\nversion_policy { latest { num_versions: 0 } }\n"),
     one(_BASE), ("m", "version_policy.latest.num_versions"))
pair("general.ensemble_unknown_model", models(ensemble(step("x", {"IN": "RAW"}, "RES")), a=step_model("a")),
     models(ensemble(step("a", {"IN": "RAW"}, "RES")), a=step_model("a")),
     ("ens", "ensemble_scheduling.step[0].model_name", "'x'"), load="ens")
pair("general.ensemble_type_along_an_edge",
     models(ensemble(step("a", {"IN": "RAW"}, "RES")), a=Model(step_model("a").config.replace(
         '"IN" data_type: TYPE_FP32', '"IN" data_type: TYPE_INT32'))),
     models(ensemble(step("a", {"IN": "RAW"}, "RES")), a=step_model("a")),
     ("ens", "ensemble_scheduling.step[0].input_map[IN]"), load="ens")
pair("general.ensemble_unused_input",
     models(Model(ensemble(step("a", {"IN": "RAW"}, "RES")).config.replace(
         'input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] } ]',
         'input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "EXTRA" data_type: TYPE_FP32 '
         'dims: [ 4 ] } ]')), a=step_model("a")),
     models(ensemble(step("a", {"IN": "RAW"}, "RES")), a=step_model("a")), ("ens", "input[EXTRA]"), load="ens")
valid("general/base", one(_BASE))
valid("general/ragged_input", one(python()))

_SEQUENCE = "sequence_batching { }\n"
pair("general.tensor_without_name", edited('input [ { name: "IN"', 'input [ { name: ""'), one(_BASE),
     ("m", "input[0].name"))
pair("general.no_backend", {"m": Model(_BASE.replace('backend: "python"\n', ""), model_file="model.bin")},
     one(_BASE), ("m", "platform"))
valid("general/backend_from_the_model_file", edited('backend: "python"\n', ""))
pair("general.model_group_with_gpus", edited("{ kind: KIND_CPU }", "{ kind: KIND_MODEL gpus: [ 0 ] }"), one(_BASE),
     ("m", "instance_group[0].gpus"))
pair("general.preferred_zero", edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { "
                                      "preferred_batch_size: [ 0 ] }\n"),
     edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { preferred_batch_size: [ 4 ] }\n"),
     ("m", "dynamic_batching.preferred_batch_size"))
pair("general.priority_policy_level",
     edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { priority_levels: 2 default_priority_level: "
            "1 priority_queue_policy { key: 3 value: { max_queue_size: 4 } } }\n"),
     edited("max_batch_size: 8\n", "max_batch_size: 8\ndynamic_batching { priority_levels: 2 default_priority_level: "
            "1 priority_queue_policy { key: 2 value: { max_queue_size: 4 } } }\n"),
     ("m", "dynamic_batching.priority_queue_policy[3]"))
pair("general.cache_with_sequence_batching", edited("KIND_CPU } ]\n", "KIND_CPU } ]\n" + _SEQUENCE + _CACHE),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\n" + _SEQUENCE), ("m", "response_cache.enable"))
pair("general.cache_with_decoupled", edited("KIND_CPU } ]\n", "KIND_CPU } ]\nmodel_transaction_policy { decoupled: "
                                            "true }\n" + _CACHE),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\nmodel_transaction_policy { decoupled: true }\n"),
     ("m", "response_cache.enable"))
_START = 'control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] }'
pair("general.sequence_control_kind_twice",
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\nsequence_batching { " + _START + ", " + _START.replace(
         '"START"', '"START2"')[len("control_input [ "):] + " ] }\n"),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\nsequence_batching { " + _START + ", " + _START.replace(
         '"START"', '"READY"').replace("CONTROL_SEQUENCE_START", "CONTROL_SEQUENCE_READY")[len("control_input [ "):]
            + " ] }\n"), ("m", "sequence_batching.control_input[START2].control"))
pair("general.sequence_control_one_value",
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\nsequence_batching { " + _START.replace("[ 0, 1 ]", "[ 1 ]") + " ] }\n"),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\nsequence_batching { " + _START + " ] }\n"),
     ("m", "sequence_batching.control_input[START].control"))
_WARMUP = 'model_warmup [ { name: "w" batch_size: 1 inputs { key: "IN" value: { data_type: TYPE_FP32 dims: [ 4 ] ' \
          'zero_data: true } } } ]\n'
pair("general.warmup_without_input", edited("KIND_CPU } ]\n", "KIND_CPU } ]\nmodel_warmup [ { name: \"w\" "
                                            "batch_size: 1 } ]\n"),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\n" + _WARMUP), ("m", "model_warmup[w].inputs", "IN"))
pair("general.warmup_data_type",
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\n" + _WARMUP.replace("TYPE_FP32", "TYPE_INT32")),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\n" + _WARMUP), ("m", "model_warmup[w].inputs[IN].data_type"))
pair("general.warmup_dims",
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\n" + _WARMUP.replace("dims: [ 4 ]", "dims: [ 5 ]")),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\n" + _WARMUP), ("m", "model_warmup[w].inputs[IN].dims"))
pair("general.image_format_dims", edited('"IN" data_type: TYPE_FP32 dims: [ 4 ]',
                                         '"IN" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 4 ]'),
     edited('"IN" data_type: TYPE_FP32 dims: [ 4 ]', '"IN" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 1, 2, 2 ]'),
     ("m", "input[IN].format"))
pair("general.empty_reshape_without_batching",
     edited("max_batch_size: 8\ninput [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 4 ]",
            "max_batch_size: 0\ninput [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ ] }"),
     edited("max_batch_size: 8\ninput [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 4 ]",
            "max_batch_size: 0\ninput [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ 1 ] }"),
     ("m", "input[IN].reshape"))
pair("general.specific_version_without_folder",
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\nversion_policy { specific { versions: [ 2 ] } }\n"),
     edited("KIND_CPU } ]\n", "KIND_CPU } ]\nversion_policy { specific { versions: [ 1 ] } }\n"),
     ("m", "version_policy"))
_PLAIN_ENSEMBLE = ensemble(step("a", {"IN": "RAW"}, "RES"))
pair("general.ensemble_instance_group",
     models(Model(_PLAIN_ENSEMBLE.config + "instance_group [ { kind: KIND_CPU } ]\n"), a=step_model("a")),
     models(_PLAIN_ENSEMBLE, a=step_model("a")), ("ens", "instance_group"), load="ens")
pair("general.ensemble_without_steps",
     models(Model(_PLAIN_ENSEMBLE.config.split("ensemble_scheduling")[0]), a=step_model("a")),
     models(_PLAIN_ENSEMBLE, a=step_model("a")), ("ens", "ensemble_scheduling"), load="ens")
pair("general.ensemble_two_writers",
     models(ensemble(step("a", {"IN": "RAW"}, "RES"), step("b", {"IN": "RAW"}, "RES")), a=step_model("a"),
            b=step_model("b")),
     models(ensemble(step("a", {"IN": "RAW"}, "mid"), step("b", {"IN": "mid"}, "RES")), a=step_model("a"),
            b=step_model("b")), ("ens", "ensemble_scheduling.step[1].output_map[OUT]"), load="ens")
pair("general.ensemble_output_not_written",
     models(ensemble(step("a", {"IN": "RAW"}, "R1"), step("b", {"IN": "R1"}, "R3"), outputs=TWO_ENSEMBLE_OUTPUTS),
            a=step_model("a"), b=step_model("b")),
     models(ensemble(step("a", {"IN": "RAW"}, "R1"), step("b", {"IN": "R1"}, "R2"), outputs=TWO_ENSEMBLE_OUTPUTS),
            a=step_model("a"), b=step_model("b")), ("ens", "output[R2]"), load="ens")
pair("general.ensemble_step_batches_less",
     models(_PLAIN_ENSEMBLE, a=Model(step_model("a").config.replace("max_batch_size: 8", "max_batch_size: 4"))),
     models(_PLAIN_ENSEMBLE, a=step_model("a")), ("ens", "max_batch_size", "(a)"), load="ens")
pair("general.ensemble_unknown_step_output",
     models(Model(_PLAIN_ENSEMBLE.config.replace('key: "OUT"', 'key: "OUTPUT"')), a=step_model("a")),
     models(_PLAIN_ENSEMBLE, a=step_model("a")), ("ens", "ensemble_scheduling.step[0].output_map[OUTPUT]"),
     load="ens")
pair("general.ensemble_shape_along_an_edge",
     models(_PLAIN_ENSEMBLE, a=Model(step_model("a").config.replace('"IN" data_type: TYPE_FP32 dims: [ 4 ]',
                                                                   '"IN" data_type: TYPE_FP32 dims: [ 5 ]'))),
     models(_PLAIN_ENSEMBLE, a=Model(step_model("a").config.replace('"IN" data_type: TYPE_FP32 dims: [ 4 ]',
                                                                   '"IN" data_type: TYPE_FP32 dims: [ -1 ]'))),
     ("ens", "ensemble_scheduling.step[0].input_map[IN]"), load="ens")
pair("general.ensembles_containing_each_other",
     models(ensemble('{ model_name: "inner" model_version: -1 input_map { key: "RAW" value: "RAW" } '
                     'output_map { key: "RES" value: "RES" } }'),
            inner=ensemble('{ model_name: "ens" model_version: -1 input_map { key: "RAW" value: "RAW" } '
                           'output_map { key: "RES" value: "RES" } }', name="inner")),
     models(ensemble('{ model_name: "inner" model_version: -1 input_map { key: "RAW" value: "RAW" } '
                     'output_map { key: "RES" value: "RES" } }'), a=step_model("a"), inner=_INNER),
     ("ens", "ensemble_scheduling.step[0].model_name", "ens -> inner -> ens"), load="ens")
