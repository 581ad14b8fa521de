"""The OCI /predict transport against an in-test stand-in for a model deployment's endpoint.

`SignedEndpoint` plays the part of OCI's gateway: an HTTP server on 127.0.0.1 that VERIFIES each request's
OCI signature with the test key's public key (rebuilding the signing string from the headers the
Authorization header lists), checks the body digest and the routing headers, and forwards the body to a
REAL local tritonserver the way a Triton model deployment does (`model_name`/`model_version` headers ->
/v2/models/<name>[/versions/<v>]/infer). The OCI config file and keys are generated per test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import re
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dill
import numpy as np
import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from components.core.oci_target.group import default_versions
from components.core.oci_target.settings import OciSmokeSettings, SmokeHeaders
from components.core.plan import plan_from_spec
from components.core.runtime import LocalServer
from components.core.smoke.oci_transport import (
    ApiKeySigner,
    OciPredictTransport,
    ResourcePrincipalSigner,
    signer_factory,
)
from components.core.smoke.runner import run_smoke
from components.core.smoke.transport import Tensor, TransportError
from components.core.spec import GroupSpec, load_spec

TENANCY = "ocid1.tenancy.oc1..aaaatenancy"
USER = "ocid1.user.oc1..aaaauser"
FINGERPRINT = ":".join(["3f"] * 16)
DEPLOYMENT_PATH = "/ocid1.datasciencemodeldeployment.oc1.iad.test"
SIGNED_HEADERS = ["date", "(request-target)", "host", "content-length", "content-type", "x-content-sha256"]


# --- OCI credentials made for the test ---------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    private_pem: bytes
    public: rsa.RSAPublicKey
    config_file: Path


def make_api_key(folder: Path, name: str) -> ApiKey:
    """An RSA key pair and an OCI config file whose DEFAULT profile uses it (fake tenancy, user, fingerprint)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / f"{name}.pem"
    key_file.write_bytes(pem)
    config = folder / f"{name}.config"
    config.write_text(textwrap.dedent(f"""\
        [DEFAULT]
        user={USER}
        fingerprint={FINGERPRINT}
        tenancy={TENANCY}
        region=us-ashburn-1
        key_file={key_file}
    """))
    return ApiKey(pem, key.public_key(), config)


# --- the stand-in for the deployment's endpoint ------------------------------------------------------------


def signature_problem(handler: BaseHTTPRequestHandler, body: bytes, public_key: rsa.RSAPublicKey) -> str | None:
    """Why the request's OCI signature does not hold, or None when it does."""
    authorization = handler.headers.get("authorization", "")
    if not authorization.startswith("Signature "):
        return "no Signature authorization"
    fields = dict(re.findall(r'(\w+)="([^"]*)"', authorization))
    if fields.get("version") != "1" or fields.get("algorithm") != "rsa-sha256":
        return f"unexpected signature scheme {fields}"
    if fields.get("keyId") != f"{TENANCY}/{USER}/{FINGERPRINT}":
        return f"unknown keyId {fields.get('keyId')}"
    listed = fields.get("headers", "").split()
    if listed != SIGNED_HEADERS:
        return f"a POST must sign {SIGNED_HEADERS}, this one signs {listed}"
    lines = []
    for name in listed:
        if name == "(request-target)":
            lines.append(f"(request-target): {handler.command.lower()} {handler.path}")
        else:
            lines.append(f"{name}: {handler.headers[name]}")
    try:
        public_key.verify(base64.b64decode(fields["signature"]), "\n".join(lines).encode("ascii"),
                          padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return "the signature does not verify"
    if handler.headers["x-content-sha256"] != base64.b64encode(hashlib.sha256(body).digest()).decode():
        return "x-content-sha256 is not the body's digest"
    if int(handler.headers["content-length"]) != len(body):
        return "content-length is not the body's length"
    return None


@dataclass
class SignedEndpoint:
    """A model deployment's endpoint in front of a Triton. `mode`: forward; error (a 503); slow (then forward);
    garbage (a 200 that is no inference response)."""

    public_key: rsa.RSAPublicKey
    triton_url: str
    mode: str = "forward"
    slow_s: float = 1.0
    verified: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{DEPLOYMENT_PATH}"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length", 0)))
        if handler.path != f"{DEPLOYMENT_PATH}/predict":
            return self.answer(handler, 404, json.dumps({"code": "NotFound", "message": handler.path}).encode())
        problem = signature_problem(handler, body, self.public_key)
        if problem is not None:
            self.rejected.append(problem)
            return self.answer(handler, 401, json.dumps({"code": "NotAuthenticated", "message": problem}).encode())
        self.verified.append({name.lower(): value for name, value in handler.headers.items()})
        self.bodies.append(body)
        if self.mode == "error":
            return self.answer(handler, 503, b"<html>upstream model server unavailable</html>")
        if self.mode == "garbage":
            return self.answer(handler, 200, b"<html>Sign in</html>")
        if self.mode == "slow":
            time.sleep(self.slow_s)
        model, version = handler.headers["model_name"], handler.headers.get("model_version")
        target = f"{self.triton_url}/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
        forwarded = {name: handler.headers[name] for name in ("Content-Type", "Inference-Header-Content-Length")
                     if handler.headers.get(name)}
        reply = requests.post(target, data=body, headers=forwarded, timeout=30)
        length = reply.headers.get("Inference-Header-Content-Length")
        return self.answer(handler, reply.status_code, reply.content,
                           {"Inference-Header-Content-Length": length} if length else {})

    @staticmethod
    def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes,
               headers: dict[str, str] | None = None) -> None:
        try:
            handler.send_response(status)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)


