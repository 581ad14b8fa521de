"""The local deployment's steps, shared by the Pulumi providers (one step per resource) and `triton-groups demo`.

- `build_step(plan, out_dir, layout)`: the artifact zips (the repository resource);
- `serve_step(plan, state_dir, http_port, running)`: a new detached server, or the running one brought to the plan
  model by model (the server resource's create and update);
- `smoke_step(spec, transport)`: the smoke cases against whatever serves them (the smoke-test resource).
`demo` runs the three in order; the providers run each in its own resource, so that Pulumi records and diffs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components.core.package import BuildResult, Layout, build_artifacts
from components.core.plan import RepositoryPlan
from components.core.runtime.server import LocalServer
from components.core.runtime.state import ServerRecord
from components.core.runtime.sync import sync

if TYPE_CHECKING:
    from components.core.smoke.report import SmokeReport
    from components.core.smoke.transport import Transport
    from components.core.spec import GroupSpec


@dataclass(frozen=True)
class Served:
    """A server serving the plan: its record, whether this step started it, and the models the step changed."""

    record: ServerRecord
    started: bool
    loaded: tuple[str, ...]
    reloaded: tuple[str, ...] = ()
    unloaded: tuple[str, ...] = ()

    @property
    def changed(self) -> tuple[str, ...]:
        return (*self.loaded, *self.reloaded, *self.unloaded)


def build_step(plan: RepositoryPlan, out_dir: Path, layout: Layout = "single") -> BuildResult:
    """The plan's artifacts in `out_dir` (atomically; unchanged zips kept)."""
    return build_artifacts(plan, out_dir, layout=layout)


def serve_step(plan: RepositoryPlan, state_dir: Path, http_port: int | None = None,
               running: ServerRecord | None = None) -> Served:
    """Bring `running` (a server that serves) to the plan, or start a detached server for it when there is none."""
    if running is not None:
        result = sync(running, plan)
        return Served(result.record, False, result.loaded, result.reloaded, result.unloaded)
    record = LocalServer.start_detached(plan, state_dir, http_port=http_port)
    return Served(record, True, tuple(sorted(record.models)))


def smoke_step(spec: GroupSpec, transport: Transport) -> SmokeReport:
    """Run the spec's smoke cases through `transport`, closed afterwards."""
    from components.core.smoke.runner import run_smoke  # numpy and the clients: only when a test runs

    try:
        return run_smoke(spec, transport)
    finally:
        transport.close()
