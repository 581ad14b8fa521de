"""The real Pulumi engine on a copy of the project: the CLI from `make pulumi`, a file backend, one stack.

`EngineProject(folder)` copies what a Pulumi run reads (Pulumi.yaml, infra/, stacks/, the example group) into
`folder`, links the project's virtualenv, and runs `pulumi` there with its own backend (`.pulumi-state/`) and
its own PULUMI_HOME, so that every test has its own stack state and nothing leaks between tests. The Python
package itself is imported from this checkout (PYTHONPATH), by the program and by the dynamic providers the
engine starts.

`pulumi up --json` prints the engine's events, one JSON object a line; `Update` reads them: what each resource
did (`ops`), the messages the program and providers logged (`messages`), and the errors (`errors`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "vision"
STACK = "local"
ENGINE_TIMEOUT_S = 300


@functools.cache
def pulumi_bin() -> Path:
    """The folder `make pulumi` leaves the CLI in (built once per machine); fails the test run if it cannot."""
    result = subprocess.run(["bash", str(PROJECT / "tools" / "pulumi" / "install.sh")], capture_output=True,
                            text=True, timeout=3600)
    if result.returncode != 0:
        pytest.fail(f"no Pulumi CLI for the engine tests: {result.stderr.strip()}", pytrace=False)
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class Update:
    """What one engine command did: its exit code, its output, and the engine events it printed (with --json)."""

    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ops(self) -> dict[str, str]:
        """{resource name: what the engine did to it (create, update, same, replace, delete, read, ...)}."""
        done: dict[str, str] = {}
        for event in self.events:
            for kind in ("resOutputsEvent", "resOpFailedEvent"):
                if kind in event:
                    metadata = event[kind]["metadata"]
                    suffix = "" if kind == "resOutputsEvent" else " failed"
                    done[metadata["urn"].rsplit("::", 1)[-1]] = metadata["op"] + suffix
        return done

    def changed(self) -> dict[str, str]:
        """The resources the command changed (anything but `same` and `read`)."""
        return {name: op for name, op in self.ops.items() if op not in ("same", "read")}

    def _diagnostics(self, severities: tuple[str, ...]) -> list[str]:
        return [event["diagnosticEvent"]["message"].rstrip("\n") for event in self.events
                if event.get("diagnosticEvent", {}).get("severity") in severities]

    @property
    def messages(self) -> list[str]:
        """The info lines the program and the providers logged."""
        return self._diagnostics(("info",))

    @property
    def errors(self) -> list[str]:
        return self._diagnostics(("error",))

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class EngineProject:
    """A copy of the project with its own stack, driven through the real `pulumi` CLI."""

    def __init__(self, root: Path, *, stack: str = STACK, config: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.stack = stack
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / "Pulumi.yaml", root / "Pulumi.yaml")
        (root / "infra").mkdir()
        shutil.copy2(PROJECT / "infra" / "__main__.py", root / "infra" / "__main__.py")
        shutil.copytree(EXAMPLE, root / "examples" / "vision", ignore=shutil.ignore_patterns("__pycache__"))
        (root / ".venv").symlink_to(PROJECT / ".venv")
        (root / "infra" / ".venv").symlink_to("../.venv")
        (root / "stacks").mkdir()
        (root / ".pulumi-state").mkdir()
        self.env = {
            **os.environ,
            "PATH": f"{pulumi_bin()}:{PROJECT / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(PROJECT),
            "PULUMI_BACKEND_URL": f"file://{root / '.pulumi-state'}",
            "PULUMI_HOME": str(root / ".pulumi-home"),
            "PULUMI_CONFIG_PASSPHRASE": "",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        self.add_stack(stack, config)

    def add_stack(self, stack: str, config: Mapping[str, str] | None = None) -> None:
        """Write stacks/Pulumi.STACK.yaml (the local target and the example group, plus `config`) and init it."""
        settings = {"triton-groups:target": "local", "triton-groups:spec": "examples/vision/group.yaml",
                    **(config or {})}
        (self.root / "stacks" / f"Pulumi.{stack}.yaml").write_text(
            "config:\n" + "".join(f"  {key}: {json.dumps(value)}\n" for key, value in settings.items())
        )
        self.run("stack", "init", stack=stack)

    @property
    def group(self) -> Path:
        return self.root / "examples" / "vision"

    @property
    def state_dir(self) -> Path:
        return self.root / ".triton-groups" / "local" / self.stack

    def run(self, *args: str, check: bool = True, timeout: float = ENGINE_TIMEOUT_S, stack: str | None = None
            ) -> Update:
        """`pulumi ARGS --stack STACK` in the project; with `--json` among ARGS, the events are parsed."""
        command = ["pulumi", *args, "--stack", stack or self.stack, "--color", "never", "--non-interactive"]
        result = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        update = Update(result.returncode, result.stdout, result.stderr, parse_events(result.stdout, args))
        if check and result.returncode != 0:
            raise AssertionError(f"`pulumi {' '.join(args)}` exited {result.returncode}:\n{update.output[-6000:]}")
        return update

    def up(self, *args: str, check: bool = True, stack: str | None = None) -> Update:
        return self.run("up", "--yes", "--skip-preview", "--json", *args, check=check, stack=stack)

    def preview(self, *args: str, check: bool = True, stack: str | None = None) -> Update:
        return self.run("preview", "--json", *args, check=check, stack=stack)

    def outputs(self, stack: str | None = None) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", stack=stack).stdout)

    def triton_groups(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`triton-groups ARGS` in the project, with the same CLI, backend and passphrase as `run`."""
        return subprocess.run([str(PROJECT / ".venv" / "bin" / "triton-groups"), *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)

    def export(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "export").stdout)

    def resource_outputs(self, name: str) -> dict[str, Any]:
        """The outputs the state records for the resource called `name`."""
        for resource in self.export()["deployment"]["resources"]:
            if resource["urn"].endswith(f"::{name}"):
                return resource.get("outputs", {})
        raise KeyError(name)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`pulumi ARGS` started in the background (its own process group), for tests that interrupt it."""
        command = ["pulumi", *args, "--stack", self.stack, "--color", "never", "--non-interactive"]
        return subprocess.Popen(command, cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def destroy(self) -> Update:
        return self.run("destroy", "--yes", "--skip-preview", "--json")


def parse_events(stdout: str, args: tuple[str, ...]) -> list[dict[str, Any]]:
    """The engine events `pulumi up/destroy/refresh --json` printed, one JSON object a line; a preview's
    single JSON document is turned into the same shape (steps as resOutputsEvent, diagnostics as events)."""
    if "--json" not in args:
        return []
    text = stdout.strip()
    if args and args[0] == "preview":
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return []
        events: list[dict[str, Any]] = [
            {"resOutputsEvent": {"metadata": {"urn": step["urn"], "op": step["op"]}}}
            for step in document.get("steps", [])
        ]
        events += [{"diagnosticEvent": {"message": diag.get("message", ""), "severity": diag.get("severity")}}
                   for diag in document.get("diagnostics", [])]
        return events
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    """Poll `predicate()` until it is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def interrupt(process: subprocess.Popen[str]) -> str:
    """Ctrl-C for a background `pulumi` (SIGINT to its process group, as a terminal sends); its output."""
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=ENGINE_TIMEOUT_S)
    return output
