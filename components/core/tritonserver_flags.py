"""The tritonserver flags triton-groups sets itself: their names, how they are written, and which a user may not set.

One owner for both targets, so that the local server (`runtime.server.server_command`) and the OCI container
(`oci.command.triton_command`) write the repository and port flags alike, and so that the flags a spec's
`server_args` may not set are listed once: `MANAGED_FLAGS` on every target (OCI's pre-flight refuses them), and
`LOCAL_MANAGED_FLAGS`, which the local runtime also sets and drops from a spec's `server_args` with a warning.
"""

from __future__ import annotations

MODEL_REPOSITORY = "--model-repository"
MODEL_STORE = "--model-store"
"""Triton's older spelling of `--model-repository`."""
HTTP_PORT = "--http-port"
GRPC_PORT = "--grpc-port"
METRICS_PORT = "--metrics-port"
HTTP_ADDRESS = "--http-address"
GRPC_ADDRESS = "--grpc-address"
METRICS_ADDRESS = "--metrics-address"
BACKEND_DIRECTORY = "--backend-directory"
CACHE_DIRECTORY = "--cache-directory"
LOAD_MODEL = "--load-model"
EXIT_TIMEOUT = "--exit-timeout-secs"


def flag(name: str, value: object) -> str:
    """`--http-port=8001` from ('--http-port', 8001)."""
    return f"{name}={value}"


def flag_name(arg: str) -> str:
    """`--http-port` from `--http-port=8001`."""
    return arg.split("=", 1)[0]


MANAGED_FLAGS = frozenset({MODEL_REPOSITORY, MODEL_STORE, HTTP_PORT})
"""Set by triton-groups on every target: the repository Triton reads and its HTTP port."""

LOCAL_FIXED_FLAGS = (
    "--model-control-mode=explicit",
    "--disable-auto-complete-config",
    "--exit-on-error=false",
    "--strict-readiness=true",
)
"""What the local server always runs with: models loaded by name, configs taken as written, a model that fails to
load reported instead of stopping the server, readiness only once every model is ready."""

LOCAL_MANAGED_FLAGS = MANAGED_FLAGS | {flag_name(arg) for arg in LOCAL_FIXED_FLAGS} | frozenset({
    BACKEND_DIRECTORY, CACHE_DIRECTORY, LOAD_MODEL, GRPC_PORT, METRICS_PORT, HTTP_ADDRESS, GRPC_ADDRESS,
    METRICS_ADDRESS, EXIT_TIMEOUT, "--allow-http", "--allow-grpc", "--strict-model-config",
})
"""Also set (or fixed by their defaults) by the local runtime: `MANAGED_FLAGS`, `LOCAL_FIXED_FLAGS`, the install's
folders, the models to load, loopback addresses and ports, the exit timeout."""
