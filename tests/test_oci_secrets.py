"""No OCI key, passphrase or OCIR token reaches the Pulumi state in plaintext, nor a pickled provider.

The dev stack is deployed (under mocks) with a freshly generated API key (an encrypted PEM and its
passphrase, in an OCI config file the smoke test signs with) and an OCIR auth token given as a secret
stack config value (an image build pushes with it). Everything the engine would store is then searched
for that material: every resource's inputs (values marked secret are encrypted by the engine, so they are
left out), the dynamic providers' outputs, the stack outputs, and each dynamic provider as pickled.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import dill
import pytest
from mock_engine import DYNAMIC_TYPE_PREFIX, PROVIDER_KEY
from oci_stack_harness import DOCKER_IMAGE, OciCredentials, OciStackHarness, oci_project, stack_config
from pulumi.runtime import rpc

from components.providers.smoke_test import TRANSPORTS

TOKEN = "ocir-token-k3Y9:zQ+u5pL]wR7x"
BUILD = {"repository": "triton/vision-server", "tag": "24.08", "baseImage": "nvcr.io/nvidia/tritonserver:24.08-py3",
         "username": "exampletenancy/example.user@example.com"}


@pytest.fixture
def deployed(tmp_path: Path) -> tuple[OciStackHarness, OciCredentials]:
    folder, credentials = oci_project(tmp_path)
    harness = OciStackHarness({**stack_config(folder, credentials, image={"build": BUILD}),
                               "triton-groups:ocirToken": TOKEN}, project=folder)
    harness.up()
    return harness, credentials


def key_material(credentials: OciCredentials) -> list[str]:
    """The secrets to look for: the whole PEM, each of its base64 lines, the passphrase, the token."""
    body = [line for line in credentials.pem.splitlines() if line and not line.startswith("-----")]
    return [credentials.pem, *body, credentials.passphrase, TOKEN]


def found_in(text: str | bytes, material: list[str]) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [secret[:24] for secret in material if secret.encode() in data]


def without_secrets(value: Any) -> Any:
    """A value as the engine stores it in plaintext: values marked secret are encrypted, so they are dropped."""
    if rpc.is_rpc_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {key: without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def test_the_token_reaches_the_image_build_only_as_a_secret(
    deployed: tuple[OciStackHarness, OciCredentials],
) -> None:
    harness, credentials = deployed
    registries = harness.one(DOCKER_IMAGE).raw_inputs["registries"]

    assert rpc.is_rpc_secret(registries)
    assert found_in(json.dumps(rpc.unwrap_rpc_secret(registries)), key_material(credentials)) == [TOKEN[:24]]


def test_no_resource_input_holds_key_material_in_plaintext(deployed: tuple[OciStackHarness, OciCredentials]) -> None:
    harness, credentials = deployed
    material = key_material(credentials)

    leaks = {name: found_in(json.dumps(without_secrets(registration.raw_inputs), default=str), material)
             for name, registration in harness.registrations.items()}

    assert {name: found for name, found in leaks.items() if found} == {}
    smoke_options = harness.registrations["smoke"].inputs["transport_options"]
    assert smoke_options["config_file"] == str(credentials.config_file)


def test_no_dynamic_provider_output_or_stack_output_holds_key_material(
    deployed: tuple[OciStackHarness, OciCredentials],
) -> None:
    harness, credentials = deployed
    material = key_material(credentials)

    dynamic = [state for state in harness.state.values() if state.type.startswith(DYNAMIC_TYPE_PREFIX)]

    assert {state.name for state in dynamic} == {"repository", "smoke"}
    assert [state.name for state in dynamic if found_in(json.dumps(state.outputs, default=str), material)] == []
    assert found_in(json.dumps(harness.last_outputs, default=str), material) == []


def test_no_pickled_provider_holds_key_material(deployed: tuple[OciStackHarness, OciCredentials]) -> None:
    harness, credentials = deployed
    material = key_material(credentials)
    pickles = {
        name: base64.b64decode(rpc.unwrap_rpc_secret(registration.raw_inputs[PROVIDER_KEY]))
        for name, registration in harness.registrations.items()
        if registration.type.startswith(DYNAMIC_TYPE_PREFIX)
    }

    assert sorted(pickles) == ["repository", "smoke"]
    for name, pickled in pickles.items():
        assert found_in(pickled, material) == [], name
        assert found_in(dill.dumps(dill.loads(pickled)), material) == [], name


def test_the_oci_transport_signs_with_the_key_but_never_pickles_it(
    deployed: tuple[OciStackHarness, OciCredentials],
) -> None:
    harness, credentials = deployed
    smoke = harness.registrations["smoke"].inputs
    transport = TRANSPORTS["oci"](smoke["endpoint"], smoke["transport_options"])

    signer = transport._auth()

    assert signer is not None
    assert found_in(dill.dumps(transport), key_material(credentials)) == []
