"""`make clean` never orphans a running local server: it stops the servers recorded under .triton-groups/local/
before deleting their state, and keeps that state when it cannot stop them.

Each test runs the project's real Makefile in a scratch folder of its own. Its `.venv` there is a folder of the
test's holding a link to the real `triton-groups` command, so the `rm -rf .venv` of `make clean` removes only that.
The server is a REAL detached tritonserver.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from processes import servers_using
from triton_models import one_model_repository

from components.core.runtime import ServerRecord, stop

PROJECT = Path(__file__).resolve().parents[1]
COMMAND = Path(sys.executable).parent / "triton-groups"
ENV = {**os.environ, "PYTHONPATH": str(PROJECT)}


def scratch_project(root: Path, with_venv: bool = True) -> Path:
    project = root / "project"
    project.mkdir()
    shutil.copy(PROJECT / "Makefile", project / "Makefile")
    if with_venv:
        (project / ".venv" / "bin").mkdir(parents=True)
        (project / ".venv" / "bin" / "triton-groups").symlink_to(COMMAND)
    return project


def make_clean(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "clean"], cwd=project, capture_output=True, text=True, timeout=120, env=ENV)


@pytest.mark.triton
def test_make_clean_stops_a_running_server_before_deleting_its_state(tmp_path: Path) -> None:
    project = scratch_project(tmp_path)
    state = project / ".triton-groups" / "local" / "g"
    repo = one_model_repository(tmp_path)
    subprocess.run([sys.executable, "-m", "components.cli", "serve", str(repo), "--detach", "--state-dir", str(state)],
                   capture_output=True, text=True, timeout=120, check=True, env=ENV)
    record = ServerRecord.load(state)
    try:
        assert servers_using(state) == [record.pid]

        result = make_clean(project)

        assert result.returncode == 0, result.stderr
        assert f"stopped: {record.name} (pid {record.pid}, {state})" in result.stdout
        assert servers_using(state) == []
        assert not (project / ".triton-groups").exists() and not (project / ".venv").exists()
        assert COMMAND.exists()
    finally:
        if servers_using(state):
            stop(record)


def test_make_clean_without_a_venv_keeps_the_server_state_and_says_why(tmp_path: Path) -> None:
    project = scratch_project(tmp_path, with_venv=False)
    (project / ".triton-groups" / "local" / "g").mkdir(parents=True)

    result = make_clean(project)

    assert result.returncode != 0
    assert "make clean: kept .triton-groups/: it may hold the state of running local servers and there is no .venv " \
           "to stop them with; run make stop, then make clean" in result.stderr
    assert (project / ".triton-groups" / "local" / "g").is_dir()
