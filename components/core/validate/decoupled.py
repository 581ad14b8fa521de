"""Rules on ensembles whose steps are decoupled models (a decoupled model sends any number of responses).

Triton allows decoupled steps. Its ensemble scheduler runs the steps after a decoupled step once per
response of that step, so each run carries tensors of one origin: the request (the ensemble inputs and what
non-decoupled steps compute from them) or one decoupled step. What tritonserver 2.51 enforces at load time,
and so what is an error here:

- A step whose inputs come from different origins is refused ("in ensemble E, step of model 'M' receives
  inputs originated from different decoupled models"): two decoupled steps, one decoupled step and the request,
  or two steps of the same decoupled model. The n responses of one origin cannot be paired with the m of the
  other. The ensemble's outputs are gathered like one more step, so they too must share one origin.
- An ensemble with a decoupled step is itself decoupled (Triton sets the ensemble's
  model_transaction_policy from its steps, nested ensembles included), so its response cache is refused,
  as for any decoupled model (an ensemble that writes `decoupled: true` itself is refused a cache too, before
  that override: `scheduling.check_response_cache` reports it).

What Triton loads is a warning, to be conservative: such an ensemble answers only over gRPC streaming
(HTTP and unary gRPC infer refuse decoupled models, so the smoke cases of this project cannot reach it), and
`decoupled: true` written on an ensemble without a decoupled step is overridden to false.
"""

from __future__ import annotations

from collections.abc import Mapping

from components._internal.schemas import mc
from components.core.plan import ModelPlan
from components.core.triton import is_ensemble
from components.core.validate.ensemble import step_field, step_label
from components.core.validate.report import Findings

REQUEST = "the request"
"""The origin of the ensemble inputs and of what non-decoupled steps compute from them alone."""
MIXED = "mixed"
"""The origin of a step's outputs once its inputs were found to mix origins (reported once, at that step)."""


def decoupled_models(models: Mapping[str, ModelPlan]) -> dict[str, str]:
    """For every decoupled model of the repository (an ensemble counts when one of its steps is): why it is."""
    configs = {name: model.config for name, model in models.items() if model.config is not None}
    known: dict[str, str | None] = {}
    for name in configs:
        _decoupled_reason(name, configs, frozenset(), known)
    return {name: reason for name, reason in known.items() if reason is not None}


def _decoupled_reason(name: str, configs: Mapping[str, mc.ModelConfig], seen: frozenset[str],
                      known: dict[str, str | None]) -> str | None:
    """Why model `name` is decoupled, or None; `known` keeps the answers (an ensemble loop counts as not)."""
    if name in known:
        return known[name]
    config = configs.get(name)
    if config is None or name in seen:
        return None
    reason = None
    if not is_ensemble(config):
        reason = "its model_transaction_policy is decoupled" if config.model_transaction_policy.decoupled else None
    else:
        for index, step in enumerate(config.ensemble_scheduling.step):
            if _decoupled_reason(step.model_name, configs, seen | {name}, known) is not None:
                reason = f"{step_label(index, step)} is decoupled"
                break
    known[name] = reason
    return reason


def check_decoupled_steps(config: mc.ModelConfig, decoupled: Mapping[str, str], found: Findings) -> None:
    """Every step and the outputs of an ensemble get tensors of one origin; no response cache when decoupled."""
    if not is_ensemble(config):
        return
    reason = _own_reason(config, decoupled)
    if reason is None:
        if config.model_transaction_policy.decoupled:
            found.warning("model_transaction_policy.decoupled", "Triton sets an ensemble's decoupled policy from its "
                          "steps and none is decoupled, so this ensemble is served as not decoupled; remove "
                          "model_transaction_policy", "ensemble.decoupled_ignored")
        return
    if config.response_cache.enable and not config.model_transaction_policy.decoupled:
        found.error("response_cache.enable", f"the response cache does not support decoupled models, and this "
                    f"ensemble is decoupled because {reason}; disable the response cache", "ensemble.decoupled_cache")
    found.warning("model_transaction_policy", f"this ensemble is decoupled because {reason}: it answers only over "
                  "gRPC streaming (HTTP and unary gRPC infer refuse decoupled models, and so do smoke cases)",
                  "ensemble.decoupled")
    _check_origins(config, decoupled, found)


def _own_reason(config: mc.ModelConfig, decoupled: Mapping[str, str]) -> str | None:
    """Why the ensemble is decoupled: its first step whose model is (`decoupled`, from `decoupled_models`)."""
    for index, step in enumerate(config.ensemble_scheduling.step):
        if step.model_name in decoupled:
            return f"{step_label(index, step)} is decoupled"
    return None


def _check_origins(config: mc.ModelConfig, decoupled: Mapping[str, str], found: Findings) -> None:
    """Follow the origin of every tensor from the ensemble inputs through the steps, in dataflow order."""
    steps = list(config.ensemble_scheduling.step)
    origin: dict[str, str] = {tensor.name: REQUEST for tensor in config.input}
    pending = list(range(len(steps)))
    while pending:
        ready = [i for i in pending if all(t in origin for t in steps[i].input_map.values())]
        if not ready:
            break
        for index in ready:
            pending.remove(index)
            step = steps[index]
            reads = {tensor: origin[tensor] for tensor in sorted(set(step.input_map.values()))}
            sources = set(reads.values())
            if len(sources) > 1 and MIXED not in sources:
                found.error(f"{step_field(index)}.input_map", f"{step_label(index, step)} receives inputs "
                            f"originated from different decoupled models: {_origins_text(reads)}; each response "
                            "of a decoupled step runs the steps after it once, so all inputs of a step must come "
                            "from one decoupled step or all from the request: pass the other tensor through that "
                            "decoupled model, or split the ensemble", "ensemble.decoupled_inputs")
            produced = (f"decoupled {step_label(index, step)}" if step.model_name in decoupled
                        else MIXED if len(sources) > 1 else next(iter(sources), REQUEST))
            for tensor in step.output_map.values():
                origin.setdefault(tensor, produced)
    outputs = {tensor.name: origin[tensor.name] for tensor in config.output if tensor.name in origin}
    sources = set(outputs.values())
    if len(sources) > 1 and MIXED not in sources:
        found.error("output", f"the ensemble outputs originate from different decoupled models: "
                    f"{_origins_text(outputs)}; Triton gathers one response from tensors of one origin, so every "
                    "output must come from the same decoupled step (or none from a decoupled step)",
                    "ensemble.decoupled_outputs")


def _origins_text(origins: Mapping[str, str]) -> str:
    return ", ".join(f"{tensor!r} from {source}" for tensor, source in origins.items())