@pytest.fixture
def endpoint_factory() -> Iterator:
    started: list[SignedEndpoint] = []

    def start(public_key: rsa.RSAPublicKey, triton_url: str = "http://127.0.0.1:9", mode: str = "forward"
              ) -> SignedEndpoint:
        endpoint = SignedEndpoint(public_key, triton_url, mode)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        endpoint.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        endpoint.server.daemon_threads = True
        threading.Thread(target=endpoint.server.serve_forever, daemon=True).start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        assert endpoint.server is not None
        endpoint.server.shutdown()
        endpoint.server.server_close()


def active() -> tuple[str, str | None]:
    return "ACTIVE", None


def transport_for(endpoint: SignedEndpoint, key: ApiKey, **options: object) -> OciPredictTransport:
    """A transport to the stand-in endpoint; the group's models serve version 1 unless `default_versions` says."""
    options.setdefault("default_versions", {"add": 1, "sub": 1})
    return OciPredictTransport(endpoint.url, signer_factory=ApiKeySigner(str(key.config_file), "DEFAULT"),
                               deployment_state=active, poll_interval_s=0.01, **options)  # type: ignore[arg-type]


# --- a real Triton serving two python-backend models -------------------------------------------------------

MODEL_PY = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.sign = 1.0 if args["model_name"] == "add" else -1.0

    def execute(self, requests):
        responses = []
        for request in requests:
            a = pb_utils.get_input_tensor_by_name(request, "A").as_numpy()
            b = pb_utils.get_input_tensor_by_name(request, "B").as_numpy()
            out = pb_utils.Tensor("OUT", (a + self.sign * b).astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
        return responses
"""


def arithmetic_spec(folder: Path, name: str, add_expected: str) -> GroupSpec:
    """`add` (OUT = A + B) and `sub` (OUT = A - B), each with a case and a case pinned to version 1."""
    (folder / "model.py").write_text(MODEL_PY)
    models = ""
    for model, expected in (("add", add_expected), ("sub", "[-9, -18]")):
        models += textwrap.indent(textwrap.dedent(f"""\
            - name: {model}
              backend: python
              versions: {{1: model.py}}
              inputs: [{{name: A, data_type: FP32, dims: [-1]}}, {{name: B, data_type: FP32, dims: [-1]}}]
              outputs: [{{name: OUT, data_type: FP32, dims: [-1]}}]
              smoke:
                - name: small
                  inputs: {{A: {{value: [1, 2]}}, B: {{value: [10, 20]}}}}
                  expect: {{OUT: {{match: exact, value: {expected}, datatype: FP32}}}}
                - name: pinned
                  version: 1
                  inputs: {{A: {{value: [1, 2]}}, B: {{value: [10, 20]}}}}
                  expect: {{OUT: {{match: shape, shape: [2]}}}}
        """), "  ")
    (folder / f"{name}.yaml").write_text(f"name: arithmetic\nmodels:\n{models}")
    return load_spec(folder / f"{name}.yaml")


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, GroupSpec, GroupSpec]]:
    """A local tritonserver serving the group; yields its URL, the group's spec and one with a wrong answer."""
    folder = tmp_path_factory.mktemp("group")
    spec = arithmetic_spec(folder, "group", "[11, 22]")
    wrong = arithmetic_spec(folder, "wrong", "[11, 23]")
    with LocalServer.start(plan_from_spec(spec), tmp_path_factory.mktemp("state")) as server:
        yield server.http_url, spec, wrong


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> ApiKey:
    return make_api_key(tmp_path_factory.mktemp("oci"), "user")


@pytest.mark.triton
def test_smoke_cases_pass_through_the_signed_endpoint_as_json_naming_model_and_version(
    triton, key, endpoint_factory
) -> None:
    url, spec, _ = triton
    endpoint = endpoint_factory(key.public, url)
    with transport_for(endpoint, key, default_versions=default_versions(spec)) as transport:
        report = run_smoke(spec, transport)
    assert report.passed, report.summary()
    assert [(case.model, case.case) for case in report.cases] == [
        ("add", "small"), ("add", "pinned"), ("sub", "small"), ("sub", "pinned")]
    assert endpoint.rejected == []
    routes = {(headers["model_name"], headers["model_version"]) for headers in endpoint.verified}
    assert routes == {("add", "1"), ("sub", "1")}, "model_version goes with model_name, also for a case without one"
    for headers in endpoint.verified:
        assert headers["model-key"] == headers["model_name"]
        assert headers["accept-encoding"] == "identity"
        assert headers["content-type"] == "application/json"
        assert "inference-header-content-length" not in headers
    assert all(body.startswith(b'{"inputs":[') for body in endpoint.bodies)


@pytest.mark.triton
def test_the_binary_tensor_extension_is_an_option(triton, key, endpoint_factory) -> None:
    url, spec, _ = triton
    endpoint = endpoint_factory(key.public, url)
    with transport_for(endpoint, key, default_versions=default_versions(spec), wire_format="binary") as transport:
        report = run_smoke(spec, transport)
    assert report.passed, report.summary()
    for headers in endpoint.verified:
        assert headers["content-type"] == "application/octet-stream"
        assert int(headers["inference-header-content-length"]) > 0
    with pytest.raises(ValueError, match="wire_format is json or binary"):
        transport_for(endpoint, key, wire_format="msgpack")


def test_a_model_of_unknown_version_is_refused_before_sending(key, endpoint_factory) -> None:
    endpoint = endpoint_factory(key.public)
    transport = transport_for(endpoint, key, default_versions={"add": 3})
    inputs = [Tensor("A", np.zeros(1, np.float32), "FP32")]
    assert transport.prepare("add", inputs, ["OUT"]).headers["model_version"] == "3"
    assert transport.prepare("add", inputs, ["OUT"], version=1).headers["model_version"] == "1"
    with pytest.raises(TransportError, match="no version is known for model sub: the model_version header is always "
                                             "sent, so give the case a version"):
        transport.prepare("sub", inputs, ["OUT"])
    assert endpoint.verified == []


@pytest.mark.triton
def test_routing_header_names_and_inference_keys_are_configurable(triton, key, endpoint_factory) -> None:
    url, _, _ = triton
    endpoint = endpoint_factory(key.public, url)
    headers = SmokeHeaders.model_validate({"modelKey": "x-inference-key", "modelName": ["model_name", "model-name"],
                                           "modelVersion": []})
    inputs = [Tensor("A", np.array([5.0], np.float32), "FP32"), Tensor("B", np.array([3.0], np.float32), "FP32")]
    with transport_for(endpoint, key, headers=headers, inference_keys={"sub": "subtractor"}) as transport:
        answer = transport.infer("sub", inputs, ["OUT"], version=1)
    np.testing.assert_array_equal(answer["OUT"], np.array([2.0], np.float32))
    [sent] = endpoint.verified
    assert (sent["x-inference-key"], sent["model_name"], sent["model-name"]) == ("subtractor", "sub", "sub")
    assert "model-key" not in sent and "model_version" not in sent


@pytest.mark.triton
def test_a_request_signed_with_the_wrong_key_fails_with_401(triton, key, endpoint_factory, tmp_path) -> None:
    url, spec, _ = triton
    endpoint = endpoint_factory(key.public, url)
    impostor = make_api_key(tmp_path, "impostor")
    with transport_for(endpoint, impostor) as transport:
        report = run_smoke(spec, transport)
    assert not report.passed
    assert endpoint.verified == [] and set(endpoint.rejected) == {"the signature does not verify"}
    for case in report.cases:
        [failure] = case.failures
        assert failure.output is None
        assert failure.reason == "HTTP 401: the signature does not verify (status 401)"


@pytest.mark.triton
def test_a_5xx_from_the_deployment_is_a_failed_case_with_its_status_and_body(triton, key, endpoint_factory) -> None:
    url, spec, _ = triton
    endpoint = endpoint_factory(key.public, url, mode="error")
    with transport_for(endpoint, key) as transport:
        report = run_smoke(spec, transport)
    reasons = {failure.reason for case in report.cases for failure in case.failures}
    assert reasons == {"HTTP 503: <html>upstream model server unavailable</html> (status 503)"}
    assert len(report.cases) == 4 and not any(case.passed for case in report.cases)


@pytest.mark.triton
def test_a_request_that_times_out_is_a_failed_case(triton, key, endpoint_factory) -> None:
    url, spec, _ = triton
    endpoint = endpoint_factory(key.public, url, mode="slow")
    with transport_for(endpoint, key, request_timeout_s=0.3) as transport:
        report = run_smoke(spec, transport, models=["add"])
    for case in report.cases:
        [failure] = case.failures
        assert failure.reason == f"no answer within 0.3 s from {endpoint.url}/predict"
    assert len(report.cases) == 2


@pytest.mark.triton
def test_a_wrong_answer_fails_its_case_only(triton, key, endpoint_factory) -> None:
    url, _, wrong = triton
    endpoint = endpoint_factory(key.public, url)
    with transport_for(endpoint, key) as transport:
        report = run_smoke(wrong, transport)
    failed = [case for case in report.cases if not case.passed]
    assert [(case.model, case.case) for case in failed] == [("add", "small")]
    [failure] = failed[0].failures
    assert failure.output == "OUT" and "status" not in failure.reason
    assert endpoint.verified and endpoint.rejected == []


@pytest.mark.triton
def test_an_unpickled_transport_signs_again_from_the_config_file(triton, key, endpoint_factory) -> None:
    url, spec, _ = triton
    endpoint = endpoint_factory(key.public, url)
    with transport_for(endpoint, key) as transport:
        assert run_smoke(spec, transport, models=["add"]).passed
        copy = dill.loads(dill.dumps(transport))
    signed_before = len(endpoint.verified)
    with copy:
        assert run_smoke(spec, copy, models=["sub"]).passed
    assert {headers["model_name"] for headers in endpoint.verified[signed_before:]} == {"sub"}
    assert endpoint.rejected == []


# --- without a Triton: secrets, deployment state, errors ---------------------------------------------------


def key_material(pem: bytes) -> list[bytes]:
    """The PEM's marker and each of its base64 lines: none may appear in a pickle."""
    return [b"PRIVATE KEY", *(line for line in pem.splitlines() if line and not line.startswith(b"-----"))]


def test_pickling_the_transport_never_carries_the_private_key(key, endpoint_factory) -> None:
    endpoint = endpoint_factory(key.public)
    transport = transport_for(endpoint, key)
    assert transport.wait_ready(["add"], 1.0) == {"add": None}  # the signer is built now
    assert transport._signer is not None
    for dumped in (pickle.dumps(transport), dill.dumps(transport), dill.dumps(transport, recurse=True)):
        assert str(key.config_file).encode() in dumped
        assert not any(secret in dumped for secret in key_material(key.private_pem))
    assert pickle.loads(pickle.dumps(transport))._signer is None


def test_waiting_polls_the_deployment_until_it_is_active(key) -> None:
    states = iter([("CREATING", "Creating instances"), ("CREATING", None), ("ACTIVE", "Active")])
    transport = OciPredictTransport("https://md.example/ocid1", signer_factory=ApiKeySigner(str(key.config_file)),
                                    deployment_state=lambda: next(states), poll_interval_s=0.01)
    assert transport.wait_ready(["add", "sub"], 5.0) == {"add": None, "sub": None}


def test_a_failed_deployment_is_reported_with_its_lifecycle_details(key, tmp_path) -> None:
    transport = OciPredictTransport(
        "https://md.example/ocid1", signer_factory=ApiKeySigner(str(key.config_file)),
        deployment_state=lambda: ("FAILED", "Container exited: tritonserver: unable to load model 'add'"),
        poll_interval_s=0.01)
    with pytest.raises(TransportError) as raised:
        transport.wait_ready(["add"], 5.0)
    assert str(raised.value) == ("the model deployment is FAILED: Container exited: tritonserver: unable to load "
                                 "model 'add'")
    (tmp_path / "m.py").write_text("")
    spec = GroupSpec.model_validate({"name": "g", "models": [{
        "name": "add", "backend": "python", "versions": {1: "m.py"},
        "inputs": [{"name": "A", "data_type": "FP32", "dims": [-1]}],
        "outputs": [{"name": "OUT", "data_type": "FP32", "dims": [-1]}],
        "smoke": [{"name": "one", "inputs": {"A": {"value": [1]}},
                   "expect": {"OUT": {"match": "shape", "shape": [1]}}}],
    }]})
    report = run_smoke(spec, transport)
    assert report.server_error is not None and "unable to load model 'add'" in report.server_error


def test_a_deployment_not_active_in_time_is_an_error(key) -> None:
    transport = OciPredictTransport("https://md.example/ocid1", signer_factory=ApiKeySigner(str(key.config_file)),
                                    deployment_state=lambda: ("UPDATING", "Updating the environment"),
                                    active_timeout_s=0.05, poll_interval_s=0.01)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"^the model deployment is still UPDATING after 0\.05 s: Updating the "):
        transport.wait_ready(["add"], 0.01)
    assert time.monotonic() - started < 1.0


