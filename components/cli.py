"""The `triton-groups` command: a thin layer over the core.

Exit codes and what is printed on stderr:
- 0 success.
- 1 a problem with the user's input or a failed check: each `Problem` the core raised (as UserError)
  on one line, `file:line: field: message`, saying what to do; no traceback. An OSError the core let
  through (a path the user gave that cannot be used) is printed the same way, as `path: reason`:
  it is almost always about the user's files, and each one is a missing UserError to add in the core.
- 2 bad command-line usage (argparse: unknown option, missing argument, a port that is not 1-65535).
- 70 (EX_SOFTWARE) an internal error, a bug in triton-groups rather than in the input: the full
  traceback is printed, then one line saying it is a bug and how to report it. Tracebacks are kept for
  bugs (and only for them) because they are what a maintainer needs, as pip does.
- 130 interrupted (Ctrl-C, or SIGTERM, which is handled the same way): one line `interrupted`; whatever was
  being started is stopped by the core, and a write in progress leaves the previous good state. `serve`
  in the foreground takes Ctrl-C as its normal way to stop: it stops tritonserver and exits 0.
- 141 the reader of stdout went away (`| head`): nothing more is printed, as Unix tools do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from components.core.problems import Problem, UserError, errors, printable
from components.stacks.preview_commands import add_preview_parser
from components.stacks.release_commands import add_release_parser
from components.stacks.stack_files import add_validate_stacks_parser

if TYPE_CHECKING:
    from components.core.plan import RepositoryPlan
    from components.core.runtime import ServerRecord

Handler = Callable[[argparse.Namespace], int]
DEMO_STATE_DIR = ".triton-groups/local/demo"
EXIT_PROBLEMS = 1
EXIT_INTERNAL_ERROR = 70
"""EX_SOFTWARE from sysexits.h: an internal software error."""
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a tool whose reader went away (`triton-groups schema | head -1`)."""
PROGRESS_DELAY_ENV = "TRITON_GROUPS_PROGRESS_DELAY_S"
"""For tests: seconds a build runs before its progress is shown on a terminal (default PROGRESS_DELAY_S)."""
PROGRESS_DELAY_S = 2.0


def _valid_plan(source: str, verb: str) -> RepositoryPlan:
    """The plan of `source`, its warnings printed; UserError (nothing done) when the validator finds errors."""
    from components.core.plan import load_plan
    from components.core.validate import validate_plan

    plan = load_plan(source)
    problems = validate_plan(plan)
    for problem in problems:
        print(problem, file=sys.stderr)
    if errors(problems):
        raise UserError(Problem(source, "", f"not {verb}, fix the problems above first", "cli.invalid"))
    return plan


def _require_spec_file(source: str, command: str) -> None:
    """UserError unless `source` may be a group spec: `command` needs the spec's smoke cases, not a repository."""
    if Path(source).is_dir():
        raise UserError(Problem(source, "", f"is a folder; {command} needs a group spec (YAML), whose smoke cases "
                                "are the test", "cli.not_a_spec"))
    if not Path(source).exists():
        raise UserError(Problem(source, "", "no such file; give the path of a group spec (YAML)", "spec.missing"))


def _port(text: str) -> int:
    """argparse type of a TCP port option: 1 to 65535 (leaving the option out picks a free port)."""
    port = int(text) if text.strip().isdigit() else -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; give 1 to 65535, or leave the option out to "
                                         "use a free port")
    return port


def _folder(text: str) -> str:
    """argparse type of a folder option: not empty (an empty path would mean the current folder, unsaid)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder; give the folder's path (e.g. dist/)")
    return text


def _url(text: str) -> str:
    """argparse type of --url: a server address that parses (`parse_url`); its protocol is checked after parsing."""
    from components.core.smoke.triton_transport import parse_url

    try:
        parse_url(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(exc.problems[0].message) from None
    return text


def _count(text: str) -> int:
    """argparse type of a count option: a whole number, at least 1."""
    count = int(text) if text.strip().isdigit() else 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count; give a whole number, at least 1")
    return count


def _seconds(text: str) -> float:
    """argparse type of a duration option: a number of seconds greater than 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; give a number of seconds greater than 0")
    return seconds


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
    found = errors(problems)
    if found:
        print(f"{len(found)} problem(s) found in {args.source}", file=sys.stderr)
        return 1
    print(f"{args.source}: valid")
    return 0


def _build(args: argparse.Namespace) -> int:
    from components.core.package import build_artifacts

    plan = _valid_plan(args.source, "built")
    cache = Path(args.cache) if args.cache else None
    show = not args.json and sys.stdout.isatty() and sys.stderr.isatty()
    with _build_progress(show) as on_progress:
        result = build_artifacts(plan, Path(args.out), layout=args.layout, cache_path=cache,
                                 on_wait=lambda line: print(line, file=sys.stderr, flush=True),
                                 on_progress=on_progress)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        for artifact in result.artifacts:
            print(f"{artifact.path}  {artifact.size} bytes  sha256:{artifact.sha256}")
            for path, source in artifact.sources:
                print(printable(f"  {path}  <- {source}"))
        print(f"repository sha256:{result.repository_sha256}")
        for name in result.removed:
            print(f"removed {name}: left from an earlier build, not part of this one")
    return 0


