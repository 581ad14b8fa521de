"""The local stack end to end: infra/__main__.py run again and again under the Pulumi program harness.

The harness executes the dynamic providers for real, so a real tritonserver serves a copy of the example
group; real deployments run the same program through the Pulumi CLI (`make up`, scripts/pulumi-up.sh).
The triton tests are one sequence over one module-scoped stack, in file order.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from processes import processes_using
from pulumi_program_harness import HarnessRunError, PulumiProgramHarness, program_from_file

from components.cli import main
from components.core.runtime import ServerRecord, free_port, is_serving, stop
from components.core.runtime.state import process_info
from components.providers.local_server import LocalTritonServerProvider
from components.providers.smoke_test import InferenceSmokeTestProvider

PROJECT = Path(__file__).resolve().parents[1]
PROGRAM = program_from_file(PROJECT / "infra" / "__main__.py")
EXAMPLE = PROJECT / "examples" / "vision"
RESOURCES = ["vision-example-repository", "vision-example-server", "vision-example-smoke"]


class LocalStack:
    """The stack under test and the folders it uses: an editable copy of the example, and its state."""

    def __init__(self, root: Path, **harness_options: Any) -> None:
        shutil.copytree(EXAMPLE, root / "vision", ignore=shutil.ignore_patterns("__pycache__"))
        self.group = root / "vision"
        self.state_dir = root / "state"
        self.harness = PulumiProgramHarness(PROGRAM, stack="local", project_dir=root, config={
            "triton-groups:target": "local",
            "triton-groups:spec": str(self.group / "group.yaml"),
            "triton-groups:stateDir": str(self.state_dir),
        }, **harness_options)

    def server_outputs(self) -> dict:
        return self.harness.resource("vision-example-server").outputs


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("local-stack"))
    yield local
    if local.harness.state:
        local.harness.destroy()
    record = ServerRecord.find(local.state_dir)
    if record is not None:
        stop(record)


@pytest.mark.triton
def test_a_first_up_serves_the_example_group_and_passes_its_smoke_tests(stack: LocalStack) -> None:
    result = stack.harness.up()
    assert result.created == RESOURCES
    report = result.outputs["smoke_report"]
    assert report["passed"] and report["counts"]["cases"] == report["counts"]["passed"] == 8
    assert result.outputs["smoke_summary"].startswith("PASS: 8/8 cases passed in 4 model(s)")
    assert result.outputs["endpoint"] == result.outputs["endpoints"]["http"] == stack.server_outputs()["http_url"]
    record = ServerRecord.load(stack.state_dir)
    assert record.pid == result.outputs["pid"] and is_serving(record)
    assert (stack.state_dir / "artifacts" / "repository.zip").is_file()


@pytest.mark.triton
def test_a_second_up_without_changes_changes_nothing(stack: LocalStack) -> None:
    result = stack.harness.up()
    assert result.changed == []
    assert result.unchanged == RESOURCES


@pytest.mark.triton
@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
def test_editing_one_model_rebuilds_and_reloads_only_that_model(stack: LocalStack) -> None:
    import torch

    model_file = stack.group / "models" / "cnn_torch" / "model.pt"
    same_weights = torch.jit.load(str(model_file))
    torch.jit.save(same_weights, str(model_file), _extra_files={"edited": "new bytes, same outputs"})
    pid = stack.server_outputs()["pid"]

    preview = stack.harness.preview()
    assert preview.messages() == ["model cnn_torch: 1/model.pt changed"]
    assert preview.updated == RESOURCES

    result = stack.harness.up()
    assert result.updated == RESOURCES
    assert stack.server_outputs()["pid"] == pid
    assert stack.server_outputs()["last_sync"] == {"loaded": [], "reloaded": ["cnn_torch"], "unloaded": []}
    assert result.outputs["smoke_report"]["passed"]


@pytest.mark.triton
def test_a_server_that_died_is_started_again_and_tested_again(stack: LocalStack) -> None:
    pid = stack.server_outputs()["pid"]
    os.killpg(pid, signal.SIGKILL)

    result = stack.harness.up()
    assert result.replaced == ["vision-example-server"]
    assert result.updated == ["vision-example-smoke"]
    assert result.outputs["pid"] != pid and result.outputs["smoke_report"]["passed"]


@pytest.mark.triton
def test_a_wrong_expected_output_fails_the_deployment_with_the_smoke_summary(stack: LocalStack) -> None:
    expected = stack.group / "smoke" / "logits.npy"
    np.save(expected, np.load(expected) + 1.0)

    with pytest.raises(HarnessRunError) as failed:
        stack.harness.up()
    message = str(failed.value)
    assert message.startswith("FAIL: 7/8 cases passed in 4 model(s)")
    assert "FAIL cnn_torch/reference_pixels: output OUTPUT__0:" in message
    assert failed.value.result.updated == []
    assert failed.value.result.unchanged == RESOURCES[:2]


@pytest.mark.triton
def test_destroy_leaves_no_process_behind(stack: LocalStack) -> None:
    pid = stack.server_outputs()["pid"]
    result = stack.harness.destroy()
    assert result.deleted == RESOURCES[::-1]
    info = process_info(pid)
    assert info is None or not info.running
    assert processes_using(stack.state_dir) == []
    assert ServerRecord.find(stack.state_dir) is None


def test_a_preview_on_a_fresh_runner_says_which_model_changed_from_the_stack_state(tmp_path: Path) -> None:
    """No tritonserver here: the server and the smoke tests are recorded, not run; the repository is built."""
    stack = LocalStack(tmp_path, skipped_providers=(LocalTritonServerProvider, InferenceSmokeTestProvider))
    first = stack.harness.up()
    assert first.created == RESOURCES and first.messages() == []
    shutil.rmtree(stack.state_dir)  # a CI runner starts without the artifacts and hash cache
    model = stack.group / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "# a comment changes the bytes\n")

    preview = stack.harness.preview()

    assert preview.messages() == ["model preprocess: 1/model.py changed"]
    assert "vision-example-repository" in preview.updated


def test_a_stack_without_a_spec_fails_naming_the_config_key() -> None:
    harness = PulumiProgramHarness(PROGRAM, config={"triton-groups:target": "local"})
    with pytest.raises(HarnessRunError, match=r"^stack config triton-groups:spec is not set; set it in "
                                              r"stacks/Pulumi\.local\.yaml"):
        harness.up()
    assert [state.name for state in harness.state.values() if state.custom] == []


def test_an_unknown_target_fails_naming_the_config_key() -> None:
    harness = PulumiProgramHarness(PROGRAM, config={"triton-groups:target": "moon"})
    with pytest.raises(HarnessRunError, match=r"^stack config triton-groups:target is 'moon'; set it to one of "
                                              r"local, oci"):
        harness.up()


def test_a_missing_spec_file_fails_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    harness = PulumiProgramHarness(PROGRAM, config={"triton-groups:target": "local",
                                                    "triton-groups:spec": str(missing)})
    with pytest.raises(HarnessRunError, match=f"cannot be used: {missing}: no such file"):
        harness.up()


def test_make_up_without_the_pulumi_cli_and_no_network_says_so_in_one_line(tmp_path: Path) -> None:
    if shutil.which("pulumi", path="/usr/bin:/bin"):
        pytest.skip("a Pulumi CLI is installed system-wide here")
    unreachable = f"http://127.0.0.1:{free_port()}/"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PULUMI_INSTALL_URL": unreachable,
           "PULUMI_INSTALL_TIMEOUT": "5"}
    result = subprocess.run(["bash", str(PROJECT / "scripts" / "pulumi-up.sh")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"make up: the Pulumi CLI is not installed and cannot be downloaded from {unreachable} (no network?); "
        "run `make demo` for the same local deployment without Pulumi"
    ]
    assert not (tmp_path / ".pulumi").exists()


@pytest.mark.triton
def test_make_demo_serves_and_smoke_tests_without_pulumi_and_make_stop_stops_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "demo"
    try:
        assert main(["demo", str(EXAMPLE / "group.yaml"), "--state-dir", str(state_dir)]) == 0
        shown = capsys.readouterr().out
        record = ServerRecord.load(state_dir)
        assert is_serving(record)
        assert f"  HTTP  {record.http_url}\n" in shown
        assert "PASS: 8/8 cases passed in 4 model(s)" in shown
        assert shown.rstrip().endswith(f"stop it with: triton-groups stop --state-dir {state_dir} (or make stop)")
        assert (state_dir / "artifacts" / "repository.zip").is_file()
    finally:
        assert main(["stop", "--state-dir", str(state_dir)]) == 0
    assert processes_using(state_dir) == []