def test_a_failed_state_lookup_is_retried(key) -> None:
    calls = iter([OSError("throttled"), ("ACTIVE", None)])

    def lookup() -> tuple[str, str | None]:
        step = next(calls)
        if isinstance(step, Exception):
            raise step
        return step

    transport = OciPredictTransport("https://md.example/ocid1", signer_factory=ApiKeySigner(str(key.config_file)),
                                    deployment_state=lookup, poll_interval_s=0.01)
    assert transport.wait_ready(["add"], 5.0) == {"add": None}


def test_a_missing_oci_config_is_a_transport_error_naming_it(tmp_path) -> None:
    factory = ApiKeySigner(str(tmp_path / "absent"), "DEFAULT")
    transport = OciPredictTransport("https://md.example/ocid1", signer_factory=factory, deployment_state=active)
    with pytest.raises(TransportError, match=r"^cannot sign requests \(ApiKeySigner\(config_file='.*absent', "
                                             r"profile='DEFAULT'\)\): ConfigFileNotFound"):
        transport.wait_ready(["add"], 1.0)


def test_the_signer_follows_the_smoke_settings() -> None:
    assert signer_factory(OciSmokeSettings()) == ApiKeySigner("~/.oci/config", "DEFAULT")
    chosen = OciSmokeSettings.model_validate({"auth": "api_key", "configFile": "/etc/oci", "profile": "CI"})
    assert signer_factory(chosen) == ApiKeySigner("/etc/oci", "CI")
    assert signer_factory(OciSmokeSettings.model_validate({"auth": "resource_principal"})) == ResourcePrincipalSigner()


def test_an_answer_that_is_not_an_inference_response_is_a_transport_error(key, endpoint_factory) -> None:
    endpoint = endpoint_factory(key.public, mode="garbage")
    transport = transport_for(endpoint, key)
    with pytest.raises(TransportError) as raised:
        transport.infer("add", [Tensor("A", np.zeros(1, np.float32), "FP32")], ["OUT"])
    assert str(raised.value).startswith("the answer is not a KServe v2 inference response: ")
    assert (raised.value.status, raised.value.detail) == (200, "<html>Sign in</html>")
