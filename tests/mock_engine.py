"""A mock Pulumi engine: runs a Pulumi program under `pulumi.runtime.set_mocks`, its dynamic providers for real.

It stands in for the real engine only where the real one cannot run here: the OCI stacks, whose provider plugin
(pulumi-oci's) cannot be downloaded on these machines. The local stack runs under the real engine instead
(tests/pulumi_engine.py, the CLI from `make pulumi`); where the two disagree, the real engine is right and this
mock is mended. The mocks play the engine's part like this:

- a dynamic resource's first run calls the provider's `check` then `create`; a later run of the same URN
  calls `diff` against the previous run's recorded outputs, then `update`, a replacement
  (delete-then-create or create-then-delete) or nothing, as the diff says;
- other custom resources (pulumi_oci's, ...) get their inputs as outputs, plus what the `custom_outputs`
  hook computes (an OCID, a URL); one whose replaceOnChanges property path changed, or whose provider
  replaces it (`force_new`: properties compared on the recorded outputs, as a bridged provider compares
  its state), is replaced (a new id); ignoreChanges paths keep their recorded input values, as the engine
  keeps them, and are left out of both comparisons;
- a StackReference to the stack itself reads the outputs of its last successful update ({} before), one to
  another stack of the backend (`other_stacks`, e.g. another harness's `last_outputs`) that stack's outputs, and
  one to a stack the backend does not hold fails as the engine fails it (`unknown stack "org/project/name"`);
- invokes (`get_*` functions) are recorded in `calls` and answered by the `invoke_results` hook;
- each registration is recorded as the engine receives it, with its resource options (`registrations`);
- after a successful run, resources that the program no longer registers are deleted, newest first;
- `destroy()` deletes every resource, newest first; `preview()` runs `check` and `diff` only;
- `refresh(read)` writes back what a provider's read brings (`read(state)` -> (inputs, outputs) or None),
  as `pulumi refresh` does, so that the next run diffs against it.

State (inputs, outputs, id per URN) lives in the harness object between runs, like a stack's state.
Given a `project_dir`, runs and destroys happen in that folder, as the engine runs a program (and its
providers) in its project's folder: the program's relative paths (artifacts, caches) land there.
Each run gets a fresh contextvars context and a fresh event loop set before `set_mocks`, and a fresh set of
pending outputs: the Pulumi SDK keeps its root stack, config and pending work in context variables (some with
defaults shared by every context) and breaks when a loop or a task from an earlier run is reused. Asyncio's
complaints about futures of a failed run never awaited go to the run's logs (level "ASYNCIO"), not to stderr.
Component resources are recorded too. Every run returns a `RunResult` saying what was created, updated,
replaced, unchanged or deleted.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import copy
import logging
import os
import runpy
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import pulumi
from pulumi.dynamic import ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc
from pulumi.runtime.settings import SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func

PROVIDER_KEY = "__provider"
DYNAMIC_TYPE_PREFIX = "pulumi-python:dynamic"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
ORGANIZATION = "organization"
"""The organization a program sees (`pulumi.get_organization()`), as with the CLI's self-managed backends."""
UNKNOWN = rpc.UNKNOWN
"""How an input or output not known until the deployment runs appears in previews (as the engine sends it)."""

Program = Callable[[], None]
CustomOutputs = Callable[[str, str, dict[str, Any]], Mapping[str, Any]]
"""(type, id, inputs) -> outputs a provider computes for a custom resource that is not dynamic, over its inputs."""
InvokeResults = Callable[[str, dict[str, Any]], Mapping[str, Any]]
"""(token, args) -> what an invoke (a `get_*` function) returns."""


@dataclass(frozen=True)
class ResourceState:
    """One resource as recorded in the harness's state: what the engine's checkpoint would hold."""

    urn: str
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    order: int


