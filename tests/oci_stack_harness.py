"""The OCI stack program (infra/__main__.py with target oci) run under Pulumi mocks, for the OCI tests.

`OciStackHarness` is the shared `MockEngine` (which runs the dynamic providers for real: the
model repository's zips are built; it records each registration's resource options, replaces a custom
resource whose replaceOnChanges property changed, and answers the stack's StackReference to itself),
given through its public hooks what an OCI account would add:

- computed outputs: a deployment's `modelDeploymentUrl` and `state`, a pushed image's `digest`, and an
  uploaded object's `source` as pulumi-oci records it (path plus the file's mtime, a force-new property);
- invokes answer as OCI would (`objectstorage.get_namespace` gives `NAMESPACE`; `datascience.get_model`
  reads a catalog model's artifact: after an export, the exported object's size, unless the harness plays
  a service that refuses exports, `refuse_exports`);
- `read_back(state)`, given to `refresh`, is what pulumi-oci's reads bring back: a Model's
  `artifactContentLength` and `artifactContentDisposition` from HeadModelArtifact (the exported zip's);
- the OCI smoke test is recorded, not run: there is no OCI deployment to call. `smoke="passing"` records it
  as a passing one (what a run that passed would record: `passed`, `passed_at`, a passing report and `serving`);
  `smoke="run"` runs its provider for real, with the transport and Data Science client the test puts in
  `components.providers.smoke_test.TRANSPORTS` and `DEPLOYMENT_CLIENTS`;
- `other_stacks` are the backend's other stacks a StackReference reads (`promotesFrom`).

Every run happens in the harness's project folder (`project`), a temporary one in tests: artifacts,
hash caches and the image context land there, never in the checkout. `oci_project(tmp)` lays out such a
project (Pulumi.yaml, stacks/Pulumi.dev.yaml, the vision example) with a generated API key (encrypted
PEM + passphrase) and OCI config file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mock_engine as base
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mock_engine import MockEngine, ResourceState

from components.providers.smoke_test import InferenceSmokeTestProvider

ROOT = Path(__file__).resolve().parents[1]
MODEL_DEPLOYMENT = "oci:DataScience/modelDeployment:ModelDeployment"
DOCKER_IMAGE = "docker-build:index:Image"
GET_NAMESPACE = "oci:ObjectStorage/getNamespace:getNamespace"
GET_MODEL = "oci:DataScience/getModel:getModel"
MODEL = "oci:DataScience/model:Model"
EXPORT = "oci:DataScience/modelArtifactExport:ModelArtifactExport"
STORAGE_OBJECT = "oci:ObjectStorage/storageObject:StorageObject"
SMOKE = "pulumi-python:dynamic/triton:InferenceSmokeTest"
PASSED_AT = "2025-01-02T03:04:05+00:00"
NAMESPACE = "mocktenancy"
FORCE_NEW = {STORAGE_OBJECT: ("bucket", "namespace", "source", "contentType", "metadata")}
"""Properties pulumi-oci 5.5 documents without "(Updatable)", which its provider replaces on (those the tests use)."""


@dataclass(frozen=True)
class OciCredentials:
    """A generated API key: the OCI config file, the encrypted PEM's text and its passphrase."""

    config_file: Path
    pem: str
    passphrase: str