@contextlib.contextmanager
def _build_progress(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback for `build_artifacts` drawing bytes zipped of the total, rate and time left on stderr
    (rich), once the build has run PROGRESS_DELAY_S ($TRITON_GROUPS_PROGRESS_DELAY_S); None unless `show`."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    delay_s = float(os.environ.get(PROGRESS_DELAY_ENV, PROGRESS_DELAY_S))
    started = time.monotonic()
    display = Progress(TextColumn("zipping"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                       TextColumn("left"), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            if time.monotonic() - started < delay_s:
                return
            display.start()
            task = display.add_task("zip", total=total)
        display.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if task is not None:
            display.stop()


def _smoke(args: argparse.Namespace) -> int:
    from components.core.smoke.runner import run_smoke
    from components.core.smoke.triton_transport import TritonTransport
    from components.core.spec import load_spec

    _require_spec_file(args.spec, "smoke")
    spec = load_spec(args.spec)
    transport = TritonTransport(args.url, args.protocol, on_wait=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        report = run_smoke(spec, transport, models=args.model, repeats=args.repeats, timeout_s=args.timeout,
                           models_label="--model")
    finally:
        transport.close()
    print(json.dumps(report.to_json(), indent=2) if args.json else report.summary())
    if args.junit:
        _write_junit(report.to_json(), args.junit)
    return 0 if report.passed else 1


def _write_junit(report: dict, target: str) -> None:
    from components._internal.atomic import write_bytes_atomic
    from components.core.smoke.junit import junit_xml

    write_bytes_atomic(Path(target), junit_xml(report).encode())


def _junit(args: argparse.Namespace) -> int:
    """A smoke report's JSON (from `smoke --json` or `pulumi stack output smoke_report --json`) as JUnit XML."""
    source = "standard input" if args.report == "-" else args.report
    text = sys.stdin.read() if args.report == "-" else Path(args.report).read_text(encoding="utf-8")
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(Problem(source, "", f"is not JSON ({exc.msg} at line {exc.lineno}); give the output of "
                                "`triton-groups smoke --json` or `pulumi stack output smoke_report --json`",
                                "junit.not_json")) from None
    if not isinstance(report, dict) or "models" not in report or "passed" not in report:
        raise UserError(Problem(source, "", "is not a smoke report (no `passed` and `models`); give the output of "
                                "`triton-groups smoke --json` or `pulumi stack output smoke_report --json`",
                                "junit.not_report"))
    _write_junit(report, args.out)
    print(f"{args.out}: {len(report['models'])} model(s), {'passed' if report['passed'] else 'FAILED'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from components.core.plan import group_name
    from components.core.runtime import LocalServer, default_state_dir

    plan = _valid_plan(args.source, "served")
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir(group_name(plan))
    ports = {"http_port": args.http_port, "grpc_port": args.grpc_port}
    if args.detach:
        record = LocalServer.start_detached(plan, state_dir, **ports)
        _print_endpoints(args.source, record)
        print(f"stop it with: triton-groups stop --state-dir {record.state_dir}")
        return 0
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
    """The local deployment without Pulumi, through the providers' own steps (build, serve, smoke)."""
    from components.core.runtime import ServerRecord, is_serving, stop
    from components.core.runtime.deployment import build_step, serve_step, smoke_step
    from components.core.smoke.triton_transport import TritonTransport

    _require_spec_file(args.spec, "demo")
    plan = _valid_plan(args.spec, "deployed")
    assert plan.spec is not None
    state_dir = Path(args.state_dir)
    for artifact in build_step(plan, state_dir / "artifacts").artifacts:
        print(f"built {artifact.path} ({artifact.size} bytes, sha256:{artifact.sha256})")
    record = ServerRecord.find(state_dir)
    served = serve_step(plan, state_dir, args.http_port, running=record if record and is_serving(record) else None)
    if not served.started:
        print(f"updated the server already serving: {', '.join(served.changed) or 'no model changed'}")
    record = served.record
    _print_endpoints(args.spec, record)
    stop_hint = f"stop it with: triton-groups stop --state-dir {state_dir} (or make stop)"
    try:
        report = smoke_step(plan.spec, TritonTransport(record.http_url if args.protocol == "http" else record.grpc_url,
                                                       args.protocol))
    except KeyboardInterrupt:
        print(f"the server is left serving; {stop_hint}", file=sys.stderr)
        raise
    print(report.summary())
    if report.passed:
        print(f"left serving; {stop_hint}")
        return 0
    if served.started:
        stop(record)
        print(f"the smoke test failed, so the server this demo started is stopped (its log: {record.log_file})",
              file=sys.stderr)
    else:
        print(f"the smoke test failed; the server that was already serving is left serving the updated models; "
              f"{stop_hint}", file=sys.stderr)
    return 1


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
    build.add_argument("--out", required=True, type=_folder, metavar="DIR",
                       help="the folder for the zips: not /, nor inside a folder whose files are packed")
    build.add_argument("--layout", choices=["single", "per-model"], default="single")
    build.add_argument("--cache", metavar="FILE", help="the hash cache (default: DIR/.hash-cache.json)")
    build.add_argument("--json", action="store_true", help="print the artifacts as JSON")
    build.set_defaults(handler=_build)

    smoke = commands.add_parser("smoke", help="run the spec's smoke cases against any Triton server")
    smoke.add_argument("spec", metavar="SPEC")
    smoke.add_argument("--url", required=True, type=_url,
                       help="the server: http://host:8000, grpc://host:8001 or host:port")
    smoke.add_argument("--protocol", choices=["http", "grpc"], help="default: the URL's scheme, else http")
    smoke.add_argument("--json", action="store_true", help="print the report as JSON")
    smoke.add_argument("--model", action="append", metavar="NAME", help="test only this model (repeatable)")
    smoke.add_argument("--repeats", type=_count, metavar="N", help="requests per case (default: spec smoke.repeats)")
    smoke.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                       help="how long to wait for the server and models (default: spec smoke.timeout_s)")
    smoke.add_argument("--junit", metavar="FILE", help="also write the report as JUnit XML to FILE (for CI)")
    smoke.set_defaults(handler=_smoke)

    junit = commands.add_parser("junit", help="turn a smoke report's JSON (e.g. a stack's smoke_report) into JUnit XML")
    junit.add_argument("report", metavar="REPORT_JSON", help="a file, or - for standard input")
    junit.add_argument("--out", required=True, metavar="FILE", help="where to write the JUnit XML")
    junit.set_defaults(handler=_junit)

    add_release_parser(commands)
    add_preview_parser(commands)
    add_validate_stacks_parser(commands)

    serve = commands.add_parser("serve", help="serve a spec or a repository on a local tritonserver")
    serve.add_argument("source", metavar="SPEC_OR_REPO")
    serve.add_argument("--http-port", type=_port, metavar="P", help="default: a free port")
    serve.add_argument("--grpc-port", type=_port, metavar="P", help="default: a free port")
    serve.add_argument("--state-dir", metavar="DIR", help="default: .triton-groups/local/<group name>")
    serve.add_argument("--detach", action="store_true", help="keep serving after this command returns")
    serve.set_defaults(handler=_serve)

    stop = commands.add_parser("stop", help="stop local servers started with `serve --detach` (or by Pulumi)")
    stop.add_argument("--state-dir", metavar="DIR", help="default: every server under .triton-groups/local/")
    stop.set_defaults(handler=_stop)

    demo = commands.add_parser("demo", help="the local deployment without Pulumi: build, serve detached, smoke-test")
    demo.add_argument("spec", metavar="SPEC")
    demo.add_argument("--state-dir", default=DEMO_STATE_DIR, metavar="DIR", help=f"default: {DEMO_STATE_DIR}")
    demo.add_argument("--http-port", type=_port, metavar="P", help="default: a free port")
    demo.add_argument("--protocol", choices=["http", "grpc"], default="http", help="the smoke tests' protocol")
    demo.set_defaults(handler=_demo)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (see the module docstring). Bad usage exits 2 from argparse."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_url_protocol(parser, args)
    handler: Handler = args.handler
    try:
        with _terminate_as_interrupt():
            return handler(args)
    except UserError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        print(_os_error_line(exc), file=sys.stderr)
        return EXIT_PROBLEMS
    except Exception as exc:
        traceback.print_exc()
        print(f"triton-groups: internal error ({type(exc).__name__}): this is a bug in triton-groups, not in your "
              "input; please report it with the command you ran and the traceback above", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _check_url_protocol(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (exit 2) when `smoke --url` names a scheme that --protocol contradicts."""
    if getattr(args, "url", None) is None:
        return
    from components.core.smoke.triton_transport import parse_url

    try:
        parse_url(args.url, args.protocol)
    except UserError as exc:
        parser.error(f"argument --url: {exc.problems[0].message}")


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a CI timeout) raises KeyboardInterrupt like Ctrl-C, so that the same clean-up runs.

    Without it Python dies at once: a server being started is left running, a zip half-written is left
    as a temporary file. Only in the main thread (signals cannot be set elsewhere); restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _os_error_line(exc: OSError) -> str:
    """`path: reason; what to check` for an operating-system error on a path the user gave."""
    reason = (exc.strerror or str(exc)).lower()
    paths = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    if not paths:
        return f"{reason}; check the paths given, their permissions and the free disk space"
    return f"{' -> '.join(paths)}: {reason}; check this path, its permissions and the free disk space"


if __name__ == "__main__":
    sys.exit(main())
