"""OCI model deployments as a smoke Transport: a signed POST of a KServe v2 body to `{deployment URL}/predict`.

The OCI SDK's `predict()` cannot send custom headers, so requests go through `requests` with an OCI request
signer as `auth`. The body is built and read by tritonclient's own codec: KServe v2 JSON by default (what
Oracle's samples and ADS send), or Triton's binary tensor extension (`wire_format="binary"`, which needs the
`Inference-Header-Content-Length` header to pass the service's load balancer both ways: UNCONFIRMED). The
Triton model is chosen by routing headers whose names are configurable (`model-key` for the group's
inference key, `model_name`/`model_version` for Triton: the service's spelling is not documented), and the
version is always sent (ADS sends both): the case's, else the one Triton serves by default
(`default_versions`). `prepare` builds a request's body and headers once; each send then only signs and
POSTs it.

Secrets: the transport keeps only how to make a signer (`ApiKeySigner`: the OCI config file's path and
profile), builds the signer on first use, and never pickles it, so no private key reaches a Pulumi state.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from components.core.oci_target.lifecycle import ACTIVE, settled
from components.core.oci_target.settings import OciSmokeSettings, SmokeHeaders
from components.core.smoke.transport import SendsPrepared, Tensor, TransportError

HEADER_LENGTH = "Inference-Header-Content-Length"
EXCERPT_CHARS = 500
MAX_POLL_S = 30.0

WireFormat = Literal["json", "binary"]

Signer = Callable[[requests.PreparedRequest], requests.PreparedRequest]
"""A requests auth: `oci.signer.Signer` or a resource-principals signer."""
SignerFactory = Callable[[], Signer]
DeploymentState = Callable[[], tuple[str, str | None]]
"""Returns the deployment's (lifecycle state, lifecycle details), e.g. from DataScienceClient.get_model_deployment."""


@dataclass(frozen=True)
class ApiKeySigner:
    """Makes an `oci.signer.Signer` from a profile of an OCI config file, reading the key only when called."""

    config_file: str = "~/.oci/config"
    profile: str = "DEFAULT"

    def __call__(self) -> Signer:
        import oci.config
        import oci.signer

        config = oci.config.from_file(os.path.expanduser(self.config_file), self.profile)
        return oci.signer.Signer.from_config(config)


@dataclass(frozen=True)
class ResourcePrincipalSigner:
    """Makes a resource-principals signer (inside OCI: a notebook session, a job, a function)."""

    def __call__(self) -> Signer:
        import oci.auth.signers

        return oci.auth.signers.get_resource_principals_signer()


def signer_factory(smoke: OciSmokeSettings) -> SignerFactory:
    """The signer factory a stack's `smoke` settings ask for."""
    if smoke.auth == "resource_principal":
        return ResourcePrincipalSigner()
    return ApiKeySigner(smoke.config_file, smoke.profile)


