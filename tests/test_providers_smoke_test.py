"""InferenceSmokeTest: reruns when what is served or the cases change; a failing run fails with its summary.

Runs that pass against a real tritonserver are in test_providers_local_server.py and test_local_stack.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from components.core.content import cases_digest
from components.core.runtime import free_port
from components.core.spec import load_spec
from components.providers.smoke_test import InferenceSmokeTestProvider, SmokeTestFailed

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vision"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """A copy of the example group that waits only 1 s for a server; returns its spec path."""
    shutil.copytree(EXAMPLE, tmp_path / "vision", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "vision" / "group.yaml"
    path.write_text(path.read_text().replace("smoke:\n  repeats: 5\n", "smoke:\n  repeats: 1\n  timeout_s: 1\n"))
    return path


def inputs(spec: Path, **changes: str) -> dict:
    return {
        "spec_path": str(spec),
        "cases_sha256": cases_digest(load_spec(spec)),
        "endpoint": "http://127.0.0.1:8000",
        "transport": "http",
        "transport_options": {},
        "repository_sha256": "a" * 64,
        "deployment_id": "1234",
        **changes,
    }


@pytest.mark.parametrize(
    "change",
    [{"repository_sha256": "b" * 64}, {"endpoint": "http://127.0.0.1:9000"}, {"deployment_id": "99"},
     {"transport": "grpc"}, {"cases_sha256": "c" * 64}],
)
def test_the_test_runs_again_when_what_is_served_or_the_cases_change(spec: Path, change: dict) -> None:
    assert InferenceSmokeTestProvider().diff("id", inputs(spec), inputs(spec, **change)).changes is True


def test_nothing_reruns_when_nothing_that_matters_changed(spec: Path) -> None:
    moved = inputs(spec, spec_path="elsewhere/group.yaml")
    assert InferenceSmokeTestProvider().diff("id", inputs(spec), moved).changes is False


def test_an_edited_expected_output_changes_the_cases_digest(spec: Path) -> None:
    before = cases_digest(load_spec(spec))
    expected = spec.parent / "smoke" / "logits.npy"
    np.save(expected, np.load(expected) + 1)
    assert cases_digest(load_spec(spec)) != before


def test_check_rejects_an_unknown_transport(spec: Path) -> None:
    checked = InferenceSmokeTestProvider().check({}, inputs(spec, transport="carrier-pigeon"))
    (failure,) = checked.failures
    assert failure.property == "transport"
    assert failure.reason.startswith("unknown transport 'carrier-pigeon'; use one of grpc, http")


def test_a_server_that_never_answers_fails_the_create_with_the_summary(spec: Path) -> None:
    nothing_there = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SmokeTestFailed) as failed:
        InferenceSmokeTestProvider().create(inputs(spec, endpoint=nothing_there))
    assert str(failed.value).startswith(f"FAIL: {nothing_there} did not answer within 1 s")
