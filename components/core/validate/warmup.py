"""Rules on model_warmup samples: each names the model's inputs with their data types and fixed dims.

Triton builds the samples when it loads the model (TritonModelInstance::GenerateWarmupData) and sends them as
ordinary requests, so a sample that does not match the inputs makes the load fail.
"""

from __future__ import annotations

from components._internal.schemas import mc
from components.core.triton import is_ensemble
from components.core.validate.report import Findings, shape_text, type_name
from components.core.validate.tensors import WILDCARD

WARMUP_FOLDER = "warmup"


def check_warmup(config: mc.ModelConfig, found: Findings) -> None:
    """Every sample has a source for each input, matching the input's data type and dims."""
    if is_ensemble(config):
        return
    inputs = {tensor.name: tensor for tensor in config.input}
    controls = {control.name for control in config.sequence_batching.control_input}
    for index, sample in enumerate(config.model_warmup):
        where = f"model_warmup[{sample.name or index}]"
        if sample.batch_size == 0:
            found.warning(f"{where}.batch_size", "batch_size 0: Triton skips this sample; use 1 or more",
                          "config.warmup")
        elif config.max_batch_size == 0 and sample.batch_size > 1:
            found.error(f"{where}.batch_size", f"batch_size {sample.batch_size}: a model that does not batch "
                        "(max_batch_size 0) takes warmup batch_size 1", "config.warmup")
        for name in sorted(sample.inputs):
            _check_sample_input(f"{where}.inputs[{name}]", name, sample.inputs[name], inputs, controls, found)
        missing = sorted(n for n, t in inputs.items() if not t.optional and n not in sample.inputs)
        if missing:
            found.error(f"{where}.inputs", f"the sample gives no data for input(s) {', '.join(missing)}; Triton sends "
                        "the sample as a request, which needs every required input", "config.warmup")


def _check_sample_input(where: str, name: str, given: mc.ModelWarmup.Input, inputs: dict[str, mc.ModelInput],
                        controls: set[str], found: Findings) -> None:
    if given.WhichOneof("input_data_type") is None:
        found.error(where, f"warmup input {name!r} needs a data source: zero_data, random_data or input_data_file",
                    "config.warmup")
    if WILDCARD in given.dims:
        found.error(f"{where}.dims", f"warmup input {name!r} has variable dims {shape_text(given.dims)}; give "
                    "every dimension a size", "config.warmup")
    tensor = inputs.get(name)
    if tensor is None:
        if name not in controls:
            found.error(where, f"{name!r} is not an input of the model; its inputs are "
                        f"{', '.join(sorted(inputs)) or 'none'}", "config.warmup")
        return
    if given.data_type != tensor.data_type:
        found.error(f"{where}.data_type", f"warmup input {name!r} is {type_name(given.data_type)} but the input is "
                    f"{type_name(tensor.data_type)}", "config.warmup")
    if not _fits(list(given.dims), list(tensor.dims)):
        found.error(f"{where}.dims", f"warmup dims {shape_text(given.dims)} do not fit input {name!r} dims "
                    f"{shape_text(tensor.dims)} (the batch dimension is not written)", "config.warmup")


def _fits(shape: list[int], dims: list[int]) -> bool:
    return len(shape) == len(dims) and all(d == WILDCARD or s == d for s, d in zip(shape, dims, strict=True))
