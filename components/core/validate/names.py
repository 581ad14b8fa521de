"""Rules on model names: each is a Triton model folder and an OCI inference key, so it must be valid and unique."""

from __future__ import annotations

from collections import Counter

from components.core.plan import CONFIG_NAME, RepositoryPlan
from components.core.problems import Problem
from components.core.triton import NAME_PATTERN, NAME_RULE


def check_names(plan: RepositoryPlan) -> list[Problem]:
    """Every model folder name is valid; a spec names each model once."""
    problems = [
        Problem(f"{name}/{CONFIG_NAME}", "name", f"model name {name!r} {NAME_RULE}", "names.invalid")
        for name in plan.models
        if not NAME_PATTERN.match(name)
    ]
    if plan.spec is not None:
        counts = Counter(model.name for model in plan.spec.models)
        problems += [
            Problem(f"{name}/{CONFIG_NAME}", "name", f"model name {name!r} is used {count} times in group "
                    f"{plan.spec.name!r}; each model needs its own name (it is its folder and its inference key)",
                    "names.duplicate")
            for name, count in sorted(counts.items())
            if count > 1
        ]
    return problems
