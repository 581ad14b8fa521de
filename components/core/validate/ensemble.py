"""Rules on one ensemble's own config: its scheduling section and the dataflow graph of its steps.

The graph is checked as Triton does (ValidateEnsembleSchedulingConfig), independent of step order: every
ensemble input is read, every tensor a step reads is written first (by one step only), every written tensor is
read or is an ensemble output, every ensemble output is produced, and the steps form no cycle.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from components._internal.schemas import mc
from components.core.triton import is_ensemble
from components.core.validate.report import Findings


def step_field(index: int) -> str:
    return f"ensemble_scheduling.step[{index}]"


def step_label(index: int, step: mc.ModelEnsembling.Step) -> str:
    return f"step {index} ({step.model_name or 'no model'})"


def check_ensemble_config(config: mc.ModelConfig, found: Findings) -> None:
    """An ensemble has steps and nothing an ensemble cannot have; a non-ensemble has no steps."""
    has_scheduling = config.HasField("ensemble_scheduling")
    if not is_ensemble(config):
        if has_scheduling:
            found.error("ensemble_scheduling", f"ensemble_scheduling needs platform: \"ensemble\", not "
                        f"{config.platform or 'none'}; set the platform or remove the steps", "ensemble.platform")
        return
    if not has_scheduling or not config.ensemble_scheduling.step:
        found.error("ensemble_scheduling", "an ensemble needs ensemble_scheduling with at least one step",
                    "ensemble.no_steps")
    forbidden = {"instance_group": bool(config.instance_group), "optimization": config.HasField("optimization"),
                 "model_warmup": bool(config.model_warmup)}
    for field_name in (name for name, present in forbidden.items() if present):
        found.error(field_name, f"an ensemble takes no {field_name}; remove it (set it on the step models instead)",
                    "ensemble.field")
    for index, step in enumerate(config.ensemble_scheduling.step):
        for field_name, given in (("model_name", step.model_name), ("input_map", step.input_map),
                                  ("output_map", step.output_map)):
            if not given:
                found.error(f"{step_field(index)}.{field_name}", f"step {index} has no {field_name}; each step names "
                            "a model and maps its inputs and outputs", "ensemble.step")
    if config.ensemble_scheduling.step:
        _check_dataflow(config, found)


@dataclass(frozen=True)
class _Use:
    """One mention of an ensemble tensor in a step's input_map or output_map."""

    step: int
    key: str


def _check_dataflow(config: mc.ModelConfig, found: Findings) -> None:
    steps = list(config.ensemble_scheduling.step)
    writers: dict[str, list[_Use]] = defaultdict(list)
    readers: dict[str, list[_Use]] = defaultdict(list)
    for index, step in enumerate(steps):
        for key, tensor in sorted(step.output_map.items()):
            writers[tensor].append(_Use(index, key))
        for key, tensor in sorted(step.input_map.items()):
            readers[tensor].append(_Use(index, key))
    inputs = [t.name for t in config.input]
    for index, tensor in enumerate(config.input):
        if tensor.name not in readers:
            found.error(f"input[{tensor.name or index}]", f"ensemble input {tensor.name!r} is not used by any step; "
                        "map it in a step's input_map or remove it", "ensemble.input_unused")
    _check_writers(steps, writers, readers, inputs, {t.name for t in config.output}, found)
    for tensor, uses in sorted(readers.items()):
        if tensor not in writers and tensor not in inputs:
            for use in uses:
                found.error(f"{step_field(use.step)}.input_map[{use.key}]", f"{step_label(use.step, steps[use.step])} "
                            f"reads tensor {tensor!r}, which no step writes and which is not an ensemble input; map a "
                            "step output or an ensemble input to it", "ensemble.tensor_unwritten")
    for cycle in _cycles(steps, writers, readers):
        path = " -> ".join(step_label(i, steps[i]) for i in [*cycle, cycle[0]])
        found.error(step_field(cycle[0]), f"steps form a cycle: {path}; an ensemble must be a directed acyclic graph, "
                    "so break the loop", "ensemble.cycle")
    _check_outputs(config, steps, writers, _ready_tensors(steps, inputs), found)


def _check_writers(steps: list[mc.ModelEnsembling.Step], writers: dict[str, list[_Use]],
                   readers: dict[str, list[_Use]], inputs: list[str], outputs: set[str], found: Findings) -> None:
    """Each tensor has one writer (an ensemble input counts as one) and is read or is an ensemble output."""
    for tensor, uses in sorted(writers.items()):
        first = uses[0]
        if tensor in inputs:
            source, extra = "an ensemble input", uses
        else:
            source, extra = f"already written by {step_label(first.step, steps[first.step])}", uses[1:]
        for use in extra:
            found.error(f"{step_field(use.step)}.output_map[{use.key}]", f"tensor {tensor!r} is {source}; an "
                        "ensemble tensor has exactly one writer, so map this output to another name",
                        "ensemble.duplicate_writer")
        if tensor not in readers and tensor not in outputs:
            for use in uses:
                found.error(f"{step_field(use.step)}.output_map[{use.key}]", f"tensor {tensor!r} is written but never "
                            "read and is not an ensemble output; Triton rejects unused ensemble tensors: remove this "
                            "output_map entry, or read the tensor or list it as an output", "ensemble.tensor_unused")


def _check_outputs(config: mc.ModelConfig, steps: list[mc.ModelEnsembling.Step], writers: dict[str, list[_Use]],
                   ready: set[str], found: Findings) -> None:
    """Every ensemble output is written by a step that gets all its inputs."""
    for index, tensor in enumerate(config.output):
        name = tensor.name
        if name in ready:
            continue
        if name not in writers:
            found.error(f"output[{name or index}]", f"ensemble output {name!r} is not written by any step; map a "
                        "step output to it", "ensemble.output_unwritten")
            continue
        writer = writers[name][0].step
        waiting = sorted(t for t in steps[writer].input_map.values() if t not in ready)
        found.error(f"output[{name or index}]", f"ensemble output {name!r} is never produced: "
                    f"{step_label(writer, steps[writer])} waits for tensor(s) {', '.join(map(repr, waiting))} that "
                    "are never ready", "ensemble.output_unreachable")


def _ready_tensors(steps: list[mc.ModelEnsembling.Step], inputs: list[str]) -> set[str]:
    """The tensors that get a value: ensemble inputs, then the outputs of every step whose inputs all do."""
    ready = set(inputs)
    pending = set(range(len(steps)))
    progress = True
    while progress:
        progress = False
        for index in sorted(pending):
            if set(steps[index].input_map.values()) <= ready:
                ready |= set(steps[index].output_map.values())
                pending.discard(index)
                progress = True
    return ready


def _cycles(steps: list[mc.ModelEnsembling.Step], writers: dict[str, list[_Use]],
            readers: dict[str, list[_Use]]) -> list[list[int]]:
    """Each cycle of steps (a step writing a tensor that a step before it in the loop reads), found once."""
    after: dict[int, set[int]] = defaultdict(set)
    for tensor, uses in writers.items():
        for writer in uses:
            after[writer.step] |= {reader.step for reader in readers.get(tensor, [])}
    cycles: list[list[int]] = []
    seen: set[frozenset[int]] = set()
    for start in range(len(steps)):
        path = _path_back(start, after)
        if path and frozenset(path) not in seen:
            seen.add(frozenset(path))
            cycles.append(path)
    return cycles


def _path_back(start: int, after: dict[int, set[int]]) -> list[int] | None:
    """The shortest list of steps start -> ... leading back to start, or None."""
    parents: dict[int, int] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(after.get(node, ())):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return list(reversed(path))
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    return None