@dataclass(frozen=True)
class Registration:
    """One resource registration as the engine receives it: its options and its raw inputs (secrets wrapped)."""

    type: str
    name: str
    urn: str
    parent: str
    dependencies: frozenset[str]
    property_dependencies: dict[str, frozenset[str]]
    replace_on_changes: tuple[str, ...]
    delete_before_replace: bool | None
    raw_inputs: dict[str, Any]
    ignore_changes: tuple[str, ...] = ()
    retain_on_delete: bool = False
    """The engine forgets the resource when it is deleted or replaced, and never asks its provider to delete it."""

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs with secrets unwrapped, as a provider receives them."""
        return engine_view(self.raw_inputs)

    def depends_on(self, other: Registration) -> bool:
        """True when the engine orders this resource after `other` (an explicit or a property dependency)."""
        return other.urn in self.dependencies or any(other.urn in urns for urns in self.property_dependencies.values())

    def replaced_by(self, old_inputs: Mapping[str, Any], new_inputs: Mapping[str, Any]) -> bool:
        """True when a change from `old_inputs` touches a replaceOnChanges property path ("*": any property;
        `a.b` a nested one)."""
        keys = set(old_inputs) | set(new_inputs) if "*" in self.replace_on_changes else self.replace_on_changes
        return any(property_at(old_inputs, key) != property_at(new_inputs, key) for key in keys)

    def keeping_ignored(self, old_inputs: Mapping[str, Any], new_inputs: Mapping[str, Any]) -> dict[str, Any]:
        """`new_inputs` with each ignoreChanges path holding its value from `old_inputs`, as the engine sends it."""
        kept = copy.deepcopy(dict(new_inputs))
        for path in self.ignore_changes:
            with_property(kept, path, property_at(old_inputs, path))
        return kept


_MISSING = object()


def property_at(value: Any, path: str) -> Any:
    """The value at a property path (`a.b.c`) of nested dicts; `_MISSING` where the path does not lead."""
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def with_property(value: dict[str, Any], path: str, new: Any) -> None:
    """Set (or, for `_MISSING`, remove) the value at a property path of nested dicts, in place."""
    *parents, last = path.split(".")
    for part in parents:
        child = value.get(part)
        if not isinstance(child, dict):
            if new is _MISSING:
                return
            child = value[part] = {}
        value = child
    if new is _MISSING:
        value.pop(last, None)
    else:
        value[last] = new


@dataclass
class RunResult:
    """What one run did, by resource name, in the order it happened; `outputs` are the stack's exports."""

    preview: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    logs: list[tuple[str, str]] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def changed(self) -> list[str]:
        """Every resource created, updated, replaced or deleted by this run."""
        return self.created + self.updated + self.replaced + self.deleted

    def messages(self, level: str = "INFO") -> list[str]:
        """The messages the program logged (pulumi.log.*) at `level`."""
        return [message for logged_level, message in self.logs if logged_level == level]


class MockEngineRunError(Exception):
    """The program or a provider failed; `result` holds what the run did before failing."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(str(result.error))
        self.result = result


def program_from_file(path: Path | str) -> Program:
    """A program that executes a Pulumi entry point file (e.g. infra/__main__.py) as the Python host would."""
    return lambda: runpy.run_path(str(path), run_name="__main__")


def load_provider(serialized: Any) -> ResourceProvider:
    """The provider of a dynamic resource from its `__provider` input: base64 of a dill pickle, maybe a secret."""
    return dill.loads(base64.b64decode(rpc.unwrap_rpc_secret(serialized)))


def engine_view(value: Any) -> Any:
    """A value as the engine hands it to a dynamic provider: secrets unwrapped, unknowns as the UNKNOWN string."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if rpc.is_rpc_secret(value):
        return engine_view(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: engine_view(item) for key, item in value.items()}
    if isinstance(value, list):
        return [engine_view(item) for item in value]
    return value


