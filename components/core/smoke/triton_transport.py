"""Plain Triton v2 over HTTP or gRPC through tritonclient: the Transport for any reachable tritonserver.

`TritonTransport("http://127.0.0.1:8000")`, `TritonTransport("127.0.0.1:8001", "grpc")`. Each thread
gets its own tritonclient client (the HTTP client is not thread-safe, and a client is cheap next to
a model), kept for the transport's life; `close()` closes them all. `prepare` builds a request's
tritonclient objects once, so that sending it again costs what a bare tritonclient loop costs.
Readiness uses liveness plus each model's readiness, not the server's readiness: with Triton's
strict readiness one broken model keeps the whole server "not ready", and we want that model named
with its reason from the repository index.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from components.core.problems import Problem, UserError
from components.core.smoke.transport import SendsPrepared, Tensor, TransportError

Protocol = Literal["http", "grpc"]
PROTOCOLS: tuple[Protocol, ...] = ("http", "grpc")
SCHEMES: dict[str, tuple[Protocol, bool]] = {
    "http": ("http", False),
    "https": ("http", True),
    "grpc": ("grpc", False),
    "grpcs": ("grpc", True),
}
"""URL scheme -> (protocol, TLS)."""

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 2.0
REFUSED_GRACE_S = 2.0
"""How long connections may be refused before `wait_ready` gives up: a server that is starting listens sooner."""
WAITING_STATES = frozenset({"LOADING", "UNLOADING", "READY"})
"""Repository-index states from which a model not ready yet may still become ready; any other state is final."""

NO_ANSWER = (InferenceServerException, OSError, HTTPException)
"""What tritonclient raises when a call gets no usable answer; `_transport_error` turns each into a TransportError."""

Result = TypeVar("Result")


class TritonTransport(SendsPrepared):
    """Sends smoke requests to a Triton server over HTTP (default) or gRPC. Safe to use from several threads."""

    def __init__(self, url: str, protocol: Protocol | None = None, *, request_timeout_s: float = 60.0,
                 on_wait: Callable[[str], None] | None = None) -> None:
        """`url` is `[http|https|grpc|grpcs]://host:port[/base]` or `host:port`; a scheme sets the protocol.

        `on_wait` is told once, in a line, what `wait_ready` waits for when the server is not ready at once.
        Raises UserError when the URL is malformed or its scheme contradicts `protocol`.
        """
        self.on_wait = on_wait
        self.protocol, self._ssl, self._address = parse_url(url, protocol)
        scheme = next(name for name, meaning in SCHEMES.items() if meaning == (self.protocol, self._ssl))
        self.endpoint = f"{scheme}://{self._address}"
        self.request_timeout_s = request_timeout_s
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    def wait_ready(self, models: Sequence[str], timeout_s: float) -> Mapping[str, str | None]:
        """Poll with exponential backoff until the server is live and each model is ready or has failed.

        A model that failed to load (or is not in the repository) is final: its reason comes at once
        from the repository index. Raises TransportError when the server never answers in time, or refuses
        connections for REFUSED_GRACE_S (nothing listens there: waiting longer would not help).
        """
        began = time.monotonic()
        deadline = began + timeout_s
        delay = FIRST_DELAY_S
        reasons: dict[str, str | None] = {}
        pending = list(dict.fromkeys(models))
        last_error = ""
        refused_since: float | None = None
        while True:
            try:
                if self._call(lambda client: client.is_server_live()):
                    pending = self._settle(pending, reasons)
                    if not pending:
                        return reasons
                    last_error = ""
                else:
                    last_error = "the server is not live yet"
                refused_since = None
            except TransportError as exc:
                last_error = str(exc)
                now = time.monotonic()
                refused_since = (refused_since or now) if exc.refused else None
                if refused_since is not None and now - refused_since >= REFUSED_GRACE_S:
                    raise TransportError(f"{self.endpoint} refused every connection for {now - began:.1f} s "
                                         f"({last_error}): nothing listens there; start the server, or check the "
                                         "URL") from None
            if self.on_wait is not None and delay == FIRST_DELAY_S:
                self.on_wait(f"waiting up to {timeout_s:g} s for {self.endpoint} to be live and for "
                             f"{', '.join(pending)} to be ready" + (f" ({last_error})" if last_error else ""))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, MAX_DELAY_S)
        if last_error:
            raise TransportError(f"{self.endpoint} did not answer within {timeout_s:g} s: {last_error}")
        try:
            states = self._index()
        except TransportError as exc:
            states, last_error = {}, f"; repository index: {exc}"
        for model in pending:
            found = states.get(model)
            said = f" ({_state_text(found)})" if found else last_error
            reasons[model] = f"not ready after {timeout_s:g} s{said}"
        return reasons

    def _settle(self, pending: list[str], reasons: dict[str, str | None]) -> list[str]:
        """Record each pending model that is ready or finally not; return those still worth waiting for."""
        waiting = []
        for model in pending:
            if self._call(lambda client, name=model: client.is_model_ready(name)):
                reasons[model] = None
            else:
                waiting.append(model)
        if not waiting:
            return []
        try:
            states = self._index()
        except TransportError:
            return waiting  # no index (e.g. a restricted API): wait for readiness until the deadline
        still = []
        for model in waiting:
            entries = states.get(model, [])
            if not entries:
                reasons[model] = "not in the server's model repository"
            elif any(entry.get("state") in WAITING_STATES for entry in entries):
                still.append(model)
            else:
                reasons[model] = _state_text(entries)
        return still

    def _index(self) -> dict[str, list[dict[str, Any]]]:
        """The repository index by model name (each version is an entry with state and reason)."""
        if self.protocol == "http":
            entries = self._call(lambda client: client.get_model_repository_index())
        else:
            entries = self._call(lambda client: client.get_model_repository_index(as_json=True)).get("models", [])
        states: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            states.setdefault(entry.get("name", ""), []).append(entry)
        return states

    def prepare(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> TritonRequest:
        """Build the tritonclient request objects once; TransportError when an input cannot be sent."""
        module = httpclient if self.protocol == "http" else grpcclient
        requested_inputs = []
        for tensor in inputs:
            given = module.InferInput(tensor.name, list(tensor.array.shape), tensor.datatype)
            try:
                given.set_data_from_numpy(tensor.array)
            except InferenceServerException as exc:
                raise TransportError(f"input {tensor.name} cannot be sent: {exc.message()}") from None
            requested_inputs.append(given)
        options: dict[str, Any] = {"model_version": str(version) if version is not None else ""}
        if self.protocol == "grpc":
            options["client_timeout"] = self.request_timeout_s
        return TritonRequest(self, model, tuple(requested_inputs),
                             tuple(module.InferRequestedOutput(name) for name in outputs), tuple(outputs), options)

    def __enter__(self) -> TritonTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every client this transport made, in any thread (an open HTTP connection delays a server's stop)."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            if self.protocol == "http":
                client = httpclient.InferenceServerClient(
                    self._address, ssl=self._ssl, connection_timeout=self.request_timeout_s,
                    network_timeout=self.request_timeout_s,
                )
            else:
                client = grpcclient.InferenceServerClient(self._address, ssl=self._ssl)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def _call(self, action: Callable[[Any], Result]) -> Result:
        """Run `action` with this thread's client; every failure to get an answer becomes a TransportError."""
        try:
            return action(self._client())
        except NO_ANSWER as exc:
            raise _transport_error(exc) from None


