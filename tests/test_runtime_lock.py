"""One process at a time per state folder: starts, syncs and stops of a local server are serialized by a lock.

Other processes are real ones (`python -c ...`, the CLI); the server is a REAL detached tritonserver
serving a Python-backend add/sub model, started once for the module by `triton-groups serve --detach`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import servers_using
from triton_models import write_add_sub

from components.core.plan import load_plan
from components.core.problems import UserError
from components.core.runtime import LocalServer, ServerRecord, attach, is_serving, stop, sync
from components.core.runtime.lock import LOCK_NAME, lock_holder, state_lock
from components.core.runtime.state import process_command, process_group_members, process_info

HOLD_LOCK = """
import sys
from components.core.runtime.lock import state_lock
with state_lock(sys.argv[1], "sync"):
    print("held", flush=True)
    sys.stdin.read()
"""
"""Holds the lock of the folder argv[1] until its stdin closes."""

SYNC = """
import json, sys
from components.core.plan import load_plan
from components.core.runtime import attach, sync
record, plan = attach(sys.argv[1]), load_plan(sys.argv[2])
result = sync(record, plan)
print(json.dumps({"loaded": result.loaded, "unchanged": result.unchanged, "models": sorted(result.record.models)}))
"""
"""Reads the record of the server in argv[1] first, then syncs it to the repository argv[2]."""


def write_repository(root: Path, names: tuple[str, ...] = ("add_sub",), startup_s: float = 0) -> Path:
    for name in names:
        write_add_sub(root, name, startup_s)
    return root


def python(script: str, *args: object, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def hold_lock(state_dir: Path) -> subprocess.Popen[str]:
    """Another process holding the lock of `state_dir` (close its stdin to release it, or kill it)."""
    holder = python(HOLD_LOCK, state_dir, stdin=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n", holder.communicate()
    return holder


def open_files(pid: int) -> list[str]:
    folder = Path(f"/proc/{pid}/fd")
    return [os.readlink(folder / fd) for fd in os.listdir(folder)]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The state folder of a detached server started by another process (the CLI), serving add_sub."""
    state = tmp_path_factory.mktemp("state")
    repo = write_repository(tmp_path_factory.mktemp("base") / "repo")
    subprocess.run([sys.executable, "-m", "components.cli", "serve", str(repo), "--detach", "--state-dir", str(state)],
                   capture_output=True, text=True, timeout=120, check=True)
    yield state
    record = ServerRecord.find(state)
    if record is not None:
        stop(record)


@pytest.fixture
def record(state_dir: Path, tmp_path: Path) -> ServerRecord:
    """The detached server's record, synced back to serving add_sub alone."""
    return sync(attach(state_dir), load_plan(write_repository(tmp_path / "base"))).record


def test_a_held_lock_makes_a_start_wait_then_fail_naming_the_folder_and_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = load_plan(write_repository(tmp_path / "repo"))
    holder = hold_lock(state)
    try:
        began = time.monotonic()
        with pytest.raises(UserError) as raised:
            LocalServer.start_detached(plan, state, lock_timeout_s=1.0)
        waited = time.monotonic() - began
    finally:
        holder.communicate("")
    [problem] = raised.value.problems
    assert problem.code == "runtime.busy" and problem.file == str(state)
    assert f"another process (pid {holder.pid}, sync) is starting, updating or stopping the local server in " \
           f"{state}, and did not finish within 1 s, so this start did not run" in problem.message
    assert f"kill {holder.pid}" in problem.message
    assert 1.0 <= waited < 10.0
    assert ServerRecord.find(state) is None and not (state / "server.log").exists() and servers_using(state) == []
    assert lock_holder(state) is None, "released: the file no longer names a holder"


def test_the_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path)
    with pytest.raises(UserError, match=f"pid {holder.pid}"), state_lock(tmp_path, "stop", timeout_s=0):
        pass
    holder.kill()
    holder.communicate()
    with state_lock(tmp_path, "stop", timeout_s=1.0) as lock:
        assert lock == tmp_path / LOCK_NAME
        assert lock.read_text() == f"{os.getpid()} stop\n"


