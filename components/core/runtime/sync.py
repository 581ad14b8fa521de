"""Bringing a running local server to a new plan without a restart: only the models whose content digest changed
reload, each through Triton's repository API, ensembles after their steps; a failed load puts the old model
folder back (Triton keeps serving the version it had)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from components.core.hashcache import HashCache
from components.core.package import CACHE_NAME
from components.core.plan import RepositoryPlan, plan_from_folder
from components.core.problems import Problem, UserError
from components.core.runtime import triton_api
from components.core.runtime.ensembles import depth, ensembles_using, load_order
from components.core.runtime.local_repository import (
    commit_model,
    plan_digests,
    remove_model,
    restore_model,
    stage_model,
)
from components.core.runtime.lock import LOCK_TIMEOUT_S, state_lock
from components.core.runtime.processes import POLL_S
from components.core.runtime.shim import shim_plan
from components.core.runtime.state import (
    ServerRecord,
    is_recorded_process,
)

LOAD_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class SyncResult:
    """What an update did, model names sorted; `record` is the server's record after the update."""

    loaded: tuple[str, ...]
    reloaded: tuple[str, ...]
    unloaded: tuple[str, ...]
    unchanged: tuple[str, ...]
    shimmed: tuple[str, ...]
    record: ServerRecord

    @property
    def changed(self) -> bool:
        return bool(self.loaded or self.reloaded or self.unloaded)


def hash_cache(state_dir: Path) -> HashCache:
    """The state folder's hash cache: model digests cost a `stat` per unchanged file."""
    return HashCache(state_dir / CACHE_NAME)


def sync(record: ServerRecord, plan: RepositoryPlan, *, load_timeout_s: float = LOAD_TIMEOUT_S,
         lock_timeout_s: float = LOCK_TIMEOUT_S) -> SyncResult:
    """Bring the served models to `plan`, touching only what changed; no restart.

    New models are loaded, changed ones (and recorded ones Triton no longer has ready) are swapped
    in and reloaded, with every ensemble that uses them; removed ones are unloaded and their folders
    deleted. A model whose load fails gets its
    previous folder back (Triton keeps serving the version it had) and is reported by name with
    Triton's reason after the other models are done; the record is saved either way.
    Holds the state folder's lock, and starts from the record on disk then (what a sync by another
    process did meanwhile counts), not from the models listed in `record`.
    """
    with state_lock(record.state_dir, "sync", lock_timeout_s):
        return _sync_locked(record, plan, load_timeout_s)


def _sync_locked(given: ServerRecord, plan: RepositoryPlan, load_timeout_s: float) -> SyncResult:
    if not (is_recorded_process(given) and triton_api.is_live(given.http_url)):
        raise UserError(Problem(str(given.path), "", f"the local server (pid {given.pid}) is not running; "
                                "start it again", "runtime.not_serving"))
    record = ServerRecord.find(given.state_dir)
    if record is None or not record.same_server(given):
        raise UserError(Problem(str(given.path), "", f"the local server (pid {given.pid}) runs but is no longer the "
                                "one recorded here (another process stopped or replaced it meanwhile); stop it, "
                                "then start it again", "runtime.not_recorded"))
    shim = shim_plan(plan)
    desired = plan_digests(plan, hash_cache(record.state_dir))
    current = dict(record.models)
    index = triton_api.repository_index(record.http_url)
    added = sorted(set(desired) - set(current))
    removed = sorted(set(current) - set(desired))
    changed = sorted(n for n in desired if n in current and (current[n] != desired[n] or not ready(index, n)))
    dependents = sorted(ensembles_using(shim.plan, set(added) | set(changed)) - set(added) - set(changed))
    digests = {n: d for n, d in current.items() if n not in removed}
    problems: list[Problem] = []
    for name in load_order(shim.plan, [*added, *changed, *dependents]):
        staged = stage_model(shim.plan, name, record.repository) if name not in dependents else None
        reason = triton_api.load_model(record.http_url, name, load_timeout_s)
        if reason is None:
            if staged is not None:
                commit_model(staged)
            digests[name] = desired[name]
            continue
        problems.append(model_problem(plan, name, f"Triton could not load model '{name}': {reason}"))
        if staged is not None:
            restore_model(staged)
        if name in added:
            triton_api.unload_model(record.http_url, name, load_timeout_s)
    served = plan_from_folder(record.repository)
    for name in sorted(removed, key=lambda n: (-depth(served, n), n)):
        reason = triton_api.unload_model(record.http_url, name, load_timeout_s)
        if reason is not None:
            problems.append(model_problem(plan, name, f"Triton could not unload model '{name}': {reason}"))
    wait_unloaded(record.http_url, removed, time.monotonic() + load_timeout_s)
    for name in removed:
        remove_model(record.repository, name)
    updated = record.with_models(digests, tuple(n for n in shim.shimmed if n in digests))
    updated.save()
    if problems:
        raise UserError(problems)
    return SyncResult(
        loaded=tuple(added), reloaded=tuple(sorted([*changed, *dependents])), unloaded=tuple(removed),
        unchanged=tuple(sorted(set(desired) - set(added) - set(changed) - set(dependents))),
        shimmed=shim.shimmed, record=updated,
    )


def wait_unloaded(http_url: str, names: Sequence[str], deadline: float) -> None:
    """Wait until Triton has finished unloading `names` (an unload request returns before it is done)."""
    while names and time.monotonic() < deadline:
        index = triton_api.repository_index(http_url)
        if not any(n in index and index[n].state in ("READY", "UNLOADING") for n in names):
            return
        time.sleep(POLL_S)


def ready(index: dict[str, triton_api.ModelState], name: str) -> bool:
    return name in index and index[name].state == "READY"


def model_problem(plan: RepositoryPlan, name: str, message: str) -> Problem:
    if plan.spec is not None:
        return Problem(str(plan.spec.source), f"models[{name}]", message, "runtime.model_load")
    model = plan.models.get(name)
    return Problem(model.config_label if model else name, "", message, "runtime.model_load")
