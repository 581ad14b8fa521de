"""Rules across models: each ensemble step's model exists and fits its input_map and output_map, tensors agree
in data type and shape along every edge, batch sizes fit, and no ensemble contains itself.

This follows Triton's ensemble_utils.cc ValidateEnsembleConfig, run when the ensemble loads with its steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components._internal.schemas import mc
from components.core.plan import ModelPlan
from components.core.triton import batching, is_ensemble
from components.core.validate.ensemble import step_field, step_label
from components.core.validate.files import available_versions, versions_to_load
from components.core.validate.report import Findings, shape_text, type_name
from components.core.validate.tensors import WILDCARD

LATEST_VERSION = -1


@dataclass(frozen=True)
class _Tensor:
    """What one side of an edge says about an ensemble tensor: its data type and shape, and who says it."""

    source: str
    data_type: int
    dims: tuple[int, ...]
    batching: bool

    @property
    def full_dims(self) -> tuple[int, ...]:
        return (WILDCARD, *self.dims) if self.batching else self.dims


def _same_shape(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return len(a) == len(b) and all(x == y or WILDCARD in (x, y) for x, y in zip(a, b, strict=True))


def check_ensemble_steps(config: mc.ModelConfig, models: Mapping[str, ModelPlan], config_only: bool,
                         found: Findings) -> None:
    """Step models exist and match their maps; tensors agree along every edge of the ensemble."""
    if not is_ensemble(config):
        return
    tensors: dict[str, _Tensor] = {}
    for kind, listed in (("input", config.input), ("output", config.output)):
        for tensor in listed:
            dims = tensor.reshape.shape if tensor.HasField("reshape") else tensor.dims
            tensors.setdefault(tensor.name, _Tensor(f"ensemble {kind} {tensor.name!r}", tensor.data_type, tuple(dims),
                                                    batching(config)))
    optional_inputs = {t.name for t in config.input if t.optional}
    for index, step in enumerate(config.ensemble_scheduling.step):
        model = models.get(step.model_name)
        if not step.model_name:
            continue
        if model is None:
            found.error(f"{step_field(index)}.model_name", f"model {step.model_name!r} is not in this repository; add "
                        f"it or use one of {', '.join(sorted(models))}", "ensemble.unknown_model")
            continue
        if model.config is None:
            continue
        _check_step(config, index, step, model, config_only, tensors, optional_inputs, found)


def _check_step(config: mc.ModelConfig, index: int, step: mc.ModelEnsembling.Step, model: ModelPlan,
                config_only: bool, tensors: dict[str, _Tensor], optional_inputs: set[str], found: Findings) -> None:
    assert model.config is not None
    step_config = model.config
    where = step_field(index)
    _check_step_version(where, step, model, config_only, found)
    if step_config.max_batch_size != 0 and step_config.max_batch_size < config.max_batch_size:
        found.error("max_batch_size", f"the ensemble allows batches of {config.max_batch_size} but "
                    f"{step_label(index, step)} allows only {step_config.max_batch_size}; lower the ensemble's "
                    "max_batch_size or raise the model's", "ensemble.batch_size")
    inputs = {t.name: t for t in step_config.input}
    outputs = {t.name: t for t in step_config.output}
    for key in sorted(step.input_map):
        if key not in inputs:
            found.error(f"{where}.input_map[{key}]", f"model {step.model_name!r} has no input {key!r}; its inputs are "
                        f"{', '.join(sorted(inputs)) or 'none'}", "ensemble.unknown_input")
    for key in sorted(step.output_map):
        if key not in outputs:
            found.error(f"{where}.output_map[{key}]", f"model {step.model_name!r} has no output {key!r}; its outputs "
                        f"are {', '.join(sorted(outputs)) or 'none'}", "ensemble.unknown_output")
    for name, tensor in inputs.items():
        if name in step.input_map:
            source = f"input {name!r} of model {step.model_name!r}"
            _agree(tensors, step.input_map[name], _Tensor(source, tensor.data_type, tuple(tensor.dims),
                                                           batching(step_config)), f"{where}.input_map[{name}]", found)
            if step.input_map[name] in optional_inputs and not tensor.optional:
                found.warning(f"{where}.input_map[{name}]", f"optional ensemble input {step.input_map[name]!r} feeds "
                              f"required input {name!r} of model {step.model_name!r}; a request without it fails",
                              "ensemble.optional_input")
        elif not tensor.optional:
            found.error(f"{where}.input_map", f"input {name!r} of model {step.model_name!r} is not mapped to any "
                        f"ensemble tensor; add input_map {{ key: \"{name}\" value: \"<tensor>\" }}",
                        "ensemble.unmapped_input")
    for key in sorted(step.output_map):
        if key in outputs:
            tensor = outputs[key]
            source = f"output {key!r} of model {step.model_name!r}"
            _agree(tensors, step.output_map[key], _Tensor(source, tensor.data_type, tuple(tensor.dims),
                                                           batching(step_config)), f"{where}.output_map[{key}]", found)


def served_versions(model: ModelPlan, config: mc.ModelConfig, config_only: bool) -> list[int] | None:
    """The versions of `model` Triton serves under its version policy, or None when they cannot be known.

    They follow from the version folders (a spec's `versions`, a repository's numbered folders). Without any
    version folder a config-only check knows only what a `specific` policy lists; the full check reports the
    missing folders itself and here serves nothing.
    """
    if available_versions(model) or not config_only:
        return versions_to_load(model, config)
    if config.version_policy.WhichOneof("policy_choice") == "specific":
        return sorted(set(config.version_policy.specific.versions))
    return None


def _check_step_version(where: str, step: mc.ModelEnsembling.Step, model: ModelPlan, config_only: bool,
                        found: Findings) -> None:
    """The step asks for -1 (the latest version served) or for a version the step model's policy serves."""
    assert model.config is not None
    version = step.model_version
    if version == LATEST_VERSION:
        return
    if version < LATEST_VERSION:
        found.error(f"{where}.model_version", f"model_version {version} is not a version of model "
                    f"{step.model_name!r}; write -1 for the latest version served, or a version number",
                    "ensemble.model_version")
        return
    served = served_versions(model, model.config, config_only)
    if served is None or version in served:
        return
    hint = " (model_version is 0 when left out)" if version == 0 else ""
    found.error(f"{where}.model_version", f"the step needs version {version}{hint} of model {step.model_name!r}, "
                f"which Triton does not load: {_policy_text(model, model.config)} serves "
                f"{', '.join(map(str, served)) or 'none'}; write model_version: -1 for the latest, or serve that "
                "version", "ensemble.model_version")


