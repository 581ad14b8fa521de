"""Ensembles in a repository plan: their steps, nesting depth, and the order models load in (steps first)."""

from __future__ import annotations

from collections.abc import Sequence

from components.core.plan import RepositoryPlan


def ensemble_steps(plan: RepositoryPlan, name: str) -> list[str]:
    model = plan.models.get(name)
    if model is None or model.config is None or model.config.platform != "ensemble":
        return []
    return [step.model_name for step in model.config.ensemble_scheduling.step]


def depth(plan: RepositoryPlan, name: str, seen: frozenset[str] = frozenset()) -> int:
    """0 for a plain model, 1 + the deepest step for an ensemble (so that steps load first)."""
    if name in seen:
        return 0
    steps = ensemble_steps(plan, name)
    return 1 + max((depth(plan, s, seen | {name}) for s in steps), default=0) if steps else 0


def load_order(plan: RepositoryPlan, names: Sequence[str]) -> list[str]:
    return sorted(set(names), key=lambda n: (depth(plan, n), n))


def ensembles_using(plan: RepositoryPlan, models: set[str]) -> set[str]:
    """Every ensemble in `plan` whose steps (at any depth) include one of `models`."""
    found: set[str] = set()
    grew = True
    while grew:
        grew = False
        for name in plan.models:
            if name not in found and set(ensemble_steps(plan, name)) & (models | found):
                found.add(name)
                grew = True
    return found
