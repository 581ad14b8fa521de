"""The tritonserver flags triton-groups sets: written alike by the local server and the OCI container, and the ones
a spec may not set refused (OCI) or dropped (local) from the one list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.core.oci_target.command import triton_command
from components.core.oci_target.preflight import preflight
from components.core.oci_target.settings import read_settings
from components.core.plan import group_name, load_plan, plan_from_folder
from components.core.runtime.install import TritonInstall
from components.core.runtime.ports import Ports
from components.core.runtime.server import local_server_args, server_command
from components.core.spec import GroupSpec

MODEL = {"name": "pre", "backend": "python", "versions": {1: "pre.py"}}


def oci_settings(**deployment: Any) -> Any:
    return read_settings({
        "target": "oci", "spec": "group.yaml", "compartmentId": "ocid1.compartment.oc1..aaaa",
        "projectId": "ocid1.datascienceproject.oc1.iad.aaaa",
        "image": {"name": "iad.ocir.io/tenancy/triton/vision:1.0.0", "digest": "sha256:" + "ab" * 32},
        "deployment": {"shape": {"instanceShapeName": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGbs": 16},
                       **deployment},
    }, "dev")


def test_the_local_server_runs_with_the_managed_flags() -> None:
    install = TritonInstall(Path("/opt/triton"), "2.49")

    command = server_command(install, Path("/srv/repository"), ["a", "b"], Ports(8100, 8101, 8102), "tg_ab12_",
                             ["--log-verbose=1"])

    assert command == [
        "/opt/triton/bin/tritonserver", "--model-repository=/srv/repository",
        "--backend-directory=/opt/triton/backends", "--cache-directory=/opt/triton/caches",
        "--model-control-mode=explicit", "--disable-auto-complete-config", "--exit-on-error=false",
        "--strict-readiness=true", "--load-model=a", "--load-model=b", "--exit-timeout-secs=3",
        "--http-address=127.0.0.1", "--http-port=8100", "--grpc-address=127.0.0.1", "--grpc-port=8101",
        "--metrics-address=127.0.0.1", "--metrics-port=8102",
        "--backend-config=python,shm-region-prefix-name=tg_ab12_", "--log-verbose=1",
    ]


def test_both_targets_write_the_repository_and_http_port_flags_alike() -> None:
    local = server_command(TritonInstall(Path("/opt/triton"), "2.49"), Path("/srv/repository"), ["a"],
                           Ports(8100, 8101, 8102), "tg_ab12_")
    oci = triton_command(None, oci_settings(repositoryDir="/srv/repository", serverPort=8100, healthCheckPort=8100))

    shared = ["--model-repository=/srv/repository", "--http-port=8100"]
    assert [arg for arg in local if arg in shared] == shared
    assert [arg for arg in oci if arg in shared] == shared


def test_a_spec_setting_the_repository_or_the_http_port_is_refused_on_oci_and_dropped_locally(tmp_path: Path) -> None:
    args = ["--model-repository=/elsewhere", "--http-port=9000", "--model-store=/x", "--log-info"]
    (tmp_path / "pre.py").write_text("")
    (tmp_path / "group.yaml").write_text(f"name: g\nserver_args: {args}\nmodels:\n"
                                         "  - {name: pre, backend: python, versions: {1: pre.py}}\n")
    spec = GroupSpec.model_validate({"name": "g", "server_args": args, "models": [MODEL]})

    refused = [p.field for p in preflight(oci_settings(), spec) if p.code == "oci.managed_flag"]

    assert refused == ["server_args[0]", "server_args[1]", "server_args[2]"]
    assert local_server_args(load_plan(tmp_path / "group.yaml")) == ["--log-info"]


def test_the_group_name_is_the_specs_or_the_folders_on_both_targets(tmp_path: Path) -> None:
    spec = GroupSpec.model_validate({"name": "vision", "models": [MODEL]})
    (tmp_path / "models").mkdir()

    assert group_name(spec) == "vision"
    assert group_name(plan_from_folder(tmp_path / "models")) == "models"
