"""Serve a RepositoryPlan on a real local tritonserver: in this process, or detached and found again by record."""

from components.core.runtime.server import (
    LocalServer,
    SyncResult,
    attach,
    choose_ports,
    free_port,
    group_name,
    is_serving,
    remove_state,
    stop,
    sync,
)
from components.core.runtime.shim import ShimResult, shim_plan
from components.core.runtime.state import ServerRecord, default_state_dir, recorded_state_dirs

__all__ = [
    "LocalServer",
    "ServerRecord",
    "ShimResult",
    "SyncResult",
    "attach",
    "choose_ports",
    "default_state_dir",
    "free_port",
    "group_name",
    "is_serving",
    "recorded_state_dirs",
    "remove_state",
    "shim_plan",
    "stop",
    "sync",
]
