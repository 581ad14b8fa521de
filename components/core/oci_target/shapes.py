"""OCI compute shapes a model deployment may run on, and how many GPUs each has.

Triton refuses a model whose instance group asks for a GPU the machine does not have ("specifies invalid or
unsupported gpu id"), which on OCI shows only as a FAILED deployment after many minutes. `gpu_problems`
checks each deployed model's instance groups against the stack's shape before any API call. The table holds
the shapes of OCI's shape documentation (the GPU count of each bare-metal and VM GPU shape); a shape not in
it is not guessed from its name: its GPU checks are skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Collection

from components.core.oci_target.group import GroupSource, model_views
from components.core.oci_target.settings import OciSettings
from components.core.problems import Problem
from components.core.spec import GroupSpec

SHAPE_GPUS: dict[str, int] = {
    **dict.fromkeys((
        "VM.Standard2.1", "VM.Standard2.2", "VM.Standard2.4", "VM.Standard2.8", "VM.Standard2.16",
        "VM.Standard2.24", "VM.Standard.E2.1", "VM.Standard.E2.2", "VM.Standard.E2.4", "VM.Standard.E2.8",
        "VM.Standard.E3.Flex", "VM.Standard.E4.Flex", "VM.Standard.E5.Flex", "VM.Standard3.Flex",
        "VM.Optimized3.Flex", "VM.Standard.A1.Flex", "VM.Standard.A2.Flex",
    ), 0),
    "VM.GPU2.1": 1, "BM.GPU2.2": 2,
    "VM.GPU3.1": 1, "VM.GPU3.2": 2, "VM.GPU3.4": 4, "BM.GPU3.8": 8,
    "BM.GPU4.8": 8, "BM.GPU.A100-v2.8": 8,
    "VM.GPU.A10.1": 1, "VM.GPU.A10.2": 2, "BM.GPU.A10.4": 4,
    "BM.GPU.L40S-NC.4": 4, "BM.GPU.H100.8": 8, "BM.GPU.H200.8": 8,
}
"""Shape name -> its number of GPUs (0: a CPU shape)."""

GPU_KINDS = frozenset({"KIND_GPU"})


def gpu_problems(settings: OciSettings, source: GroupSource, deployed: Collection[str]) -> list[Problem]:
    """Instance groups of the deployed models that the stack's shape cannot run, and a warning for a shape
    this table does not know when some model asks for GPUs."""
    shape = settings.deployment.shape.instance_shape_name
    gpus = SHAPE_GPUS.get(shape)
    spec = source if isinstance(source, GroupSpec) else source.spec
    index = {model.name: position for position, model in enumerate(spec.models)} if spec else {}
    problems: list[Problem] = []
    unchecked: list[str] = []

    def problem(model: str, message: str) -> None:
        line = spec.line("models", index[model], "name") if spec is not None and model in index else None
        problems.append(Problem(settings.spec, f"models[{model}].instance_groups", message, "oci.gpu_shape",
                                line=line))

    for view in model_views(source):
        model = view.name
        if model not in deployed:
            continue
        asking = [group for group in view.instance_groups
                  if group.kind in GPU_KINDS or (group.gpus and group.kind != "KIND_CPU")]
        if not asking:
            continue
        if gpus is None:
            unchecked.append(model)
            continue
        if gpus == 0:
            problem(model, f"model {model} has a KIND_GPU instance group, but the stack's shape {shape} has no GPU "
                    f"(0 GPUs); use kind: CPU, or a GPU shape (triton-groups:deployment.shape.instanceShapeName)")
            continue
        beyond = sorted({gpu for group in asking for gpu in group.gpus if gpu >= gpus})
        if beyond:
            problem(model, f"model {model} asks for GPU {', '.join(map(str, beyond))}, but the stack's shape {shape} "
                    f"has {gpus} GPU{'s' if gpus > 1 else ''} (ids 0 to {gpus - 1}); lower its gpus, or choose a "
                    "larger shape")
    if unchecked:
        problems.append(settings.problem(
            ("deployment", "shape", "instanceShapeName"),
            f"{shape} is not a shape triton-groups knows the GPU count of; the GPU instance groups of "
            f"{', '.join(unchecked)} are not checked against it (Triton fails to load a model asking for a GPU the "
            "shape lacks)", "oci.unknown_shape", warning=True))
    return problems