@pytest.mark.triton
def test_looking_at_a_server_needs_no_lock(record: ServerRecord) -> None:
    with state_lock(record.state_dir, "sync", timeout_s=0):
        assert ServerRecord.load(record.state_dir) == record
        assert is_serving(attach(record.state_dir))


@pytest.mark.triton
def test_a_detached_server_never_holds_the_lock(record: ServerRecord, tmp_path: Path) -> None:
    assert process_info(record.pid) is not None, "the server runs, its starter (the CLI) is gone"
    lock = str(record.state_dir / LOCK_NAME)
    assert all(lock not in open_files(pid) for pid in process_group_members(record.pid))
    result = sync(record, load_plan(write_repository(tmp_path / "same")), lock_timeout_s=0)
    assert not result.changed and is_serving(result.record)


@pytest.mark.triton
def test_two_concurrent_syncs_run_one_after_the_other_and_the_second_sees_the_first(record: ServerRecord,
                                                                                    tmp_path: Path) -> None:
    target = write_repository(tmp_path / "next", names=("add_sub", "sub_only"))
    with state_lock(record.state_dir, "sync"):
        syncs = [python(SYNC, record.state_dir, target) for _ in range(2)]
        for child in syncs:
            assert child.stderr is not None
            line = child.stderr.readline()
            assert "waiting up to 300 s for another process" in line, line + child.stderr.read()
    results = []
    for child in syncs:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    first, second = sorted(results, key=lambda r: r["loaded"], reverse=True)
    assert first["loaded"] == ["sub_only"] and first["unchanged"] == ["add_sub"]
    assert second["loaded"] == [] and second["unchanged"] == ["add_sub", "sub_only"], "it started from the first's"
    assert first["models"] == second["models"] == sorted(ServerRecord.load(record.state_dir).models)


@pytest.mark.triton
def test_a_stop_from_an_outdated_record_leaves_the_server_recorded_now_alone(record: ServerRecord) -> None:
    earlier = ServerRecord(**{**record.__dict__, "start_ticks": record.start_ticks - 1})
    assert stop(earlier) is False
    assert ServerRecord.load(record.state_dir) == record and record.repository.is_dir()
    assert is_serving(record)


@pytest.mark.triton
def test_a_starter_killed_while_it_holds_the_lock_leaves_it_free_though_its_server_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    repo = write_repository(tmp_path / "repo", startup_s=3)
    starter = subprocess.Popen([sys.executable, "-m", "components.cli", "serve", str(repo), "--detach",
                                "--state-dir", str(state)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not servers_using(state) and time.monotonic() < deadline:
        time.sleep(0.01)
    [server] = servers_using(state)
    try:
        assert lock_holder(state) is not None and lock_holder(state).pid == starter.pid  # type: ignore[union-attr]
        starter.kill()
        starter.wait()
        command = process_command(server)
        info = process_info(server)
        assert command is not None and info is not None and info.running, "the detached server outlives its starter"
        assert ServerRecord.find(state) is None, "killed before the server was ready: nothing recorded"
        flags = dict(arg.rsplit("=", 1) for arg in command if "=" in arg)
        orphan = ServerRecord(
            name="repo", state_dir=state, pid=server, start_ticks=info.start_ticks, command=command,
            host="127.0.0.1", http_port=int(flags["--http-port"]), grpc_port=int(flags["--grpc-port"]),
            metrics_port=int(flags["--metrics-port"]), repository=state / "repository",
            log_file=state / "server.log", install_root=tmp_path,
            shm_prefix=flags["--backend-config=python,shm-region-prefix-name"],
        )
        assert stop(orphan, lock_timeout_s=0) is True
        assert process_group_members(server) == []
    finally:
        starter.kill()
        starter.wait()
        if process_group_members(server):
            os.kill(server, signal.SIGTERM)