class OciPredictTransport(SendsPrepared):
    """Sends smoke requests to an OCI model deployment's /predict endpoint. Safe to use from several threads.

    `endpoint` is the deployment's `model_deployment_url`. `deployment_state` is polled by `wait_ready`.
    `inference_keys` maps a Triton model name to its inference key in the model group (default: the same
    name). `headers` names the routing headers (each name in a list is sent with the same value; an empty
    list sends none). `default_versions` maps a model to the version sent when a case names none.
    `wire_format` is `json` (KServe v2 JSON bodies) or `binary` (Triton's binary tensor extension).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        signer_factory: SignerFactory,
        deployment_state: DeploymentState,
        headers: SmokeHeaders | None = None,
        inference_keys: Mapping[str, str] | None = None,
        default_versions: Mapping[str, int] | None = None,
        wire_format: WireFormat = "json",
        request_timeout_s: float = 60.0,
        active_timeout_s: float = 1800.0,
        poll_interval_s: float = 10.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.headers = headers or SmokeHeaders()
        self.inference_keys = dict(inference_keys or {})
        self.default_versions = dict(default_versions or {})
        if wire_format not in ("json", "binary"):
            raise ValueError(f"wire_format is json or binary, not {wire_format!r}")
        self.wire_format = wire_format
        self.request_timeout_s = request_timeout_s
        self.active_timeout_s = active_timeout_s
        self.poll_interval_s = poll_interval_s
        self._signer_factory = signer_factory
        self._deployment_state = deployment_state
        self._init_runtime()

    def _init_runtime(self) -> None:
        """What is made at run time and never pickled: the signer (it holds the private key) and sessions."""
        self._signer: Signer | None = None
        self._sessions: list[requests.Session] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in ("_signer", "_sessions", "_local", "_lock"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def wait_ready(self, models: Sequence[str], timeout_s: float) -> Mapping[str, str | None]:
        """Wait until the deployment is ACTIVE, polling with backoff, then check that requests can be signed.

        The wait is bounded by the larger of `timeout_s` and `active_timeout_s` (a deployment takes minutes
        to create). A deployment that ends FAILED, NEEDS_ATTENTION, INACTIVE or deleted, or that is not ACTIVE
        in time, raises TransportError with its lifecycle details. Models are not probed one by one (the
        service exposes no model readiness): each is reported ready, and its cases tell the rest.
        """
        budget = max(timeout_s, self.active_timeout_s)
        deadline = time.monotonic() + budget
        delay = self.poll_interval_s
        while True:
            state: str | None
            try:
                state, details = self._deployment_state()
            except Exception as exc:  # a failed lookup (network, throttling) is retried until the deadline
                state, details = None, f"the state lookup failed: {exc}"
            said = f": {details}" if details else ""
            if state == ACTIVE:
                break
            if settled(state):
                raise TransportError(f"the model deployment is {state}{said}", detail=details or "")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(f"the model deployment is still {state or 'unknown'} after {budget:g} s{said}",
                                     detail=details or "")
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, MAX_POLL_S)
        self._auth()
        return dict.fromkeys(models)

    def prepare(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> OciRequest:
        """Build the KServe v2 body and its headers once; TransportError when an input cannot be sent, or when
        no version is known for the model."""
        body, json_size = self._request_body(inputs, outputs, binary=self.wire_format == "binary")
        headers = {
            "Content-Type": "application/octet-stream" if json_size is not None else "application/json",
            "Accept-Encoding": "identity",
            **self._routing_headers(model, version),
        }
        if json_size is not None:
            headers[HEADER_LENGTH] = str(json_size)
        return OciRequest(self, f"{self.endpoint}/predict", body, headers, tuple(outputs))

    def close(self) -> None:
        """Close every HTTP session this transport opened, in any thread."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def __enter__(self) -> OciPredictTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _routing_headers(self, model: str, version: int | None) -> dict[str, str]:
        chosen = version if version is not None else self.default_versions.get(model)
        if chosen is None and self.headers.model_version:
            raise TransportError(f"no version is known for model {model}: the model_version header is always sent, "
                                 "so give the case a version")
        routing = {name: self.inference_keys.get(model, model) for name in self.headers.model_key}
        routing |= dict.fromkeys(self.headers.model_name, model)
        if chosen is not None:
            routing |= dict.fromkeys(self.headers.model_version, str(chosen))
        return routing

    @staticmethod
    def _request_body(inputs: Sequence[Tensor], outputs: Sequence[str], *, binary: bool) -> tuple[bytes, int | None]:
        given = []
        for tensor in inputs:
            infer_input = httpclient.InferInput(tensor.name, list(tensor.array.shape), tensor.datatype)
            try:
                infer_input.set_data_from_numpy(tensor.array, binary_data=binary)
            except InferenceServerException as exc:
                raise TransportError(f"input {tensor.name} cannot be sent: {exc.message()}") from None
            given.append(infer_input)
        wanted = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in outputs]
        body, json_size = httpclient.InferenceServerClient.generate_request_body(given, outputs=wanted)
        return (body.encode("utf-8") if isinstance(body, str) else body), json_size

    def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> requests.Response:
        try:
            response = self._session().post(url, data=body, headers=headers, auth=self._auth(),
                                             timeout=self.request_timeout_s)
        except requests.Timeout:
            raise TransportError(f"no answer within {self.request_timeout_s:g} s from {url}") from None
        except requests.RequestException as exc:
            raise TransportError(f"no answer from {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            said = _error_text(response.content)
            raise TransportError(f"HTTP {response.status_code}: {said}", status=response.status_code, detail=said)
        return response

    def _auth(self) -> Signer:
        """The signer, made on first use; a missing or bad OCI config is a TransportError naming it."""
        with self._lock:
            if self._signer is None:
                try:
                    self._signer = self._signer_factory()
                except Exception as exc:  # the OCI SDK raises many kinds: config, key, passphrase, metadata
                    raise TransportError(f"cannot sign requests ({self._signer_factory!r}): "
                                         f"{type(exc).__name__}: {exc}") from None
            return self._signer

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session


@dataclass(frozen=True)
class OciRequest:
    """A request built once by `OciPredictTransport.prepare`: each send signs and POSTs the same body and headers.

    Safe to send from several threads: the body and headers are only read, and each send uses the
    calling thread's session.
    """

    transport: OciPredictTransport
    url: str
    body: bytes
    headers: Mapping[str, str]
    outputs: tuple[str, ...]

    def send(self) -> dict[str, np.ndarray]:
        """POST the request once; return the requested outputs present in the answer. Raises TransportError."""
        response = self.transport._post(self.url, self.body, self.headers)
        header_length = response.headers.get(HEADER_LENGTH)
        try:
            result = httpclient.InferenceServerClient.parse_response_body(
                response.content, header_length=int(header_length) if header_length else None
            )
        except (ValueError, UnicodeDecodeError, InferenceServerException) as exc:
            raise TransportError(f"the answer is not a KServe v2 inference response: {exc}",
                                 status=response.status_code, detail=_excerpt(response.content)) from None
        return {name: array for name in self.outputs if (array := result.as_numpy(name)) is not None}


def _excerpt(content: bytes) -> str:
    return " ".join(content[:EXCERPT_CHARS].decode("utf-8", errors="replace").split())


def _error_text(content: bytes) -> str:
    """What an error answer says: Triton's `{"error": ...}`, OCI's `{"message": ...}`, or the body's start."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return _excerpt(content)
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return _excerpt(data[key].encode("utf-8"))
    return _excerpt(content)
