"""Releases across stacks under the real engine: `local` passes, a release is cut, `local-prod` promotes it.

`local-prod` is a second local stack (its own server and state folder) that names the release in its config
(`triton-groups:release`) and the stack it must have passed on (`triton-groups:promotesFrom: local`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from processes import servers_using
from pulumi_engine import EngineProject

from components.core.release import load_release

pytestmark = [pytest.mark.triton, pytest.mark.engine]

PROD = "local-prod"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[EngineProject]:
    """`local` deployed and passing; `local-prod` initialized, promoting from `local`."""
    deployed = EngineProject(tmp_path / "project")
    try:
        deployed.up()
        yield deployed
    finally:
        for stack in (PROD, deployed.stack):
            deployed.run("destroy", "--yes", "--skip-preview", check=False, stack=stack)


def cut_release(project: EngineProject, stack: str = "local") -> Path:
    created = project.triton_groups("release", "create", "--from-stack", stack)
    assert created.returncode == 0, created.stderr
    return Path(created.stdout.split(":", 1)[0])


def promote(project: EngineProject, release: Path, promotes_from: str = "local") -> None:
    project.add_stack(PROD, {"triton-groups:release": str(release.relative_to(project.root)),
                             "triton-groups:promotesFrom": promotes_from})


def prod_state(project: EngineProject) -> Path:
    return project.root / ".triton-groups" / "local" / PROD


def test_a_release_cut_from_local_is_served_by_local_prod_with_the_same_bytes(project: EngineProject) -> None:
    release_file = cut_release(project)
    release = load_release(release_file)
    local = project.outputs()
    assert release.repository_sha256 == local["repository_sha256"] == local["smoke_passed"]["repository_sha256"]
    assert release.passed.stack == "local" and release.group == "vision-example"
    assert release.models == local["modelContent"]
    assert release.models["preprocess"]["1/model.py"]["mode"] == 0o644
    shown = project.triton_groups("release", "show", str(release_file))
    assert shown.returncode == 0 and shown.stdout.startswith(f"release {release.name} of group vision-example\n")

    promote(project, release_file)
    project.up(stack=PROD)

    prod = project.outputs(stack=PROD)
    assert prod["repository_sha256"] == release.repository_sha256
    assert {a["sha256"] for a in prod["artifacts"]} == {a.sha256 for a in release.artifacts}
    assert prod["smoke_report"]["passed"] and prod["endpoint"] != local["endpoint"]
    status = project.triton_groups("release", "status")
    assert status.returncode == 0
    assert f"{PROD}: serves vision-example {release.repository_sha256[:12]} " in status.stdout
    assert "passed on local" in status.stdout


def test_a_model_file_edited_after_the_release_stops_local_prod_naming_model_and_file(
    project: EngineProject,
) -> None:
    release_file = cut_release(project)
    released = load_release(release_file).models["preprocess"]["1/model.py"]["sha256"]
    model = project.group / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "# edited after the release\n")
    promote(project, release_file)

    preview = project.run("preview", check=False, stack=PROD)
    update = project.run("up", "--yes", check=False, stack=PROD)

    for result in (preview, update):
        assert result.returncode != 0
        assert "model preprocess: 1/model.py has sha256 " in result.output
        assert f", the release has {released}" in result.output
        assert "Traceback" not in result.output
    assert servers_using(prod_state(project)) == []
    resources = project.run("stack", "export", stack=PROD).stdout
    assert json.loads(resources)["deployment"].get("resources") in (None, [])


def test_a_release_that_passed_on_another_stack_than_promotes_from_is_refused_naming_both(
    project: EngineProject,
) -> None:
    release_file = cut_release(project)
    promote(project, release_file, promotes_from="staging")

    refused = project.run("preview", check=False, stack=PROD)

    assert refused.returncode != 0
    assert "the release passed on stack local, but this stack promotes from staging" in refused.output
    assert servers_using(prod_state(project)) == []


def test_a_release_of_bytes_that_never_passed_on_its_stack_is_refused_by_that_stacks_record(
    project: EngineProject,
) -> None:
    """The file says local, and its bytes are what the spec builds, but local never passed them: its outputs say so."""
    release_file = cut_release(project)
    model = project.group / "models" / "preprocess" / "model.py"
    model.write_text(model.read_text() + "# a change whose smoke test fails\n")
    expected = project.group / "smoke" / "logits.npy"
    np.save(expected, np.load(expected) + 1.0)
    assert project.run("up", "--yes", "--skip-preview", check=False).returncode != 0
    built = project.resource_outputs("vision-example-repository")
    forged = json.loads(release_file.read_text())
    forged.update(models=built["manifest"], repository_sha256=built["repository_sha256"])
    release_file.write_text(json.dumps(forged))
    promote(project, release_file)

    refused = project.run("preview", check=False, stack=PROD)

    assert refused.returncode != 0
    assert (f"the release says it passed on stack local, but local's outputs do not list repository "
            f"{built['repository_sha256']} among the releases that passed there") in refused.output
    assert servers_using(prod_state(project)) == []


def test_release_create_refuses_a_stack_whose_last_smoke_test_failed_and_one_that_does_not_exist(
    project: EngineProject,
) -> None:
    expected = project.group / "smoke" / "logits.npy"
    np.save(expected, np.load(expected) + 1.0)
    assert project.run("up", "--yes", "--skip-preview", check=False).returncode != 0

    failed = project.triton_groups("release", "create", "--from-stack", "local")
    missing = project.triton_groups("release", "create", "--from-stack", "nowhere")

    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and failed.stderr.startswith("stack local: its last update (version ")
    assert "its smoke test did not pass" in failed.stderr
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("stack nowhere: `pulumi stack output")
    assert not (project.root / "releases").exists()


def test_a_release_naming_a_stack_the_backend_does_not_hold_is_refused_in_one_line(project: EngineProject) -> None:
    release_file = cut_release(project)
    forged = json.loads(release_file.read_text())
    forged["passed"]["stack"] = "ghost"
    release_file.write_text(json.dumps(forged))
    promote(project, release_file, promotes_from="ghost")

    refused = project.run("preview", check=False, stack=PROD)

    assert refused.returncode != 0
    assert 'error: Preview failed: unknown stack "organization/triton-groups/ghost"' in refused.output
    assert "Traceback" not in refused.output, refused.output
    assert servers_using(prod_state(project)) == []
