"""How smoke cases reach a Triton: a small interface, so the checking logic never knows the wire.

Plain Triton v2 over HTTP or gRPC (`components.core.smoke.triton_transport`) and OCI model
deployments (a signed POST to /predict, `components.core.smoke.oci_transport`) both implement it.
A transport may also build a request once and send it many times (`PreparingTransport.prepare`):
`prepare_request` uses that when the transport has it and falls back to `Transport.infer` otherwise,
so the runner times only the request itself whatever the transport.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Tensor:
    """A named tensor and its Triton v2 datatype (FP32, INT64, BYTES, ...)."""

    name: str
    array: np.ndarray
    datatype: str


class TransportError(Exception):
    """The request did not get an answer (refused, timed out, 4xx/5xx): a failed case, not a wrong answer.

    `status` is the HTTP status when there was one; `detail` is what the server said; `refused`: the connection
    was refused (nothing listens at the address).
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = "", refused: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.refused = refused


class Transport(Protocol):
    """Sends one inference request; implementations must be safe to call from several threads."""

    endpoint: str
    """Where requests go, for reports (`http://127.0.0.1:8000`, an OCI deployment URL, ...)."""

    def wait_ready(self, models: Sequence[str], timeout_s: float) -> Mapping[str, str | None]:
        """Wait (bounded retries with backoff) until the server and each model are ready.

        Returns, per model, None when ready or the reason it is not (e.g. its load error).
        """
        ...

    def infer(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> dict[str, np.ndarray]:
        """Run one inference; return the requested outputs by name. Raises TransportError."""
        ...

    def close(self) -> None: ...


class PreparedRequest(Protocol):
    """One inference request built once (model, inputs, outputs, version) and sent as often as wanted."""

    def send(self) -> dict[str, np.ndarray]:
        """Send the request once; return the requested outputs present in the answer. Raises TransportError."""
        ...


class PreparingTransport(Transport, Protocol):
    """A Transport that can build a request once, so that sending it again costs only the request."""

    def prepare(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> PreparedRequest:
        """Build the request (may raise TransportError when an input cannot be sent); safe to send from any thread."""
        ...


class SendsPrepared:
    """Base of the transports that build requests with `prepare`: one `infer` is one prepared request, sent once."""

    def prepare(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> PreparedRequest:
        raise NotImplementedError

    def infer(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> dict[str, np.ndarray]:
        """Prepare the request and send it once; return the requested outputs present in the answer."""
        return self.prepare(model, inputs, outputs, version).send()


@dataclass(frozen=True)
class InferCall:
    """The PreparedRequest of a transport without `prepare`: each send is one `transport.infer` call."""

    transport: Transport
    model: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[str, ...]
    version: int | None = None

    def send(self) -> dict[str, np.ndarray]:
        return self.transport.infer(self.model, self.inputs, self.outputs, self.version)


def prepare_request(
    transport: Transport, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
) -> PreparedRequest:
    """`transport.prepare(...)` when the transport has it, else an `InferCall`. Raises TransportError."""
    if callable(getattr(transport, "prepare", None)):
        return cast(PreparingTransport, transport).prepare(model, inputs, outputs, version)
    return InferCall(transport, model, tuple(inputs), tuple(outputs), version)