@dataclass(frozen=True)
class TritonRequest:
    """A request built once by `TritonTransport.prepare`: its tritonclient InferInputs (data set) and
    InferRequestedOutputs are reused by every send, which costs one `client.infer` plus `as_numpy` per output.

    Safe to send from several threads: tritonclient only reads the request objects, and each send
    uses the calling thread's client.
    """

    transport: TritonTransport
    model: str
    inputs: tuple[Any, ...]
    requested: tuple[Any, ...]
    outputs: tuple[str, ...]
    options: Mapping[str, Any]

    def send(self) -> dict[str, np.ndarray]:
        """Run the inference once; return the requested outputs present in the answer. Raises TransportError."""
        try:
            result = self.transport._client().infer(self.model, self.inputs, outputs=self.requested, **self.options)
        except NO_ANSWER as exc:
            raise _transport_error(exc) from None
        return {name: array for name in self.outputs if (array := result.as_numpy(name)) is not None}


def _transport_error(exc: InferenceServerException | OSError | HTTPException) -> TransportError:
    """A tritonclient failure to get an answer as a TransportError (status and what the server said kept)."""
    if isinstance(exc, OSError):  # refused, reset, timed out, TLS: the server did not answer
        return TransportError(f"no answer: {type(exc).__name__}: {_one_line(str(exc))}",
                              refused=isinstance(exc, ConnectionRefusedError))
    if isinstance(exc, HTTPException):  # an answer, but not HTTP/1.1: a gRPC port, or another service
        return TransportError(f"the answer is not HTTP ({type(exc).__name__}: {_one_line(str(exc))}); if this is "
                              "Triton's gRPC port, give a grpc:// URL or --protocol grpc")
    status = exc.status() or ""
    code = int(status) if status.isdigit() else None
    message = exc.message() or str(exc)
    label = f"HTTP {code}" if code is not None else status.removeprefix("StatusCode.") or "error"
    refused = status == "StatusCode.UNAVAILABLE" and "connection refused" in message.lower()  # gRPC's way to say it
    return TransportError(f"{label}: {_one_line(message)}", status=code, detail=message, refused=refused)


