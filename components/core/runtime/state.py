"""The on-disk record of a local tritonserver, and how to tell that the recorded process is still that server.

A record (`<state_dir>/server.json`, written atomically) holds what a later process needs to find,
check, update and stop a server it did not start: pid, ports, paths and the digests of the models
served. A pid alone is not proof: pids are recycled, so the process must also have the recorded
start time (from /proc/<pid>/stat) and command line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from components._internal.atomic import write_bytes_atomic
from components.core.problems import Problem, UserError

RECORD_NAME = "server.json"
PASSED_DIR = "passed"
"""The last passing release's artifacts, kept for a rollback (components.core.runtime.passed)."""
RECORD_FORMAT = 1
LOCAL_STATE_ROOT = Path(".triton-groups") / "local"
"""Where a project keeps its local servers' state folders, relative to the project folder."""
_JSON_KINDS: dict[type, str] = {list: "an array", str: "a string", int: "a number", float: "a number",
                                bool: "a boolean", type(None): "null"}


def default_state_dir(name: str, project: Path | None = None) -> Path:
    """The state folder of the local server of group `name`: `<project>/.triton-groups/local/<name>`."""
    return (project or Path.cwd()) / LOCAL_STATE_ROOT / name


def recorded_state_dirs(project: Path | None = None) -> list[Path]:
    """Every state folder under `<project>/.triton-groups/local/` that holds a server record, sorted."""
    root = (project or Path.cwd()) / LOCAL_STATE_ROOT
    return sorted(path.parent for path in root.glob(f"*/{RECORD_NAME}"))


@dataclass(frozen=True)
class ServerRecord:
    """A started local server. `models` maps each served model to its digest; `shimmed` lists the shimmed ones.

    `shm_prefix` names the shared-memory regions of its Python stubs (in /dev/shm).
    """

    name: str
    state_dir: Path
    pid: int
    start_ticks: int
    command: tuple[str, ...]
    host: str
    http_port: int
    grpc_port: int
    metrics_port: int
    repository: Path
    log_file: Path
    install_root: Path
    shm_prefix: str = ""
    models: Mapping[str, str] = field(default_factory=dict)
    shimmed: tuple[str, ...] = ()
    started_at: str = ""

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        """host:port, as tritonclient.grpc expects it."""
        return f"{self.host}:{self.grpc_port}"

    @property
    def path(self) -> Path:
        return self.state_dir / RECORD_NAME

    def same_server(self, other: ServerRecord) -> bool:
        """True when both records describe one process (pid, start time, command line), whatever models they list."""
        return (self.pid, self.start_ticks, self.command) == (other.pid, other.start_ticks, other.command)

    def with_models(self, models: Mapping[str, str], shimmed: tuple[str, ...]) -> ServerRecord:
        return replace(self, models=dict(sorted(models.items())), shimmed=tuple(sorted(shimmed)))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(format=RECORD_FORMAT, command=list(self.command), models=dict(self.models),
                    shimmed=list(self.shimmed))
        for key in ("state_dir", "repository", "log_file", "install_root"):
            data[key] = str(data[key])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerRecord:
        return cls(
            name=str(data["name"]), state_dir=Path(data["state_dir"]), pid=int(data["pid"]),
            start_ticks=int(data["start_ticks"]), command=tuple(data["command"]), host=str(data["host"]),
            http_port=int(data["http_port"]), grpc_port=int(data["grpc_port"]),
            metrics_port=int(data["metrics_port"]), repository=Path(data["repository"]),
            log_file=Path(data["log_file"]), install_root=Path(data["install_root"]),
            shm_prefix=str(data.get("shm_prefix", "")), models=dict(data.get("models", {})),
            shimmed=tuple(data.get("shimmed", ())), started_at=str(data.get("started_at", "")),
        )

    def save(self) -> None:
        """Write the record atomically to `<state_dir>/server.json`."""
        write_bytes_atomic(self.path, (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode())

    @classmethod
    def find(cls, state_dir: Path | str) -> ServerRecord | None:
        """The record in `state_dir`, or None when there is none.

        UserError (code runtime.record) naming server.json when it cannot be read or is not a record
        (not UTF-8, not JSON, not a JSON object, fields missing), and (code runtime.state_dir) when
        `state_dir` is a file.
        """
        state_dir = Path(state_dir)
        path = state_dir / RECORD_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"it holds {_JSON_KINDS.get(type(data), 'a value')}, not a JSON object")
            if data.get("format") != RECORD_FORMAT:
                raise ValueError(f"unknown record format {data.get('format')!r}")
            return cls.from_json(data)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            where = "is a file" if state_dir.is_file() else "is below a file"
            raise UserError(Problem(
                str(state_dir), "", f"{where}, not a state folder, so no local server is recorded in it; give the "
                "folder the server was started with", "runtime.state_dir",
            )) from None
        except UnicodeDecodeError:
            raise UserError(_unreadable_record(path, "not UTF-8 text")) from None
        except OSError as exc:
            raise UserError(_unreadable_record(path, (exc.strerror or str(exc)).lower())) from None
        except KeyError as exc:
            raise UserError(_unreadable_record(path, f"its field {exc.args[0]!r} is missing")) from None
        except (ValueError, TypeError) as exc:
            raise UserError(_unreadable_record(path, str(exc))) from None

    @classmethod
    def load(cls, state_dir: Path | str) -> ServerRecord:
        """The record in `state_dir`; UserError when there is none."""
        record = cls.find(state_dir)
        if record is None:
            raise UserError(Problem(
                str(Path(state_dir) / RECORD_NAME), "", "no local server is recorded here; start one with "
                "`triton-groups serve` or `pulumi up`", "runtime.no_record",
            ))
        return record

    def forget(self) -> None:
        """Delete the record file (the server is stopped)."""
        self.path.unlink(missing_ok=True)


def _unreadable_record(path: Path, reason: str) -> Problem:
    """server.json that is not a record: how to find a server that may still run from its folder, then start over."""
    return Problem(
        str(path), "", f"not a readable local server record ({reason}); if a tritonserver still runs from "
        f"{path.parent}, end it by hand (`pgrep -af {path.parent}` lists it), then delete this file",
        "runtime.record",
    )


@dataclass(frozen=True)
class ProcessInfo:
    """What /proc says about one process."""

    pid: int
    state: str
    process_group: int
    start_ticks: int

    @property
    def running(self) -> bool:
        """False for zombies (exited, not yet reaped) and dead processes."""
        return self.state not in ("Z", "X")


def process_info(pid: int) -> ProcessInfo | None:
    """The process `pid` from /proc/<pid>/stat, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return ProcessInfo(pid=pid, state=fields[0], process_group=int(fields[2]), start_ticks=int(fields[19]))


def process_command(pid: int) -> tuple[str, ...] | None:
    """The argv of `pid` from /proc/<pid>/cmdline, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1])


def is_recorded_process(record: ServerRecord) -> bool:
    """True when `record.pid` runs and is the very process recorded (same start time and command line)."""
    info = process_info(record.pid)
    return (
        info is not None and info.running and info.start_ticks == record.start_ticks
        and process_command(record.pid) == record.command
    )


def process_group_members(group: int) -> list[int]:
    """The running processes (zombies left out) whose process group is `group`."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = process_info(int(entry))
            if info is not None and info.running and info.process_group == group:
                members.append(info.pid)
    return sorted(members)
