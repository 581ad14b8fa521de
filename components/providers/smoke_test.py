"""InferenceSmokeTest: the spec's smoke cases run against a served group, whenever what is served changes.

The test runs when created and again whenever the artifacts (`repository_sha256`), the endpoint, the
serving process (`deployment_id`), the transport or the cases themselves (`cases_sha256`: the spec
file and every .npy its cases read) change. A failing case fails the create or update with the
report's summary as the error message, so a broken model never shows as a successful deployment;
Pulumi then keeps the previous state and the next `up` tries again.

Transports are chosen by name through `TRANSPORTS` (`http`, `grpc`: plain Triton v2). Another target
adds its own factory there (OCI adds `oci`); the checks and the report do not change.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    Resource,
)

from components.core.problems import UserError

if TYPE_CHECKING:
    from components.core.oci_target.rollback import DeploymentClient, DeploymentRollback
from components.core.runtime.deployment import smoke_step
from components.core.smoke.transport import Transport
from components.providers.base import TritonProvider
from components.providers.diffing import is_unknown
from components.providers.paths import portable_path, resolve_path
from components.providers.problems import DeploymentError

TransportFactory = Callable[[str, Mapping[str, str]], Transport]
"""Makes a transport from an endpoint and the resource's non-secret `transport_options`."""


def _triton_http(endpoint: str, options: Mapping[str, str]) -> Transport:
    from components.core.smoke.triton_transport import TritonTransport  # the client only when a test runs

    return TritonTransport(endpoint, "http")


def _triton_grpc(endpoint: str, options: Mapping[str, str]) -> Transport:
    from components.core.smoke.triton_transport import TritonTransport

    return TritonTransport(endpoint, "grpc")


def _oci_predict(endpoint: str, options: Mapping[str, str]) -> Transport:
    from components.core.smoke.oci_options import oci_transport

    return oci_transport(endpoint, options)


TRANSPORTS: dict[str, TransportFactory] = {"http": _triton_http, "grpc": _triton_grpc, "oci": _oci_predict}
"""Transport name -> factory. Adding a target's transport is one entry here."""

RERUN_KEYS = ("endpoint", "transport", "transport_options", "repository_sha256", "deployment_id", "cases_sha256")
"""The inputs whose change runs the smoke test again."""


class SmokeTestFailed(DeploymentError):
    """The smoke test did not pass; the message is the report's summary (what failed, per model and case)."""


def run_smoke_test(props: Mapping[str, Any]) -> dict[str, Any]:
    """Run the cases named by `props` (the resource's inputs); return the outputs, or raise SmokeTestFailed."""
    from components.core.spec import load_spec  # only when a test runs: a diff never reads the spec

    spec = load_spec(resolve_path(props["spec_path"]))
    rollback = props.get("rollback")
    oci = oci_rollback(rollback, props)
    client = DEPLOYMENT_CLIENTS["oci"](oci.auth) if oci is not None else None
    if oci is not None and client is not None:
        oci.before_test(client)
    report = smoke_step(spec, TRANSPORTS[props["transport"]](props["endpoint"], props.get("transport_options") or {}))
    if not report.passed:
        if oci is not None and client is not None:
            raise SmokeTestFailed(report.summary() + oci.after_failure(client))
        raise SmokeTestFailed(report.summary() + (roll_back_local(rollback["state_dir"]) if rollback else ""))
    passed_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    serving = None
    if oci is not None and client is not None:
        serving = oci.after_pass(client, props["repository_sha256"], passed_at)[0].to_json()
    elif rollback:
        from components.core.runtime.passed import keep_passed

        artifacts = [resolve_path(artifact["path"]) for artifact in props.get("artifacts") or []]
        keep_passed(resolve_path(rollback["state_dir"]), artifacts, props["repository_sha256"], passed_at)
    return {**props, "passed": True, "passed_at": passed_at, "summary": report.summary(), "report": report.to_json(),
            "serving": serving}


def oci_rollback(rollback: Mapping[str, Any] | None, props: Mapping[str, Any]) -> DeploymentRollback | None:
    """The OCI rollback the inputs describe (`rollback.oci`), or None (a local rollback, or none)."""
    from components.core.oci_target.rollback import DeploymentRollback

    described = (rollback or {}).get("oci")
    return DeploymentRollback.from_json(described, str(props["deployment_id"])) if described else None


def _data_science(auth: Mapping[str, Any]) -> DeploymentClient:
    from components.core.oci_target.rollback import data_science_client
    from components.core.oci_target.settings import OciSmokeSettings

    return data_science_client(OciSmokeSettings.model_validate(dict(auth)))


DEPLOYMENT_CLIENTS: dict[str, Callable[[Mapping[str, Any]], DeploymentClient]] = {"oci": _data_science}
"""Target kind -> the client a rollback re-points its deployments with, from the smoke settings' auth (a recording fake
in tests)."""


