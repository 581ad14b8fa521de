"""The stack files in `stacks/` (Pulumi.<stack>.yaml), read without the engine: which spec each stack deploys.

`triton-groups validate-stacks` checks every stack file with its target's settings model (`stack_settings`:
`LocalSettings` or `OciSettings`) and validates the spec of every stack the project has, once per spec, so that
CI refuses a pull request whose stack or group would fail in some environment before any preview runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from components.core.problems import Problem, UserError, errors
from components.providers.paths import project_root

NAMESPACE = "triton-groups"
STACK_FILE_GLOB = "Pulumi.*.yaml"


def stack_specs(stacks_dir: Path) -> dict[str, str]:
    """{stack file (relative to the project): the spec path its `triton-groups:spec` names}; UserError for a file
    that is not YAML or names no spec."""
    import yaml

    found = {}
    for path in sorted(stacks_dir.glob(STACK_FILE_GLOB)):
        shown = str(path.relative_to(stacks_dir.parent)) if path.is_relative_to(stacks_dir.parent) else str(path)
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise UserError(Problem(shown, "", f"is not YAML ({type(exc).__name__}); fix the stack file",
                                    "stacks.not_yaml")) from None
        spec = (document.get("config") or {}).get(f"{NAMESPACE}:spec") if isinstance(document, dict) else None
        if not isinstance(spec, str) or not spec:
            raise UserError(Problem(shown, f"config.{NAMESPACE}:spec", "is not set; name the group spec this stack "
                                    "deploys", "stacks.no_spec"))
        found[shown] = spec
    return found


def stack_settings(stack_file: Path) -> Any:
    """The stack file's settings, read with its target's model (`LocalSettings` or `OciSettings`); UserError
    naming the file, the line and the key otherwise."""
    import yaml

    from components.core.oci_target.settings import load_stack_settings
    from components.core.stack_settings import LocalSettings, check_settings, stack_file_label

    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    config = (document.get("config") or {}) if isinstance(document, dict) else {}
    target = config.get(f"{NAMESPACE}:target")
    if target == "oci":
        return load_stack_settings(stack_file)
    if target == "local":
        values = {key: value for key, value in config.items() if key.startswith(f"{NAMESPACE}:")}
        return check_settings(LocalSettings, values, stack, stack_file=stack_file)
    raise UserError(Problem(stack_file_label(stack), f"{NAMESPACE}:target", f"is {target!r}; set it to local or "
                            "oci", "stacks.target"))


def _validate_stacks(args: argparse.Namespace) -> int:
    from components.core.plan import load_plan
    from components.core.validate import validate_plan

    project = project_root()
    stacks = stack_specs(project / args.stacks_dir)
    if not stacks:
        raise UserError(Problem(args.stacks_dir, "", f"holds no stack file ({STACK_FILE_GLOB})", "stacks.none"))
    failed = 0
    for stack_file in stacks:
        try:
            stack_settings(project / stack_file)
        except UserError as exc:
            failed += 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
    results: dict[str, list[Problem]] = {}
    for stack_file, spec in stacks.items():
        if spec not in results:
            results[spec] = validate_plan(load_plan(project / spec))
        problems = results[spec]
        for problem in problems:
            print(problem, file=sys.stderr if problem.is_error else sys.stdout)
        if errors(problems):
            failed += 1
            print(f"{stack_file}: {spec}: {len(errors(problems))} problem(s)", file=sys.stderr)
        else:
            print(f"{stack_file}: {spec}: valid")
    return 1 if failed else 0


def add_validate_stacks_parser(commands: Any) -> None:
    command = commands.add_parser("validate-stacks", help="validate the spec of every stack in stacks/")
    command.add_argument("--stacks-dir", default="stacks", metavar="DIR")
    command.set_defaults(handler=_validate_stacks)
