"""Serve a RepositoryPlan on a real local tritonserver (the CPU build shipped in the nvidia-pytriton wheel).

Two ways to run, one layout in a state folder (`repository/`, `server.log`, `server.json`):
- `LocalServer.start(plan, state_dir)`: a handle owned by this process (context manager); the
  server is stopped when the block ends, and also if this process dies.
- `LocalServer.start_detached(plan, state_dir)`: the server outlives this process. Later processes
  read `ServerRecord.load(state_dir)`, then `is_serving(record)`, `sync(record, plan)`, `stop(record)`.

Starting, updating and stopping hold the state folder's lock (`components.core.runtime.lock`), so two
processes never do them at once on one folder; a second one waits up to `lock_timeout_s`, then fails.
Each works from the record as it is on disk once the lock is held, so it sees what the previous one did.
Looking (`ServerRecord.load`, `is_serving`, `attach`) takes no lock.

The server runs in its own session and process group, which its Python backend stubs join, so
that stopping it can make sure nothing is left. Models are loaded explicitly by name; a model that
fails to load is reported by name with Triton's reason. ONNX and TorchScript models are served
through the Python-backend shim (`components.core.runtime.shim`). Linux only (/proc, /dev/shm).
"""

from __future__ import annotations

import datetime
import logging
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from components._internal.atomic import remove_empty_folders
from components.core.package import CACHE_NAME
from components.core.plan import RepositoryPlan, group_name, materialize
from components.core.problems import Problem, UserError
from components.core.runtime import triton_api
from components.core.runtime.install import TritonInstall, prepare_install, server_environment
from components.core.runtime.local_repository import (
    plan_digests,
)
from components.core.runtime.lock import LOCK_NAME, LOCK_TIMEOUT_S, state_lock
from components.core.runtime.ports import HOST, PORT_ATTEMPTS, PortClash, Ports, choose_ports, port_in_use
from components.core.runtime.processes import (
    CHILDREN,
    EXIT_TIMEOUT_S,
    POLL_S,
    SHM_PREFIX,
    STOP_GRACE_S,
    stop_with_parent,
    terminate,
)
from components.core.runtime.shim import shim_plan
from components.core.runtime.state import (
    PASSED_DIR,
    ServerRecord,
    is_recorded_process,
    process_info,
)
from components.core.runtime.sync import (
    LOAD_TIMEOUT_S,
    SyncResult,
    hash_cache,
    model_problem,
    ready,
    sync,
    wait_unloaded,
)
from components.core.tritonserver_flags import (
    BACKEND_DIRECTORY,
    CACHE_DIRECTORY,
    EXIT_TIMEOUT,
    GRPC_ADDRESS,
    GRPC_PORT,
    HTTP_ADDRESS,
    HTTP_PORT,
    LOAD_MODEL,
    LOCAL_FIXED_FLAGS,
    LOCAL_MANAGED_FLAGS,
    METRICS_ADDRESS,
    METRICS_PORT,
    MODEL_REPOSITORY,
    flag,
    flag_name,
)

LOG = logging.getLogger("triton_groups.runtime")

READY_TIMEOUT_S = 120.0
LOG_TAIL_LINES = 15
SERVER_LOG = "server.log"

def server_command(install: TritonInstall, repository: Path, models: Sequence[str], ports: Ports, shm_prefix: str,
                   extra_args: Sequence[str] = ()) -> list[str]:
    """The tritonserver command line: explicit model control, strict configs, loopback only, no exit on a bad model.

    `shm_prefix` names the Python stubs' shared-memory regions, so that a killed server's can be found.
    """
    command = [
        str(install.binary),
        flag(MODEL_REPOSITORY, repository),
        flag(BACKEND_DIRECTORY, install.backend_directory),
        flag(CACHE_DIRECTORY, install.cache_directory),
        *LOCAL_FIXED_FLAGS,
        *(flag(LOAD_MODEL, name) for name in models),
        flag(EXIT_TIMEOUT, EXIT_TIMEOUT_S),
        flag(HTTP_ADDRESS, HOST), flag(HTTP_PORT, ports.http),
        flag(GRPC_ADDRESS, HOST), flag(GRPC_PORT, ports.grpc),
        flag(METRICS_ADDRESS, HOST), flag(METRICS_PORT, ports.metrics),
        f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
    ]
    return [*command, *extra_args]


