"""Scheduling rules: instance groups, the dynamic batcher, the sequence batcher's control tensors, the response
cache and optional inputs. Each case breaks one rule of a valid config and then fixes it.
"""

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
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
"""

SEQUENCE = """\
sequence_batching {
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
}
"""


def validate_config(root: Path, text: str) -> list[Problem]:
    (root / "m").mkdir(exist_ok=True)
    (root / "m" / "config.pbtxt").write_text(text)
    return validate_plan(load_plan(root), config_only=True)


CASES = [
    # (id, section appended to BASE when broken, when fixed, expected field, expected code)
    ("cpu-group-with-gpus", "instance_group [ { kind: KIND_CPU gpus: [ 0 ] } ]", "instance_group [ { kind: KIND_CPU "
     "count: 2 } ]", "instance_group[0].gpus", "config.instance_group"),
    ("model-group-with-gpus", "instance_group [ { name: \"g\" kind: KIND_MODEL gpus: [ 1 ] } ]",
     "instance_group [ { name: \"g\" kind: KIND_GPU gpus: [ 1 ] } ]", "instance_group[g].gpus",
     "config.instance_group"),
    ("negative-gpu-id", "instance_group [ { kind: KIND_GPU gpus: [ -1 ] } ]", "instance_group [ { kind: KIND_GPU } ]",
     "instance_group[0].gpus", "config.instance_group"),
    ("profile-outside-tensorrt", "instance_group [ { kind: KIND_CPU profile: [ \"0\" ] } ]",
     "instance_group [ { kind: KIND_CPU } ]", "instance_group[0].profile", "config.instance_group"),
    ("preferred-above-max", "dynamic_batching { preferred_batch_size: [ 4, 16 ] }",
     "dynamic_batching { preferred_batch_size: [ 4, 8 ] }", "dynamic_batching.preferred_batch_size",
     "config.preferred_batch_size"),
    ("preferred-zero", "dynamic_batching { preferred_batch_size: [ 0 ] }", "dynamic_batching { }",
     "dynamic_batching.preferred_batch_size", "config.preferred_batch_size"),
    ("default-priority-out-of-range", "dynamic_batching { priority_levels: 2 default_priority_level: 3 }",
     "dynamic_batching { priority_levels: 2 default_priority_level: 2 }", "dynamic_batching.default_priority_level",
     "config.priority"),
    ("priority-policy-out-of-range", "dynamic_batching { priority_levels: 2 default_priority_level: 1 "
     "priority_queue_policy { key: 3 value: { max_queue_size: 4 } } }", "dynamic_batching { priority_levels: 2 "
     "default_priority_level: 1 priority_queue_policy { key: 2 value: { max_queue_size: 4 } } }",
     "dynamic_batching.priority_queue_policy[3]", "config.priority"),
    ("preserve-ordering-with-priorities", "dynamic_batching { preserve_ordering: true priority_levels: 2 "
     "default_priority_level: 1 }", "dynamic_batching { preserve_ordering: true priority_levels: 1 "
     "default_priority_level: 1 }", "dynamic_batching.preserve_ordering", "config.preserve_ordering"),
    ("preserve-ordering-with-delay", "dynamic_batching { preserve_ordering: true default_queue_policy { "
     "timeout_action: DELAY default_timeout_microseconds: 100 } }", "dynamic_batching { preserve_ordering: true "
     "default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 100 } }",
     "dynamic_batching.default_queue_policy.timeout_action", "config.preserve_ordering"),
    ("control-without-name", SEQUENCE.replace('"START"', '""'), SEQUENCE, "sequence_batching.control_input[0].name",
     "config.sequence_control"),
    ("control-tensor-for-two-kinds", SEQUENCE.replace('"CORRID"', '"START"'), SEQUENCE,
     "sequence_batching.control_input[START].name", "config.sequence_control"),
    ("two-start-tensors", SEQUENCE.replace("CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64",
                                           "CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ]"), SEQUENCE,
     "sequence_batching.control_input[CORRID].control", "config.sequence_control"),
    ("start-without-values", SEQUENCE.replace(" int32_false_true: [ 0, 1 ]", ""), SEQUENCE,
     "sequence_batching.control_input[START].control", "config.sequence_control"),
    ("start-with-three-values", SEQUENCE.replace("[ 0, 1 ]", "[ 0, 1, 2 ]"), SEQUENCE,
     "sequence_batching.control_input[START].control", "config.sequence_control"),
    ("corrid-with-values", SEQUENCE.replace("TYPE_UINT64", "TYPE_UINT64 int32_false_true: [ 0, 1 ]"),
     SEQUENCE, "sequence_batching.control_input[CORRID].control", "config.sequence_control"),
    ("corrid-float", SEQUENCE.replace("TYPE_UINT64", "TYPE_FP32"), SEQUENCE.replace("TYPE_UINT64", "TYPE_STRING"),
     "sequence_batching.control_input[CORRID].control", "config.sequence_control"),
    ("control-named-like-an-input", SEQUENCE.replace('"START"', '"IN"'), SEQUENCE,
     "sequence_batching.control_input[IN].name", "config.sequence_control"),
    ("oldest-preferred-above-max", "sequence_batching { oldest { preferred_batch_size: [ 9 ] } }",
     "sequence_batching { oldest { preferred_batch_size: [ 8 ] } }", "sequence_batching.oldest.preferred_batch_size",
     "config.preferred_batch_size"),
    ("direct-slot-utilization", "sequence_batching { direct { minimum_slot_utilization: 1.5 } }",
     "sequence_batching { direct { minimum_slot_utilization: 0.5 } }",
     "sequence_batching.direct.minimum_slot_utilization", "config.sequence_batching"),
    ("cache-with-sequence-batching", "response_cache { enable: true }\n" + SEQUENCE, SEQUENCE,
     "response_cache.enable", "config.response_cache"),
    ("cache-with-decoupled-model", "response_cache { enable: true }\nmodel_transaction_policy { decoupled: true }",
     "model_transaction_policy { decoupled: true }", "response_cache.enable", "config.response_cache"),
]


@pytest.mark.parametrize(("broken", "fixed", "field", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_schedule_gives_the_problem_and_its_fix_passes(
    tmp_path: Path, broken: str, fixed: str, field: str, code: str
) -> None:
    assert [(p.field, p.code) for p in validate_config(tmp_path, BASE + broken)] == [(field, code)]
    assert validate_config(tmp_path, BASE + fixed) == []


def test_ensemble_rules_do_not_apply_to_instance_groups_of_other_models(tmp_path: Path) -> None:
    text = BASE + "instance_group [ { kind: KIND_CPU count: 2 }, { kind: KIND_GPU count: 1 gpus: [ 0, 1 ] } ]"
    assert validate_config(tmp_path, text) == []


@pytest.mark.parametrize(("broken", "fixed", "field"), [
    ("instance_group [ { kind: KIND_CPU count: -1 } ]", "instance_group [ { kind: KIND_CPU } ]",
     "instance_group[0].count"),
    ("dynamic_batching { priority_levels: 0 default_priority_level: 2 }", "dynamic_batching { }",
     "dynamic_batching.priority_levels"),
])
def test_settings_triton_replaces_or_ignores_are_warnings(tmp_path: Path, broken: str, fixed: str, field: str) -> None:
    problems = validate_config(tmp_path, BASE + broken)
    assert [(p.field, p.severity) for p in problems] == [(field, Severity.WARNING)]
    assert validate_config(tmp_path, BASE + fixed) == []


def test_dynamic_batching_without_batching_only_queues(tmp_path: Path) -> None:
    problems = validate_config(tmp_path, BASE.replace("max_batch_size: 8", "max_batch_size: 0") + "dynamic_batching {}")
    assert [(p.field, p.code, p.severity) for p in problems] == [
        ("dynamic_batching", "config.dynamic_batching", Severity.WARNING)
    ]
    assert validate_config(tmp_path, BASE + "dynamic_batching {}") == []


def test_onnxruntime_refuses_optional_inputs_on_batching_models(tmp_path: Path) -> None:
    optional = BASE.replace('dims: [ 3 ] } ]\noutput', 'dims: [ 3 ] optional: true } ]\noutput')
    broken = optional.replace('backend: "python"', 'platform: "onnxruntime_onnx"')
    problems = validate_config(tmp_path, broken)
    assert [(p.field, p.code) for p in problems] == [("input[IN].optional", "config.optional_input")]
    assert "does not support optional input 'IN' on a model that batches" in problems[0].message
    assert validate_config(tmp_path, broken.replace("max_batch_size: 8", "max_batch_size: 0")) == []
    assert validate_config(tmp_path, optional) == []


def test_response_cache_in_a_spec_needs_the_server_cache_flag(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    spec = """\
name: cached
{server_args}
models:
  - name: m
    backend: python
    versions: {{1: model.py}}
    inputs: [{{name: IN, data_type: FP32, dims: [3]}}]
    outputs: [{{name: OUT, data_type: FP32, dims: [3]}}]
    extra_config: "response_cache {{ enable: true }}"
"""
    (tmp_path / "group.yaml").write_text(spec.format(server_args=""))
    problems = validate_plan(load_plan(tmp_path / "group.yaml"))
    assert [(p.field, p.code, p.severity) for p in problems] == [
        ("response_cache.enable", "config.response_cache", Severity.WARNING)
    ]
    assert "add --cache-config=local,size=<bytes> to server_args" in problems[0].message
    (tmp_path / "group.yaml").write_text(spec.format(server_args='server_args: ["--cache-config=local,size=1048576"]'))
    assert validate_plan(load_plan(tmp_path / "group.yaml")) == []
