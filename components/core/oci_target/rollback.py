"""Rolling an OCI model deployment back to what passed before, when the smoke test after an update fails.

What a deployment serves is its `Target`: a model group (layout per-model, a MODEL_GROUP deployment) or
one catalog model (layout single, SINGLE_MODEL), with the repository it holds and when its smoke test passed.
The smoke test resource (components.providers.smoke_test) calls, through a Data Science client it is given
(`DeploymentClient`: the OCI SDK's `DataScienceClient`, or a recording fake in tests):

- `ensure_serving` before the cases run: a deployment rolled back by an earlier failed update still serves the
  old target while the Pulumi state records the new one, so it is pointed at the new one again and the change
  is tried again (the state then tells the truth: the smoke test still shows the change to do);
- `roll_back` when the cases fail: the deployment is pointed back at the previous target (Data Science's
  UpdateModelDeployment with only the model part: `UpdateModelGroupDeploymentConfigurationDetails` with update
  type LIVE and `UpdateModelGroupConfigurationDetails`, or `UpdateSingleModelDeploymentConfigurationDetails`
  with `UpdateModelConfigurationDetails`), and the sentence saying so ends the failure message;
- `release_superseded` once the cases pass: the targets kept for a rollback that a newer passing release has
  replaced are deleted (their model group, and the catalog models the new target does not hold). Until then
  they are kept: the program registers them `retain_on_delete`, so the engine never deletes them.
Every call is through `client`; nothing here signs requests or reads a key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from components.core.oci_target.lifecycle import settled
from components.core.oci_target.settings import OciSmokeSettings

TargetKind = Literal["model_group", "model"]
POLL_S = 10.0


class DeploymentClient(Protocol):
    """The Data Science calls a rollback makes (names and arguments as `oci.data_science.DataScienceClient`)."""

    def get_model_deployment(self, model_deployment_id: str) -> Any: ...

    def update_model_deployment(self, model_deployment_id: str, update_model_deployment_details: Any) -> Any: ...

    def delete_model_group(self, model_group_id: str) -> Any: ...

    def delete_model(self, model_id: str) -> Any: ...


@dataclass(frozen=True)
class Target:
    """What a deployment serves: a model group (with its member catalog models) or one catalog model."""

    kind: TargetKind
    id: str
    members: tuple[str, ...] = ()
    repository_sha256: str = ""
    passed_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "members": list(self.members),
                "repository_sha256": self.repository_sha256, "passed_at": self.passed_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Target | None:
        """The target a stack output or a resource input records; None when it records none (or another format)."""
        if not isinstance(data, Mapping) or data.get("kind") not in ("model_group", "model") or not data.get("id"):
            return None
        return cls(kind=data["kind"], id=str(data["id"]), members=tuple(str(m) for m in data.get("members") or ()),
                   repository_sha256=str(data.get("repository_sha256") or ""),
                   passed_at=str(data.get("passed_at") or ""))

    def describe(self) -> str:
        what = f"model group {self.id}" if self.kind == "model_group" else f"catalog model {self.id}"
        release = f"release {self.repository_sha256[:12]}" if self.repository_sha256 else "the last release"
        return f"{release} ({what}{f', passed {self.passed_at}' if self.passed_at else ''})"


def update_details(target: Target) -> Any:
    """The UpdateModelDeploymentDetails that points a deployment at `target`, changing nothing else."""
    from oci.data_science import models

    if target.kind == "model_group":
        configuration: Any = models.UpdateModelGroupDeploymentConfigurationDetails(
            deployment_type="MODEL_GROUP", update_type="LIVE",
            model_group_configuration_details=models.UpdateModelGroupConfigurationDetails(model_group_id=target.id))
    else:
        configuration = models.UpdateSingleModelDeploymentConfigurationDetails(
            deployment_type="SINGLE_MODEL",
            model_configuration_details=models.UpdateModelConfigurationDetails(model_id=target.id))
    return models.UpdateModelDeploymentDetails(model_deployment_configuration_details=configuration)


def served_id(deployment: Any, kind: TargetKind) -> str | None:
    """The model group or model OCID a deployment (`get_model_deployment(...).data`) serves now."""
    details = getattr(deployment, "model_deployment_configuration_details", None)
    if kind == "model_group":
        return getattr(getattr(details, "model_group_configuration_details", None), "model_group_id", None)
    return getattr(getattr(details, "model_configuration_details", None), "model_id", None)


@dataclass(frozen=True)
class Waiting:
    """How long to wait for a deployment to be ACTIVE again after it is pointed elsewhere, and how."""

    timeout_s: float = 1800.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def point_at(client: DeploymentClient, deployment_id: str, target: Target, waiting: Waiting) -> str:
    """Point the deployment at `target` and wait until it is ACTIVE; return its lifecycle state then."""
    client.update_model_deployment(deployment_id, update_details(target))
    deadline = waiting.clock() + waiting.timeout_s
    while True:
        state = str(client.get_model_deployment(deployment_id).data.lifecycle_state)
        if settled(state) or waiting.clock() >= deadline:
            return state
        waiting.sleep(POLL_S)


def ensure_serving(client: DeploymentClient, deployment_id: str, target: Target, waiting: Waiting) -> str | None:
    """Point the deployment at `target` again when it serves something else (an earlier rollback); a line saying
    so, or None when it already serves it."""
    now = served_id(client.get_model_deployment(deployment_id).data, target.kind)
    if now is None or now == target.id:
        return None
    state = point_at(client, deployment_id, target, waiting)
    return f"the deployment served {now} (rolled back by an earlier update); it is pointed at {target.id} again " \
           f"({state})"


def roll_back(client: DeploymentClient, deployment_id: str, previous: Target | None, failed: Target,
              waiting: Waiting) -> str:
    """Point the deployment back at `previous` after `failed` did not pass; the sentence for the failure."""
    if previous is None or previous.id == failed.id:
        return ("\nno earlier release passed on this deployment, so nothing was rolled back: the failing models stay "
                "deployed")
    try:
        state = point_at(client, deployment_id, previous, waiting)
    except Exception as exc:  # whatever the SDK raises, the smoke failure is still the news
        return f"\nrolling back to {previous.describe()} failed, the failing models stay deployed: {exc}"
    kept = f"{failed.kind.replace('_', ' ')} {failed.id} is kept"
    return (f"\nrolled back: the deployment serves {previous.describe()} again ({state}); {kept}, and the next "
            "`pulumi up` tries this change again (stack config triton-groups:rollback: false keeps a failing change "
            "deployed)")


def release_superseded(client: DeploymentClient, kept: Iterable[Target], current: Target) -> list[str]:
    """Delete the targets kept for a rollback that `current` (just passed) replaces; the OCIDs deleted."""
    deleted: list[str] = []
    held = {current.id, *current.members}
    for target in kept:
        if target.id in held:
            continue
        if target.kind == "model_group":
            client.delete_model_group(target.id)
            deleted.append(target.id)
        for model in (target.members if target.kind == "model_group" else (target.id,)):
            if model not in held and model not in deleted:
                client.delete_model(model)
                deleted.append(model)
    return deleted


def data_science_client(smoke: OciSmokeSettings) -> DeploymentClient:
    """The OCI SDK's Data Science client, signed as the smoke tests sign (the config file's profile, or resource
    principals), for the deployment's region."""
    import oci.config
    import oci.data_science

    from components.core.smoke.oci_transport import signer_factory

    if smoke.auth == "resource_principal":
        signer = signer_factory(smoke)()
        return oci.data_science.DataScienceClient({"region": signer.region}, signer=signer)  # type: ignore[attr-defined]
    config = oci.config.from_file(os.path.expanduser(smoke.config_file), smoke.profile)
    return oci.data_science.DataScienceClient(config)


