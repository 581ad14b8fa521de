"""The Triton container of a model deployment: its command, environment and ports.

OCI unzips the model artifact read-only at `/opt/ds/model/deployed_model`; with `CONTAINER_TYPE=TRITON` the
service maps its /predict and health endpoints onto Triton's HTTP endpoints (Oracle's Triton sample). The
command is sent as the container's CMD (Pulumi's `cmds`); no ENTRYPOINT is sent, so the image's own stays.
"""

from __future__ import annotations

from components.core.oci.group import GroupSource, server_args
from components.core.oci.settings import TRITON_HTTP_PORT, OciSettings

NVIDIA_ENTRYPOINT = "/opt/nvidia/nvidia_entrypoint.sh"
"""The NGC images' entrypoint: sets up the environment, then runs its arguments. Oracle's sample starts with it."""

MODEL_REPOSITORY = "/opt/ds/model/deployed_model"
CONTAINER_TYPE = "CONTAINER_TYPE"
CONTAINER_ENVIRONMENT: dict[str, str] = {CONTAINER_TYPE: "TRITON"}
"""What every Triton deployment's container gets; user variables cannot override it."""

MANAGED_FLAGS = ("--model-repository", "--model-store", "--http-port")
"""tritonserver flags the command sets itself; a user's server_args must not repeat them."""


def triton_command(spec: GroupSource | None, settings: OciSettings) -> list[str]:
    """`[nvidia_entrypoint.sh,] tritonserver --model-repository=/opt/ds/model/deployed_model ...`.

    The spec's `server_args` come first, then the stack's `deployment.serverArgs` (OCI-only flags), then
    `--http-port` when `deployment.serverPort` is not Triton's default 8000. `spec` is a GroupSpec or a
    RepositoryPlan (a repository folder's has no server_args), or None.
    """
    deployment = settings.deployment
    command = [NVIDIA_ENTRYPOINT] if deployment.nvidia_entrypoint else []
    command += ["tritonserver", f"--model-repository={MODEL_REPOSITORY}"]
    command += server_args(spec) if spec is not None else []
    command += deployment.server_args
    if deployment.server_port != TRITON_HTTP_PORT:
        command.append(f"--http-port={deployment.server_port}")
    return command


def container_environment(settings: OciSettings) -> dict[str, str]:
    """The container's environment: the stack's `deployment.environment`, then `CONTAINER_TYPE=TRITON`."""
    return {**settings.deployment.environment, **CONTAINER_ENVIRONMENT}


def flag_name(arg: str) -> str:
    """`--http-port` from `--http-port=8001`."""
    return arg.split("=", 1)[0]
