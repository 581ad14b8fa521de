"""The GitHub workflows users copy (.github/workflows/): they lint clean, and every command they run exists here."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import yaml

from components.cli import build_parser

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))


def run_scripts() -> list[tuple[str, str]]:
    """(workflow, script) for every `run:` step."""
    return [(path.name, step["run"]) for path in WORKFLOWS
            for job in (yaml.safe_load(path.read_text())["jobs"] or {}).values()
            for step in job.get("steps", []) if "run" in step]


def cli_commands() -> set[str]:
    parser = build_parser()
    [commands] = [action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction"]
    return set(commands.choices)


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (PROJECT / "Makefile").read_text(), re.MULTILINE))


def test_the_workflows_lint_clean_with_actionlint() -> None:
    result = subprocess.run(["bash", str(PROJECT / "tools" / "actionlint.sh")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_command_the_workflows_run_exists_in_the_project() -> None:
    commands, targets = cli_commands(), make_targets()
    missing = []
    for workflow, script in run_scripts():
        for line in script.splitlines():
            words = shlex.split(line, comments=True) if line.strip() else []
            for index, word in enumerate(words):
                following = words[index + 1] if index + 1 < len(words) else ""
                if word.endswith("triton-groups") and following not in commands:
                    missing.append(f"{workflow}: triton-groups {following}")
                if word == "make" and following not in targets:
                    missing.append(f"{workflow}: make {following}")
                if word.startswith("scripts/") and not (PROJECT / word).is_file():
                    missing.append(f"{workflow}: {word}")
    assert missing == []
    assert {"preview-report", "release", "junit", "validate-stacks"} <= commands


def test_previews_go_through_pulumis_action_and_one_edited_comment() -> None:
    preview = (PROJECT / ".github" / "workflows" / "preview.yml").read_text()
    assert "uses: pulumi/actions@" in preview and "command: preview" in preview
    assert "updateComment" in preview and "<!-- triton-groups preview -->" in preview
    promote = yaml.safe_load((PROJECT / ".github" / "workflows" / "promote.yml").read_text())
    assert promote["jobs"]["promote"]["environment"] == "${{ inputs.environment }}"
