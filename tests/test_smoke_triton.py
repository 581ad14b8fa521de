"""Smoke cases against the REAL local tritonserver, over HTTP and gRPC, with Python-backend models made here.

(The URL parsing tests at the end need no server.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from components.core.plan import plan_from_spec
from components.core.problems import UserError
from components.core.runtime import LocalServer
from components.core.smoke.runner import run_smoke
from components.core.smoke.transport import Tensor, TransportError
from components.core.smoke.triton_transport import TritonTransport, parse_url
from components.core.spec import GroupSpec, load_spec

ADD_MODEL = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "A").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "B").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("SUM", (a + b).astype(np.float32))]))
        return responses
"""

SCORES_MODEL = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "X").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("SCORES", (x * 2).astype(np.float32))]))
        return responses
"""

UPPER_MODEL = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
            upper = np.array([item.upper() for item in text.reshape(-1)], dtype=object).reshape(text.shape)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("UPPER", upper)]))
        return responses
"""

SLEEPY_MODEL = """\
import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        time.sleep(1.0)
        return [pb_utils.InferenceResponse([pb_utils.get_input_tensor_by_name(r, "A")]) for r in requests]
"""

SPEC = """\
name: smoked
smoke: {{repeats: 3}}
models:
  - name: add
    backend: python
    versions: {{1: add.py}}
    inputs: [{{name: A, data_type: FP32, dims: [-1]}}, {{name: B, data_type: FP32, dims: [-1]}}]
    outputs: [{{name: SUM, data_type: FP32, dims: [-1]}}]
    smoke:
      - name: small
        inputs: {{A: {{value: [1, 2]}}, B: {{value: [3, 4]}}}}
        expect: {{SUM: {{match: exact, value: {sum}, shape: [2], datatype: FP32}}}}
      - name: fractions
        inputs: {{A: {{npy: a.npy}}, B: {{value: [0.25, 0.25, 0.25]}}}}
        expect: {{SUM: {{match: allclose, value: [0.35, 0.45, 0.55], rtol: 1.0e-6, atol: 1.0e-6}}}}
  - name: scores
    backend: python
    versions: {{1: scores.py}}
    max_batch_size: 4
    inputs: [{{name: X, data_type: FP32, dims: [5]}}]
    outputs: [{{name: SCORES, data_type: FP32, dims: [5]}}]
    smoke:
      - name: ranks
        inputs: {{X: {{value: [[0.1, 0.9, 0.3, 0.7, 0.2], [5, 4, 3, 2, 1]]}}}}
        expect:
          SCORES: {{match: argmax, value: [1, 0], shape: [2, 5], datatype: FP32}}
      - name: best_two
        inputs: {{X: {{value: [[0.1, 0.9, 0.3, 0.7, 0.2]]}}}}
        expect: {{SCORES: {{match: top_k, k: 2, value: [[3, 1]]}}}}
  - name: upper
    backend: python
    versions: {{1: upper.py}}
    inputs: [{{name: TEXT, data_type: STRING, dims: [-1]}}]
    outputs: [{{name: UPPER, data_type: STRING, dims: [-1]}}]
    smoke:
      - name: words
        inputs: {{TEXT: {{value: [cat, dog]}}}}
        expect: {{UPPER: {{match: exact, value: [CAT, DOG], datatype: STRING}}}}
  - name: sleepy
    backend: python
    versions: {{1: sleepy.py}}
    inputs: [{{name: A, data_type: FP32, dims: [-1]}}]
    outputs: [{{name: A, data_type: FP32, dims: [-1]}}]
"""

BROKEN_MODEL = """\
  - name: broken
    backend: python
    versions: {1: broken.py}
    inputs: [{name: A, data_type: FP32, dims: [-1]}]
    outputs: [{name: SUM, data_type: FP32, dims: [-1]}]
    smoke:
      - name: any
        inputs: {A: {value: [1]}}
        expect: {SUM: {match: shape, shape: [1]}}
"""