class LocalServer:
    """A local tritonserver owned by this process; `with LocalServer.start(...) as server:` stops it at the end."""

    def __init__(self, record: ServerRecord, process: subprocess.Popen[bytes], startup_seconds: float) -> None:
        self._record = record
        self._process = process
        self.startup_seconds = startup_seconds
        """Seconds from launching tritonserver to every model loaded and the HTTP endpoint answering."""

    @classmethod
    def start(cls, plan: RepositoryPlan, state_dir: Path | str, *, http_port: int | None = None,
              grpc_port: int | None = None, metrics_port: int | None = None,
              ready_timeout_s: float = READY_TIMEOUT_S, lock_timeout_s: float = LOCK_TIMEOUT_S) -> LocalServer:
        """Serve every model of `plan`; returns once all are loaded. UserError names each model that failed.

        Holds the state folder's lock until then (waiting up to `lock_timeout_s` for another process);
        UserError when a server already serves from `state_dir`.

        The server gets SIGTERM if the thread that started it ends (Linux parent-death signal): start it
        from the thread that will own it, usually the main thread.
        """
        record, process, seconds = _launch(plan, Path(state_dir), Ports(http_port or 0, grpc_port or 0,
                                                                         metrics_port or 0),
                                           detached=False, ready_timeout_s=ready_timeout_s,
                                           lock_timeout_s=lock_timeout_s)
        return cls(record, process, seconds)

    @staticmethod
    def start_detached(plan: RepositoryPlan, state_dir: Path | str, *, http_port: int | None = None,
                       grpc_port: int | None = None, metrics_port: int | None = None,
                       ready_timeout_s: float = READY_TIMEOUT_S,
                       lock_timeout_s: float = LOCK_TIMEOUT_S) -> ServerRecord:
        """Like `start`, but the server outlives this process; find it again with `ServerRecord.load(state_dir)`."""
        record, _, _ = _launch(plan, Path(state_dir), Ports(http_port or 0, grpc_port or 0, metrics_port or 0),
                               detached=True, ready_timeout_s=ready_timeout_s, lock_timeout_s=lock_timeout_s)
        return record

    @property
    def record(self) -> ServerRecord:
        return self._record

    @property
    def http_url(self) -> str:
        return self._record.http_url

    @property
    def grpc_url(self) -> str:
        return self._record.grpc_url

    @property
    def pid(self) -> int:
        return self._record.pid

    def sync(self, plan: RepositoryPlan, *, load_timeout_s: float = LOAD_TIMEOUT_S,
             lock_timeout_s: float = LOCK_TIMEOUT_S) -> SyncResult:
        """Update the served models to `plan` without a restart (see the module-level `sync`)."""
        result = sync(self._record, plan, load_timeout_s=load_timeout_s, lock_timeout_s=lock_timeout_s)
        self._record = result.record
        return result

    def wait(self, timeout_s: float | None = None) -> int | None:
        """The server's exit code once it ends, or None if it still runs after `timeout_s`."""
        try:
            return self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float = STOP_GRACE_S, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        """Stop the server and its stubs and forget its record (see the module-level `stop`)."""
        stop(self._record, grace_s=grace_s, lock_timeout_s=lock_timeout_s)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def attach(state_dir: Path | str) -> ServerRecord:
    """The record of the server serving from `state_dir`; UserError when none is recorded or it is not serving."""
    record = ServerRecord.load(state_dir)
    if not is_serving(record):
        raise UserError(Problem(
            str(record.path), "", f"the local server recorded here (pid {record.pid}, {record.http_url}) is not "
            f"serving; see {record.log_file}, then stop it and start it again", "runtime.not_serving",
        ))
    return record


def is_serving(record: ServerRecord) -> bool:
    """True when the recorded process is alive, is the very process recorded (not a recycled pid), and is ready."""
    return is_recorded_process(record) and triton_api.is_ready(record.http_url)


