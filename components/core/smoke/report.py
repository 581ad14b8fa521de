"""The smoke report: per case pass/fail, reasons and latencies; per model and per run p50/p99.

Plain frozen dataclasses. `SmokeReport.summary()` is the human form (first line PASS/FAIL with
counts, then one line per failure naming model, case and output), `SmokeReport.to_json()` the
machine form. Percentiles are nearest-rank: always a latency that was actually measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def percentile(samples: Sequence[float], p: float) -> float | None:
    """The nearest-rank p-th percentile (0 < p <= 100) of `samples`; None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class Latencies:
    """p50/p99 of `latencies_ms` (the requests of a case, a model or a whole run), in ms; None when there are none."""

    latencies_ms: tuple[float, ...]

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.latencies_ms, 99)

    def latency_json(self) -> dict[str, Any]:
        return {"count": len(self.latencies_ms), "p50": _ms(self.p50_ms), "p99": _ms(self.p99_ms)}


@dataclass(frozen=True)
class Failure:
    """Why a case failed: `output` names the output at fault, None when no answer came (transport error)."""

    reason: str
    output: str | None = None

    def __str__(self) -> str:
        return f"output {self.output}: {self.reason}" if self.output else self.reason


@dataclass(frozen=True)
class CaseResult(Latencies):
    """One smoke case: its failures (empty when it passed) and the latency of each request sent, in ms."""

    model: str
    case: str
    failures: tuple[Failure, ...] = ()
    latencies_ms: tuple[float, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "passed": self.passed,
            "failures": [{"output": f.output, "reason": f.reason} for f in self.failures],
            "latency_ms": self.latency_json(),
        }


@dataclass(frozen=True)
class ModelResult(Latencies):
    """One model's cases. `not_ready` is the server's reason when the model never became ready (no case ran).

    With a `latency_budget_ms`, the model fails when the p99 over all its requests exceeds it.
    """

    model: str
    cases: tuple[CaseResult, ...] = ()
    not_ready: str | None = None
    latency_budget_ms: float | None = None

    @property
    def latencies_ms(self) -> tuple[float, ...]:
        return tuple(sample for case in self.cases for sample in case.latencies_ms)

    @property
    def over_budget(self) -> bool:
        p99 = self.p99_ms
        return self.latency_budget_ms is not None and p99 is not None and p99 > self.latency_budget_ms

    @property
    def passed(self) -> bool:
        return self.not_ready is None and not self.over_budget and all(case.passed for case in self.cases)

    def problems(self) -> list[str]:
        """One line per thing wrong with this model: not ready, each failing case's output, over budget."""
        if self.not_ready is not None:
            return [f"{self.model}: not ready: {self.not_ready}"]
        lines = [f"{self.model}/{case.case}: {failure}" for case in self.cases for failure in case.failures]
        if self.over_budget:
            lines.append(f"{self.model}: p99 latency {self.p99_ms:.2f} ms exceeds the budget of "
                         f"{self.latency_budget_ms:g} ms")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "passed": self.passed,
            "ready": self.not_ready is None,
            "not_ready": self.not_ready,
            "over_budget": self.over_budget,
            "latency_ms": self.latency_json(),
            "cases": [case.to_json() for case in self.cases],
        }


@dataclass(frozen=True)
class SmokeReport(Latencies):
    """A whole smoke run against one endpoint. `server_error` is set when the server itself never answered."""

    endpoint: str
    models: tuple[ModelResult, ...] = ()
    repeats: int = 1
    latency_budget_ms: float | None = None
    wall_time_s: float = 0.0
    server_error: str | None = None
    group: str = ""
    """The group's name (the spec's `name`), for reports read away from the spec (JUnit XML, CI summaries)."""

    @property
    def cases(self) -> tuple[CaseResult, ...]:
        return tuple(case for model in self.models for case in model.cases)

    @property
    def passed(self) -> bool:
        return self.server_error is None and all(model.passed for model in self.models)

    @property
    def latencies_ms(self) -> tuple[float, ...]:
        return tuple(sample for model in self.models for sample in model.latencies_ms)

    def summary(self) -> str:
        """The human report: a PASS/FAIL line with counts, one line per failure, then latency per model."""
        if self.server_error is not None:
            return f"FAIL: {self.server_error}"
        cases = self.cases
        passed = sum(case.passed for case in cases)
        not_ready = sum(model.not_ready is not None for model in self.models)
        counts = f"{passed}/{len(cases)} cases passed in {len(self.models)} model(s)"
        if not_ready:
            counts += f", {not_ready} model(s) not ready"
        over = sum(model.over_budget for model in self.models)
        if over:
            counts += f", {over} model(s) over the latency budget"
        lines = [f"{'PASS' if self.passed else 'FAIL'}: {counts} at {self.endpoint} "
                 f"({self.repeats} repeat(s), {self.wall_time_s:.2f} s)"]
        lines += [f"  FAIL {line}" for model in self.models for line in model.problems()]
        for model in self.models:
            if model.latencies_ms:
                lines.append(f"  {model.model}: p50 {model.p50_ms:.2f} ms, p99 {model.p99_ms:.2f} ms "
                             f"over {len(model.latencies_ms)} request(s)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        cases = self.cases
        return {
            "passed": self.passed,
            "group": self.group,
            "endpoint": self.endpoint,
            "server_error": self.server_error,
            "repeats": self.repeats,
            "latency_budget_ms": self.latency_budget_ms,
            "wall_time_s": round(self.wall_time_s, 3),
            "counts": {
                "models": len(self.models),
                "models_not_ready": sum(model.not_ready is not None for model in self.models),
                "cases": len(cases),
                "passed": sum(case.passed for case in cases),
                "failed": sum(not case.passed for case in cases),
            },
            "latency_ms": self.latency_json(),
            "models": [model.to_json() for model in self.models],
        }