@dataclass(frozen=True)
class DeploymentRollback:
    """A smoke test's rollback on OCI, as the program describes it (`to_json`, the resource's `rollback.oci`):
    the deployment, the target this update serves, the one that passed before (None: nothing passed yet), how
    to sign the Data Science calls (`auth`: the smoke settings' auth, configFile, profile) and how long to wait."""

    deployment_id: str
    serves: Target
    previous: Target | None
    auth: Mapping[str, Any]
    active_timeout_s: float = 1800.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any], deployment_id: str) -> DeploymentRollback:
        serves = Target.from_json(data.get("serves"))
        if serves is None:
            raise ValueError(f"rollback.oci.serves names no model group or model: {data.get('serves')!r}")
        return cls(deployment_id, serves, Target.from_json(data.get("previous")), dict(data.get("auth") or {}),
                   float(data.get("active_timeout_s") or 1800.0))

    def before_test(self, client: DeploymentClient, waiting: Waiting | None = None) -> str | None:
        return ensure_serving(client, self.deployment_id, self.serves, waiting or Waiting(self.active_timeout_s))

    def after_failure(self, client: DeploymentClient, waiting: Waiting | None = None) -> str:
        return roll_back(client, self.deployment_id, self.previous, self.serves,
                         waiting or Waiting(self.active_timeout_s))

    def after_pass(self, client: DeploymentClient, repository_sha256: str, passed_at: str) -> tuple[Target, list[str]]:
        """What now serves (passed), recorded for the next rollback; and the superseded targets deleted."""
        deleted = release_superseded(client, [self.previous] if self.previous else [], self.serves)
        passed = Target(self.serves.kind, self.serves.id, self.serves.members, repository_sha256, passed_at)
        return passed, deleted


def rollback_input(serves: Target, previous: Target | None, smoke: OciSmokeSettings) -> dict[str, Any]:
    """The smoke test's `rollback` input for an OCI deployment: `DeploymentRollback.from_json` reads it back (the
    deployment's OCID is the smoke test's own `deployment_id`); only the auth settings, nothing secret."""
    return {"oci": {
        "serves": serves.to_json(),
        "previous": previous.to_json() if previous else None,
        "auth": smoke.model_dump(by_alias=True, include={"auth", "config_file", "profile"}),
        "active_timeout_s": smoke.active_timeout_s,
    }}
