"""`triton-groups demo SPEC`: build, serve detached on a REAL local tritonserver, smoke-test; a demo whose smoke test
fails stops the server it started, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import processes_using, servers_using

from components.cli import main
from components.core.runtime import ServerRecord, is_serving, stop

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vision"

TRIPLE = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "X").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("Y", (x * 3).astype(np.int64))]))
        return responses
"""
SPEC = """\
name: demo-test
models:
  - name: triple
    backend: python
    versions: {{1: triple.py}}
    inputs: [{{name: X, data_type: INT64, dims: [-1]}}]
    outputs: [{{name: Y, data_type: INT64, dims: [-1]}}]
    smoke:
      - name: three
        inputs: {{X: {{value: [1, 2, 3]}}}}
        expect: {{Y: {{match: exact, value: {expected}}}}}
"""


def write_spec(folder: Path, expected: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "triple.py").write_text(TRIPLE)
    (folder / "group.yaml").write_text(SPEC.format(expected=expected))
    return folder / "group.yaml"


@pytest.mark.triton
def test_a_demo_whose_smoke_test_fails_stops_the_server_it_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    try:
        code = main(["demo", str(write_spec(tmp_path / "g", "[3, 6, 10]")), "--state-dir", str(state)])
        captured = capsys.readouterr()

        assert code == 1
        assert "FAIL triple/three: output Y" in captured.out
        assert captured.err.splitlines()[-1] == ("the smoke test failed, so the server this demo started is stopped "
                                                 f"(its log: {state / 'server.log'})")
        assert servers_using(state) == []
        assert ServerRecord.find(state) is None
    finally:
        record = ServerRecord.find(state)
        if record is not None:
            stop(record)


@pytest.mark.triton
def test_a_passing_demo_leaves_its_server_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    try:
        code = main(["demo", str(write_spec(tmp_path / "g", "[3, 6, 9]")), "--state-dir", str(state)])
        out = capsys.readouterr().out

        assert code == 0, out
        assert f"left serving; stop it with: triton-groups stop --state-dir {state}" in out
        assert len(servers_using(state)) == 1
    finally:
        record = ServerRecord.find(state)
        if record is not None:
            stop(record)


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