def roll_back_local(state_dir: str) -> str:
    """Put the local server back on its last passing release; the sentence saying what happened, for the error."""
    from components.core.runtime import ServerRecord
    from components.core.runtime.passed import roll_back

    record = ServerRecord.find(resolve_path(state_dir))
    if record is None:
        return f"\nno local server is recorded in {state_dir}: nothing was rolled back"
    try:
        done = roll_back(record)
    except UserError as exc:
        return f"\nrolling back failed, the failing models stay loaded: {exc}"
    if done is None:
        return "\nno earlier release passed here, so nothing was rolled back: the failing models stay loaded"
    reloaded = ", ".join((*done.sync.loaded, *done.sync.reloaded, *done.sync.unloaded)) or "no model"
    return (f"\nrolled back: the server serves release {done.release.repository_sha256[:12]} again (passed "
            f"{done.release.passed_at}; reloaded {reloaded}); the next `pulumi up` tries this change again "
            "(stack config triton-groups:rollback: false keeps a failing change serving)")


class InferenceSmokeTestProvider(TritonProvider):
    """Runs the smoke cases on create and on update; nothing to read back or delete: the test is a record."""

    id_prefix = "smoke"
    rerun_keys = RERUN_KEYS

    def outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        return run_smoke_test(props)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        transport = news.get("transport")
        if is_unknown(transport) or transport in TRANSPORTS:
            return CheckResult(news, [])
        known = ", ".join(sorted(TRANSPORTS))
        return CheckResult(news, [CheckFailure("transport", f"unknown transport {transport!r}; use one of {known}")])


@dataclass(frozen=True)
class InferenceSmokeTestArgs:
    """What to test and where: the spec holding the cases, the endpoint, and what identifies what is served."""

    spec_path: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    repository_sha256: pulumi.Input[str]
    cases_sha256: pulumi.Input[str]
    """`components.core.content.cases_digest` of the spec: a change runs the cases again."""
    cases: Mapping[str, Mapping[str, str]] | None = None
    """{model: {case: digest}} (`content.case_digests`), recorded so that a preview names the cases that change."""
    transport: pulumi.Input[str] = "http"
    deployment_id: pulumi.Input[str] | None = None
    """Identifies the serving process or deployment (a pid, an OCID): a new one runs the test again."""
    transport_options: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    """Non-secret settings for the transport's factory (e.g. an OCI config profile name)."""
    rollback: pulumi.Input[Mapping[str, Any]] | None = None
    """{"state_dir": ...} of a local server: a passing run keeps its artifacts there, a failing run puts the server
    back on them before the update fails (components.core.runtime.passed). {"oci": ...} of an OCI deployment
    (`components.core.oci_target.rollback.rollback_input`): before the cases the deployment is pointed at
    what this update serves, a failing run points it back at what passed before, a passing run deletes that
    superseded target and records `serving`. None: no rollback."""
    artifacts: pulumi.Input[list[dict[str, Any]]] | None = None
    """The repository's `artifacts` output: what a passing run keeps for a rollback."""
    deployment_facts: pulumi.Input[Mapping[str, Any]] | None = None
    """What the group promises (`components.core.facts.deployment_facts`), recorded for the policy pack; it
    does not run the test again (the cases' digest does)."""


class InferenceSmokeTest(Resource, module="triton", name="InferenceSmokeTest"):
    """The smoke report of a served group: outputs `passed`, `summary` and `report` (counts, p50/p99 latency)."""

    passed: pulumi.Output[bool]
    repository_sha256: pulumi.Output[str]
    """The repository the cases passed on (recorded only when they pass)."""
    cases_sha256: pulumi.Output[str]
    passed_at: pulumi.Output[str]
    """When the cases last passed (UTC, ISO 8601): a failed run leaves the last passing record in place."""
    summary: pulumi.Output[str]
    report: pulumi.Output[dict[str, Any]]
    serving: pulumi.Output[dict[str, Any] | None]
    """On OCI with a rollback: the target the cases last passed on (`Target.to_json`), the next update's rollback."""

    def __init__(
        self, resource_name: str, args: InferenceSmokeTestArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "spec_path": pulumi.Output.from_input(args.spec_path).apply(portable_path),
            "cases_sha256": args.cases_sha256,
            "cases": args.cases,
            "endpoint": args.endpoint,
            "transport": args.transport,
            "transport_options": args.transport_options,
            "repository_sha256": args.repository_sha256,
            "deployment_id": args.deployment_id,
            "deployment_facts": args.deployment_facts,
            "rollback": args.rollback,
            "artifacts": args.artifacts,
            "passed": None,
            "passed_at": None,
            "summary": None,
            "report": None,
            "serving": None,
        }
        super().__init__(InferenceSmokeTestProvider(), resource_name, props, opts)
