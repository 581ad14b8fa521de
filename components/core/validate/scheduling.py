"""Rules on how Triton schedules a model: instance groups, dynamic and sequence batching, response cache."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from components._internal.schemas import mc
from components.core.triton import effective_backend, is_ensemble
from components.core.validate.report import Findings, type_name
from components.core.validate.tensors import TENSORRT_PLATFORM

Kind = mc.ModelInstanceGroup.Kind
Control = mc.ModelSequenceBatching.Control
BOOLEAN_CONTROLS = (Control.CONTROL_SEQUENCE_START, Control.CONTROL_SEQUENCE_END, Control.CONTROL_SEQUENCE_READY)
CORRID_TYPES = (mc.TYPE_UINT64, mc.TYPE_INT64, mc.TYPE_UINT32, mc.TYPE_INT32, mc.TYPE_STRING)
CACHE_FLAGS = ("--cache-config", "--response-cache-byte-size")


def check_instance_groups(config: mc.ModelConfig, found: Findings) -> None:
    """CPU and model-placed groups name no GPU; counts are positive; profiles only for TensorRT."""
    if is_ensemble(config):
        return
    for index, group in enumerate(config.instance_group):
        where = f"instance_group[{group.name or index}]"
        kind = Kind.Name(group.kind)
        if group.kind in (Kind.KIND_CPU, Kind.KIND_MODEL) and group.gpus:
            found.error(f"{where}.gpus", f"kind {kind} runs on no GPU, but gpus {list(group.gpus)} are listed; remove "
                        "gpus or use KIND_GPU", "config.instance_group")
        if any(gpu < 0 for gpu in group.gpus):
            found.error(f"{where}.gpus", f"gpus {list(group.gpus)}: GPU ids are 0 or more", "config.instance_group")
        if group.count < 0:
            found.warning(f"{where}.count", f"count is {group.count}; Triton replaces a count below 1 with its "
                          "default (1, or 2 CPU instances for onnxruntime and tensorflow); write the count you "
                          "want or leave count out", "config.instance_count")
        if group.profile and config.platform != TENSORRT_PLATFORM:
            found.error(f"{where}.profile", "optimization profiles exist only for TensorRT models; remove profile",
                        "config.instance_group")


def check_dynamic_batching(config: mc.ModelConfig, found: Findings) -> None:
    """Preferred sizes fit max_batch_size; priorities and queue policies agree (ValidateModelConfig)."""
    if not config.HasField("dynamic_batching"):
        return
    batcher = config.dynamic_batching
    if config.max_batch_size == 0 and not batcher.preferred_batch_size:
        found.warning("dynamic_batching", "the model does not batch (max_batch_size 0), so the dynamic batcher only "
                      "queues requests; set max_batch_size > 0 to batch them", "config.dynamic_batching")
    for size in batcher.preferred_batch_size:
        if size <= 0:
            found.error("dynamic_batching.preferred_batch_size", f"preferred batch size {size} must be 1 or more",
                        "config.preferred_batch_size")
        elif size > config.max_batch_size:
            found.error("dynamic_batching.preferred_batch_size", f"preferred batch size {size} is above "
                        f"max_batch_size {config.max_batch_size}; lower it or raise max_batch_size",
                        "config.preferred_batch_size")
    levels = batcher.priority_levels
    if levels == 0:
        if batcher.default_priority_level or batcher.priority_queue_policy:
            found.warning("dynamic_batching.priority_levels", "default_priority_level and priority_queue_policy are "
                          "ignored while priority_levels is 0; set priority_levels", "config.priority")
    else:
        if not 1 <= batcher.default_priority_level <= levels:
            found.error("dynamic_batching.default_priority_level", f"default_priority_level must be in 1..{levels} "
                        f"when priority_levels is {levels}, got {batcher.default_priority_level}", "config.priority")
        for level in sorted(batcher.priority_queue_policy):
            if not 1 <= level <= levels:
                found.error(f"dynamic_batching.priority_queue_policy[{level}]", f"priority level {level} is outside "
                            f"1..{levels} (priority_levels); use a level in that range", "config.priority")
    if batcher.preserve_ordering:
        _check_preserve_ordering(batcher, found)


def _check_preserve_ordering(batcher: mc.ModelDynamicBatching, found: Findings) -> None:
    if batcher.priority_levels > 1:
        found.error("dynamic_batching.preserve_ordering", "preserve_ordering allows only one priority level; set "
                    "priority_levels to 0 or 1, or drop preserve_ordering", "config.preserve_ordering")
    policies = [("dynamic_batching.default_queue_policy", batcher.default_queue_policy)]
    policies += [(f"dynamic_batching.priority_queue_policy[{level}]", batcher.priority_queue_policy[level])
                 for level in sorted(batcher.priority_queue_policy)]
    for where, policy in policies:
        if policy.timeout_action == mc.ModelQueuePolicy.DELAY and policy.default_timeout_microseconds:
            found.error(f"{where}.timeout_action", "a queue policy cannot DELAY timed-out requests when "
                        "preserve_ordering is true; use REJECT or drop preserve_ordering", "config.preserve_ordering")


def check_sequence_batching(config: mc.ModelConfig, found: Findings) -> None:
    """Control tensors: named, one tensor per kind, the right true/false values or data type."""
    if not config.HasField("sequence_batching"):
        return
    batcher = config.sequence_batching
    inputs = {tensor.name for tensor in config.input}
    names: set[str] = set()
    kinds: Counter[int] = Counter()
    for index, control_input in enumerate(batcher.control_input):
        where = f"sequence_batching.control_input[{control_input.name or index}]"
        if not control_input.name:
            found.error(f"{where}.name", "a control tensor needs a name", "config.sequence_control")
        elif control_input.name in names:
            found.error(f"{where}.name", f"control tensor {control_input.name!r} is listed for more than one control "
                        "kind; give each kind its own tensor", "config.sequence_control")
        elif control_input.name in inputs:
            found.error(f"{where}.name", f"control tensor {control_input.name!r} is also a model input; Triton "
                        "supplies control tensors itself, so remove it from input", "config.sequence_control")
        names.add(control_input.name)
        for control in control_input.control:
            kinds[control.kind] += 1
            if kinds[control.kind] == 2:
                found.error(f"{where}.control", f"{Control.Kind.Name(control.kind)} is given by more than one "
                            "control tensor; keep one", "config.sequence_control")
            _check_control(where, control, found)
    _check_sequence_strategy(config, found)


def _check_control(where: str, control: mc.ModelSequenceBatching.Control, found: Findings) -> None:
    kind = Control.Kind.Name(control.kind)
    given = [name for name in ("int32_false_true", "fp32_false_true", "bool_false_true") if getattr(control, name)]
    if control.kind in BOOLEAN_CONTROLS:
        if len(given) != 1:
            found.error(f"{where}.control", f"{kind} needs exactly one of int32_false_true, fp32_false_true or "
                        f"bool_false_true, got {', '.join(given) or 'none'}", "config.sequence_control")
        elif len(getattr(control, given[0])) != 2:
            found.error(f"{where}.control", f"{kind}: {given[0]} must have exactly 2 entries (false, true)",
                        "config.sequence_control")
        return
    if given:
        found.error(f"{where}.control", f"{kind} takes a data_type, not {', '.join(given)}; remove them",
                    "config.sequence_control")
    if control.data_type not in CORRID_TYPES:
        allowed = ", ".join(type_name(t) for t in CORRID_TYPES)
        found.error(f"{where}.control", f"{kind} has data_type {type_name(control.data_type)}; use one of {allowed}",
                    "config.sequence_control")


def _check_sequence_strategy(config: mc.ModelConfig, found: Findings) -> None:
    batcher = config.sequence_batching
    if batcher.HasField("oldest"):
        for size in batcher.oldest.preferred_batch_size:
            if not 1 <= size <= config.max_batch_size:
                found.error("sequence_batching.oldest.preferred_batch_size", f"preferred batch size {size} must be "
                            f"between 1 and max_batch_size {config.max_batch_size}", "config.preferred_batch_size")
    if batcher.HasField("direct") and not 0.0 <= batcher.direct.minimum_slot_utilization <= 1.0:
        found.error("sequence_batching.direct.minimum_slot_utilization", "minimum_slot_utilization must be between "
                    f"0 and 1, got {batcher.direct.minimum_slot_utilization}", "config.sequence_batching")


def check_response_cache(config: mc.ModelConfig, server_args: Sequence[str] | None, found: Findings) -> None:
    """The response cache works neither with the sequence batcher nor with decoupled models, and needs a server
    cache (checked only when the server flags are known, i.e. for a spec)."""
    if not config.response_cache.enable:
        return
    if config.HasField("sequence_batching"):
        found.error("response_cache.enable", "the response cache does not support models with sequence batching; "
                    "disable the response cache", "config.response_cache")
    if config.model_transaction_policy.decoupled:
        found.error("response_cache.enable", "the response cache does not support decoupled models; disable the "
                    "response cache", "config.response_cache")
    if server_args is not None and not any(arg.startswith(CACHE_FLAGS) for arg in server_args):
        found.warning("response_cache.enable", "caching also has to be enabled on the server; add "
                      "--cache-config=local,size=<bytes> to server_args", "config.response_cache")


def check_optional_inputs(config: mc.ModelConfig, found: Findings) -> None:
    """The onnxruntime backend refuses optional inputs on batching models and on ragged inputs."""
    if effective_backend(config) != "onnxruntime":
        return
    for index, tensor in enumerate(config.input):
        if not tensor.optional:
            continue
        where = f"input[{tensor.name or index}].optional"
        if config.max_batch_size != 0:
            found.error(where, f"the onnxruntime backend does not support optional input {tensor.name!r} on a model "
                        "that batches; set max_batch_size 0 or make the input required", "config.optional_input")
        if tensor.allow_ragged_batch:
            found.error(where, f"input {tensor.name!r} cannot be both optional and allow_ragged_batch with the "
                        "onnxruntime backend", "config.optional_input")