class _RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, telling the mocks what it alone knows: the URN (it has the parent), whether the
    resource is read rather than registered, and the registration's resource options."""

    def __init__(self, harness_mocks: _EngineMocks) -> None:
        super().__init__(harness_mocks)
        self._harness_mocks = harness_mocks

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        self._harness_mocks.current.urn = urn
        self._harness_mocks.current.read = False
        mocks._ensure_event_loop()  # deserializing resource references needs one on this thread
        self._harness_mocks.harness._register(Registration(
            type=request.type,
            name=request.name,
            urn=urn,
            parent=request.parent,
            dependencies=frozenset(request.dependencies),
            property_dependencies={key: frozenset(value.urns) for key, value in request.propertyDependencies.items()},
            replace_on_changes=tuple(request.replaceOnChanges),
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            raw_inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
            ignore_changes=tuple(request.ignoreChanges),
            retain_on_delete=bool(request.retainOnDelete),
        ))
        return super().RegisterResource(request)

    def ReadResource(self, request: Any) -> Any:
        """Reads (a StackReference, `Resource.get`) are stepped like registrations: they need the URN too."""
        self._harness_mocks.current.urn = self.make_urn(request.parent, request.type, request.name)
        self._harness_mocks.current.read = True
        return super().ReadResource(request)


class _EngineMocks(mocks.Mocks):
    """Plays the engine for one run: steps each registered resource against the harness's state."""

    def __init__(self, harness: MockEngine, result: RunResult) -> None:
        self.harness = harness
        self.result = result
        self.registered: set[str] = set()
        self.current = threading.local()
        self.lock = threading.Lock()

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        return dict(self.harness._invoke(args.token, engine_view(args.args))), []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        urn: str = self.current.urn
        if self.current.read:
            return self.harness._step_read(args)
        with self.lock:
            self.registered.add(urn)
        provider = self.harness._provider_to_run(args.typ, engine_view(args.inputs).get(PROVIDER_KEY))
        if provider is not None:
            return self.harness._step_dynamic(urn, args, provider, self.result)
        return self.harness._step_other(urn, args, self.result)


