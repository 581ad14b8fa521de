"""The OCI deployment's container serves a model group whichever way OCI unpacks its members.

OCI unpacks a MODEL_GROUP deployment's members below /opt/ds/model/deployed_model, either flat or each below
`<model OCID>/` (Oracle's ADS code; not documented for heterogeneous groups). This test builds a group of
Python-backend models and an ensemble with the project's own program (the `dev` stack, per-model layout,
under Pulumi mocks), lays the real per-model artifacts out both ways in a temporary folder, and runs the
deployment's exact ENTRYPOINT and CMD, as registered, with only these remapped: the two container folders
into the temporary folder, NVIDIA's entrypoint script (absent here) to `env`, and `tritonserver` to the
local one with the flags this machine needs (backend folder, ports on 127.0.0.1). The real tritonserver
then loads every model and the ensemble reaches its steps across member folders: the spec's smoke cases
pass over HTTP.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from oci_stack_harness import MODEL, MODEL_DEPLOYMENT, OciStackHarness, oci_project, stack_config

from components.core.oci_target.command import NVIDIA_ENTRYPOINT
from components.core.oci_target.settings import MODEL_ROOT, REPOSITORY_DIR
from components.core.runtime.install import prepare_install, server_environment
from components.core.runtime.ports import choose_ports
from components.core.runtime.processes import SHARED_MEMORY
from components.core.smoke.runner import run_smoke
from components.core.smoke.triton_transport import TritonTransport
from components.core.spec import load_spec

MODEL_PY = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.scale, self.shift = (2.0, 0.0) if args["model_name"] == "double" else (1.0, 1.0)

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "X").as_numpy()
            y = (x * self.scale + self.shift).astype(np.float32)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("Y", y)]))
        return responses
"""

GROUP = """\
name: chain
models:
  - name: double
    backend: python
    versions: {1: model.py}
    inputs: [{name: X, data_type: FP32, dims: [-1]}]
    outputs: [{name: Y, data_type: FP32, dims: [-1]}]
    smoke:
      - {name: twice, inputs: {X: {value: [1, 2.5]}}, expect: {Y: {match: exact, value: [2, 5], datatype: FP32}}}
  - name: inc
    backend: python
    versions: {1: model.py}
    inputs: [{name: X, data_type: FP32, dims: [-1]}]
    outputs: [{name: Y, data_type: FP32, dims: [-1]}]
    smoke:
      - {name: plus_one, inputs: {X: {value: [1, 2.5]}}, expect: {Y: {match: exact, value: [2, 3.5], datatype: FP32}}}
  - name: double_then_inc
    platform: ensemble
    inputs: [{name: X, data_type: FP32, dims: [-1]}]
    outputs: [{name: Y, data_type: FP32, dims: [-1]}]
    ensemble:
      steps:
        - {model: double, input_map: {X: X}, output_map: {Y: doubled}}
        - {model: inc, input_map: {X: doubled}, output_map: {Y: Y}}
    smoke:
      - {name: chained, inputs: {X: {value: [1, 2.5]}}, expect: {Y: {match: exact, value: [3, 6], datatype: FP32}}}
"""
MODELS = ("double", "inc", "double_then_inc")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, OciStackHarness]:
    """The dev stack deploying the chain group (per-model layout), under mocks: the artifacts are really built."""
    project, credentials = oci_project(tmp_path_factory.mktemp("oci"))
    folder = project / "groups" / "chain"
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(MODEL_PY)
    (folder / "group.yaml").write_text(GROUP)
    harness = OciStackHarness(stack_config(project, credentials, spec="groups/chain/group.yaml"), project=project)
    harness.up()
    return project, harness


def lay_out(project: Path, harness: OciStackHarness, root: Path, per_ocid: bool) -> None:
    """Unzip each member's catalog artifact into `root`, flat or below its model OCID, as OCI would."""
    for model in harness.registered(MODEL):
        state = harness.resource(model.name)
        target = root / state.id if per_ocid else root
        with zipfile.ZipFile(project / model.inputs["modelArtifact"]) as archive:
            archive.extractall(target)


def local_argv(container: list[str], root: Path, repository: Path, http_port: int, grpc_port: int,
               metrics_port: int, shm_prefix: str) -> list[str]:
    """The container's argv with its folders, NVIDIA's script and tritonserver remapped to this machine."""
    install = prepare_install()
    argv = []
    for arg in container:
        arg = arg.replace(MODEL_ROOT, str(root)).replace(REPOSITORY_DIR, str(repository))
        argv.append({NVIDIA_ENTRYPOINT: "env", "tritonserver": str(install.binary)}.get(arg, arg))
    return [*argv, f"--backend-directory={install.backend_directory}",
            f"--cache-directory={install.cache_directory}", "--http-address=127.0.0.1", f"--http-port={http_port}",
            "--grpc-address=127.0.0.1", f"--grpc-port={grpc_port}", "--metrics-address=127.0.0.1",
            f"--metrics-port={metrics_port}", f"--backend-config=python,shm-region-prefix-name={shm_prefix}"]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    servers: list[subprocess.Popen[bytes]] = []
    yield servers
    for server in servers:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