def oci_outputs(type_: str, resource_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What OCI and the registry compute: a deployment's URL and state, a pushed image's digest."""
    if type_ == MODEL_DEPLOYMENT:
        return {"modelDeploymentUrl": f"https://modeldeployment.us-ashburn-1.oci.customer-oci.com/{resource_id}",
                "state": "ACTIVE"}
    if type_ == DOCKER_IMAGE:
        pushed = json.dumps({"tags": inputs.get("tags"), "dockerfile": inputs.get("dockerfile")}, sort_keys=True)
        return {"digest": "sha256:" + hashlib.sha256(pushed.encode()).hexdigest()}
    if type_ == STORAGE_OBJECT and isinstance(inputs.get("source"), str):
        return {"source": source_state(inputs["source"])}
    return {}


def source_state(path: str) -> str:
    """How pulumi-oci records an upload's `source`: the path and the file's modification time."""
    return f"{path} {os.stat(path).st_mtime_ns if os.path.exists(path) else 'missing'}"


def oci_invoke(token: str, _args: dict[str, Any]) -> dict[str, Any]:
    """What OCI answers to the program's lookups: the tenancy's Object Storage namespace."""
    return {"namespace": NAMESPACE} if token == GET_NAMESPACE else {}


class OciStackHarness(MockEngine):
    """The shared harness with OCI's computed outputs and lookups, the smoke test recorded but not run, and
    every run in `project` (the folder the program and its providers run in). `program` defaults to the
    project's infra/__main__.py. `refuse_exports` plays a service that refuses every artifact export (the
    catalog keeps the artifact the Model was created with)."""

    def __init__(
        self, config: Mapping[str, str], *, project: Path, program: base.Program | None = None, stack: str = "dev",
        refuse_exports: bool = False, smoke: Literal["recorded", "passing", "run"] = "recorded",
        other_stacks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.refuse_exports = refuse_exports
        self.smoke = smoke
        super().__init__(
            program or base.program_from_file(ROOT / "infra" / "__main__.py"),
            stack=stack,
            config=config,
            project_dir=project,
            custom_outputs=self.oci_outputs,
            invoke_results=self.oci_invoke,
            skipped_providers=() if smoke == "run" else (InferenceSmokeTestProvider,),
            force_new=FORCE_NEW,
            other_stacks=other_stacks,
        )

    def oci_outputs(self, type_: str, resource_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """`oci_outputs`, and with `smoke="passing"` what a smoke test that passed records."""
        if type_ == SMOKE and self.smoke == "passing":
            serves = ((inputs.get("rollback") or {}).get("oci") or {}).get("serves")
            return {"passed": True, "passed_at": PASSED_AT, "summary": "PASS: every case passed",
                    "report": {"passed": True},
                    "serving": {**serves, "repository_sha256": inputs["repository_sha256"], "passed_at": PASSED_AT}
                    if serves else None}
        return oci_outputs(type_, resource_id, inputs)

    def oci_invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """`oci_invoke`, and `datascience.get_model` answered from the catalog this harness plays."""
        if token == GET_MODEL:
            model = next(state for state in self.state.values() if state.type == MODEL and state.id == args["modelId"])
            length, disposition = self.catalog_artifact(model)
            return {"id": model.id, "artifactContentLength": length, "artifactContentDisposition": disposition}
        return oci_invoke(token, args)

    def catalog_artifact(self, model: ResourceState) -> tuple[str, str]:
        """The (content length, content disposition) HeadModelArtifact gives for a catalog model: the exported
        object's once an export into it ran (and the service took it), else what the Model uploaded."""
        exports = [state for state in self.state.values() if state.type == EXPORT
                   and state.inputs.get("modelId") == model.id]
        if exports and not self.refuse_exports:
            name = exports[-1].inputs["sourceObjectName"]
            upload = next(state for state in self.state.values() if state.type == STORAGE_OBJECT
                          and state.inputs.get("object") == name)
            size = os.path.getsize(Path(self.project_dir or ".") / upload.inputs["source"])
            return str(size), f"attachment; filename={name.rsplit('/', 1)[-1]}"
        return str(model.inputs["artifactContentLength"]), str(model.inputs.get("artifactContentDisposition", ""))

    def read_back(self, state: ResourceState) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """What `pulumi refresh` reads for a resource: a Model's artifact fields as HeadModelArtifact says them."""
        if state.type != MODEL:
            return None
        length, disposition = self.catalog_artifact(state)
        read = {"artifactContentLength": length, "artifactContentDisposition": disposition}
        return {**state.inputs, **read}, {**state.outputs, **read}


def make_credentials(folder: Path, passphrase: str = "correct horse battery staple 0xC0FFEE") -> OciCredentials:
    """A fresh RSA API key (PEM encrypted with `passphrase`) and an OCI config file whose profile uses it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(passphrase.encode())).decode()
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fingerprint = ":".join(f"{byte:02x}" for byte in hashlib.md5(public).digest())
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "oci_api_key.pem"
    key_file.write_text(pem)
    config_file = folder / "config"
    config_file.write_text(
        "[DEFAULT]\n"
        "user=ocid1.user.oc1..exampleuser\n"
        f"fingerprint={fingerprint}\n"
        "tenancy=ocid1.tenancy.oc1..exampletenancy\n"
        "region=us-ashburn-1\n"
        f"key_file={key_file}\n"
        f"pass_phrase={passphrase}\n"
    )
    return OciCredentials(config_file, pem, passphrase)


def oci_project(folder: Path) -> tuple[Path, OciCredentials]:
    """A project folder like the checkout's (Pulumi.yaml, stacks/Pulumi.dev.yaml, the vision example) and a key.

    Give it to the harness as `project`: the program finds its project, spec and artifact folder there.
    """
    project = folder / "project"
    (project / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(ROOT / "stacks" / "Pulumi.dev.yaml", project / "stacks" / "Pulumi.dev.yaml")
    shutil.copytree(ROOT / "examples" / "vision", project / "examples" / "vision",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return project, make_credentials(folder / "oci")


def stack_config(project: Path, credentials: OciCredentials, **changes: Any) -> dict[str, str]:
    """The dev stack's config as the engine hands it to the program (objects as JSON text), with the
    smoke profile pointing at the generated key and `changes` (bare keys: `layout="single"`) applied."""
    document = yaml.safe_load((project / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    values = {key.removeprefix("triton-groups:"): value for key, value in document.items()}
    values["smoke"] = {**values["smoke"], "configFile": str(credentials.config_file)}
    values.update(changes)
    return {f"triton-groups:{key}": json.dumps(value) if isinstance(value, dict | list) else str(value)
            for key, value in values.items() if value is not None}