def write_group(folder: Path, *, sum_value: str = "[4, 6]") -> GroupSpec:
    """The group above (sleepy has no cases: it is for timeouts), with its model files and .npy input, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "add.py").write_text(ADD_MODEL)
    (folder / "scores.py").write_text(SCORES_MODEL)
    (folder / "upper.py").write_text(UPPER_MODEL)
    (folder / "sleepy.py").write_text(SLEEPY_MODEL)
    np.save(folder / "a.npy", np.array([0.1, 0.2, 0.3], dtype=np.float32))
    (folder / "group.yaml").write_text(SPEC.format(sum=sum_value))
    return load_spec(folder / "group.yaml")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, GroupSpec]]:
    spec = write_group(tmp_path_factory.mktemp("group"))
    with LocalServer.start(plan_from_spec(spec), tmp_path_factory.mktemp("state")) as server:
        yield server, spec


@pytest.mark.triton
def test_every_case_passes_over_http(served: tuple[LocalServer, GroupSpec]) -> None:
    server, spec = served
    with TritonTransport(server.http_url) as transport:
        report = run_smoke(spec, transport)
    assert report.passed, report.summary()
    assert report.summary().startswith(f"PASS: 5/5 cases passed in 3 model(s) at {server.http_url} (3 repeat(s),")
    assert [len(case.latencies_ms) for case in report.cases] == [3, 3, 3, 3, 3]
    assert all(model.p50_ms is not None and model.p50_ms <= (model.p99_ms or 0) for model in report.models)


@pytest.mark.triton
def test_every_case_passes_over_grpc(served: tuple[LocalServer, GroupSpec]) -> None:
    server, spec = served
    with TritonTransport(server.grpc_url, "grpc") as transport:
        report = run_smoke(spec, transport, repeats=1)
    assert report.passed, report.summary()
    assert report.endpoint == f"grpc://{server.grpc_url}"
    assert json.loads(json.dumps(report.to_json()))["counts"]["passed"] == 5


@pytest.mark.triton
def test_a_wrong_expected_value_fails_with_what_differs(served: tuple[LocalServer, GroupSpec], tmp_path: Path) -> None:
    server, _ = served
    wrong = write_group(tmp_path, sum_value="[4, 7]")
    with TritonTransport(server.http_url) as transport:
        report = run_smoke(wrong, transport, models=["add"])
    assert not report.passed
    small, fractions = report.cases
    assert fractions.passed
    (failure,) = small.failures
    assert failure.output == "SUM"
    assert failure.reason.startswith("1 of 2 elements differ; first at [1]: expected 7.0, got 6.0; "
                                     "expected [4., 7.] (FP32 [2]), got [4., 6.] (FP32 [2])")
    lines = report.summary().splitlines()
    assert lines[0].startswith("FAIL: 1/2 cases passed in 1 model(s)")
    assert lines[1].startswith("  FAIL add/small: output SUM: 1 of 2 elements differ")


@pytest.mark.triton
def test_a_missing_model_version_is_a_failed_case_with_the_servers_answer(
    served: tuple[LocalServer, GroupSpec], tmp_path: Path
) -> None:
    server, _ = served
    spec = write_group(tmp_path)
    text = (tmp_path / "group.yaml").read_text().replace("      - name: small\n", "      - name: small\n"
                                                         "        version: 7\n")
    (tmp_path / "group.yaml").write_text(text)
    with TritonTransport(server.http_url) as transport:
        report = run_smoke(load_spec(spec.source), transport, models=["add"], repeats=1)
    small, fractions = report.cases
    assert fractions.passed
    assert [str(f) for f in small.failures] == [
        "HTTP 404: Request for unknown model: 'add' version 7 is not found (status 404)"
    ]


@pytest.mark.triton
def test_a_model_that_fails_to_load_is_reported_by_name_with_the_reason(
    served: tuple[LocalServer, GroupSpec], tmp_path: Path
) -> None:
    server, _ = served
    broken = server.record.repository / "broken"
    (broken / "1").mkdir(parents=True)
    (broken / "1" / "model.py").write_text("raise RuntimeError('weights missing on purpose')\n")
    (broken / "config.pbtxt").write_text(
        'name: "broken"\nbackend: "python"\n'
        'input [{name: "A", data_type: TYPE_FP32, dims: [-1]}]\n'
        'output [{name: "SUM", data_type: TYPE_FP32, dims: [-1]}]\n'
    )
    with pytest.raises(InferenceServerException, match="weights missing on purpose"):
        httpclient.InferenceServerClient(server.http_url.removeprefix("http://")).load_model("broken")
    spec = write_group(tmp_path)
    (tmp_path / "broken.py").write_text("raise RuntimeError('weights missing on purpose')\n")
    (tmp_path / "group.yaml").write_text(spec.source.read_text() + BROKEN_MODEL)
    group = load_spec(tmp_path / "group.yaml")
    for protocol, url in (("http", server.http_url), ("grpc", server.grpc_url)):
        with TritonTransport(url, protocol) as transport:  # type: ignore[arg-type]
            report = run_smoke(group, transport, models=["add", "broken"], repeats=1, timeout_s=10)
        add, failed = report.models
        assert add.passed
        assert failed.not_ready is not None
        assert failed.not_ready.startswith("version 1 UNAVAILABLE: ")
        assert "RuntimeError: weights missing on purpose" in failed.not_ready
        assert f"  FAIL broken: not ready: {failed.not_ready}" in report.summary().splitlines()


@pytest.mark.triton
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_request_that_times_out_is_a_transport_error(served: tuple[LocalServer, GroupSpec], protocol: str) -> None:
    server, _ = served
    url = server.http_url if protocol == "http" else server.grpc_url
    transport = TritonTransport(url, protocol, request_timeout_s=0.3)  # type: ignore[arg-type]
    with transport, pytest.raises(TransportError) as raised:
        transport.infer("sleepy", [Tensor("A", np.zeros(1, np.float32), "FP32")], ["A"])
    expected = "no answer: TimeoutError: timed out" if protocol == "http" else "DEADLINE_EXCEEDED: Deadline Exceeded"
    assert str(raised.value) == expected


@pytest.mark.triton
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_prepared_request_is_sent_many_times_from_several_threads(served: tuple[LocalServer, GroupSpec],
                                                                     protocol: str) -> None:
    server, _ = served
    url = server.http_url if protocol == "http" else server.grpc_url
    inputs = [Tensor("A", np.array([1, 2], np.float32), "FP32"), Tensor("B", np.array([3, 4], np.float32), "FP32")]
    with TritonTransport(url, protocol) as transport:  # type: ignore[arg-type]
        request = transport.prepare("add", inputs, ["SUM"], version=1)
        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(lambda _: request.send(), range(9)))
    assert [answer["SUM"].tolist() for answer in answers] == [[4.0, 6.0]] * 9


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_an_input_that_does_not_match_its_datatype_fails_when_prepared(protocol: str) -> None:
    transport = TritonTransport("127.0.0.1:1", protocol)  # type: ignore[arg-type]  # never reached
    with pytest.raises(TransportError) as raised:
        transport.prepare("add", [Tensor("A", np.zeros(2, np.float32), "INT32")], ["SUM"])
    assert str(raised.value) == "input A cannot be sent: got unexpected datatype FP32 from numpy array, expected INT32."


@pytest.mark.parametrize(("url", "protocol", "parsed"), [
    ("http://127.0.0.1:8000", None, ("http", False, "127.0.0.1:8000")),
    ("https://triton.example.com:443/base/", None, ("http", True, "triton.example.com:443/base")),
    ("127.0.0.1:8001", "grpc", ("grpc", False, "127.0.0.1:8001")),
    ("grpcs://triton.example.com:8001", None, ("grpc", True, "triton.example.com:8001")),
    ("localhost:8000", None, ("http", False, "localhost:8000")),
])
def test_urls_give_the_protocol_and_address(url: str, protocol: str | None, parsed: tuple[str, bool, str]) -> None:
    assert parse_url(url, protocol) == parsed  # type: ignore[arg-type]
    assert TritonTransport(url, protocol).endpoint.endswith(parsed[2])  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "protocol", "message"), [
    ("ftp://host:21", None, "unknown scheme 'ftp'"),
    ("grpc://host:8001", "http", "the scheme says grpc but the protocol asked is http"),
    (":8000", None, "give host:port"),
    ("host:8001/base", "grpc", "a gRPC address is host:port, without a path"),
    ("http://127.0.0.1:99999", None, "the port must be a number from 1 to 65535"),
    ("127.0.0.1:http", None, "the port must be a number from 1 to 65535"),
    ("not a url", None, "give host:port"),
])
def test_bad_urls_are_user_errors(url: str, protocol: str | None, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_url(url, protocol)  # type: ignore[arg-type]
