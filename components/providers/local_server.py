"""LocalTritonServer: a real tritonserver on this machine that outlives `pulumi up`, updated model by model.

The server runs detached; its pid and ports are in the resource's outputs and in the runtime's record
in `state_dir` (`server.json`, with `repository/` and `server.log`). A change of the models' digests
updates it in place: only changed models are reloaded through Triton's repository API
(`components.core.runtime.sync`); a new state folder or HTTP port replaces it (stopped first, since
the ports and folder are reused). A server that is no longer serving (killed, machine rebooted) is
reported gone by `read` and replaced by the next `up` (its diff asks for a replacement).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.core.plan import load_plan
from components.core.runtime import ServerRecord, is_serving, remove_state, stop
from components.core.runtime.deployment import serve_step
from components.core.runtime.state import is_recorded_process
from components.providers.base import TritonProvider
from components.providers.diffing import changed_keys, is_unknown
from components.providers.paths import portable_path, resolve_path
from components.providers.problems import DeploymentError

SERVING_GRACE_S = 10.0
POLL_S = 0.2

SYNC_KEYS = ("models",)
"""Inputs whose change reloads models in place."""

RESTART_KEYS = ("state_dir", "requested_http_port")
"""Inputs whose change replaces the server."""


def live_record(props: Mapping[str, Any], wait_s: float = SERVING_GRACE_S) -> ServerRecord | None:
    """The runtime's record of the server these outputs describe, if that very server is still serving.

    A process that runs but does not answer is given `wait_s` (a busy machine, a model reloading).
    """
    record = ServerRecord.find(resolve_path(props["state_dir"]))
    if record is None or record.pid != int(props.get("pid", -1)):
        return None
    deadline = time.monotonic() + wait_s
    while is_recorded_process(record):
        if is_serving(record):
            return record
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL_S)
    return None


def _outputs(props: Mapping[str, Any], record: ServerRecord, last_sync: Mapping[str, list[str]]) -> dict[str, Any]:
    return {
        **props,
        "pid": record.pid,
        "http_port": record.http_port,
        "grpc_port": record.grpc_port,
        "metrics_port": record.metrics_port,
        "http_url": record.http_url,
        "grpc_url": record.grpc_url,
        "shimmed": list(record.shimmed),
        "started_at": record.started_at,
        "last_sync": dict(last_sync),
    }


def start_server(props: Mapping[str, Any]) -> dict[str, Any]:
    """Start a detached server for the spec in `props`; return the resource's outputs."""
    port = props.get("requested_http_port")
    served = serve_step(load_plan(resolve_path(props["spec_path"])), resolve_path(props["state_dir"]),
                        http_port=int(port) if port else None)
    return _outputs(props, served.record, {"loaded": list(served.loaded), "reloaded": [], "unloaded": []})


class LocalTritonServerProvider(TritonProvider):
    """Starts, syncs and stops a detached local tritonserver through the core runtime."""

    def outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        return start_server(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outputs = self.outputs(props)
        return CreateResult(f"tritonserver-{outputs['pid']}", outputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace a server that is gone or moves; reload when the models asked for differ from what the server
        records it serves (a rollback after a failed smoke test put earlier models back)."""
        restart = changed_keys(olds, news, RESTART_KEYS)
        record = None if restart else live_record(olds)
        if not restart and record is None:
            restart = ["pid"]
        if restart:
            return DiffResult(changes=True, replaces=restart, delete_before_replace=True)
        serves_other = not is_unknown(news.get("models")) and dict(record.models) != dict(news.get("models") or {})
        return DiffResult(changes=serves_other or bool(changed_keys(olds, news, SYNC_KEYS)))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        record = live_record(olds)
        if record is None:
            raise DeploymentError(f"the local server (pid {olds.get('pid')}) stopped serving during the deployment; "
                               "run the deployment again to start a new one")
        served = serve_step(load_plan(resolve_path(news["spec_path"])), resolve_path(news["state_dir"]), running=record)
        changes = {"loaded": list(served.loaded), "reloaded": list(served.reloaded), "unloaded": list(served.unloaded)}
        return UpdateResult(_outputs(news, served.record, changes))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if live_record(props) is None:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Stop the recorded server, then remove its files from the state folder (and the folder, once empty)."""
        state_dir = resolve_path(props["state_dir"])
        record = ServerRecord.find(state_dir)
        if record is not None and record.pid != int(props.get("pid", -1)):
            return  # the folder now records another server: it is not this resource's to stop
        if record is not None:
            stop(record)
        remove_state(state_dir)


@dataclass(frozen=True)
class LocalTritonServerArgs:
    """What to serve (the spec, and each model's digest so that a change triggers an update) and where."""

    spec_path: pulumi.Input[str]
    models: pulumi.Input[Mapping[str, str]]
    """{model: digest}, e.g. `model_digests(repository.content)`: a changed digest reloads that model."""
    state_dir: pulumi.Input[str]
    http_port: pulumi.Input[int] | None = None
    """Default: a free port, kept for the server's life."""


class LocalTritonServer(Resource, module="triton", name="LocalTritonServer"):
    """A detached local tritonserver: outputs `pid`, `http_url`, `grpc_url`, the ports, `shimmed` (models served
    through the Python-backend shim) and `last_sync` (models loaded, reloaded, unloaded by the last change)."""

    pid: pulumi.Output[int]
    http_url: pulumi.Output[str]
    grpc_url: pulumi.Output[str]
    http_port: pulumi.Output[int]
    grpc_port: pulumi.Output[int]
    metrics_port: pulumi.Output[int]
    shimmed: pulumi.Output[list[str]]
    last_sync: pulumi.Output[dict[str, list[str]]]

    def __init__(
        self, resource_name: str, args: LocalTritonServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "spec_path": pulumi.Output.from_input(args.spec_path).apply(portable_path),
            "models": args.models,
            "state_dir": pulumi.Output.from_input(args.state_dir).apply(portable_path),
            "requested_http_port": args.http_port,
            "pid": None,
            "http_url": None,
            "grpc_url": None,
            "http_port": None,
            "grpc_port": None,
            "metrics_port": None,
            "shimmed": None,
            "started_at": None,
            "last_sync": None,
        }
        super().__init__(LocalTritonServerProvider(), resource_name, props, opts)
