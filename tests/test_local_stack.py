"""The local stack's life cycle under the real Pulumi engine: `pulumi up`, preview, refresh, destroy.

Each test deploys its own copy of the project (tests/pulumi_engine.py): the CLI from `make pulumi` runs
infra/__main__.py, its dynamic providers start a real tritonserver, and the smoke tests run against it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient
from processes import processes_using, servers_using
from pulumi_engine import PROJECT, EngineProject, interrupt, wait_for

from components.core.runtime import ServerRecord, free_port, is_serving
from components.core.runtime.state import process_info

pytestmark = [pytest.mark.triton, pytest.mark.engine]

RESOURCES = {"vision-example-repository", "vision-example-server", "vision-example-smoke"}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[EngineProject]:
    """A copy of the project with the stack `local`; whatever a test deployed is destroyed afterwards."""
    deployed = EngineProject(tmp_path / "project")
    yield deployed
    deployed.run("destroy", "--yes", "--skip-preview", check=False)


@pytest.fixture
def deployed(project: EngineProject) -> EngineProject:
    """The example group deployed once (`pulumi up`)."""
    project.up()
    return project


def server_record(project: EngineProject) -> ServerRecord:
    return ServerRecord.load(project.state_dir)


def test_a_first_up_serves_the_group_and_records_its_passing_smoke_test(project: EngineProject) -> None:
    update = project.up()

    assert {name: op for name, op in update.ops.items() if name in RESOURCES} == dict.fromkeys(RESOURCES, "create")
    outputs = project.outputs()
    report = outputs["smoke_report"]
    assert report["passed"] and report["counts"]["cases"] == report["counts"]["passed"] == 8
    assert outputs["smoke_summary"].startswith("PASS: 8/8 cases passed in 4 model(s)")
    record = server_record(project)
    assert is_serving(record) and outputs["pid"] == record.pid
    assert outputs["endpoint"] == record.http_url == outputs["endpoints"]["http"]
    passed = outputs["smoke_passed"]
    assert passed["repository_sha256"] == project.resource_outputs("vision-example-repository")["repository_sha256"]
    client = httpclient.InferenceServerClient(record.http_url.removeprefix("http://"))
    assert client.is_model_ready("vision_ensemble")


def test_right_after_an_up_the_preview_expects_no_changes_and_a_second_up_changes_nothing(
    deployed: EngineProject,
) -> None:
    pid = server_record(deployed).pid

    preview = deployed.run("preview", "--expect-no-changes")
    second = deployed.up()

    assert preview.returncode == 0
    assert second.changed() == {}
    assert server_record(deployed).pid == pid


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
def test_editing_one_model_previews_that_model_and_reloads_only_it_while_others_answer(
    deployed: EngineProject,
) -> None:
    import torch

    record = server_record(deployed)
    model_file = deployed.group / "models" / "cnn_torch" / "model.pt"
    torch.jit.save(torch.jit.load(str(model_file)), str(model_file), _extra_files={"edited": "same outputs"})

    preview = deployed.preview()
    assert "model cnn_torch: 1/model.pt changed" in preview.messages
    assert {name for name, op in preview.ops.items() if op == "update"} == RESOURCES

    answered, failures, stop = [], [], threading.Event()

    def keep_asking() -> None:
        client = httpclient.InferenceServerClient(record.http_url.removeprefix("http://"))
        pixels = np.zeros((1, 3, 8, 8), dtype=np.float32)
        request = httpclient.InferInput("PIXELS", list(pixels.shape), "FP32")
        request.set_data_from_numpy(pixels)
        while not stop.is_set():
            try:
                answered.append(client.infer("classifier_onnx", [request]).as_numpy("PROBS").shape)
            except Exception as error:  # every failure is the finding
                failures.append(repr(error))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        update = deployed.up()
    finally:
        stop.set()
        asker.join()

    assert {name: update.ops[name] for name in RESOURCES} == dict.fromkeys(RESOURCES, "update")
    server = deployed.resource_outputs("vision-example-server")
    assert server["pid"] == record.pid
    assert server["last_sync"] == {"loaded": [], "reloaded": ["cnn_torch"], "unloaded": []}
    assert failures == [] and len(answered) > 10
    assert deployed.outputs()["smoke_report"]["passed"]


def test_a_wrong_expected_output_fails_the_up_naming_model_and_case_and_records_no_pass(
    deployed: EngineProject,
) -> None:
    passed_before = deployed.outputs()["smoke_passed"]
    expected = deployed.group / "smoke" / "logits.npy"
    np.save(expected, np.load(expected) + 1.0)

    failed = deployed.run("up", "--yes", "--skip-preview", check=False)

    assert failed.returncode != 0
    assert "vision-example-smoke **updating failed**" in failed.output
    assert "error: FAIL: 7/8 cases passed in 4 model(s)" in failed.output
    assert "FAIL cnn_torch/reference_pixels: output OUTPUT__0:" in failed.output
    assert "Traceback" not in failed.output
    assert deployed.outputs()["smoke_passed"] == passed_before
    assert deployed.resource_outputs("vision-example-smoke")["passed_at"] == passed_before["passed_at"]
    assert deployed.preview().ops["vision-example-smoke"] == "update"


def test_a_refresh_notices_a_server_killed_from_outside_and_the_next_up_brings_it_back(
    deployed: EngineProject,
) -> None:
    pid = server_record(deployed).pid
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: servers_using(deployed.state_dir) == [], 30, "the killed server to exit")

    refresh = deployed.run("refresh", "--yes", "--skip-preview", "--json")

    assert refresh.ops["vision-example-server"] == "delete"
    update = deployed.up()
    assert update.ops["vision-example-server"] == "create"
    assert update.ops["vision-example-smoke"] == "update"
    record = server_record(deployed)
    assert record.pid != pid and is_serving(record)
    assert deployed.outputs()["smoke_report"]["passed"]


def test_destroy_leaves_no_tritonserver_and_no_state_folder(deployed: EngineProject) -> None:
    pid = server_record(deployed).pid

    destroy = deployed.destroy()

    assert {name: destroy.ops[name] for name in RESOURCES} == dict.fromkeys(RESOURCES, "delete")
    info = process_info(pid)
    assert info is None or not info.running
    assert processes_using(deployed.root) == []
    assert not deployed.state_dir.exists()
    assert not (deployed.root / ".triton-groups").exists()


def test_the_stack_state_holds_no_secret_in_plaintext(project: EngineProject) -> None:
    secret = "s3cr3t-" + os.urandom(8).hex()
    project.run("config", "set", "--secret", "triton-groups:smokeToken", secret)
    project.up()

    exported = json.dumps(project.export())
    state_files = [path.read_text(errors="replace") for path in (project.root / ".pulumi-state").rglob("*")
                   if path.is_file()]
    stack_file = (project.root / "stacks" / "Pulumi.local.yaml").read_text()
    assert secret not in exported
    assert all(secret not in text for text in state_files)
    assert secret not in stack_file and "secure:" in stack_file


def test_ctrl_c_during_an_up_leaves_a_stack_that_the_next_up_repairs(project: EngineProject) -> None:
    running = project.start("up", "--yes", "--skip-preview")
    wait_for(lambda: servers_using(project.state_dir) != [], 120, "the up to start a tritonserver")

    output = interrupt(running)

    assert running.returncode != 0, output
    repaired = project.up()
    assert repaired.returncode == 0
    record = server_record(project)
    assert is_serving(record) and project.outputs()["smoke_report"]["passed"]
    assert len(servers_using(project.state_dir)) == 1
    assert project.run("preview", "--expect-no-changes").returncode == 0


def test_a_preview_on_a_fresh_runner_says_which_model_changed_from_the_stack_state(deployed: EngineProject) -> None:
    artifacts = deployed.state_dir / "artifacts"
    for path in artifacts.iterdir():  # a CI runner starts without the artifacts and the hash cache
        path.unlink()
    model = deployed.group / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "# a comment changes the bytes\n")

    preview = deployed.preview()

    assert preview.messages.count("model preprocess: 1/model.py changed") == 1
    assert preview.ops["vision-example-repository"] == "update"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"triton-groups:target": "moon"}, "stack config triton-groups:target is 'moon'; set it to one of local, oci"),
        ({"triton-groups:spec": ""}, "the stack config of local cannot be used: stacks/Pulumi.local.yaml:3: "
                                     "triton-groups:spec: is not set; set it"),
        ({"triton-groups:httpPort": "99999"}, "triton-groups:httpPort: Input should be less than or equal to 65535"),
        ({"triton-groups:spec": "nowhere.yaml"}, "cannot be used: "),
    ],
    ids=["unknown-target", "no-spec", "bad-port", "missing-spec"],
)
def test_a_bad_stack_setting_fails_the_preview_in_one_line_naming_the_key(
    tmp_path: Path, config: dict[str, str], message: str
) -> None:
    project = EngineProject(tmp_path / "project", config=config)

    preview = project.run("preview", check=False)

    assert preview.returncode != 0
    assert message in preview.output
    assert "Traceback" not in preview.output
    assert not (project.root / ".triton-groups" / "local").exists()


def test_make_pulumi_without_a_cli_an_installer_or_go_says_so_in_one_line(tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PULUMI_INSTALL_URL": unreachable,
           "PULUMI_INSTALL_TIMEOUT": "5", "TRITON_GROUPS_CACHE": str(tmp_path / "cache")}
    if subprocess.run(["sh", "-c", "command -v pulumi || command -v go"], env=env).returncode == 0:
        pytest.skip("a Pulumi CLI or Go is installed system-wide here")
    clone = tmp_path / "clone"
    (clone / "tools").mkdir(parents=True)
    (clone / "tools" / "pulumi").symlink_to(PROJECT / "tools" / "pulumi")
    (clone / "pyproject.toml").symlink_to(PROJECT / "pyproject.toml")

    result = subprocess.run(["bash", str(clone / "tools" / "pulumi" / "install.sh")], env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("make pulumi: no Pulumi CLI: none on PATH, the official "
                                                     "installer cannot be downloaded")
    assert not (clone / ".tools").exists()


def ask_preprocess(record: ServerRecord, image: np.ndarray) -> np.ndarray:
    client = httpclient.InferenceServerClient(record.http_url.removeprefix("http://"))
    request = httpclient.InferInput("IMAGE", list(image.shape), "UINT8")
    request.set_data_from_numpy(image)
    return client.infer("preprocess", [request]).as_numpy("PIXELS")


def test_a_new_version_that_fails_its_smoke_test_is_rolled_back_and_stays_to_do(deployed: EngineProject) -> None:
    record = server_record(deployed)
    image, golden = np.load(deployed.group / "smoke" / "image.npy"), np.load(deployed.group / "smoke" / "pixels.npy")
    passed_before = deployed.outputs()["smoke_passed"]
    model = deployed.group / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text().replace("0.229, 0.224, 0.225", "0.5, 0.5, 0.5"))
    answers, failures, stop = [], [], threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                answers.append(ask_preprocess(record, image))
            except Exception as error:  # every failure is the finding
                failures.append(repr(error))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        failed = deployed.run("up", "--yes", "--skip-preview", check=False)
    finally:
        stop.set()
        asker.join()

    assert failed.returncode != 0
    assert "FAIL preprocess/reference_image: output PIXELS:" in failed.output
    assert f"rolled back: the server serves release {passed_before['repository_sha256'][:12]} again" in failed.output
    assert failures == [] and len(answers) > 5
    np.testing.assert_allclose(ask_preprocess(record, image), golden, rtol=1e-6, atol=1e-6)
    assert server_record(deployed).pid == record.pid
    assert deployed.outputs()["smoke_passed"] == passed_before
    still_to_do = deployed.preview()
    assert still_to_do.ops["vision-example-server"] == "update"
    assert still_to_do.ops["vision-example-smoke"] == "update"


def test_with_rollback_off_a_failing_version_stays_loaded(tmp_path: Path) -> None:
    project = EngineProject(tmp_path / "project", config={"triton-groups:rollback": "false"})
    try:
        project.up()
        image = np.load(project.group / "smoke" / "image.npy")
        model = project.group / "models" / "preprocess" / "model.py"
        model.write_text(model.read_text().replace("0.229, 0.224, 0.225", "0.5, 0.5, 0.5"))

        failed = project.run("up", "--yes", "--skip-preview", check=False)

        assert failed.returncode != 0 and "rolled back" not in failed.output
        golden = np.load(project.group / "smoke" / "pixels.npy")
        assert not np.allclose(ask_preprocess(server_record(project), image), golden, rtol=1e-6, atol=1e-6)
    finally:
        project.run("destroy", "--yes", "--skip-preview", check=False)