class MockEngine:
    """Runs one stack of a Pulumi program under mocks again and again, keeping its state between runs.

    `config` holds stack config as `pulumi config` would (`{"triton-groups:target": "local"}`); a run may
    override it. `project_dir`: the folder runs happen in (default: the current directory).
    Hooks for what the engine's providers and a cloud account would add:
    - `custom_outputs(type, id, inputs)`: the outputs a custom resource that is not dynamic gets over its
      inputs (an OCID, a URL);
    - `invoke_results(token, args)`: what an invoke returns (default: nothing);
    - `skipped_providers`: dynamic provider classes not run (a provider that needs a service this machine
      lacks): their resources are stepped like other custom resources, their registrations recorded;
    - `force_new`: per resource type, the properties its provider cannot update (compared on the recorded
      outputs, which `custom_outputs` may compute as the provider records them);
    - `other_stacks`: {stack name: its outputs}, the other stacks of the backend a StackReference may read.
    After each run, `registrations` holds its registrations by resource name, `calls` its invokes
    (token, args), and `last_outputs` the stack outputs of the last successful update.
    Runs raise `MockEngineRunError` when the program or a provider fails, unless `check=False`.
    """

    def __init__(
        self,
        program: Program,
        *,
        project: str = "triton-groups",
        stack: str = "local",
        config: Mapping[str, str] | None = None,
        project_dir: Path | None = None,
        custom_outputs: CustomOutputs | None = None,
        invoke_results: InvokeResults | None = None,
        skipped_providers: tuple[type[ResourceProvider], ...] = (),
        force_new: Mapping[str, tuple[str, ...]] | None = None,
        other_stacks: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.program = program
        self.other_stacks: dict[str, Mapping[str, Any]] = dict(other_stacks or {})
        self.project = project
        self.stack = stack
        self.config: dict[str, str] = dict(config or {})
        self.project_dir = project_dir
        self.custom_outputs = custom_outputs
        self.invoke_results = invoke_results
        self.skipped_providers = skipped_providers
        self.force_new = dict(force_new or {})
        self.state: dict[str, ResourceState] = {}
        self.registrations: dict[str, Registration] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.last_outputs: dict[str, Any] = {}
        self._order = 0
        self._generation = 0
        self._lock = threading.Lock()
        self._preview = False

    @property
    def stack_name(self) -> str:
        """The fully qualified name a StackReference to this stack uses."""
        return f"{ORGANIZATION}/{self.project}/{self.stack}"

    def resource(self, name: str) -> ResourceState:
        """The recorded state of the resource called `name` (names are unique in our programs)."""
        matches = [state for state in self.state.values() if state.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r} in the state: {sorted(self.state)}")
        return matches[0]

    def registered(self, type_: str) -> list[Registration]:
        """The last run's registrations of one resource type, in registration order."""
        return [registration for registration in self.registrations.values() if registration.type == type_]

    def one(self, type_: str) -> Registration:
        """The last run's only registration of `type_`."""
        found = self.registered(type_)
        assert len(found) == 1, f"{len(found)} registrations of {type_}: {[r.name for r in found]}"
        return found[0]

    def up(self, config: Mapping[str, str] | None = None, *, check: bool = True) -> RunResult:
        """Run the program and apply its changes, like `pulumi up --yes --skip-preview`."""
        return self._run(config, preview=False, check=check)

    def preview(self, config: Mapping[str, str] | None = None, *, check: bool = True) -> RunResult:
        """Run the program and diff only, like `pulumi preview`: nothing is created, updated or deleted."""
        return self._run(config, preview=True, check=check)

    def refresh(self, read: Callable[[ResourceState], tuple[dict[str, Any], dict[str, Any]] | None]) -> RunResult:
        """Write back what each custom resource's read brings, like `pulumi refresh --yes`.

        `read(state)` gives the (inputs, outputs) the provider reads back, or None for no change; the resources
        whose state changed are listed as updated.
        """
        result = RunResult()
        for urn, state in sorted(self.state.items(), key=lambda item: item[1].order):
            read_back = read(state) if state.custom else None
            if read_back is None or read_back == (state.inputs, state.outputs):
                continue
            inputs, outputs = read_back
            self.state[urn] = ResourceState(urn=urn, type=state.type, name=state.name, id=state.id, inputs=inputs,
                                            outputs=outputs, custom=True, order=state.order)
            result.updated.append(state.name)
        return result

    def destroy(self) -> RunResult:
        """Delete every resource in the state, newest first, like `pulumi destroy --yes`."""
        result = RunResult()
        with self._in_project_dir():
            self._delete_missing(set(), result)
        self.last_outputs = {}
        return result

    @contextmanager
    def _in_project_dir(self) -> Iterator[None]:
        if self.project_dir is None:
            yield
            return
        previous = Path.cwd()
        os.chdir(self.project_dir)
        try:
            yield
        finally:
            os.chdir(previous)

    def _run(self, config: Mapping[str, str] | None, *, preview: bool, check: bool) -> RunResult:
        result = RunResult(preview=preview)
        run_config = {**self.config, **(config or {})}
        self.registrations = {}
        self.calls = []
        with self._in_project_dir():
            contextvars.Context().run(self._run_in_context, run_config, preview, result)
        if result.error is None and not preview:
            self.last_outputs = dict(result.outputs)
        if result.error is not None and check:
            raise MockEngineRunError(result) from result.error
        return result

    def _run_in_context(self, config: dict[str, str], preview: bool, result: RunResult) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(lambda _, context: result.logs.append(("ASYNCIO", context["message"])))
        logger = logging.getLogger(f"{__name__}.{id(self)}")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        handler = _ListHandler(result.logs)
        logger.addHandler(handler)
        engine_mocks = _EngineMocks(self, result)
        self._preview = preview
        try:
            mocks.set_mocks(
                engine_mocks,
                project=self.project,
                stack=self.stack,
                preview=preview,
                logger=logger,
                monitor=_RecordingMonitor(engine_mocks),
                organization=ORGANIZATION,
            )
            SETTINGS.outputs = set()  # by default every context shares one set of pending outputs
            pulumi.runtime.set_all_config(config)
            try:
                loop.run_until_complete(run_pulumi_func(self.program))
                result.outputs = self._exports(loop)
            except Exception as exc:  # the run's failure is part of its result
                result.error = exc
            if result.error is None and not preview:
                self._delete_missing(engine_mocks.registered, result)
        finally:
            logger.removeHandler(handler)
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            asyncio.set_event_loop(None)

    @staticmethod
    def _exports(loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
        root = get_root_resource()
        exports: dict[str, Any] = {}
        for key, value in (root.outputs if root is not None else {}).items():
            output = pulumi.Output.from_input(value)
            known = loop.run_until_complete(output.is_known())
            exports[key] = loop.run_until_complete(output.future()) if known else UNKNOWN
        return exports

    def _register(self, registration: Registration) -> None:
        with self._lock:
            self.registrations[registration.name] = registration

    def _invoke(self, token: str, args: dict[str, Any]) -> Mapping[str, Any]:
        with self._lock:
            self.calls.append((token, args))
        return self.invoke_results(token, args) if self.invoke_results else {}

    def _provider_to_run(self, type_: str, serialized_provider: Any) -> ResourceProvider | None:
        """The provider of a dynamic resource the harness runs; None for other resources and `skipped_providers`."""
        if not type_.startswith(DYNAMIC_TYPE_PREFIX):
            return None
        provider = load_provider(serialized_provider)
        return None if isinstance(provider, self.skipped_providers) else provider

    def _step_read(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        """A read: only a StackReference, to this very stack (its last update's outputs) or to `other_stacks`."""
        inputs = engine_view(args.inputs)
        name = inputs.get("name")
        if args.typ != STACK_REFERENCE:
            raise ValueError(f"{args.name}: the harness reads only StackReferences, not {args.typ} "
                             f"{inputs.get('name', args.resource_id)!r}")
        others = {f"{ORGANIZATION}/{self.project}/{stack}": outputs for stack, outputs in self.other_stacks.items()}
        if name == self.stack_name:
            outputs = dict(self.last_outputs)
        elif name in others:
            outputs = dict(others[name])
        else:
            raise ValueError(f'unknown stack "{name}"')
        return name, {"name": name, "outputs": outputs, "secretOutputNames": []}

    def _step_dynamic(
        self, urn: str, args: mocks.MockResourceArgs, provider: ResourceProvider, result: RunResult
    ) -> tuple[str | None, dict]:
        news = engine_view(args.inputs)
        old = self.state.get(urn)
        checked = provider.check(old.inputs if old else {}, news)
        if checked.failures:
            reasons = "; ".join(f"{failure.property}: {failure.reason}" for failure in checked.failures)
            raise ValueError(f"{args.name}: check failed: {reasons}")
        news = {**checked.inputs, PROVIDER_KEY: news[PROVIDER_KEY]}
        if old is None:
            if self._preview:
                self._note(result.created, args.name)
                return "", news
            return self._create(urn, args, provider, news, result.created)
        diff = provider.diff(old.id, old.outputs, news)
        changes = diff.changes if diff.changes is not None else _legacy_changes(old.inputs, news)
        if self._preview:
            kind = result.replaced if diff.replaces else result.updated if changes else result.unchanged
            self._note(kind, args.name)
            return old.id, old.outputs if not changes and not diff.replaces else news
        if diff.replaces:
            return self._replace(urn, args, provider, old, news, bool(diff.delete_before_replace), result)
        if not changes:
            self._record(urn, args, old.id, news, old.outputs, order=old.order)
            self._note(result.unchanged, args.name)
            return old.id, old.outputs
        updated = provider.update(old.id, old.outputs, news)
        outputs = {**(updated.outs or {}), PROVIDER_KEY: news[PROVIDER_KEY]}
        self._record(urn, args, old.id, news, outputs, order=old.order)
        self._note(result.updated, args.name)
        return old.id, outputs

    def _create(
        self, urn: str, args: mocks.MockResourceArgs, provider: ResourceProvider, news: dict, log: list[str],
        order: int | None = None,
    ) -> tuple[str, dict]:
        created = provider.create(news)
        outputs = {**(created.outs or {}), PROVIDER_KEY: news[PROVIDER_KEY]}
        self._record(urn, args, created.id, news, outputs, order=order)
        self._note(log, args.name)
        return created.id, outputs

    def _replace(
        self,
        urn: str,
        args: mocks.MockResourceArgs,
        provider: ResourceProvider,
        old: ResourceState,
        news: dict,
        delete_first: bool,
        result: RunResult,
    ) -> tuple[str, dict]:
        old_provider = load_provider(old.outputs[PROVIDER_KEY])
        if delete_first:
            old_provider.delete(old.id, old.outputs)
            with self._lock:
                del self.state[urn]
            return self._create(urn, args, provider, news, result.replaced, order=old.order)
        replacement = self._create(urn, args, provider, news, result.replaced, order=old.order)
        old_provider.delete(old.id, old.outputs)
        return replacement

    def _step_other(self, urn: str, args: mocks.MockResourceArgs, result: RunResult) -> tuple[str | None, dict]:
        """A component (recorded, no outputs) or a custom resource the harness does not run: its inputs are its
        outputs, plus `custom_outputs`; a change of a replaceOnChanges property gives it a new id."""
        inputs = engine_view(args.inputs)
        old = self.state.get(urn)
        order = old.order if old else None
        if not args.custom:
            self._record(urn, args, "", inputs, inputs, order=order)
            return "", {}
        registration = self.registrations.get(args.name)
        if old is not None and registration is not None:
            inputs = registration.keeping_ignored(old.inputs, inputs)
        replaced = old is not None and registration is not None and (
            registration.replaced_by(old.inputs, inputs) or self._provider_replaces(registration, old, inputs))
        if old is None:
            kind, resource_id = result.created, "" if self._preview else f"{args.name}-id"
        elif replaced:
            kind, resource_id = result.replaced, "" if self._preview else self._new_id(args.name)
        else:
            kind, resource_id = result.updated if old.inputs != inputs else result.unchanged, old.id
        self._note(kind, args.name)
        computed = self.custom_outputs(args.typ, resource_id, inputs) if self.custom_outputs else {}
        outputs = {**inputs, **computed}
        self._record(urn, args, resource_id, inputs, outputs, order=order)
        return resource_id, outputs

    def _provider_replaces(self, registration: Registration, old: ResourceState, inputs: dict[str, Any]) -> bool:
        """True when a `force_new` property of the resource's type (not an ignored one) would change."""
        paths = [p for p in self.force_new.get(registration.type, ()) if p not in registration.ignore_changes]
        if not paths:
            return False
        computed = self.custom_outputs(registration.type, old.id, inputs) if self.custom_outputs else {}
        planned = {**inputs, **computed}
        return any(property_at(old.outputs, path) != property_at(planned, path) for path in paths)

    def _new_id(self, name: str) -> str:
        with self._lock:
            self._generation += 1
            return f"{name}-id-{self._generation}"

    def _record(
        self, urn: str, args: mocks.MockResourceArgs, resource_id: str, inputs: dict, outputs: dict,
        order: int | None = None,
    ) -> None:
        if self._preview:
            return
        with self._lock:
            if order is None:
                self._order += 1
                order = self._order
            self.state[urn] = ResourceState(
                urn=urn, type=args.typ, name=args.name, id=resource_id, inputs=inputs, outputs=outputs,
                custom=bool(args.custom), order=order,
            )

    def _note(self, log: list[str], name: str) -> None:
        with self._lock:
            log.append(name)

    def _delete_missing(self, registered: set[str], result: RunResult) -> None:
        gone = sorted((s for urn, s in self.state.items() if urn not in registered), key=lambda s: -s.order)
        for state in gone:
            provider = self._provider_to_run(state.type, state.outputs.get(PROVIDER_KEY))
            if provider is not None:
                provider.delete(state.id, state.outputs)
            if state.custom:
                result.deleted.append(state.name)
            del self.state[state.urn]


def _legacy_changes(old_inputs: dict, new_inputs: dict) -> bool:
    """The engine's own diff when a provider says DIFF_UNKNOWN: did any input change?"""
    return old_inputs != new_inputs


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append((record.levelname, record.getMessage()))
