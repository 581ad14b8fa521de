"""The REAL local tritonserver (from the nvidia-pytriton wheel) serving plans made here: start, infer, fail, stop.

One module-scoped server holds four models: a Python-backend add/sub model, an ONNX model and a
TorchScript model (both through the Python-backend shim) and an ensemble over the ONNX model.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from processes import processes_using
from triton_models import (
    ADD_SUB_CONFIG,
    PYTHON_MODEL,
    SCALE_ONNX_CONFIG,
    write_add_sub,
    write_model,
    write_muldiff_torchscript,
    write_scale_onnx,
)

from components import cli
from components.core.plan import load_plan
from components.core.problems import UserError
from components.core.runtime import (
    LocalServer,
    ServerRecord,
    attach,
    choose_ports,
    free_port,
    is_serving,
    stop,
)
from components.core.runtime import ports as ports_module
from components.core.runtime.install import prepare_install, server_environment
from components.core.runtime.processes import SHARED_MEMORY
from components.core.runtime.server import local_server_args
from components.core.runtime.state import process_command, process_group_members, process_info

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

SCALE_CONFIG = SCALE_ONNX_CONFIG + """\
instance_group { kind: KIND_GPU count: 1 }
dynamic_batching { max_queue_delay_microseconds: 2000 }
"""
"""A GPU model with dynamic batching: the shim must serve it on the CPU and keep the batching."""

MULDIFF_CONFIG = """
name: "muldiff_torch"
platform: "pytorch_libtorch"
max_batch_size: 4
input { name: "INPUT__0" data_type: TYPE_FP32 dims: [3] }
input { name: "INPUT__1" data_type: TYPE_FP32 dims: [3] }
output { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [3] }
output { name: "OUTPUT__1" data_type: TYPE_FP32 dims: [3] }
"""

ENSEMBLE_CONFIG = """
name: "scale_twice"
platform: "ensemble"
max_batch_size: 8
input { name: "IN" data_type: TYPE_FP32 dims: [4] }
output { name: "OUT" data_type: TYPE_FP32 dims: [4] }
ensemble_scheduling {
  step {
    model_name: "scale_onnx" model_version: -1 input_map { key: "X" value: "IN" } output_map { key: "Y" value: "once" }
  }
  step {
    model_name: "scale_onnx" model_version: -1 input_map { key: "X" value: "once" } output_map { key: "Y" value: "OUT" }
  }
}
"""

BROKEN_INIT_CONFIG = """
name: "broken_init"
backend: "python"
max_batch_size: 0
input { name: "IN" data_type: TYPE_FP32 dims: [1] }
output { name: "OUT" data_type: TYPE_FP32 dims: [1] }
"""


def tensor(name: str, array: np.ndarray, module: ModuleType = httpclient) -> Any:
    """An FP32 input for `module`, tritonclient.http or tritonclient.grpc."""
    given = module.InferInput(name, list(array.shape), "FP32")
    given.set_data_from_numpy(array)
    return given


def add_sub(url: str) -> np.ndarray:
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    try:
        a, b = np.ones((1, 4), np.float32), np.arange(4, dtype=np.float32)[None]
        return client.infer("add_sub", [tensor("A", a), tensor("B", b)]).as_numpy("SUM")
    finally:
        client.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    repo = tmp_path_factory.mktemp("repo")
    write_add_sub(repo)
    write_scale_onnx(write_model(repo, "scale_onnx", SCALE_CONFIG) / "1" / "model.onnx")
    write_muldiff_torchscript(write_model(repo, "muldiff_torch", MULDIFF_CONFIG) / "1" / "model.pt")
    write_model(repo, "scale_twice", ENSEMBLE_CONFIG)
    with LocalServer.start(load_plan(repo), tmp_path_factory.mktemp("state")) as server:
        print(f"\nlocal tritonserver start-to-ready for 4 models (2 through the shim): "
              f"{server.startup_seconds:.2f} s (goal: under 3 s)")
        yield server


@pytest.mark.triton
def test_start_to_ready_is_measured(served: LocalServer) -> None:
    assert 0 < served.startup_seconds < 60


@pytest.mark.triton
def test_a_python_backend_model_answers(served: LocalServer) -> None:
    np.testing.assert_array_equal(add_sub(served.http_url), [[1, 2, 3, 4]])


@pytest.mark.triton
def test_an_onnx_model_answers_through_the_shim_with_batches(served: LocalServer) -> None:
    client = httpclient.InferenceServerClient(served.http_url.removeprefix("http://"))
    batch = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(client.infer("scale_onnx", [tensor("X", batch)]).as_numpy("Y"), batch * 2 + 1)
    config = client.get_model_config("scale_onnx")
    client.close()
    assert (config["backend"], config["max_batch_size"], config["instance_group"][0]["kind"]) == ("python", 8,
                                                                                                   "KIND_CPU")
    assert "dynamic_batching" in config


@pytest.mark.triton
def test_concurrent_requests_batched_together_each_get_their_own_answer(served: LocalServer) -> None:
    answers: dict[int, np.ndarray] = {}

    def ask(n: int) -> None:
        client = httpclient.InferenceServerClient(served.http_url.removeprefix("http://"))
        answers[n] = client.infer("scale_onnx", [tensor("X", np.full((1 + n % 2, 4), n, np.float32))]).as_numpy("Y")
        client.close()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(8):
        np.testing.assert_array_equal(answers[n], np.full((1 + n % 2, 4), n * 2 + 1, np.float32))


@pytest.mark.triton
def test_a_torchscript_model_answers_through_the_shim_over_grpc(served: LocalServer) -> None:
    client = grpcclient.InferenceServerClient(served.grpc_url)
    a = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    b = np.array([[2, 2, 2], [3, 3, 3]], np.float32)
    result = client.infer("muldiff_torch", [tensor("INPUT__0", a, grpcclient), tensor("INPUT__1", b, grpcclient)])
    client.close()
    np.testing.assert_array_equal(result.as_numpy("OUTPUT__0"), a * b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT__1"), a - b)


@pytest.mark.triton
def test_an_ensemble_over_a_shimmed_model_answers(served: LocalServer) -> None:
    client = httpclient.InferenceServerClient(served.http_url.removeprefix("http://"))
    result = client.infer("scale_twice", [tensor("IN", np.ones((1, 4), np.float32))]).as_numpy("OUT")
    client.close()
    np.testing.assert_array_equal(result, [[7, 7, 7, 7]])


@pytest.mark.triton
def test_the_record_describes_the_running_server(served: LocalServer) -> None:
    record = ServerRecord.load(served.record.state_dir)
    assert record == served.record
    assert is_serving(record)
    assert sorted(record.models) == ["add_sub", "muldiff_torch", "scale_onnx", "scale_twice"]
    assert record.shimmed == ("muldiff_torch", "scale_onnx")
    assert record.log_file.read_text().count("successfully loaded") == 4


@pytest.mark.triton
def test_a_model_that_fails_to_load_is_reported_by_name_with_tritons_reason(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_add_sub(repo)
    write_model(repo, "broken_init", BROKEN_INIT_CONFIG, {
        "1/model.py": "class TritonPythonModel:\n    def initialize(self, args):\n"
                      "        raise RuntimeError('weights file is corrupt')\n",
    })
    write_model(repo, "wrong_input", SCALE_CONFIG.replace('"scale_onnx"', '"wrong_input"').replace('"X"', '"XX"'))
    write_scale_onnx(repo / "wrong_input" / "1" / "model.onnx")
    state = tmp_path / "state"
    with pytest.raises(UserError) as raised:
        LocalServer.start(load_plan(repo), state)
    problems = {p.file: p.message for p in raised.value.problems}
    assert sorted(problems) == ["broken_init/config.pbtxt", "wrong_input/config.pbtxt"]
    assert "Triton could not load model 'broken_init'" in problems["broken_init/config.pbtxt"]
    assert "weights file is corrupt" in problems["broken_init/config.pbtxt"]
    assert "unknown inputs ['XX']" in problems["wrong_input/config.pbtxt"]
    assert "\nAt:" not in problems["broken_init/config.pbtxt"]
    assert processes_using(state) == []
    assert not (state / "server.json").exists()


def test_free_ports_are_distinct_and_free() -> None:
    given = free_port()
    ports = choose_ports(http_port=given)
    assert ports.http == given
    assert len({ports.http, ports.grpc, ports.metrics}) == 3
    for port in (ports.grpc, ports.metrics):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


@pytest.mark.triton
def test_a_port_taken_meanwhile_is_retried_with_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "repo").mkdir()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picks = iter([taken])
        monkeypatch.setattr(ports_module, "free_port", lambda host="127.0.0.1": next(picks, None) or free_port(host))
        with LocalServer.start(load_plan(tmp_path / "repo"), tmp_path / "state") as server:
            assert server.record.http_port != taken
            assert is_serving(server.record)


@pytest.mark.triton
@pytest.mark.parametrize(("option", "kind"), [("http_port", "HTTP"), ("grpc_port", "gRPC")])
def test_a_port_given_but_taken_is_reported(option: str, kind: str, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(UserError) as raised:
            LocalServer.start(load_plan(tmp_path / "repo"), tmp_path / "state", **{option: taken})
    assert str(raised.value) == (f"tritonserver could not listen on 127.0.0.1 port {taken}, the {kind} port asked "
                                 f"for: it is in use; give another {kind} port, or leave it out to get a free one, or "
                                 "stop what listens there")
    assert processes_using(tmp_path / "state") == []


@pytest.mark.triton
def test_a_detached_server_outlives_its_starter_and_stops_with_its_stubs(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    write_add_sub(tmp_path / "repo")
    state = tmp_path / "state"
    started = subprocess.run(
        [sys.executable, "-m", "components.cli", "serve", str(tmp_path / "repo"), "--detach",
         "--state-dir", str(state)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    record = attach(state)
    assert f"HTTP  {record.http_url}" in started.stdout
    np.testing.assert_array_equal(add_sub(record.http_url), [[1, 2, 3, 4]])
    group = process_group_members(record.pid)
    assert record.pid in group and len(group) >= 2, "the server and the add_sub stub share a process group"
    assert list(SHARED_MEMORY.glob(f"{record.shm_prefix}*")), "the stub's shared memory is named with the prefix"

    assert cli.main(["stop", "--state-dir", str(state)]) == 0
    assert "stopped: repo" in capsys.readouterr().out
    assert process_group_members(record.pid) == []
    assert list(SHARED_MEMORY.glob(f"{record.shm_prefix}*")) == []
    assert process_info(record.pid) is None or not process_info(record.pid).running  # type: ignore[union-attr]
    assert not is_serving(record)
    with pytest.raises(UserError, match="no local server is recorded here"):
        attach(state)


@pytest.mark.triton
def test_a_server_caught_while_exiting_is_still_stopped_with_its_stubs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_add_sub(tmp_path / "repo")
    record = LocalServer.start_detached(load_plan(tmp_path / "repo"), tmp_path / "state")
    assert len(process_group_members(record.pid)) > 1, "the server and its Python stub"
    # While a process exits, /proc/<pid>/cmdline reads empty but its start time is unchanged: same process.
    monkeypatch.setattr("components.core.runtime.state.process_command", lambda pid: ())

    assert stop(record)
    assert process_group_members(record.pid) == []


@pytest.mark.triton
def test_a_crashed_server_is_seen_as_gone_and_its_leftovers_are_cleaned(tmp_path: Path) -> None:
    write_add_sub(tmp_path / "repo")
    record = LocalServer.start_detached(load_plan(tmp_path / "repo"), tmp_path / "state")
    os.kill(record.pid, signal.SIGKILL)
    assert not is_serving(record)
    with pytest.raises(UserError, match="is not serving"):
        attach(tmp_path / "state")
    stop(record)
    assert process_group_members(record.pid) == []
    assert list(SHARED_MEMORY.glob(f"{record.shm_prefix}*")) == []
    assert ServerRecord.find(tmp_path / "state") is None


@pytest.mark.triton
def test_serve_in_the_foreground_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    write_add_sub(tmp_path / "repo")
    state = tmp_path / "state"
    serving = subprocess.Popen(
        [sys.executable, "-m", "components.cli", "serve", str(tmp_path / "repo"), "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = []
        while not lines or "press Ctrl-C" not in lines[-1]:
            line = serving.stdout.readline()  # type: ignore[union-attr]
            assert line, f"serve ended early: {''.join(lines)}"
            lines.append(line)
        record = ServerRecord.load(state)
        assert any(record.http_url in line for line in lines) and any(record.grpc_url in line for line in lines)
        np.testing.assert_array_equal(add_sub(record.http_url), [[1, 2, 3, 4]])
        serving.send_signal(signal.SIGINT)
        assert serving.wait(timeout=60) == 0
    finally:
        if serving.poll() is None:
            serving.kill()
    assert process_group_members(record.pid) == []
    assert ServerRecord.find(state) is None


def test_a_recycled_or_dead_pid_is_not_taken_for_the_server(tmp_path: Path) -> None:
    me = process_info(os.getpid())
    assert me is not None
    command = process_command(os.getpid()) or ()
    ports = choose_ports()
    alive_but_other = ServerRecord(
        name="g", state_dir=tmp_path, pid=os.getpid(), start_ticks=me.start_ticks + 1, command=command,
        host="127.0.0.1", http_port=ports.http, grpc_port=ports.grpc, metrics_port=ports.metrics,
        repository=tmp_path / "repository", log_file=tmp_path / "server.log", install_root=tmp_path,
    )
    assert not is_serving(alive_but_other)
    assert stop(alive_but_other) is False, "a recycled pid must never be signalled"
    other_command = ServerRecord(**{**alive_but_other.__dict__, "start_ticks": me.start_ticks, "command": ("x",)})
    assert not is_serving(other_command)
    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()
    dead = ServerRecord(**{**alive_but_other.__dict__, "pid": gone.pid})
    assert not is_serving(dead)
    assert stop(dead) is False


def test_the_server_copy_is_made_once_with_the_stub_for_this_python(tmp_path: Path) -> None:
    install = prepare_install(tmp_path)
    assert install.binary.is_file() and os.access(install.binary, os.X_OK)
    assert install.version.endswith(f"-py{sys.version_info.major}.{sys.version_info.minor}")
    assert (install.backend_directory / "python" / "triton_python_backend_stub").is_file()
    assert not (install.root / "python_backend_stubs").exists()
    made = install.binary.stat().st_mtime_ns
    assert prepare_install(tmp_path) == install
    assert install.binary.stat().st_mtime_ns == made
    assert [p.name for p in install.root.parent.iterdir()] == [install.root.name], "no temporary copy left"


def test_the_server_environment_finds_its_libraries_and_this_python() -> None:
    env = server_environment({"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/lib"})
    libraries = env["LD_LIBRARY_PATH"].split(os.pathsep)
    assert libraries[0].endswith("nvidia_pytriton.libs") and Path(libraries[0]).is_dir()
    assert libraries[-1] == "/opt/lib"
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/usr/bin"]


def test_spec_server_args_pass_through_except_the_flags_the_runtime_sets(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(PYTHON_MODEL)
    (tmp_path / "group.yaml").write_text(
        "name: g\n"
        "server_args: ['--log-verbose=1', '--http-port', '9000', '--model-repository=/elsewhere', '--log-info']\n"
        "models:\n"
        "  - {name: add_sub, backend: python, versions: {1: model.py}}\n"
    )
    assert local_server_args(load_plan(tmp_path / "group.yaml")) == ["--log-verbose=1", "--log-info"]


def test_serve_refuses_a_repository_that_does_not_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_model(tmp_path / "repo", "add_sub", ADD_SUB_CONFIG.format(name="other"), {"1/model.py": PYTHON_MODEL})
    assert cli.main(["serve", str(tmp_path / "repo"), "--state-dir", str(tmp_path / "state")]) == 1
    assert "not served, fix the problems above first" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()
