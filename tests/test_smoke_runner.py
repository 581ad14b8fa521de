"""The runner with an in-test Transport: concurrency, repeats and latency, budgets, failures in the report.

These tests are about the runner's logic, not about serving: `ScriptedTransport` answers like an
"add" model (SUM = A + B) with a per-model delay. Talking to a real Triton is in test_smoke_triton.py.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.core.problems import UserError
from components.core.smoke import runner
from components.core.smoke.report import percentile
from components.core.smoke.runner import run_smoke
from components.core.smoke.transport import InferCall, Tensor, TransportError, prepare_request
from components.core.spec import GroupSpec, load_spec


class ScriptedTransport:
    """Answers SUM = A + B after `delays[model]` seconds; the other arguments script failures.

    `wrong[model] = n`: from the n-th request on, the k-th wrong answer is off by k (so each is told apart).
    `errors[model]` is raised from the `error_from[model]`-th request on (default: the first).
    """

    endpoint = "test://scripted"

    def __init__(
        self,
        delays: Mapping[str, float] | None = None,
        *,
        errors: Mapping[str, TransportError] | None = None,
        error_from: Mapping[str, int] | None = None,
        wrong: Mapping[str, int] | None = None,
        not_ready: Mapping[str, str] | None = None,
        unreachable: bool = False,
        omit: set[str] | None = None,
    ) -> None:
        self.delays = dict(delays or {})
        self.errors = dict(errors or {})
        self.error_from = dict(error_from or {})
        self.wrong = dict(wrong or {})
        self.not_ready = dict(not_ready or {})
        self.unreachable = unreachable
        self.omit = omit or set()
        self.calls: list[tuple[str, int | None]] = []
        self._lock = threading.Lock()

    def wait_ready(self, models: Sequence[str], timeout_s: float) -> Mapping[str, str | None]:
        if self.unreachable:
            raise TransportError("test://scripted did not answer within 1 s: no answer: connection refused")
        return {model: self.not_ready.get(model) for model in models}

    def infer(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> dict[str, np.ndarray]:
        with self._lock:
            self.calls.append((model, version))
            count = sum(1 for called, _ in self.calls if called == model)
        time.sleep(self.delays.get(model, 0.0))
        if model in self.errors and count >= self.error_from.get(model, 1):
            raise self.errors[model]
        given = {tensor.name: tensor.array for tensor in inputs}
        total = given["A"] + given["B"]
        if model in self.wrong and count >= self.wrong[model]:
            total = total + (count - self.wrong[model] + 1)
        return {name: total for name in outputs if name not in self.omit}

    def close(self) -> None:
        pass


def group(tmp_path: Path, names: Sequence[str], *, smoke: str = "", extra_case: str = "") -> GroupSpec:
    """A spec of python-backend "add" models, each with one passing case (plus `extra_case` for every model)."""
    (tmp_path / "model.py").write_text("# an add model\n")
    models = "".join(textwrap.indent(textwrap.dedent(f"""\
          - name: {name}
            backend: python
            versions: {{1: model.py}}
            inputs: [{{name: A, data_type: FP32, dims: [-1]}}, {{name: B, data_type: FP32, dims: [-1]}}]
            outputs: [{{name: SUM, data_type: FP32, dims: [-1]}}]
            smoke:
              - name: ones
                inputs: {{A: {{value: [1, 1]}}, B: {{value: [1, 2]}}}}
                expect: {{SUM: {{match: exact, value: [2, 3], shape: [2], datatype: FP32}}}}
        """), "  ") + textwrap.indent(textwrap.dedent(extra_case), "      ") for name in names)
    (tmp_path / "group.yaml").write_text(f"name: group\n{smoke}models:\n{models}")
    return load_spec(tmp_path / "group.yaml")


def test_every_case_passing_gives_a_passing_report(tmp_path: Path) -> None:
    spec = group(tmp_path, ["first", "second"])
    report = run_smoke(spec, ScriptedTransport())
    assert report.passed
    assert [(m.model, [c.case for c in m.cases]) for m in report.models] == [("first", ["ones"]),
                                                                               ("second", ["ones"])]
    lines = report.summary().splitlines()
    assert lines[0].startswith("PASS: 2/2 cases passed in 2 model(s) at test://scripted (1 repeat(s),")
    assert lines[1].startswith("  first: p50 ")
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["passed"] is True
    assert data["counts"] == {"models": 2, "models_not_ready": 0, "cases": 2, "passed": 2, "failed": 0}
    assert data["models"][0]["cases"][0]["latency_ms"]["count"] == 1


def test_models_run_in_parallel_so_the_run_takes_about_as_long_as_the_slowest(tmp_path: Path) -> None:
    names = [f"model_{i}" for i in range(8)]
    spec = group(tmp_path, names)
    delays = {name: 0.1 for name in names} | {"model_7": 0.4}
    started = time.perf_counter()
    report = run_smoke(spec, ScriptedTransport(delays))
    elapsed = time.perf_counter() - started
    assert report.passed
    # each case is sent twice (a warm-up, then one timed request): 0.8 s for the slow model, 2.2 s in sequence
    assert 0.8 <= elapsed < 1.3, f"8 models took {elapsed:.2f} s; in sequence they would take 2.2 s"
    assert report.wall_time_s == pytest.approx(elapsed, abs=0.05)


def test_repeats_time_each_case_that_many_times_after_a_warm_up(tmp_path: Path) -> None:
    spec = group(tmp_path, ["timed"], smoke="smoke: {repeats: 3}\n")
    transport = ScriptedTransport({"timed": 0.01})
    report = run_smoke(spec, transport, repeats=12)
    (case,) = report.cases
    assert len(transport.calls) == 13
    assert len(case.latencies_ms) == 12
    assert all(latency >= 10 for latency in case.latencies_ms)
    assert case.p50_ms == percentile(case.latencies_ms, 50)
    assert case.p99_ms == max(case.latencies_ms)
    assert report.repeats == 12
    assert len(run_smoke(spec, ScriptedTransport()).cases[0].latencies_ms) == 3


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(v) for v in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([5.0, 1.0, 3.0], 99) == 5.0
    assert percentile([], 50) is None


def test_a_p99_over_the_latency_budget_fails_the_run(tmp_path: Path) -> None:
    spec = group(tmp_path, ["fast", "slow"], smoke="smoke: {repeats: 2, latency_budget_ms: 30}\n")
    report = run_smoke(spec, ScriptedTransport({"slow": 0.06}))
    assert not report.passed
    fast, slow = report.models
    assert fast.passed and not fast.over_budget
    assert slow.over_budget and all(case.passed for case in slow.cases)
    lines = report.summary().splitlines()
    assert lines[0].startswith("FAIL: 2/2 cases passed in 2 model(s), 1 model(s) over the latency budget")
    assert lines[1].startswith("  FAIL slow: p99 latency ")
    assert lines[1].endswith(" ms exceeds the budget of 30 ms")
    assert report.to_json()["models"][1]["over_budget"] is True


def test_a_transport_error_is_a_failed_case_with_the_status_and_what_the_server_said(tmp_path: Path) -> None:
    spec = group(tmp_path, ["healthy", "overloaded"])
    error = TransportError("HTTP 503: model overloaded", status=503, detail="model overloaded, retry later")
    report = run_smoke(spec, ScriptedTransport(errors={"overloaded": error}))
    assert not report.passed
    healthy, overloaded = report.models
    assert healthy.passed
    (case,) = overloaded.cases
    (failure,) = case.failures
    assert failure.output is None
    assert failure.reason == "HTTP 503: model overloaded (status 503): model overloaded, retry later"
    assert case.latencies_ms == ()
    assert "  FAIL overloaded/ones: HTTP 503: model overloaded (status 503): model overloaded, retry later" \
        in report.summary().splitlines()


def test_a_wrong_output_names_model_case_output_and_the_difference(tmp_path: Path) -> None:
    spec = group(tmp_path, ["adder"])
    report = run_smoke(spec, ScriptedTransport(wrong={"adder": 1}))
    assert not report.passed
    lines = report.summary().splitlines()
    assert lines[0].startswith("FAIL: 0/1 cases passed in 1 model(s)")
    assert lines[1].startswith("  FAIL adder/ones: output SUM: 2 of 2 elements differ; "
                               "first at [0]: expected 2.0, got 3.0; [1]: expected 3.0, got 4.0;")


def test_every_repeat_is_sent_and_checked_and_the_first_wrong_answer_is_reported(tmp_path: Path) -> None:
    spec = group(tmp_path, ["flaky"])
    transport = ScriptedTransport(wrong={"flaky": 3})  # the warm-up and first timed answers are right
    report = run_smoke(spec, transport, repeats=10)
    (case,) = report.cases
    assert len(transport.calls) == 11
    assert len(case.latencies_ms) == 10  # every timed request, the warm-up excepted
    # the third answer (off by 1) is reported, not a later one (off by 2 or more)
    assert [str(f) for f in case.failures] == [
        "output SUM: 2 of 2 elements differ; first at [0]: expected 2.0, got 3.0; [1]: expected 3.0, got 4.0; "
        "expected [2., 3.] (FP32 [2]), got [3., 4.] (FP32 [2])"
    ]


def test_a_wrong_warm_up_answer_fails_the_case_before_any_timed_request(tmp_path: Path) -> None:
    spec = group(tmp_path, ["broken"])
    transport = ScriptedTransport(wrong={"broken": 1})
    report = run_smoke(spec, transport, repeats=10)
    (case,) = report.cases
    assert not case.passed
    assert len(transport.calls) == 1
    assert case.latencies_ms == ()


def test_answers_beyond_the_memory_bound_are_checked_in_blocks(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "MAX_KEPT_BYTES", 1)  # one answer per block: checked after each request
    spec = group(tmp_path, ["flaky"])
    transport = ScriptedTransport(wrong={"flaky": 3})
    report = run_smoke(spec, transport, repeats=10)
    (case,) = report.cases
    assert not case.passed
    assert len(transport.calls) == 3  # the block holding the wrong answer ended the case
    assert len(case.latencies_ms) == 2


def test_a_transport_error_after_good_answers_keeps_their_latencies(tmp_path: Path) -> None:
    spec = group(tmp_path, ["dropping"])
    error = TransportError("no answer: ConnectionResetError: reset by peer")
    transport = ScriptedTransport(errors={"dropping": error}, error_from={"dropping": 4})
    report = run_smoke(spec, transport, repeats=10)
    (case,) = report.cases
    assert [str(f) for f in case.failures] == ["no answer: ConnectionResetError: reset by peer"]
    assert len(transport.calls) == 4
    assert len(case.latencies_ms) == 2  # the warm-up is not timed, the failed request has no latency


def test_a_wrong_answer_before_a_transport_error_is_the_failure_reported(tmp_path: Path) -> None:
    spec = group(tmp_path, ["failing"])
    error = TransportError("HTTP 500: stub crashed", status=500)
    transport = ScriptedTransport(wrong={"failing": 2}, errors={"failing": error}, error_from={"failing": 4})
    (case,) = run_smoke(spec, transport, repeats=10).cases
    (failure,) = case.failures
    assert failure.output == "SUM"
    assert failure.reason.startswith("2 of 2 elements differ; first at [0]: expected 2.0, got 3.0;")


class PreparingScriptedTransport(ScriptedTransport):
    """A ScriptedTransport that can prepare a request once: preparing is slow (`prepare_s`), sending is not."""

    def __init__(self, prepare_s: float, **options: Any) -> None:
        super().__init__(**options)
        self.prepare_s = prepare_s
        self.prepared: list[str] = []

    def prepare(
        self, model: str, inputs: Sequence[Tensor], outputs: Sequence[str], version: int | None = None
    ) -> InferCall:
        self.prepared.append(model)
        time.sleep(self.prepare_s)
        return InferCall(self, model, tuple(inputs), tuple(outputs), version)


def test_a_transport_that_prepares_requests_prepares_each_case_once_outside_the_clock(tmp_path: Path) -> None:
    spec = group(tmp_path, ["first", "second"], extra_case="""\
        - name: zeros
          inputs: {A: {value: [0]}, B: {value: [0]}}
          expect: {SUM: {match: exact, value: [0]}}
    """)
    transport = PreparingScriptedTransport(0.2)
    report = run_smoke(spec, transport, repeats=5)
    assert report.passed
    assert sorted(transport.prepared) == ["first", "first", "second", "second"]
    assert len(transport.calls) == 4 * 6
    assert max(report.latencies_ms) < 200, "preparing (0.2 s) must not be in any latency"


def test_prepare_request_falls_back_to_infer_for_a_transport_without_prepare() -> None:
    transport = ScriptedTransport()
    request = prepare_request(transport, "adder", [Tensor("A", np.ones(2), "FP64"), Tensor("B", np.ones(2), "FP64")],
                              ["SUM"], 2)
    assert isinstance(request, InferCall)
    assert [request.send()["SUM"].tolist() for _ in range(2)] == [[2.0, 2.0]] * 2
    assert transport.calls == [("adder", 2)] * 2


def test_an_output_missing_from_the_answer_fails_the_case(tmp_path: Path) -> None:
    spec = group(tmp_path, ["adder"])
    report = run_smoke(spec, ScriptedTransport(omit={"SUM"}))
    (case,) = report.cases
    assert [str(f) for f in case.failures] == ["output SUM: missing from the response (it has [])"]


def test_a_model_that_is_not_ready_is_reported_by_name_with_the_servers_reason(tmp_path: Path) -> None:
    spec = group(tmp_path, ["good", "broken"])
    transport = ScriptedTransport(not_ready={"broken": "version 1 UNAVAILABLE: RuntimeError: no weights"})
    report = run_smoke(spec, transport)
    assert not report.passed
    good, broken = report.models
    assert good.passed
    assert broken.not_ready == "version 1 UNAVAILABLE: RuntimeError: no weights"
    assert [str(f) for f in broken.cases[0].failures] == ["not run: model broken is not ready"]
    assert {model for model, _ in transport.calls} == {"good"}
    lines = report.summary().splitlines()
    assert lines[0].startswith("FAIL: 1/2 cases passed in 2 model(s), 1 model(s) not ready")
    assert "  FAIL broken: not ready: version 1 UNAVAILABLE: RuntimeError: no weights" in lines


def test_an_unreachable_server_is_a_one_line_failure(tmp_path: Path) -> None:
    spec = group(tmp_path, ["first", "second"])
    report = run_smoke(spec, ScriptedTransport(unreachable=True))
    assert not report.passed
    assert report.summary() == (
        "FAIL: test://scripted did not answer within 1 s: no answer: connection refused"
    )
    assert report.to_json()["server_error"].startswith("test://scripted did not answer")


def test_only_the_chosen_models_run(tmp_path: Path) -> None:
    spec = group(tmp_path, ["first", "second", "third"])
    transport = ScriptedTransport()
    report = run_smoke(spec, transport, models=["third", "first"])
    assert [m.model for m in report.models] == ["first", "third"]
    assert {model for model, _ in transport.calls} == {"first", "third"}


def test_an_unknown_model_name_is_a_user_error(tmp_path: Path) -> None:
    spec = group(tmp_path, ["first"])
    with pytest.raises(UserError) as raised:
        run_smoke(spec, ScriptedTransport(), models=["frist"])
    assert str(raised.value) == (f"models: no model named 'frist' in the spec {spec.shown_path}; its models are "
                                 "['first']")


def test_a_spec_without_smoke_cases_gives_an_empty_passing_report(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text("# no cases\n")
    (tmp_path / "group.yaml").write_text(textwrap.dedent("""\
        name: quiet
        models:
          - {name: silent, backend: python, versions: {1: model.py}}
    """))
    spec = load_spec(tmp_path / "group.yaml")
    report = run_smoke(spec, ScriptedTransport())
    assert report.passed
    assert report.summary().startswith("PASS: 0/0 cases passed in 0 model(s)")
    with pytest.raises(UserError, match=r"models\[silent\].smoke: this model has no smoke cases"):
        run_smoke(spec, ScriptedTransport(), models=["silent"])


def test_a_case_version_is_sent_to_the_transport(tmp_path: Path) -> None:
    spec = group(tmp_path, ["versioned"], extra_case="""\
        - name: pinned
          version: 1
          inputs: {A: {value: [0]}, B: {value: [0]}}
          expect: {SUM: {match: exact, value: [0]}}
    """)
    transport = ScriptedTransport()
    assert run_smoke(spec, transport).passed
    assert transport.calls == [("versioned", None)] * 2 + [("versioned", 1)] * 2
