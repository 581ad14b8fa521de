"""The Triton container of a model deployment: its entrypoint, command, environment and ports.

OCI unpacks the artifacts read-only below `deployment.modelRoot` (`/opt/ds/model/deployed_model`): a
SINGLE_MODEL deployment's zip straight there (Oracle's Triton sample), a model group's members either flat
or each below `<model OCID>/` (Oracle's ADS code for stacked groups; not documented for heterogeneous ones).
So the container does not point Triton at that folder. Its ENTRYPOINT (Pulumi's `entrypoints`) is a short
POSIX-sh step, `LAYOUT_SCRIPT`, that links every model folder it finds (a folder holding config.pbtxt, one
or two levels below the root) into one flat repository, `deployment.repositoryDir`, then execs its arguments;
its CMD (Pulumi's `cmds`) is `[nvidia_entrypoint.sh] tritonserver --model-repository=<repositoryDir> ...`.
The step needs only /bin/sh, mkdir, ln and ls, which any NGC tritonserver image has, and its size does not
grow with the number of models (OCI takes under 2048 bytes of ENTRYPOINT and CMD together). Sending an
ENTRYPOINT replaces the image's own, so NVIDIA's entrypoint script runs once, from the CMD. An ensemble
reaches its steps by name, so it works whichever member folders its steps came from.
"""

from __future__ import annotations

from components.core.oci_target.group import GroupSource, server_args
from components.core.oci_target.settings import TRITON_HTTP_PORT, OciSettings
from components.core.tritonserver_flags import HTTP_PORT, MODEL_REPOSITORY, flag

NVIDIA_ENTRYPOINT = "/opt/nvidia/nvidia_entrypoint.sh"
"""The NGC images' entrypoint: sets up the environment, then runs its arguments. Oracle's sample starts with it."""

SHELL = "/bin/sh"
ENTRYPOINT_NAME = "triton-groups-layout"
"""The entrypoint step's $0, as its messages and `ps` show it."""
LAYOUT_SCRIPT = """\
set -eu
s=$1 r=$2
shift 2
mkdir -p "$r"
for l in "$r"/*; do if [ -L "$l" ]; then rm -f "$l"; fi; done
n=0
for c in "$s"/*/config.pbtxt "$s"/*/*/config.pbtxt; do
[ -f "$c" ] || continue
d=${c%/config.pbtxt}
p=${d%/*}
if [ "$p" != "$s" ] && [ -f "$p/config.pbtxt" ]; then continue; fi
m=${d##*/}
if [ -e "$r/$m" ]; then echo "triton-groups: model $m is found twice under $s (again at $d)" >&2; exit 1; fi
ln -s "$d" "$r/$m"
n=$((n+1))
done
if [ $n = 0 ]; then echo "triton-groups: no model folder (holding config.pbtxt) 1 or 2 levels below $s:" >&2
ls -R "$s" >&2 || true; exit 1; fi
echo "triton-groups: $n models of $s linked in $r" >&2
exec "$@"
"""
"""`sh -c LAYOUT_SCRIPT <name> <modelRoot> <repositoryDir> <command...>`: link each model folder found under
the root into the repository folder, then exec the command. A folder below another model folder (a version
folder holding a config.pbtxt) is not a model; a model name found twice, or no model at all, stops the
container with a message in its log (the root's listing, for the second)."""

CONTAINER_TYPE = "CONTAINER_TYPE"
CONTAINER_ENVIRONMENT: dict[str, str] = {CONTAINER_TYPE: "TRITON"}
"""What every Triton deployment's container gets; user variables cannot override it."""

def container_entrypoint(settings: OciSettings) -> list[str]:
    """The ENTRYPOINT: the layout step over `deployment.modelRoot`, linking into `deployment.repositoryDir`."""
    deployment = settings.deployment
    return [SHELL, "-c", LAYOUT_SCRIPT, ENTRYPOINT_NAME, deployment.model_root, deployment.repository_dir]


def triton_command(spec: GroupSource | None, settings: OciSettings) -> list[str]:
    """The CMD: `[nvidia_entrypoint.sh,] tritonserver --model-repository=<repositoryDir> ...`.

    The spec's `server_args` come first, then the stack's `deployment.serverArgs` (OCI-only flags), then
    `--http-port` when `deployment.serverPort` is not Triton's default 8000. `spec` is a GroupSpec or a
    RepositoryPlan (a repository folder's has no server_args), or None.
    """
    deployment = settings.deployment
    command = [NVIDIA_ENTRYPOINT] if deployment.nvidia_entrypoint else []
    command += ["tritonserver", flag(MODEL_REPOSITORY, deployment.repository_dir)]
    command += server_args(spec) if spec is not None else []
    command += deployment.server_args
    if deployment.server_port != TRITON_HTTP_PORT:
        command.append(flag(HTTP_PORT, deployment.server_port))
    return command


def container_environment(settings: OciSettings) -> dict[str, str]:
    """The container's environment: the stack's `deployment.environment`, then `CONTAINER_TYPE=TRITON`."""
    return {**settings.deployment.environment, **CONTAINER_ENVIRONMENT}
