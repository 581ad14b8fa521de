"""The Pulumi CLI, run by triton-groups' own commands (`release`, `preview-report`): stack outputs, history, previews.

The commands read what the engine recorded instead of re-implementing its backend: `pulumi stack output --json`,
`pulumi stack history --json`, `pulumi stack ls --json`, `pulumi preview --json`. The CLI is the one on PATH,
else the one `make pulumi` left in the project's `.tools/pulumi/bin`; the backend and passphrase are whatever the
environment says (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE), exactly as for `pulumi` itself. A failure is a
UserError naming the stack and the CLI's own reason, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components.core.problems import Problem, UserError

TIMEOUT_S = 1800
TOOLS_BIN = Path(".tools") / "pulumi" / "bin"


def pulumi_executable(project: Path) -> str:
    """`pulumi` from PATH, else from the project's `.tools/pulumi/bin`; UserError saying how to get one."""
    found = shutil.which("pulumi")
    if found:
        return found
    local = project / TOOLS_BIN / "pulumi"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    raise UserError(Problem("pulumi", "", "the Pulumi CLI is not on PATH and not in .tools/pulumi/bin; run `make "
                            "pulumi` (or install Pulumi) first", "pulumi.missing"))


def run_pulumi(project: Path, args: Sequence[str], stack: str | None = None, *, allow_failure: bool = False,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`pulumi ARGS [--stack STACK]` in `project`, non-interactive; UserError when it fails (unless allowed)."""
    command = [pulumi_executable(project), *args, "--non-interactive", "--color", "never"]
    if stack is not None:
        command += ["--stack", stack]
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true", **(env or {})}
    tools = project / TOOLS_BIN
    if tools.is_dir():
        env["PATH"] = f"{tools}{os.pathsep}{env.get('PATH', '')}"
    try:
        result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UserError(Problem(_where(stack), "", f"`pulumi {' '.join(args)}` did not finish in {TIMEOUT_S} s",
                                "pulumi.timeout")) from None
    if result.returncode != 0 and not allow_failure:
        raise UserError(Problem(_where(stack), "", f"`pulumi {' '.join(args)}` failed: {_reason(result)}",
                                "pulumi.failed"))
    return result


def _where(stack: str | None) -> str:
    return f"stack {stack}" if stack else "pulumi"


def _reason(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's own error line (its last `error:` line), else the last line it printed."""
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else f"exit code {result.returncode}"


def _json(result: subprocess.CompletedProcess[str], what: str, stack: str | None) -> Any:
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise UserError(Problem(_where(stack), "", f"`pulumi {what}` printed no JSON: {_reason(result)}",
                                "pulumi.output")) from None


def stack_outputs(project: Path, stack: str) -> dict[str, Any]:
    """The stack's outputs as its last successful update left them (secrets stay hidden)."""
    return dict(_json(run_pulumi(project, ["stack", "output", "--json"], stack), "stack output", stack))


def stack_history(project: Path, stack: str) -> list[dict[str, Any]]:
    """The stack's updates, newest first."""
    return list(_json(run_pulumi(project, ["stack", "history", "--json"], stack), "stack history", stack))


def stack_names(project: Path) -> list[str]:
    """The project's stacks in the current backend."""
    listed = _json(run_pulumi(project, ["stack", "ls", "--json"]), "stack ls", None)
    return sorted(str(entry["name"]).rsplit("/", 1)[-1] for entry in listed)


def project_name(project: Path) -> str:
    """The `name:` of the project's Pulumi.yaml."""
    for line in (project / "Pulumi.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    raise UserError(Problem(str(project / "Pulumi.yaml"), "name", "is missing", "pulumi.project"))


def preview_events(project: Path, stack: str, extra_args: Sequence[str] = ()) -> tuple[list[dict[str, Any]], str]:
    """The engine events of `pulumi preview` on `stack` (streamed JSON), and the CLI's error line if it failed."""
    result = run_pulumi(project, ["preview", "--json", *extra_args], stack, allow_failure=True,
                        env={"PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"})
    events = []
    for line in result.stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    if not events and result.returncode != 0:
        raise UserError(Problem(_where(stack), "", f"`pulumi preview` failed: {_reason(result)}", "pulumi.failed"))
    return events, "" if result.returncode == 0 else _reason(result)
