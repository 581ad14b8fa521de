"""The `oci` smoke transport made from an InferenceSmokeTest's `transport_options` (plain, non-secret strings).

The options say how to sign (`auth`: `api_key` with `config_file` and `profile`, or `resource_principal`),
which deployment to poll until ACTIVE (`deployment_id`), the routing header names (`headers`, JSON of
`SmokeHeaders`), the wire format (`wire_format`), the version each model serves by default (`versions`,
JSON) and the timeouts. Keys and passphrases are read from the OCI config file only when a request
is signed or the deployment polled, in the provider's process; nothing secret is an option, so nothing
secret reaches the state. It lives in the core (no Pulumi) because the dynamic provider's process imports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.core.oci_target.rollback import data_science_client
from components.core.oci_target.settings import OciSmokeSettings, SmokeHeaders
from components.core.smoke.oci_transport import OciPredictTransport, signer_factory


@dataclass(frozen=True)
class DeploymentStateReader:
    """Reads a model deployment's (lifecycle state, details) with the Data Science API, signed like the requests."""

    deployment_id: str
    smoke: OciSmokeSettings

    def __call__(self) -> tuple[str, str | None]:
        deployment = self._client().get_model_deployment(self.deployment_id).data
        return str(deployment.lifecycle_state), deployment.lifecycle_details

    def _client(self) -> Any:
        return data_science_client(self.smoke)


def smoke_settings(options: Mapping[str, str]) -> OciSmokeSettings:
    """The smoke settings the options carry (the inverse of `components.oci.program.smoke_transport_options`)."""
    values: dict[str, Any] = {"auth": options.get("auth", "api_key")}
    for option, key in (("config_file", "configFile"), ("profile", "profile"), ("wire_format", "wireFormat"),
                        ("request_timeout_s", "requestTimeoutS"), ("active_timeout_s", "activeTimeoutS")):
        if options.get(option):
            values[key] = options[option]
    if options.get("headers"):
        values["headers"] = SmokeHeaders.model_validate(json.loads(options["headers"]))
    return OciSmokeSettings.model_validate(values)


def oci_transport(endpoint: str, options: Mapping[str, str]) -> OciPredictTransport:
    """An OciPredictTransport for the deployment at `endpoint` (its model_deployment_url)."""
    smoke = smoke_settings(options)
    return OciPredictTransport(
        endpoint,
        signer_factory=signer_factory(smoke),
        deployment_state=DeploymentStateReader(options["deployment_id"], smoke),
        headers=smoke.headers,
        default_versions={model: int(v) for model, v in json.loads(options.get("versions") or "{}").items()},
        wire_format=smoke.wire_format,
        request_timeout_s=smoke.request_timeout_s,
        active_timeout_s=smoke.active_timeout_s,
    )
