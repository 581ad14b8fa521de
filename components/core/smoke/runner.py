"""Run a group's smoke cases through any Transport and report: the entry point is `run_smoke`.

Models run in parallel (one thread each), so a run takes about as long as its slowest model; a
model's cases and their repeats run in order, so each latency is one request on an otherwise idle
client, not a queue of our own making. Each case first sends one untimed warm-up request (a model's
first request is far slower than the rest), checked before any timed request. Every case is prepared
(inputs read and converted) before the first request, so a bad spec fails fast as a UserError, not
as half a report.

The harness adds as little as it can to what it measures: each case's request is built once
(`prepare_request`) and sent back to back, the clock is around the send alone, and the answers are
kept as returned and checked after the timed requests (all of them, the first failing one reported),
so no check runs between two timed requests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from components.core.problems import Problem, UserError
from components.core.smoke.cases import PreparedCase, prepare_cases
from components.core.smoke.checks import check_output
from components.core.smoke.report import CaseResult, Failure, ModelResult, SmokeReport
from components.core.smoke.transport import PreparedRequest, Transport, TransportError, prepare_request
from components.core.spec import GroupSpec

MAX_PARALLEL_MODELS = 32
MAX_KEPT_BYTES = 64 * 2**20
"""How many bytes of answers a case keeps before checking them; larger cases are timed in blocks, checked between."""


def run_smoke(
    spec: GroupSpec,
    transport: Transport,
    *,
    models: Sequence[str] | None = None,
    repeats: int | None = None,
    timeout_s: float | None = None,
    models_label: str = "models",
) -> SmokeReport:
    """Run the smoke cases of `models` (default: every model that has cases) and report.

    `repeats` (default spec.smoke.repeats) is the number of timed requests per case, after one
    untimed warm-up request whose answer is checked too; `timeout_s` (default
    spec.smoke.timeout_s) bounds the wait for the server and models to be ready. Raises UserError
    for an unknown model name (its field is `models_label`, the name under which the caller took
    `models`: the CLI passes its option `--model`) or a case that cannot be built; a server that never answers, a model
    that is not ready, a transport error and a wrong output are all failures inside the report.
    """
    started = time.perf_counter()
    repeats = spec.smoke.repeats if repeats is None else repeats
    if repeats < 1:
        raise UserError(Problem(spec.shown_path, "smoke.repeats", f"repeats must be at least 1, got {repeats}",
                                "smoke.repeats"))
    timeout_s = spec.smoke.timeout_s if timeout_s is None else timeout_s
    budget = spec.smoke.latency_budget_ms
    cases = _prepare(spec, models, models_label)

    def report(results: tuple[ModelResult, ...] = (), server_error: str | None = None) -> SmokeReport:
        return SmokeReport(transport.endpoint, results, repeats, budget, time.perf_counter() - started, server_error,
                           group=spec.name)

    if not cases:
        return report()
    try:
        readiness = transport.wait_ready(list(cases), timeout_s)
    except TransportError as exc:
        return report(server_error=_describe(exc))
    with ThreadPoolExecutor(max_workers=min(len(cases), MAX_PARALLEL_MODELS), thread_name_prefix="smoke") as pool:
        futures = [
            pool.submit(_run_model, transport, name, model_cases, readiness.get(name), repeats, budget)
            for name, model_cases in cases.items()
        ]
        results = tuple(future.result() for future in futures)
    return report(results)


def _prepare(spec: GroupSpec, models: Sequence[str] | None, models_label: str) -> dict[str, list[PreparedCase]]:
    """The prepared cases by model name, in spec order; UserError for unknown names or unbuildable cases."""
    known = [model.name for model in spec.models]
    if models is not None:
        unknown = [name for name in models if name not in known]
        if unknown:
            raise UserError([
                Problem("", models_label, f"no model named {name!r} in the spec {spec.shown_path}; its models are "
                        f"{known}", "smoke.unknown_model")
                for name in unknown
            ])
    chosen = [m for m in spec.models if (models is None and m.smoke) or (models is not None and m.name in models)]
    without = [m.name for m in chosen if not m.smoke]
    if without:
        raise UserError([
            Problem(spec.shown_path, f"models[{name}].smoke", "this model has no smoke cases; add some or leave it "
                    "out of the models to test", "smoke.no_cases")
            for name in without
        ])
    prepared: dict[str, list[PreparedCase]] = {}
    problems: list[Problem] = []
    for model in chosen:
        try:
            prepared[model.name] = prepare_cases(spec, model)
        except UserError as exc:
            problems += exc.problems
    if problems:
        raise UserError(problems)
    return prepared


def _run_model(
    transport: Transport,
    model: str,
    cases: Sequence[PreparedCase],
    not_ready: str | None,
    repeats: int,
    budget: float | None,
) -> ModelResult:
    if not_ready is not None:
        skipped = Failure(f"not run: model {model} is not ready")
        return ModelResult(model, tuple(CaseResult(model, c.name, (skipped,)) for c in cases), not_ready, budget)
    return ModelResult(model, tuple(_run_case(transport, case, repeats) for case in cases), None, budget)


def _run_case(transport: Transport, case: PreparedCase, repeats: int) -> CaseResult:
    """Send `case` once to warm up, then `repeats` timed times; check every answer and report the first failure.

    The warm-up answer is checked first and not timed: a model's first request (and a client's first
    connection) is much slower than the rest, and would otherwise be a p99 of its own; a case whose
    warm-up answer is wrong or missing sends nothing more. The timed requests go back to back and
    their answers are checked afterwards, in blocks of at most MAX_KEPT_BYTES of answers; a failing
    block ends the case. Every request sent is in the latencies, including those after a wrong answer.
    """
    try:
        request = prepare_request(transport, case.model, case.inputs, case.outputs, case.version)
        warm_up = request.send()
    except TransportError as exc:
        return CaseResult(case.model, case.name, (Failure(_describe(exc)),))
    failures = _check_answer(case, warm_up)
    if failures:
        return CaseResult(case.model, case.name, failures)
    block = max(1, MAX_KEPT_BYTES // max(1, _answer_bytes(warm_up)))
    latencies: list[float] = []
    while len(latencies) < repeats:
        answers, latencies_ns, error = _send_timed(request, min(block, repeats - len(latencies)))
        latencies += [elapsed / 1e6 for elapsed in latencies_ns]
        failures = _first_failure(case, answers)
        if not failures and error is not None:
            failures = (Failure(_describe(error)),)
        if failures:
            return CaseResult(case.model, case.name, failures, tuple(latencies))
    return CaseResult(case.model, case.name, (), tuple(latencies))


def _send_timed(
    request: PreparedRequest, count: int
) -> tuple[list[dict[str, np.ndarray]], list[int], TransportError | None]:
    """Send `request` `count` times back to back, the clock around each send alone; stop at a transport error.

    Returns the answers as sent back, each request's latency in ns, and the transport error if one ended it.
    """
    answers: list[dict[str, np.ndarray]] = []
    latencies_ns: list[int] = []
    send = request.send
    clock = time.perf_counter_ns
    try:
        for _ in range(count):
            sent = clock()
            answer = send()
            latencies_ns.append(clock() - sent)
            answers.append(answer)
    except TransportError as exc:
        return answers, latencies_ns, exc
    return answers, latencies_ns, None


def _answer_bytes(answer: Mapping[str, np.ndarray]) -> int:
    """The memory an answer holds: its arrays, plus the strings of BYTES arrays."""
    return sum(
        array.nbytes + (sum(len(item) for item in array.flat if isinstance(item, bytes))
                        if array.dtype == np.object_ else 0)
        for array in answer.values()
    )


def _first_failure(case: PreparedCase, answers: Sequence[Mapping[str, np.ndarray]]) -> tuple[Failure, ...]:
    """The failures of the first answer, in the order sent, that has any; () when every answer passes."""
    for answer in answers:
        failures = _check_answer(case, answer)
        if failures:
            return failures
    return ()


def _check_answer(case: PreparedCase, answer: Mapping[str, np.ndarray]) -> tuple[Failure, ...]:
    failures = []
    for expectation in case.expectations:
        got = answer.get(expectation.output)
        if got is None:
            failures.append(Failure(f"missing from the response (it has {sorted(answer)})", expectation.output))
            continue
        reason = check_output(expectation, got)
        if reason is not None:
            failures.append(Failure(reason, expectation.output))
    return tuple(failures)


def _describe(exc: TransportError) -> str:
    """A transport error as one line: the message, the HTTP status and what the server said."""
    text = str(exc)
    if exc.status is not None:
        text += f" (status {exc.status})"
    if exc.detail and exc.detail not in text:
        text += f": {exc.detail}"
    return text
