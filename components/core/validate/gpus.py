"""Rules on the GPUs an instance group asks for, against the GPUs of the target that serves it.

Triton resolves every instance group when it loads the model (model_config_utils.cc, instance group
normalization and validation), against the GPUs that server sees:
- KIND_GPU with `gpus` listed: every id must be one of the server's GPUs ("instance group G of model M
  specifies invalid or unsupported gpu id N");
- KIND_GPU without `gpus`: one instance per GPU, so a server without GPUs refuses it ("has kind KIND_GPU but
  no GPUs are available");
- KIND_AUTO: becomes KIND_GPU where there are GPUs, else KIND_CPU, which then refuses listed `gpus` ("has kind
  KIND_CPU but specifies one or more GPUs"), so listed ids must exist too.
Negative ids and `gpus` on KIND_CPU or KIND_MODEL are target-independent and checked with the config
(`scheduling.check_instance_groups`).

The target is not part of a config: `check_gpu_ids` takes the GPU count of whatever serves the models (an OCI
shape's, or `local_gpu_count()` for this machine), and `validate_plan(plan, gpu_target=...)` applies it to the
configs as written. The local target serves ONNX and TorchScript models through the Python-backend shim on
the CPU, so `local_gpu_problems(plan)` checks the configs as the local server runs them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components._internal.schemas import mc
from components.core.plan import CONFIG_NAME, RepositoryPlan
from components.core.problems import Problem
from components.core.triton import is_ensemble

Kind = mc.ModelInstanceGroup.Kind
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")
"""One folder per GPU the NVIDIA driver sees."""
NVIDIA_SMI_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GpuTarget:
    """What serves the models, for the GPU checks: its GPU count and how messages name it."""

    count: int
    name: str


def local_gpu_count(proc_gpus: Path = NVIDIA_GPUS) -> int:
    """The NVIDIA GPUs of this machine: the driver's /proc entries, else `nvidia-smi -L`, else 0."""
    if proc_gpus.is_dir():
        return sum(1 for _ in proc_gpus.iterdir())
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    if listed.returncode != 0:
        return 0
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))


def local_gpu_problems(plan: RepositoryPlan, gpu_count: int | None = None) -> list[Problem]:
    """`check_gpu_ids` for the local target: the configs as the local server runs them, against this machine's GPUs
    (or `gpu_count`)."""
    from components.core.runtime.shim import shim_config, shim_runtime  # the runtime only when the target is local

    served = {}
    for name, model in plan.models.items():
        if model.config is not None:
            runtime = shim_runtime(model.config)
            served[name] = shim_config(model.config, runtime) if runtime else model.config
    count = local_gpu_count() if gpu_count is None else gpu_count
    return check_gpu_ids(served, count, "this machine")


def check_gpu_ids(configs: Mapping[str, mc.ModelConfig], gpu_count: int, target_name: str) -> list[Problem]:
    """Every instance group of `configs` (by model name) asks only for GPUs that `target_name` has (`gpu_count`)."""
    problems: list[Problem] = []
    for model, config in sorted(configs.items()):
        if is_ensemble(config):
            continue
        for index, group in enumerate(config.instance_group):
            problems += _group_problems(model, index, group, gpu_count, target_name)
    return problems


def _group_problems(model: str, index: int, group: mc.ModelInstanceGroup, gpu_count: int,
                    target_name: str) -> list[Problem]:
    label = f"{model}/{CONFIG_NAME}"
    where = f"instance_group[{group.name or index}]"
    name = group.name or f"{model}_{index}"
    has = _gpu_words(gpu_count, target_name)
    if group.kind not in (Kind.KIND_GPU, Kind.KIND_AUTO):
        return []
    if group.kind == Kind.KIND_GPU and not group.gpus and gpu_count == 0:
        return [Problem(label, f"{where}.kind", f"instance group {name} of model {model} has kind KIND_GPU but "
                        f"{has}; use KIND_CPU (or KIND_AUTO) to serve it there, or a target with GPUs",
                        "gpus.none_available")]
    beyond = sorted({gpu for gpu in group.gpus if gpu >= gpu_count})
    if not beyond:
        return []
    ids = ", ".join(map(str, beyond))
    if gpu_count == 0:
        fix = "remove gpus and use KIND_CPU, or serve it on a target with GPUs"
    else:
        fix = f"use GPU ids 0 to {gpu_count - 1}, or a target with more GPUs"
    return [Problem(label, f"{where}.gpus", f"instance group {name} of model {model} asks for GPU id(s) {ids}, but "
                    f"{has}; {fix}", "gpus.beyond_target")]


def _gpu_words(count: int, target_name: str) -> str:
    if count == 0:
        return f"{target_name} has no GPU"
    return f"{target_name} has {count} GPU{'s' if count > 1 else ''} (ids 0 to {count - 1})"