def parse_url(url: str, protocol: Protocol | None = None) -> tuple[Protocol, bool, str]:
    """(protocol, TLS, host:port[/base]) from a URL; UserError when it is malformed or contradicts `protocol`."""
    def bad(message: str) -> UserError:
        return UserError(Problem("--url", "", f"{url!r}: {message}", "smoke.url"))

    if protocol is not None and protocol not in PROTOCOLS:
        raise bad(f"protocol must be http or grpc, got {protocol!r}")
    text = url.strip()
    try:
        return _parse_url(text, protocol, bad)
    except ValueError as exc:  # urllib's own refusals: "Invalid IPv6 URL", "Port out of range 0-65535"
        raise bad(f"not a URL ({exc}); give host:port, e.g. 127.0.0.1:8000") from None


def _parse_url(text: str, protocol: Protocol | None, bad: Callable[[str], UserError]) -> tuple[Protocol, bool, str]:
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in SCHEMES:
            raise bad(f"unknown scheme {parts.scheme!r}; use http://, https://, grpc:// or grpcs://")
        scheme_protocol, ssl = SCHEMES[parts.scheme]
        if protocol is not None and protocol != scheme_protocol:
            raise bad(f"the scheme says {scheme_protocol} but the protocol asked is {protocol}; give host:port "
                      f"or a {protocol} URL")
        address = parts.netloc + parts.path.rstrip("/")
        protocol = scheme_protocol
    else:
        ssl = False
        address = text.rstrip("/")
        protocol = protocol or "http"
    split = urlsplit(f"//{address}")
    if not split.hostname or any(char.isspace() for char in address):
        raise bad("give host:port, e.g. 127.0.0.1:8000")
    try:
        port = split.port
    except ValueError:
        port = 0
    if port == 0:
        raise bad("the port must be a number from 1 to 65535, e.g. 127.0.0.1:8000")
    if protocol == "grpc" and "/" in address:
        raise bad("a gRPC address is host:port, without a path")
    return protocol, ssl, address


def _one_line(text: str) -> str:
    """The first paragraph of a server message on one line (Python tracebacks after it are left out)."""
    head = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    return " ".join(head.split())


def _state_text(entries: list[dict[str, Any]]) -> str:
    """What the repository index says about a model's versions, on one line."""
    if not entries:
        return "not in the server's model repository"
    parts = []
    for entry in entries:
        version = f"version {entry['version']} " if entry.get("version") else ""
        state = entry.get("state") or "not loaded"
        reason = _one_line(entry.get("reason", ""))
        parts.append(f"{version}{state}" + (f": {reason}" if reason else ""))
    return "; ".join(parts)
