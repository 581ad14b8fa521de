"""The few Triton HTTP calls the runtime needs: health, the repository index, load and unload.

Each call opens its own connection and closes it, so no idle keep-alive connection delays the
server's shutdown (tritonserver waits for open HTTP connections until its exit timeout).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class TritonUnreachable(Exception):
    """The server did not answer (not listening yet, gone, or timed out)."""


@dataclass(frozen=True)
class ModelState:
    """One row of Triton's repository index: READY, UNAVAILABLE, LOADING, UNLOADING; reason when not ready."""

    name: str
    version: str
    state: str
    reason: str = ""


@dataclass(frozen=True)
class CallResult:
    status: int
    body: Any


def call(base_url: str, path: str, body: Any = None, *, timeout_s: float = 5.0) -> CallResult:
    """GET (no body) or POST (JSON body) `path`; a 4xx/5xx is a result, no answer raises TritonUnreachable."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base_url}{path}", data=data, method="GET" if body is None else "POST",
                                     headers={"Connection": "close", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return CallResult(response.status, _json(response.read()))
    except urllib.error.HTTPError as exc:
        return CallResult(exc.code, _json(exc.read()))
    except (urllib.error.URLError, OSError) as exc:
        raise TritonUnreachable(f"{base_url}{path}: {exc}") from None


def is_live(base_url: str, timeout_s: float = 1.0) -> bool:
    try:
        return call(base_url, "/v2/health/live", timeout_s=timeout_s).status == 200
    except TritonUnreachable:
        return False


def is_ready(base_url: str, timeout_s: float = 1.0) -> bool:
    """Server ready: Triton's strict readiness also requires every loaded model to be ready."""
    try:
        return call(base_url, "/v2/health/ready", timeout_s=timeout_s).status == 200
    except TritonUnreachable:
        return False


def repository_index(base_url: str, timeout_s: float = 5.0) -> dict[str, ModelState]:
    """Every model Triton knows in its repository, with its state and the reason it is not ready."""
    result = call(base_url, "/v2/repository/index", {}, timeout_s=timeout_s)
    if result.status != 200:
        raise TritonUnreachable(f"repository index answered {result.status}: {result.body}")
    return {
        row["name"]: ModelState(row["name"], str(row.get("version", "")), row.get("state", ""),
                                clean_reason(row.get("reason", "")))
        for row in result.body
    }


def load_model(base_url: str, name: str, timeout_s: float) -> str | None:
    """(Re)load `name` from the repository; None when loaded, else Triton's reason."""
    result = call(base_url, f"/v2/repository/models/{name}/load", {}, timeout_s=timeout_s)
    return None if result.status == 200 else _error_text(result)


def unload_model(base_url: str, name: str, timeout_s: float) -> str | None:
    """Ask Triton to unload `name` (not its dependents); None when accepted, else Triton's reason.

    Triton unloads in the background: the model is UNLOADING until its instances are gone.
    """
    result = call(base_url, f"/v2/repository/models/{name}/unload",
                  {"parameters": {"unload_dependents": False}}, timeout_s=timeout_s)
    return None if result.status == 200 else _error_text(result)


def clean_reason(text: str) -> str:
    """Triton's reason without the Python stub's `At:` traceback and trailing separators."""
    return text.split("\n\nAt:", 1)[0].strip().rstrip(";").strip()


def _error_text(result: CallResult) -> str:
    if isinstance(result.body, dict) and "error" in result.body:
        return clean_reason(str(result.body["error"]))
    return f"HTTP {result.status}: {result.body}"


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