def _policy_text(model: ModelPlan, config: mc.ModelConfig) -> str:
    """The step model's version policy and folders in words: `its version_policy latest 2 over folders 1, 2, 3`."""
    policy = config.version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "specific":
        text = f"its version_policy specific [{', '.join(map(str, policy.specific.versions))}]"
    elif choice == "all":
        text = "its version_policy all"
    elif choice == "latest":
        text = f"its version_policy latest {policy.latest.num_versions}"
    else:
        text = "its default version_policy (latest 1)"
    folders = available_versions(model)
    return f"{text} over version folders {', '.join(map(str, folders))}" if folders else f"{text}"


def _agree(tensors: dict[str, _Tensor], name: str, seen: _Tensor, where: str, found: Findings) -> None:
    """Record `seen` for ensemble tensor `name`, or report how it disagrees with what was recorded first."""
    known = tensors.setdefault(name, seen)
    if known is seen:
        return
    if known.data_type != seen.data_type:
        found.error(where, f"tensor {name!r} is {type_name(seen.data_type)} as {seen.source} but "
                    f"{type_name(known.data_type)} as {known.source}; make the data types equal", "ensemble.data_type")
    elif not (_same_shape(known.dims, seen.dims) or _same_shape(known.full_dims, seen.full_dims)):
        found.error(where, f"tensor {name!r} has shape {shape_text(seen.full_dims)} as {seen.source} but "
                    f"{shape_text(known.full_dims)} as {known.source} (batch dimension included when the model "
                    "batches); make the dims agree (-1 matches any size)", "ensemble.shape")


def ensemble_cycles(configs: Mapping[str, mc.ModelConfig]) -> dict[str, tuple[int, list[str]]]:
    """For each ensemble that reaches itself through its steps: the step that starts the loop and the path."""
    steps_of = {name: [s.model_name for s in c.ensemble_scheduling.step] for name, c in configs.items()
                if is_ensemble(c)}
    loops: dict[str, tuple[int, list[str]]] = {}
    for name, step_models in steps_of.items():
        for index, first in enumerate(step_models):
            path = _path_to(first, name, steps_of)
            if path is not None:
                loops[name] = (index, [name, *path])
                break
    return loops


def _path_to(start: str, target: str, steps_of: dict[str, list[str]]) -> list[str] | None:
    """The ensembles start -> ... -> target, following steps (shortest first), or None."""
    parents: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            if node == target:
                path = [node]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])  # type: ignore[arg-type]
                return list(reversed(path))
            for nxt in steps_of.get(node, []):
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    return None
