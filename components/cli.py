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
from typing import TYPE_CHECKING

from components.core.problems import UserError

if TYPE_CHECKING:
    from components.core.plan import RepositoryPlan
    from components.core.runtime import ServerRecord

Handler = Callable[[argparse.Namespace], int]
DEMO_STATE_DIR = ".triton-groups/local/demo"


def _valid_plan(source: str, verb: str) -> RepositoryPlan:
    """The plan of `source`, its warnings printed; UserError (nothing done) when the validator finds errors."""
    from components.core.plan import load_plan
    from components.core.problems import errors
    from components.core.validate import validate_plan

    plan = load_plan(source)
    problems = validate_plan(plan)
    for problem in problems:
        print(problem, file=sys.stderr)
    if errors(problems):
        raise UserError(f"{source}: not {verb}, fix the problems above first")
    return plan


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

    plan = _valid_plan(args.source, "built")
    cache = Path(args.cache) if args.cache else None
    result = build_artifacts(plan, Path(args.out), layout=args.layout, cache_path=cache)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        for artifact in result.artifacts:
            print(f"{artifact.path}  {artifact.size} bytes  sha256:{artifact.sha256}")
        print(f"repository sha256:{result.repository_sha256}")
    return 0


def _smoke(args: argparse.Namespace) -> int:
    from components.core.smoke.runner import run_smoke
    from components.core.smoke.triton_transport import TritonTransport
    from components.core.spec import load_spec

    spec = load_spec(args.spec)
    transport = TritonTransport(args.url, args.protocol)
    try:
        report = run_smoke(spec, transport, models=args.model, repeats=args.repeats, timeout_s=args.timeout)
    finally:
        transport.close()
    print(json.dumps(report.to_json(), indent=2) if args.json else report.summary())
    return 0 if report.passed else 1


def _serve(args: argparse.Namespace) -> int:
    import signal

    from components.core.runtime import LocalServer, default_state_dir, group_name

    plan = _valid_plan(args.source, "served")
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir(group_name(plan))
    ports = {"http_port": args.http_port, "grpc_port": args.grpc_port}
    if args.detach:
        record = LocalServer.start_detached(plan, state_dir, **ports)
        _print_endpoints(args.source, record)
        print(f"stop it with: triton-groups stop --state-dir {record.state_dir}")
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with LocalServer.start(plan, state_dir, **ports) as server:
        _print_endpoints(args.source, server.record)
        print("press Ctrl-C to stop", flush=True)
        try:
            code = server.wait()
        except KeyboardInterrupt:
            print("stopping tritonserver", flush=True)
            return 0
    print(f"tritonserver exited on its own with code {code}; see {server.record.log_file}", file=sys.stderr)
    return 1


def _print_endpoints(source: str, record: ServerRecord) -> None:
    print(f"serving {len(record.models)} model(s) from {source} (tritonserver pid {record.pid})")
    print(f"  HTTP  {record.http_url}")
    print(f"  gRPC  {record.grpc_url}")
    if record.shimmed:
        print(f"  run by the Python backend with onnxruntime/torch (local only): {', '.join(record.shimmed)}")
    print(f"  log   {record.log_file}", flush=True)


