"""Rules on batch_input and batch_output, the tensors a backend derives from a ragged batch.

Triton checks these when it reads the config (model_config_utils.cc ValidateBatchIO), before any backend
sees the model; the errors below are the ones tritonserver 2.51 refuses, in its words. Every kind takes
exactly one source input, which must be a model input (not another batch input's target); a batch input's
data type is TYPE_INT32 or TYPE_FP32 (model_config.proto: "The data type can be TYPE_INT32 or TYPE_FP32");
a batch output's targets are model outputs, each named once.

What Triton loads but cannot work is a warning: a batch input without a target (nothing is fed), or whose
target is also a model input or output or another batch input's target (the backend gets two tensors under
one name), a batch output target scattered by two entries, and batch inputs or outputs on an ensemble (no
backend reads them). One thing Triton does not check crashes it: a batch_output without target_name makes
the Python backend of tritonserver 2.51 segfault while loading the model, taking the whole server down, so it
is an error.
"""

from __future__ import annotations

from collections import Counter

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from components._internal.schemas import mc
from components.core.triton import is_ensemble
from components.core.validate.report import Findings, type_name

BATCH_INPUT_TYPES = (mc.TYPE_INT32, mc.TYPE_FP32)
SOURCES_PER_KIND = 1


def batch_field(kind: str, index: int, entry: mc.BatchInput | mc.BatchOutput) -> str:
    """How a problem names a batch tensor: `batch_input[INDEX]` by its first target, else by position."""
    return f"{kind}[{entry.target_name[0] if entry.target_name else index}]"


def check_batch_io(config: mc.ModelConfig, found: Findings) -> None:
    """batch_input and batch_output entries have the sources, data types and targets Triton requires."""
    inputs = {tensor.name for tensor in config.input}
    outputs = {tensor.name for tensor in config.output}
    targets: Counter[str] = Counter(name for entry in config.batch_input for name in entry.target_name)
    for index, entry in enumerate(config.batch_input):
        where = _check_entry("batch_input", index, entry, mc.BatchInput.Kind, inputs, found)
        if entry.data_type not in BATCH_INPUT_TYPES:
            found.error(f"{where}.data_type", f"batch input data type is {type_name(entry.data_type)}; it must be "
                        "TYPE_INT32 or TYPE_FP32", "config.batch_input")
        _check_input_targets(where, list(entry.target_name), inputs, outputs, targets, found)
    scattered: Counter[str] = Counter()
    for index, entry in enumerate(config.batch_output):
        where = _check_entry("batch_output", index, entry, mc.BatchOutput.Kind, inputs, found)
        _check_output_targets(where, list(entry.target_name), outputs, found)
        scattered.update(set(entry.target_name))
    for name in sorted(n for n, count in scattered.items() if count > 1):
        found.warning(f"batch_output[{name}]", f"output {name!r} is the target of more than one batch_output; Triton "
                      "loads this but the output is scattered twice: keep one entry", "config.batch_output_target")
    if is_ensemble(config) and (config.batch_input or config.batch_output):
        found.warning("batch_input" if config.batch_input else "batch_output", "an ensemble runs no backend, so its "
                      "batch_input and batch_output are ignored; set them on the step model that reads them",
                      "config.batch_io_ensemble")


def _check_entry(field: str, index: int, entry: mc.BatchInput | mc.BatchOutput, kinds: EnumTypeWrapper,
                 inputs: set[str], found: Findings) -> str:
    """Check a batch_input or batch_output entry's kind and source input; return where it is, for messages."""
    where = batch_field(field, index, entry)
    what = field.replace("_", " ")
    kind = kinds.Name(entry.kind) if entry.kind in kinds.values() else str(entry.kind)
    if entry.kind not in kinds.values():
        found.error(f"{where}.kind", f"unknown {what} kind {kind}; use one of {', '.join(kinds.keys())}",
                    f"config.{field}")
    _check_sources(what, where, kind, list(entry.source_input), inputs, found)
    return where


def _check_sources(what: str, where: str, kind: str, sources: list[str], inputs: set[str], found: Findings) -> None:
    if len(sources) != SOURCES_PER_KIND:
        found.error(f"{where}.source_input", f"{what} kind '{kind}' expects 1 source input, got {len(sources)}; "
                    "name the one model input it is derived from", f"config.{what.replace(' ', '_')}")
    for name in sources:
        if name not in inputs:
            hint = f"its inputs are {', '.join(sorted(inputs))}" if inputs else "the model lists no input"
            found.error(f"{where}.source_input", f"unknown source input name {name!r}: a {what} is derived from a "
                        f"model input (not from another batch input); {hint}", f"config.{what.replace(' ', '_')}")


def _check_input_targets(where: str, names: list[str], inputs: set[str], outputs: set[str], targets: Counter[str],
                         found: Findings) -> None:
    if not names:
        found.warning(f"{where}.target_name", "the batch input has no target_name, so it feeds nothing; name the "
                      "model tensor the backend fills with it", "config.batch_input_target")
    for name in sorted(set(names)):
        if name in inputs or name in outputs:
            kind = "input" if name in inputs else "output"
            found.warning(f"{where}.target_name", f"batch input target {name!r} is also a model {kind}; Triton loads "
                          "this, but the backend then gets two tensors named the same: give the batch input its "
                          f"own name and leave it out of {kind}", "config.batch_input_target")
        if targets[name] > 1:
            found.warning(f"{where}.target_name", f"batch input target {name!r} is named more than once; Triton loads "
                          "this, but only one value can reach that tensor: give each batch input its own target",
                          "config.batch_input_target")


def _check_output_targets(where: str, names: list[str], outputs: set[str], found: Findings) -> None:
    if not names:
        found.error(f"{where}.target_name", "the batch output has no target_name; name the model output(s) it "
                    "scatters (without one, tritonserver 2.51's Python backend crashes the server while loading the "
                    "model)", "config.batch_output")
    seen: set[str] = set()
    for name in names:
        if name not in outputs:
            hint = f"its outputs are {', '.join(sorted(outputs))}" if outputs else "the model lists no output"
            found.error(f"{where}.target_name", f"unknown target output name {name!r}: a batch output scatters a "
                        f"model output; {hint}", "config.batch_output")
        elif name in seen:
            found.error(f"{where}.target_name", f"target output name {name!r} can only be specified once; remove "
                        "the repeat", "config.batch_output")
        seen.add(name)