def stop(record: ServerRecord, grace_s: float = STOP_GRACE_S, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> bool:
    """Stop the recorded server and its Python stubs, then forget the record and the served repository.

    The models are unloaded first, all at once: tritonserver then exits at once on SIGTERM instead
    of polling its models' shutdown once a second. Returns True when processes were stopped, False
    when none was left. A recycled pid (another process now) is never signalled. See `terminate`.
    Holds the state folder's lock; if the folder records another server by then (this one was
    stopped and a new one started meanwhile), that server's record and repository are left alone.
    """
    with state_lock(record.state_dir, "stop", lock_timeout_s):
        return _stop_locked(record, grace_s)


def _stop_locked(record: ServerRecord, grace_s: float = STOP_GRACE_S) -> bool:
    info = process_info(record.pid)
    ours = is_recorded_process(record)
    # Recycled means another process now has the pid: its start time differs. The same start time with another
    # command line is this server while it exits (its /proc cmdline reads empty then): it must still be stopped.
    recycled = info is not None and info.running and info.start_ticks != record.start_ticks
    if ours:
        _unload_everything(record.http_url, time.monotonic() + grace_s)
    stopped = False if recycled else terminate(record.pid, record.shm_prefix, grace_s)
    if _replaced(record):
        return stopped
    record.forget()
    if record.repository.is_relative_to(record.state_dir):
        shutil.rmtree(record.repository, ignore_errors=True)
    return stopped


def remove_state(state_dir: Path) -> None:
    """Delete what a state folder holds for its servers once they are stopped for good (a destroy).

    The log, the lock file and an empty folder go; files the folder holds for others (an artifacts
    folder) are left. A folder that still records a running server is left whole (UserError).
    """
    with state_lock(state_dir, "remove"):
        record = ServerRecord.find(state_dir)
        if record is not None and is_recorded_process(record):
            raise UserError(Problem(str(state_dir), "", f"still records the running server pid {record.pid}; stop "
                                    "it first (`triton-groups stop --state-dir ...`)", "runtime.still_running"))
        if record is not None:
            record.forget()
        shutil.rmtree(state_dir / PASSED_DIR, ignore_errors=True)
        for name in (SERVER_LOG, LOCK_NAME, CACHE_NAME):
            (state_dir / name).unlink(missing_ok=True)
    remove_empty_folders(state_dir)


def _replaced(record: ServerRecord) -> bool:
    """True when `record`'s state folder now records another server (an unreadable record counts as not)."""
    try:
        current = ServerRecord.find(record.state_dir)
    except UserError:
        return False
    return current is not None and not current.same_server(record)


def _launch(plan: RepositoryPlan, state_dir: Path, wanted: Ports, *, detached: bool, ready_timeout_s: float,
            lock_timeout_s: float) -> tuple[ServerRecord, subprocess.Popen[bytes], float]:
    """Start a server under the state folder's lock; the lock file is close-on-exec, so the server never holds it."""
    state_dir = state_dir.resolve()
    with state_lock(state_dir, "start", lock_timeout_s):
        return _launch_locked(plan, state_dir, wanted, detached=detached, ready_timeout_s=ready_timeout_s)


def _launch_locked(plan: RepositoryPlan, state_dir: Path, wanted: Ports, *, detached: bool,
                   ready_timeout_s: float) -> tuple[ServerRecord, subprocess.Popen[bytes], float]:
    _clear_previous(state_dir)
    shim = shim_plan(plan)
    repository = materialize(shim.plan, state_dir / "repository")
    install = prepare_install()
    env = server_environment()
    models = sorted(shim.plan.models)
    log_file = state_dir / SERVER_LOG
    shm_prefix = f"{SHM_PREFIX}{secrets.token_hex(4)}_"
    for attempt in range(1, PORT_ATTEMPTS + 1):
        ports = choose_ports(wanted.http or None, wanted.grpc or None, wanted.metrics or None)
        command = server_command(install, repository, models, ports, shm_prefix, local_server_args(plan))
        started = time.monotonic()
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=state_dir,
                start_new_session=True, preexec_fn=None if detached else stop_with_parent, close_fds=True,
            )
        CHILDREN[process.pid] = process
        try:
            _wait_live(process, f"http://{HOST}:{ports.http}", log_file, started + ready_timeout_s)
            break
        except PortClash as clash:
            terminate(process.pid, shm_prefix, STOP_GRACE_S)
            given = {p for p in (wanted.http, wanted.grpc, wanted.metrics) if p}
            if attempt == PORT_ATTEMPTS or clash.port in given or (clash.port is None and len(given) == 3):
                raise UserError(port_in_use(clash.port, ports, wanted)) from None
            LOG.info("port %s picked for tritonserver was taken meanwhile; retrying with other ports", clash.port)
        except BaseException:
            terminate(process.pid, shm_prefix, STOP_GRACE_S)
            raise
    seconds = time.monotonic() - started
    info = process_info(process.pid)
    record = ServerRecord(
        name=group_name(plan), state_dir=state_dir,
        pid=process.pid, start_ticks=info.start_ticks if info else 0, command=tuple(command), host=HOST,
        http_port=ports.http, grpc_port=ports.grpc, metrics_port=ports.metrics, repository=repository,
        log_file=log_file, install_root=install.root, shm_prefix=shm_prefix, models={}, shimmed=(),
        started_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    try:
        index = triton_api.repository_index(record.http_url)
        failures = [
            model_problem(plan, name, f"Triton could not load model '{name}': "
                           f"{index[name].reason if name in index else 'not in the repository index'}")
            for name in models if not ready(index, name)
        ]
        if failures:
            raise UserError(failures)
        record = record.with_models(plan_digests(plan, hash_cache(state_dir)), shim.shimmed)
        record.save()
    except BaseException:
        _stop_locked(record)
        raise
    LOG.info("local tritonserver pid %s ready in %.2f s at %s (%d models%s)", record.pid, seconds, record.http_url,
             len(models), f"; through the shim: {', '.join(shim.shimmed)}" if shim.shimmed else "")
    return record, process, seconds


def _clear_previous(state_dir: Path) -> None:
    """Refuse to start over a serving server; clean up after one that is gone."""
    previous = ServerRecord.find(state_dir)
    if previous is None:
        return
    if is_serving(previous):
        raise UserError(Problem(
            str(previous.path), "", f"a local server already serves from here (pid {previous.pid}, "
            f"{previous.http_url}); update it, or stop it first (triton-groups stop --state-dir {state_dir})",
            "runtime.already_serving",
        ))
    _stop_locked(previous)


def _wait_live(process: subprocess.Popen[bytes], http_url: str, log_file: Path, deadline: float) -> None:
    """Wait until tritonserver answers on HTTP (it opens the port only after loading the startup models)."""
    while True:
        code = process.poll()
        if code is not None:
            tail = _log_tail(log_file)
            if "already in use" in tail:
                clash = re.search(r":(\d+)' already in use", tail)
                raise PortClash(int(clash.group(1)) if clash else None)
            raise UserError(Problem(str(log_file), "", f"tritonserver exited with code {code} while starting:\n"
                                    f"{tail}", "runtime.server_exited"))
        if triton_api.is_live(http_url, timeout_s=0.5):
            return
        if time.monotonic() > deadline:
            raise UserError(Problem(str(log_file), "", f"tritonserver did not answer at {http_url} in time; the "
                                    f"end of its log:\n{_log_tail(log_file)}", "runtime.start_timeout"))
        time.sleep(POLL_S)


def _unload_everything(http_url: str, deadline: float) -> None:
    """Ask Triton to unload every model it has and wait (until `deadline`) for it; no-op if it does not answer."""
    try:
        names = [name for name, state in triton_api.repository_index(http_url, timeout_s=1.0).items()
                 if state.state == "READY"]
        for name in names:
            triton_api.unload_model(http_url, name, timeout_s=1.0)
        wait_unloaded(http_url, names, deadline)
    except triton_api.TritonUnreachable:
        return


def local_server_args(plan: RepositoryPlan) -> list[str]:
    """The spec's server_args to pass to the local server: all but the flags the local runtime sets itself."""
    given = list(plan.spec.server_args) if plan.spec is not None else []
    kept: list[str] = []
    skip_value = False
    for arg in given:
        if skip_value and not arg.startswith("-"):
            skip_value = False
            continue
        skip_value = False
        name = flag_name(arg)
        if name in LOCAL_MANAGED_FLAGS:
            LOG.warning("server_args: %s is set by the local runtime; ignored when serving locally", name)
            skip_value = "=" not in arg
            continue
        kept.append(arg)
    return kept


def _log_tail(log_file: Path) -> str:
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    useful = [line for line in lines if not line.startswith(("|", "+"))]
    return "\n".join(useful[-LOG_TAIL_LINES:])


