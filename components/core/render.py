"""Render a spec model into Triton's own ModelConfig message, and parse/print config.pbtxt text.

Rendering goes through `tritonclient.grpc.model_config_pb2` and `google.protobuf.text_format`, never
string templates, so a rendered config is valid against Triton's schema by construction.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format, text_format
from google.protobuf.message import Message

from components._internal.schemas import mc
from components.core.problems import Problem, UserError

if TYPE_CHECKING:
    from components.core.plan import RepositoryPlan
    from components.core.spec import DynamicBatchingSpec, GroupSpec, ModelSpec, QueuePolicySpec

EXECUTION_ENV_PARAMETER = "EXECUTION_ENV_PATH"
PYTHON_STUB_NAME = "triton_python_backend_stub"
MAX_CONFIG_BYTES = 16 << 20
"""The largest config.pbtxt read (Triton's own are kilobytes; a large one holds an ensemble or warmup data)."""


def parse_config(text: str) -> mc.ModelConfig:
    """Parse config.pbtxt text strictly; raises text_format.ParseError on unknown fields or bad values.

    Bad values include an enum given as a number that names no value (`kind: -1`): protobuf keeps those, and
    every rule reading the field would then meet a value Triton's schema does not have.
    """
    config = text_format.Parse(text, mc.ModelConfig())
    unknown = _unknown_enum_value(config, "")
    if unknown is not None:
        raise text_format.ParseError(unknown)
    return config


def _unknown_enum_value(message: Message, where: str) -> str | None:
    """The first enum field of `message` (at path `where`) holding a number its enum does not name, said in words."""
    for field, value in message.ListFields():
        path = f"{where}.{field.name}" if where else field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = [(f"{path}[{key}]", item) for key, item in value.items()]
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
        elif field.message_type is not None:
            items = list(enumerate(value)) if field.is_repeated else [(None, value)]
            items = [(f"{path}[{index}]" if index is not None else path, item) for index, item in items]
        else:
            if field.enum_type is not None:
                for number in value if field.is_repeated else [value]:
                    if number not in field.enum_type.values_by_number:
                        names = ", ".join(v.name for v in field.enum_type.values)
                        return f"{path}: {number} is not a value of {field.enum_type.name}; use one of {names}"
            continue
        for item_path, item in items:
            found = _unknown_enum_value(item, item_path)
            if found is not None:
                return found
    return None


def config_text(config: mc.ModelConfig) -> str:
    """The canonical config.pbtxt text of `config` (stable: render -> parse -> render is identical)."""
    return text_format.MessageToString(config)


def config_dict(config: mc.ModelConfig) -> dict[str, Any]:
    """`config` as plain data (field names as in config.pbtxt, enums by name, defaults left out): what the state
    records and a preview compares field by field."""
    return json_format.MessageToDict(config, preserving_proto_field_name=True)


def config_dicts(plan: RepositoryPlan) -> dict[str, dict[str, Any]]:
    """{model: `config_dict` of its config} for every model of `plan` whose config parses, by name."""
    return {name: config_dict(model.config) for name, model in sorted(plan.models.items())
            if model.config is not None}


def execution_env_path(env_file: str) -> str:
    """The EXECUTION_ENV_PATH value for a conda-pack file placed at env/<file>."""
    return f"$$TRITON_MODEL_DIRECTORY/env/{PurePosixPath(env_file).name}"


def render_config(model: ModelSpec, spec: GroupSpec) -> mc.ModelConfig:
    """The ModelConfig for a spec model that has no bring-your-own config."""
    config = mc.ModelConfig(name=model.name, max_batch_size=model.max_batch_size)
    if model.platform:
        config.platform = model.platform
    if model.backend:
        config.backend = model.backend
    if model.default_model_filename:
        config.default_model_filename = model.default_model_filename
    for given in model.inputs:
        tensor = config.input.add(
            name=given.name, data_type=mc.DataType.Value(given.data_type), dims=given.dims,
            optional=given.optional,
        )
        if given.reshape is not None:
            tensor.reshape.shape.extend(given.reshape)
    for given in model.outputs:
        tensor = config.output.add(name=given.name, data_type=mc.DataType.Value(given.data_type), dims=given.dims)
        if given.reshape is not None:
            tensor.reshape.shape.extend(given.reshape)
        if given.label_filename:
            tensor.label_filename = PurePosixPath(given.label_filename).name
    for group in model.instance_groups:
        added = config.instance_group.add(kind=mc.ModelInstanceGroup.Kind.Value(group.kind), count=group.count,
                                          gpus=group.gpus)
        if group.name:
            added.name = group.name
    if model.dynamic_batching is not None:
        _render_dynamic_batching(model.dynamic_batching, config.dynamic_batching)
    if model.version_policy is not None:
        policy = model.version_policy
        if policy.latest is not None:
            config.version_policy.latest.num_versions = policy.latest
        elif policy.all:
            config.version_policy.all.SetInParent()
        else:
            config.version_policy.specific.versions.extend(policy.specific or [])
    for key, value in sorted(model.parameters.items()):
        config.parameters[key].string_value = value
    if model.python and model.python.execution_env:
        config.parameters[EXECUTION_ENV_PARAMETER].string_value = execution_env_path(model.python.execution_env)
    if model.ensemble is not None:
        for step in model.ensemble.steps:
            added = config.ensemble_scheduling.step.add(model_name=step.model, model_version=step.version)
            added.input_map.update(step.input_map)
            added.output_map.update(step.output_map)
    if model.extra_config:
        try:
            text_format.Merge(model.extra_config, config)
            unknown = _unknown_enum_value(config, "")
            if unknown is not None:
                raise text_format.ParseError(unknown)
        except text_format.ParseError as exc:
            index = spec.index_of(model)
            raise UserError(Problem(
                spec.shown_path, f"models[{model.name}].extra_config",
                f"not valid config.pbtxt text for Triton's schema: {exc}", "spec.extra_config",
                line=spec.line("models", index, "extra_config"),
            )) from None
    return config


def _render_dynamic_batching(given: DynamicBatchingSpec, batching: mc.ModelDynamicBatching) -> None:
    batching.SetInParent()
    batching.preferred_batch_size.extend(given.preferred_batch_size)
    batching.max_queue_delay_microseconds = given.max_queue_delay_microseconds
    batching.preserve_ordering = given.preserve_ordering
    batching.priority_levels = given.priority_levels
    batching.default_priority_level = given.default_priority_level
    if given.default_queue_policy is not None:
        _render_queue_policy(given.default_queue_policy, batching.default_queue_policy)
    for level, policy in sorted(given.priority_queue_policy.items()):
        _render_queue_policy(policy, batching.priority_queue_policy[level])


def _render_queue_policy(given: QueuePolicySpec, target: mc.ModelQueuePolicy) -> None:
    target.timeout_action = mc.ModelQueuePolicy.TimeoutAction.Value(given.timeout_action)
    target.default_timeout_microseconds = given.default_timeout_microseconds
    target.allow_timeout_override = given.allow_timeout_override
    target.max_queue_size = given.max_queue_size
