"""The OCI stack program (infra/__main__.py with target oci) run under Pulumi mocks, for the OCI tests.

`OciStackHarness` extends the shared `PulumiProgramHarness` (which runs the dynamic providers for real:
the model repository's zips are built) with what the engine and an OCI account would add:

- every registration's resource options as the engine receives them (dependencies, per-property
  dependencies, replaceOnChanges, deleteBeforeReplace, parent) and its raw inputs (secrets still wrapped);
- replacements: a custom resource whose replaceOnChanges property changed gets a new id, as the
  engine's create-before-delete replacement gives it;
- computed outputs: a deployment's `modelDeploymentUrl`, a pushed image's `digest`;
- the stack's StackReference to itself answers with the last successful update's outputs;
- invokes answer as OCI would (`objectstorage.get_namespace` gives `NAMESPACE`), and are recorded;
- the OCI smoke test is recorded, not run: there is no OCI deployment to call.

`oci_project(tmp)` lays out a project (Pulumi.yaml, stacks/Pulumi.dev.yaml, the vision example) in a
temporary folder, with a generated API key (encrypted PEM + passphrase) and OCI config file, so that
artifacts, caches and keys never touch the real checkout.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi_program_harness as base
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pulumi.runtime import mocks, rpc
from pulumi_program_harness import PROVIDER_KEY, PulumiProgramHarness, RunResult, engine_view, load_provider

from components.providers.smoke_test import InferenceSmokeTestProvider

ROOT = Path(__file__).resolve().parents[1]
STACK_REFERENCE = "pulumi:pulumi:StackReference"
MODEL_DEPLOYMENT = "oci:DataScience/modelDeployment:ModelDeployment"
DOCKER_IMAGE = "docker-build:index:Image"
GET_NAMESPACE = "oci:ObjectStorage/getNamespace:getNamespace"
NAMESPACE = "mocktenancy"


@dataclass(frozen=True)
class Registration:
    """One resource registration as the engine receives it."""

    type: str
    name: str
    urn: str
    parent: str
    dependencies: frozenset[str]
    property_dependencies: dict[str, frozenset[str]]
    replace_on_changes: tuple[str, ...]
    delete_before_replace: bool | None
    raw_inputs: dict[str, Any]

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs with secrets unwrapped, as a provider receives them."""
        return engine_view(self.raw_inputs)

    def depends_on(self, other: Registration) -> bool:
        """True when the engine orders this resource after `other` (an explicit or a property dependency)."""
        return other.urn in self.dependencies or any(other.urn in urns for urns in self.property_dependencies.values())


@dataclass(frozen=True)
class OciCredentials:
    """A generated API key: the OCI config file, the encrypted PEM's text and its passphrase."""

    config_file: Path
    pem: str
    passphrase: str


class OciStackHarness(PulumiProgramHarness):
    """The shared harness, plus resource options, replacements, computed outputs, invokes and the self-reference.

    `program` defaults to the project's infra/__main__.py.
    """

    def __init__(
        self, config: Mapping[str, str], *, program: base.Program | None = None, stack: str = "dev"
    ) -> None:
        super().__init__(program or base.program_from_file(ROOT / "infra" / "__main__.py"), stack=stack,
                         config=config)
        self.registrations: dict[str, Registration] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.last_outputs: dict[str, Any] = {}
        self.smoke_runs: list[dict[str, Any]] = []
        self._generation = 0

    def registered(self, type_: str) -> list[Registration]:
        """This run's registrations of one resource type, in registration order."""
        return [r for r in self.registrations.values() if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.registered(type_)
        assert len(found) == 1, f"{len(found)} registrations of {type_}: {[r.name for r in found]}"
        return found[0]

    def _run(self, config: Mapping[str, str] | None, *, preview: bool, check: bool) -> RunResult:
        self.registrations = {}
        original = base._UrnCapturingMonitor.RegisterResource

        def recording(monitor: Any, request: Any) -> Any:
            mocks._ensure_event_loop()
            self.registrations[request.name] = Registration(
                type=request.type,
                name=request.name,
                urn=monitor.make_urn(request.parent, request.type, request.name),
                parent=request.parent,
                dependencies=frozenset(request.dependencies),
                property_dependencies={
                    key: frozenset(value.urns) for key, value in request.propertyDependencies.items()
                },
                replace_on_changes=tuple(request.replaceOnChanges),
                delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
                raw_inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
            )
            return original(monitor, request)

        def answer(_mocks: Any, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
            self.calls.append((args.token, dict(args.args)))
            return ({"namespace": NAMESPACE} if args.token == GET_NAMESPACE else {}), []

        original_call = base._EngineMocks.call
        base._UrnCapturingMonitor.RegisterResource = recording  # type: ignore[method-assign]
        base._EngineMocks.call = answer  # type: ignore[method-assign]
        try:
            result = super()._run(config, preview=preview, check=check)
        finally:
            base._UrnCapturingMonitor.RegisterResource = original  # type: ignore[method-assign]
            base._EngineMocks.call = original_call  # type: ignore[method-assign]
        if not preview and result.error is None:
            self.last_outputs = dict(result.outputs)
        return result

    def _step_dynamic(self, urn: str, args: mocks.MockResourceArgs, result: RunResult) -> tuple[str | None, dict]:
        if isinstance(load_provider(engine_view(args.inputs)[PROVIDER_KEY]), InferenceSmokeTestProvider):
            self.smoke_runs.append(engine_view(args.inputs))
            return PulumiProgramHarness._step_other(self, urn, args, result)
        return super()._step_dynamic(urn, args, result)

    def _step_other(self, urn: str, args: mocks.MockResourceArgs, result: RunResult) -> tuple[str | None, dict]:
        inputs = engine_view(args.inputs)
        old = self.state.get(urn)
        replaced = old is not None and args.custom and self._replaces(args.name, old.inputs, inputs)
        if self._preview and args.custom and args.typ != STACK_REFERENCE:
            changed = old is None or old.inputs != inputs
            kind = result.replaced if replaced else result.created if old is None else (
                result.updated if changed else result.unchanged)
            self._note(kind, args.name)
        resource_id, outputs = super()._step_other(urn, args, result)
        if replaced and self._preview:
            resource_id = ""
        elif replaced:
            self._generation += 1
            resource_id = f"{args.name}-id-{self._generation}"
            result.updated.remove(args.name)
            self._note(result.replaced, args.name)
        outputs = {**outputs, **self._computed(args.typ, resource_id, inputs)}
        if urn in self.state and not self._preview:
            self.state[urn] = dataclasses.replace(self.state[urn], id=resource_id, outputs=outputs)
        return resource_id, outputs

    def _replaces(self, name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        registration = self.registrations.get(name)
        keys = registration.replace_on_changes if registration else ()
        return any(old.get(key) != new.get(key) for key in keys)

    def _computed(self, type_: str, resource_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if type_ == MODEL_DEPLOYMENT:
            return {"modelDeploymentUrl": f"https://modeldeployment.us-ashburn-1.oci.customer-oci.com/{resource_id}",
                    "state": "ACTIVE"}
        if type_ == DOCKER_IMAGE:
            pushed = json.dumps({"tags": inputs.get("tags"), "dockerfile": inputs.get("dockerfile")}, sort_keys=True)
            return {"digest": "sha256:" + hashlib.sha256(pushed.encode()).hexdigest()}
        if type_ == STACK_REFERENCE:
            return {"outputs": dict(self.last_outputs), "secretOutputNames": []}
        return {}


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

    Run the harness with this folder as the current directory: the program finds its project, spec and
    artifact folder there.
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