@pytest.mark.triton
@pytest.mark.parametrize("per_ocid", [False, True], ids=["flat", "per-model-ocid"])
def test_the_deployments_entrypoint_and_command_serve_both_layouts(
    deployed: tuple[Path, OciStackHarness], per_ocid: bool, tmp_path: Path, started: list[subprocess.Popen[bytes]],
) -> None:
    project, harness = deployed
    environment = harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"][
        "environmentConfigurationDetails"]
    container = [*environment["entrypoints"], *environment["cmds"]]
    assert container.count(NVIDIA_ENTRYPOINT) == 1
    root, repository = tmp_path / "deployed_model", tmp_path / "links"
    lay_out(project, harness, root, per_ocid)
    if per_ocid:
        assert sorted(path.name for path in root.iterdir()) == sorted(
            harness.resource(f"group-{model}-model").id for model in MODELS)
    ports = choose_ports()
    shm_prefix = f"triton_groups_layout_{os.getpid()}_"
    log = tmp_path / "container.log"
    argv = local_argv(container, root, repository, ports.http, ports.grpc, ports.metrics, shm_prefix)
    with log.open("wb") as output:
        server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                  env=server_environment(), start_new_session=True)
    started.append(server)
    spec = load_spec(project / "groups" / "chain" / "group.yaml")
    try:
        with TritonTransport(f"http://127.0.0.1:{ports.http}") as transport:
            report = run_smoke(spec, transport, timeout_s=120)
    finally:
        for region in SHARED_MEMORY.glob(f"{shm_prefix}*"):
            region.unlink(missing_ok=True)
    assert report.passed, f"{report.summary()}\n{log.read_text(errors='replace')}"
    assert {case.model for case in report.cases} == set(MODELS)
    assert f"triton-groups: 3 models of {root} linked in {repository}" in log.read_text(errors="replace")
    assert sorted(path.name for path in repository.iterdir()) == sorted(MODELS)


def run_entrypoint(container: list[str], root: Path, repository: Path) -> subprocess.CompletedProcess[str]:
    """Run the container's ENTRYPOINT with `ls -1 <repository>` as its command."""
    entrypoint = [arg.replace(MODEL_ROOT, str(root)).replace(REPOSITORY_DIR, str(repository)) for arg in container]
    return subprocess.run([*entrypoint, "ls", "-1", str(repository)], capture_output=True, text=True, timeout=60)


def test_the_entrypoint_links_500_members_below_their_ocids(deployed: tuple[Path, OciStackHarness],
                                                            tmp_path: Path) -> None:
    _, harness = deployed
    entrypoint = harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"][
        "environmentConfigurationDetails"]["entrypoints"]
    root = tmp_path / "deployed_model"
    for index in range(500):
        model = root / f"ocid1.datasciencemodel.oc1.iad.{index:04d}" / f"model_{index:03d}"
        (model / "1").mkdir(parents=True)
        (model / "config.pbtxt").write_text(f'name: "model_{index:03d}"\n')
        (model / "1" / "config.pbtxt").write_text("a file of a version folder is not a model\n")
    (root / "ocid1.datasciencemodel.oc1.iad.0000" / "model_000.manifest.json").write_text("{}")

    done = run_entrypoint(entrypoint, root, tmp_path / "links")

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"model_{index:03d}" for index in range(500)]
    assert f"triton-groups: 500 models of {root} linked in {tmp_path / 'links'}" in done.stderr


def test_the_entrypoint_stops_on_a_model_found_twice_or_none(deployed: tuple[Path, OciStackHarness],
                                                             tmp_path: Path) -> None:
    _, harness = deployed
    entrypoint = harness.one(MODEL_DEPLOYMENT).inputs["modelDeploymentConfigurationDetails"][
        "environmentConfigurationDetails"]["entrypoints"]
    root = tmp_path / "deployed_model"
    for folder in ("add", "ocid1.datasciencemodel.oc1.iad.a/add"):
        (root / folder / "1").mkdir(parents=True)
        (root / folder / "config.pbtxt").write_text('name: "add"\n')

    twice = run_entrypoint(entrypoint, root, tmp_path / "links")
    empty = run_entrypoint(entrypoint, tmp_path / "nothing", tmp_path / "links2")

    assert twice.returncode == 1 and twice.stdout == ""
    assert twice.stderr.strip() == textwrap.dedent(f"""\
        triton-groups: model add is found twice under {root} (again at {root}/ocid1.datasciencemodel.oc1.iad.a/add)""")
    assert empty.returncode == 1 and empty.stdout == ""
    assert empty.stderr.startswith(f"triton-groups: no model folder (holding config.pbtxt) 1 or 2 levels below "
                                   f"{tmp_path / 'nothing'}:")
