"""Serve a RepositoryPlan on a real local tritonserver: in this process, or detached and found again by record.

The modules, one job each: `server` (start, attach, stop: the server's life), `sync` (update a running server model
by model), `ports`, `processes` (process groups, shared memory, reaping), `ensembles` (load order), `state` (the
record in the state folder), `lock` (one operation at a time per folder), `local_repository` (the served folder),
`shim` (ONNX and TorchScript through the Python backend), `install` (the tritonserver of the wheel), `triton_api`
(its HTTP repository API), `passed` (the last passing release, for a rollback).
"""

from components.core.runtime.ports import choose_ports, free_port
from components.core.runtime.server import LocalServer, attach, is_serving, remove_state, stop
from components.core.runtime.shim import ShimResult, shim_plan
from components.core.runtime.state import ServerRecord, default_state_dir, recorded_state_dirs
from components.core.runtime.sync import SyncResult, sync

__all__ = [
    "LocalServer",
    "ServerRecord",
    "ShimResult",
    "SyncResult",
    "attach",
    "choose_ports",
    "default_state_dir",
    "free_port",
    "is_serving",
    "recorded_state_dirs",
    "remove_state",
    "shim_plan",
    "stop",
    "sync",
]
