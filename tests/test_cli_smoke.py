"""`triton-groups smoke SPEC --url URL`: exit 0 when every case passes, 1 when any fails, the report on stdout."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.cli import main
from components.core.plan import plan_from_spec
from components.core.runtime import LocalServer
from components.core.spec import load_spec

MULTIPLY_MODEL = """\
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
name: cli
smoke: {{repeats: 2}}
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


def write_spec(folder: Path, expected: str = "[3, 6, 9]") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "triple.py").write_text(MULTIPLY_MODEL)
    (folder / "group.yaml").write_text(SPEC.format(expected=expected))
    return folder / "group.yaml"


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    spec = load_spec(write_spec(tmp_path_factory.mktemp("group")))
    with LocalServer.start(plan_from_spec(spec), tmp_path_factory.mktemp("state")) as served:
        yield served


@pytest.mark.triton
def test_passing_cases_exit_0_with_the_summary(server: LocalServer, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", str(write_spec(tmp_path)), "--url", server.http_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0].startswith(f"PASS: 1/1 cases passed in 1 model(s) at {server.http_url} (2 repeat(s),")
    assert out.splitlines()[1].startswith("  triple: p50 ")


@pytest.mark.triton
def test_grpc_with_json_prints_the_report_as_json(server: LocalServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", str(write_spec(tmp_path)), "--url", server.grpc_url, "--protocol", "grpc", "--json",
                 "--model", "triple", "--repeats", "4"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["passed"] is True
    assert report["endpoint"] == f"grpc://{server.grpc_url}"
    assert report["models"][0]["cases"][0]["latency_ms"]["count"] == 4


@pytest.mark.triton
def test_a_failing_case_exits_1_naming_model_case_and_output(server: LocalServer, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["smoke", str(write_spec(tmp_path, expected="[3, 6, 10]")), "--url", server.http_url])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0].startswith("FAIL: 0/1 cases passed in 1 model(s)")
    assert lines[1] == ("  FAIL triple/three: output Y: 1 of 3 elements differ; first at [2]: expected 10, got 9; "
                        "expected [ 3, 6, 10] (INT64 [3]), got [3, 6, 9] (INT64 [3])")


def test_an_unreachable_url_is_a_one_line_failure_naming_it(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    code = main(["smoke", str(write_spec(tmp_path)), "--url", url, "--timeout", "0.3"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines() == [
        f"FAIL: {url} did not answer within 0.3 s: no answer: ConnectionRefusedError: [Errno 111] Connection refused"
    ]


def test_an_unknown_model_is_a_problem_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path)
    code = main(["smoke", str(spec), "--url", "127.0.0.1:1", "--model", "quadruple"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"--model: no model named 'quadruple' in the spec {spec}; its models are ['triple']"
    ]


def test_a_url_that_contradicts_the_protocol_is_a_usage_error(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["smoke", str(write_spec(tmp_path)), "--url", "http://127.0.0.1:8000", "--protocol", "grpc"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "triton-groups: error: argument --url: 'http://127.0.0.1:8000': the scheme says http but the protocol asked "
        "is grpc; give host:port or a grpc URL"
    )


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_dead_address_fails_fast_saying_what_it_waited_for(protocol: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"{protocol}://127.0.0.1:{unused_port()}"
    began = time.monotonic()

    code = main(["smoke", str(write_spec(tmp_path)), "--url", url])

    took = time.monotonic() - began
    captured = capsys.readouterr()
    assert code == 1
    assert took < 15, f"the default timeout is 60 s; connection refused ends the wait after {took:.1f} s"
    assert captured.err.splitlines()[0].startswith(f"waiting up to 60 s for {url} to be live and for triple to be "
                                                   "ready (")
    [line] = captured.out.splitlines()
    assert line.startswith(f"FAIL: {url} refused every connection for ")
    assert line.endswith("nothing listens there; start the server, or check the URL")


def test_url_is_required(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["smoke", str(write_spec(tmp_path))])
    assert exited.value.code == 2