def _stop(args: argparse.Namespace) -> int:
    from components.core.runtime import ServerRecord, recorded_state_dirs, stop

    state_dirs = [Path(args.state_dir)] if args.state_dir else recorded_state_dirs()
    if not state_dirs:
        print("no local server recorded under .triton-groups/local/")
        return 0
    for state_dir in state_dirs:
        record = ServerRecord.load(state_dir)
        stopped = stop(record)
        print(f"{'stopped' if stopped else 'was not running'}: {record.name} (pid {record.pid}, {state_dir})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    """The local deployment without Pulumi: build, serve detached (or update the server already there), smoke."""
    from components.core.package import build_artifacts
    from components.core.problems import Problem
    from components.core.runtime import LocalServer, ServerRecord, is_serving, sync
    from components.core.smoke.runner import run_smoke
    from components.core.smoke.triton_transport import TritonTransport

    if Path(args.spec).is_dir():
        raise UserError(Problem(args.spec, "", "demo needs a group spec (YAML): its smoke cases are the test",
                                "demo.not_a_spec"))
    plan = _valid_plan(args.spec, "deployed")
    assert plan.spec is not None
    state_dir = Path(args.state_dir)
    built = build_artifacts(plan, state_dir / "artifacts")
    for artifact in built.artifacts:
        print(f"built {artifact.path} ({artifact.size} bytes, sha256:{artifact.sha256})")
    record = ServerRecord.find(state_dir)
    if record is not None and is_serving(record):
        synced = sync(record, plan)
        record = synced.record
        changed = [*synced.loaded, *synced.reloaded, *synced.unloaded]
        print(f"updated the server already serving: {', '.join(changed) if changed else 'no model changed'}")
    else:
        record = LocalServer.start_detached(plan, state_dir, http_port=args.http_port)
    _print_endpoints(args.spec, record)
    transport = TritonTransport(record.http_url if args.protocol == "http" else record.grpc_url, args.protocol)
    try:
        report = run_smoke(plan.spec, transport)
    finally:
        transport.close()
    print(report.summary())
    print(f"left serving; stop it with: triton-groups stop --state-dir {state_dir} (or make stop)")
    return 0 if report.passed else 1


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
    build.add_argument("--cache", metavar="FILE", help="the hash cache (default: DIR/.hash-cache.json)")
    build.add_argument("--json", action="store_true", help="print the artifacts as JSON")
    build.set_defaults(handler=_build)

    smoke = commands.add_parser("smoke", help="run the spec's smoke cases against any Triton server")
    smoke.add_argument("spec", metavar="SPEC")
    smoke.add_argument("--url", required=True, help="the server: http://host:8000, grpc://host:8001 or host:port")
    smoke.add_argument("--protocol", choices=["http", "grpc"], help="default: the URL's scheme, else http")
    smoke.add_argument("--json", action="store_true", help="print the report as JSON")
    smoke.add_argument("--model", action="append", metavar="NAME", help="test only this model (repeatable)")
    smoke.add_argument("--repeats", type=int, metavar="N", help="requests per case (default: spec smoke.repeats)")
    smoke.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="how long to wait for the server and models (default: spec smoke.timeout_s)")
    smoke.set_defaults(handler=_smoke)

    serve = commands.add_parser("serve", help="serve a spec or a repository on a local tritonserver")
    serve.add_argument("source", metavar="SPEC_OR_REPO")
    serve.add_argument("--http-port", type=int, metavar="P", help="default: a free port")
    serve.add_argument("--grpc-port", type=int, metavar="P", help="default: a free port")
    serve.add_argument("--state-dir", metavar="DIR", help="default: .triton-groups/local/<group name>")
    serve.add_argument("--detach", action="store_true", help="keep serving after this command returns")
    serve.set_defaults(handler=_serve)

    stop = commands.add_parser("stop", help="stop local servers started with `serve --detach` (or by Pulumi)")
    stop.add_argument("--state-dir", metavar="DIR", help="default: every server under .triton-groups/local/")
    stop.set_defaults(handler=_stop)

    demo = commands.add_parser("demo", help="the local deployment without Pulumi: build, serve detached, smoke-test")
    demo.add_argument("spec", metavar="SPEC")
    demo.add_argument("--state-dir", default=DEMO_STATE_DIR, metavar="DIR", help=f"default: {DEMO_STATE_DIR}")
    demo.add_argument("--http-port", type=int, metavar="P", help="default: a free port")
    demo.add_argument("--protocol", choices=["http", "grpc"], default="http", help="the smoke tests' protocol")
    demo.set_defaults(handler=_demo)

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
