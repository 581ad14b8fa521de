"""Validate a repository plan the way Triton checks a model repository at load time with a strict config.

`validate_plan(plan)` returns every problem found, errors and warnings, sorted by model then field; each names
`<model>/config.pbtxt`, the field concerned (`input[IMAGE].dims`,
`ensemble_scheduling.step[1].input_map[INPUT__0]`), what is wrong and what to do, with a stable dotted code.
With `config_only=True` the checks that need model files (model files, ONNX graphs, label and warmup files, a
spec's smoke .npy files) are skipped; the version folders a plan lists are still used to check the versions
ensemble steps ask for. With `gpu_target` (e.g. an OCI shape's GPU count), instance groups are checked against
the GPUs of what will serve them; without it no GPU count is assumed. For the local target,
`local_gpu_problems(plan)` checks the configs as the local server runs them against this machine's GPUs.
"""

from __future__ import annotations

from components._internal.schemas import mc
from components.core.plan import CONFIG_NAME, ModelPlan, RepositoryPlan
from components.core.problems import Problem
from components.core.triton import effective_backend, inferred_backend
from components.core.validate.config import check_batch_and_versions, check_has_tensors, check_identity
from components.core.validate.decoupled import check_decoupled_steps, decoupled_models
from components.core.validate.ensemble import check_ensemble_config, step_field
from components.core.validate.ensemble_steps import check_ensemble_steps, ensemble_cycles
from components.core.validate.files import check_files
from components.core.validate.gpus import (
    GpuTarget,
    check_gpu_ids,
    local_gpu_count,
    local_gpu_problems,
)
from components.core.validate.names import check_names
from components.core.validate.ragged import check_batch_io
from components.core.validate.report import Findings
from components.core.validate.scheduling import (
    check_dynamic_batching,
    check_instance_groups,
    check_optional_inputs,
    check_response_cache,
    check_sequence_batching,
)
from components.core.validate.sources import check_repository_folder, check_smoke_cases
from components.core.validate.tensors import check_tensors
from components.core.validate.warmup import check_warmup

__all__ = [
    "GpuTarget", "check_gpu_ids", "local_gpu_count", "local_gpu_problems", "validate_plan",
]


def validate_plan(plan: RepositoryPlan, config_only: bool = False, gpu_target: GpuTarget | None = None
                  ) -> list[Problem]:
    """Every problem in `plan`, errors and warnings, sorted by model then field."""
    problems = [*plan.problems, *check_names(plan), *check_repository_folder(plan)]
    if plan.spec is not None and not config_only:
        problems += check_smoke_cases(plan.spec)
    server_args = list(plan.spec.server_args) if plan.spec is not None else None
    findings = {name: Findings(model.config_label) for name, model in plan.models.items()}
    decoupled = decoupled_models(plan.models)
    for name, model in plan.models.items():
        _check_model(model, plan, config_only, server_args, findings[name])
        if model.config is not None:
            check_decoupled_steps(model.config, decoupled, findings[name])
    configs = {name: model.config for name, model in plan.models.items() if model.config is not None}
    if gpu_target is not None:
        problems += check_gpu_ids(configs, gpu_target.count, gpu_target.name)
    for name, (index, path) in ensemble_cycles(configs).items():
        findings[name].error(f"{step_field(index)}.model_name", f"circular dependency between ensembles: "
                             f"{' -> '.join(path)}; an ensemble cannot contain itself, directly or through other "
                             "ensembles", "ensemble.cycle")
    for found in findings.values():
        problems += found.problems
    return sorted(problems, key=_order)


def _check_model(model: ModelPlan, plan: RepositoryPlan, config_only: bool, server_args: list[str] | None,
                 found: Findings) -> None:
    config = model.config
    if config is None:
        code = "config.parse" if CONFIG_NAME in model.files else "config.missing"
        found.error("", model.config_error or "config.pbtxt cannot be read", code)
        return
    inferred = inferred_backend(model)
    if inferred is not None:
        filename, backend, platform = inferred
        found.warning("backend", f"neither platform nor backend is set; Triton picks backend {backend!r} because a "
                      f"version folder holds {filename}: write backend: \"{backend}\" to say so",
                      "config.backend_inferred")
        config = mc.ModelConfig()
        config.CopyFrom(model.config)
        config.backend, config.platform = backend, platform
    check_identity(model.name, config, found)
    check_batch_and_versions(config, found)
    check_has_tensors(config, found)
    check_tensors(config, found)
    check_batch_io(config, found)
    check_instance_groups(config, found)
    check_dynamic_batching(config, found)
    check_sequence_batching(config, found)
    check_response_cache(config, server_args, found)
    check_optional_inputs(config, found)
    check_warmup(config, found)
    check_ensemble_config(config, found)
    check_ensemble_steps(config, plan.models, config_only, found)
    if not config_only:
        check_files(model, config, found)
        if effective_backend(config) == "onnxruntime":
            from components.core.validate.onnx_model import check_onnx  # ONNX's schema only for ONNX models

            check_onnx(model, config, found)


def _order(problem: Problem) -> tuple[str, str, str]:
    return problem.file.removesuffix(f"/{CONFIG_NAME}"), problem.field, problem.message
