"""`triton-groups release create | show | status`: release files from stacks, shown plainly, and who serves what.

- `create --from-stack STACK [--out FILE]` reads the stack's outputs and update history through the Pulumi CLI,
  refuses a stack whose last update failed or whose smoke test did not pass, and writes the release file
  (default `releases/<group>-<sha256 prefix>.json`), meant to be committed and reviewed in a pull request;
- `show FILE [--json]` prints a release;
- `status [--json]` lists every stack of the project: the repository it serves, the release file of that
  repository (from `releases/`), and the stack that release passed on.
Run them in the project folder (or below it), with the backend and passphrase `pulumi` itself would use.
Each handler imports what it uses, so registering the commands costs the CLI's other commands nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.core.release import Release

RELEASES_DIR = "releases"


def _create(args: argparse.Namespace) -> int:
    from components.core.release import Release
    from components.providers.paths import project_root
    from components.stacks.pulumi_cli import project_name, stack_history, stack_outputs

    project = project_root()
    outputs = stack_outputs(project, args.from_stack)
    history = stack_history(project, args.from_stack)
    release = Release.from_stack(args.from_stack, project_name(project), outputs, history)
    target = Path(args.out) if args.out else project / RELEASES_DIR / f"{release.name}.json"
    release.save(target)
    print(f"{target}: release {release.name} of group {release.group}, passed on stack {release.passed.stack} "
          f"(update {release.passed.update}, {release.passed.at})")
    return 0


def _show(args: argparse.Namespace) -> int:
    from components.core.release import load_release

    release = load_release(Path(args.file))
    print(json.dumps(release.to_json(), indent=2, sort_keys=True) if args.json else release.describe())
    return 0


def _known_releases(project: Path) -> dict[str, tuple[str, Release]]:
    """{repository sha256: (file, release)} for the readable release files under `releases/`."""
    from components.core.problems import UserError
    from components.core.release import load_release

    known: dict[str, tuple[str, Release]] = {}
    for path in sorted((project / RELEASES_DIR).glob("*.json")):
        try:
            release = load_release(path)
        except UserError:
            continue
        known[release.repository_sha256] = (str(path.relative_to(project)), release)
    return known


def _status(args: argparse.Namespace) -> int:
    from components.providers.paths import project_root
    from components.stacks.pulumi_cli import stack_names, stack_outputs

    project = project_root()
    known = _known_releases(project)
    rows: list[dict[str, Any]] = []
    for stack in stack_names(project):
        outputs = stack_outputs(project, stack)
        serving = outputs.get("repository_sha256")
        file, release = known.get(serving, (None, None)) if serving else (None, None)
        passed = outputs.get("smoke_passed") or {}
        rows.append({
            "stack": stack,
            "group": outputs.get("group"),
            "repository_sha256": serving,
            "release_file": outputs.get("release") or file,
            "passed_on": release.passed.stack if release else (stack if passed.get("repository_sha256") else None),
            "smoke_passed_at": passed.get("passed_at"),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no stack in this backend")
    for row in rows:
        serving = row["repository_sha256"][:12] if row["repository_sha256"] else "nothing"
        release = row["release_file"] or "no release file"
        passed = f"passed on {row['passed_on']}" if row["passed_on"] else "no passing smoke test"
        print(f"{row['stack']}: serves {row['group'] or 'no group'} {serving} ({release}), {passed}")
    return 0


def add_release_parser(commands: Any) -> None:
    """Register `release` and its sub-commands on the CLI's sub-parsers."""
    release = commands.add_parser("release", help="release files: create one from a stack, show one, status")
    actions = release.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="write the release a stack serves (its last passing update)")
    create.add_argument("--from-stack", required=True, metavar="STACK")
    create.add_argument("--out", metavar="FILE", help="default: releases/<group>-<sha256 prefix>.json")
    create.set_defaults(handler=_create)
    show = actions.add_parser("show", help="print a release file")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)
    status = actions.add_parser("status", help="per stack: the release it serves and where that release passed")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)
