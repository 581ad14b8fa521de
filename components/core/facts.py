"""What a deployed group promises, as plain data the policy pack can judge: smoke coverage, instance groups, target.

The production policies (policies/) run in their own virtualenv, with the engine's view of each resource and
nothing of this package. So the program records the facts they need on the smoke-test resource
(`InferenceSmokeTest.deployment_facts`), computed here once from the plan:

- `coverage`: per model, how many smoke cases it has and how many check values (any match but `shape`);
- `latency_budget_ms`: the spec's p99 budget, or None;
- `instance_groups`: per model, each instance group's kind (KIND_CPU, KIND_GPU, ...), count and GPU ids, read
  from the model's config (rendered or brought), as Triton will see it;
- `target`: where it is served: `local` or `oci`, the OCI shape, and how many GPUs that has (None: unknown).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from components._internal.schemas import mc
from components.core.plan import RepositoryPlan

SHAPE_ONLY = "shape"


def instance_groups(config: mc.ModelConfig | None) -> list[dict[str, Any]]:
    """The config's instance groups as {kind, count, gpus} (kind as Triton names it, e.g. KIND_GPU)."""
    if config is None:
        return []
    return [
        {"kind": mc.ModelInstanceGroup.Kind.Name(group.kind), "count": group.count, "gpus": list(group.gpus)}
        for group in config.instance_group
    ]


def deployment_facts(plan: RepositoryPlan, target: str, shape: str | None, gpu_count: int | None,
                     deployed: Iterable[str] | None = None) -> dict[str, Any]:
    """The facts of the module docstring for the group `plan` describes, served on `target`: of the `deployed`
    models only when the stack serves some of them (OCI's `models` setting), else of every model."""
    spec = plan.spec
    served = sorted(plan.models if deployed is None else set(deployed) & set(plan.models))
    cases = {model.name: model.smoke for model in spec.models} if spec is not None else {}
    coverage = {
        name: {
            "cases": len(cases.get(name, [])),
            "value_checks": sum(
                1 for case in cases.get(name, [])
                if any(str(expect.match) != SHAPE_ONLY for expect in case.expect.values())
            ),
        }
        for name in served
    }
    return {
        "coverage": coverage,
        "latency_budget_ms": spec.smoke.latency_budget_ms if spec is not None else None,
        "instance_groups": {name: instance_groups(plan.models[name].config) for name in served},
        "target": {"kind": target, "shape": shape, "gpu_count": gpu_count},
    }
