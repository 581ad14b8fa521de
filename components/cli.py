"""The `triton-groups` command: a thin layer over the core.

Exit codes: 0 success, 1 a problem with the user's input or a failed check (one line per problem,
no traceback), 2 bad command-line usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from components.core.problems import UserError

Handler = Callable[[argparse.Namespace], int]


def _schema(args: argparse.Namespace) -> int:
    from components.core.spec import GroupSpec

    print(json.dumps(GroupSpec.model_json_schema(), indent=2, sort_keys=True))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from components.core.plan import load_plan
    from components.core.validate import validate_plan

    problems = validate_plan(load_plan(args.source), config_only=args.config_only)
    for problem in problems:
        print(problem, file=sys.stderr if problem.is_error else sys.stdout)
    errors = [p for p in problems if p.is_error]
    if errors:
        print(f"{len(errors)} problem(s) found in {args.source}", file=sys.stderr)
        return 1
    print(f"{args.source}: valid")
    return 0


def _build(args: argparse.Namespace) -> int:
    from components.core.package import build_artifacts
    from components.core.plan import load_plan
    from components.core.problems import errors
    from components.core.validate import validate_plan

    plan = load_plan(args.source)
    problems = validate_plan(plan)
    for problem in problems:
        print(problem, file=sys.stderr)
    if errors(problems):
        raise UserError(f"{args.source}: not built, fix the problems above first")
    result = build_artifacts(plan, Path(args.out), layout=args.layout)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        for artifact in result.artifacts:
            print(f"{artifact.path}  {artifact.size} bytes  sha256:{artifact.sha256}")
        print(f"repository sha256:{result.repository_sha256}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triton-groups",
        description="Declarative NVIDIA Triton model groups: validate, build, serve locally, smoke-test.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    schema = commands.add_parser("schema", help="print the JSON Schema of a group spec")
    schema.set_defaults(handler=_schema)

    validate = commands.add_parser("validate", help="check a spec or a Triton model repository as Triton would")
    validate.add_argument("source", metavar="SPEC_OR_REPO")
    validate.add_argument("--config-only", action="store_true", help="skip checks that need the model files")
    validate.set_defaults(handler=_validate)

    build = commands.add_parser("build", help="build reproducible artifact zips from a spec or a repository")
    build.add_argument("source", metavar="SPEC_OR_REPO")
    build.add_argument("--out", required=True, metavar="DIR")
    build.add_argument("--layout", choices=["single", "per-model"], default="single")
    build.add_argument("--json", action="store_true", help="print the artifacts as JSON")
    build.set_defaults(handler=_build)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UserError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
