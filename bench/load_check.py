"""A bounded load check on the local server: 10,000 requests at concurrency 16, zero errors required.

The local example group is served by the runtime on loopback (127.0.0.1) only. Against one model
(`--model`, default classifier_onnx: ONNX through the shim, with dynamic batching), `--trials`
times, alternating:
- load: `--requests` requests from `--concurrency` threads, each with its own tritonclient HTTP
  client, taking request numbers from one shared counter;
- reference: the same model and input from one client, one request at a time (`--reference-requests`).
Every answer is checked against the example's expected output (allclose): a wrong answer counts as
an error, like a refused or failed request. Each client sends one untimed warm-up request first.
Bounded: each phase stops sending after `--deadline` seconds, and what was not sent is reported.

Run: .venv/bin/python bench/load_check.py [--model NAME] [--trials N] [--requests N] [--concurrency N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path: put the project root there instead, so that
# `bench.local_common` imports as a package module and no bench file can shadow an installed package.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import itertools
import tempfile
import threading
import time
from dataclasses import dataclass

import numpy as np
import tritonclient.http as httpclient

from bench.local_common import EXAMPLE_SPEC, STARTED_SERVERS, Spread, footer, machine_line
from components.core.plan import load_plan
from components.core.runtime import LocalServer
from components.core.smoke.report import percentile

SMOKE = EXAMPLE_SPEC.parent / "smoke"
MODELS = {
    "classifier_onnx": ("PIXELS", "FP32", "pixels.npy", "PROBS", "probs.npy"),
    "cnn_torch": ("INPUT__0", "FP32", "pixels.npy", "OUTPUT__0", "logits.npy"),
    "preprocess": ("IMAGE", "UINT8", "image.npy", "PIXELS", "pixels.npy"),
    "vision_ensemble": ("IMAGE", "UINT8", "image.npy", "PROBS", "probs.npy"),
}
"""Example model -> (input, datatype, input file, output, expected output file), from its smoke cases."""
RTOL = 1e-4
ATOL = 1e-5
KEPT_ERRORS = 5
WARM_UP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LoadResult:
    """One phase: latencies (ms) of the answered requests, error count and first messages, wall time, unsent."""

    latencies_ms: tuple[float, ...]
    errors: int
    first_errors: tuple[str, ...]
    seconds: float
    unsent: int

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds


def run_load(url: str, model: str, requests: int, concurrency: int, deadline_s: float) -> LoadResult:
    """Send `requests` requests from `concurrency` threads, each with its own client; stop at the deadline."""
    input_name, datatype, input_file, output_name, expected_file = MODELS[model]
    data = np.load(SMOKE / input_file)
    expected = np.load(SMOKE / expected_file)
    tickets = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    clock: dict[str, float] = {}

    def start_clock() -> None:
        """Runs once every client has warmed up, before any timed request."""
        clock["started"] = time.perf_counter()
        clock["deadline"] = clock["started"] + deadline_s

    ready = threading.Barrier(concurrency + 1, action=start_clock, timeout=WARM_UP_TIMEOUT_S)

    def worker() -> None:
        client = httpclient.InferenceServerClient(url, connection_timeout=30.0, network_timeout=30.0)
        given = httpclient.InferInput(input_name, list(data.shape), datatype)
        given.set_data_from_numpy(data)
        wanted = [httpclient.InferRequestedOutput(output_name)]
        mine: list[float] = []
        failed: list[str] = []

        def one() -> float | None:
            sent = time.perf_counter()
            try:
                answer = client.infer(model, [given], outputs=wanted).as_numpy(output_name)
            except Exception as exc:
                failed.append(f"{type(exc).__name__}: {exc}")
                return None
            took = (time.perf_counter() - sent) * 1000
            if answer is None or answer.shape != expected.shape or not np.allclose(answer, expected, RTOL, ATOL):
                failed.append(f"wrong answer: {answer!r}")
                return None
            return took

        try:
            one()  # untimed warm-up; an error here still counts
            ready.wait()
            while True:
                with lock:
                    ticket = next(tickets)
                if ticket >= requests or time.perf_counter() > clock["deadline"]:
                    break
                took = one()
                if took is not None:
                    mine.append(took)
        finally:
            client.close()
            with lock:
                latencies.extend(mine)
                errors.extend(failed)

    threads = [threading.Thread(target=worker, name=f"load-{index}") for index in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - clock["started"]
    sent = min(next(tickets) - concurrency, requests)
    return LoadResult(tuple(latencies), len(errors), tuple(errors[:KEPT_ERRORS]), seconds, requests - sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="classifier_onnx")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reference-requests", type=int, default=1_000)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds after which a phase stops sending")
    args = parser.parse_args()
    context = machine_line()
    loads: list[LoadResult] = []
    references: list[LoadResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as scratch, \
            LocalServer.start(load_plan(EXAMPLE_SPEC), Path(scratch) / "state") as server:
        STARTED_SERVERS.append(server.pid)
        url = server.http_url.removeprefix("http://")
        phases = [
            (loads, lambda: run_load(url, args.model, args.requests, args.concurrency, args.deadline)),
            (references, lambda: run_load(url, args.model, args.reference_requests, 1, args.deadline)),
        ]
        for trial in range(args.trials):
            for results, phase in phases if trial % 2 == 0 else reversed(phases):
                results.append(phase())
            print(f"trial {trial + 1}/{args.trials}: {loads[-1].throughput:.0f} req/s at c{args.concurrency}, "
                  f"{loads[-1].errors} errors; reference {references[-1].throughput:.0f} req/s", file=sys.stderr)
    errors = sum(result.errors for result in loads + references)
    unsent = sum(result.unsent for result in loads + references)
    answered = sum(len(result.latencies_ms) for result in loads)
    rows = [
        (f"requests answered correctly at concurrency {args.concurrency} (all trials)",
         f"{answered} of {args.requests * args.trials}"),
        ("errors (failed or wrong answers), all phases", str(errors)),
        ("requests not sent before the deadline, all phases", str(unsent)),
        (f"wall time of {args.requests} requests", Spread.of([r.seconds for r in loads]).text(" s")),
        (f"throughput at concurrency {args.concurrency}", Spread.of([r.throughput for r in loads]).text(" req/s", 0)),
        ("p50 latency", Spread.of([percentile(r.latencies_ms, 50) or 0.0 for r in loads]).text(" ms")),
        ("p99 latency", Spread.of([percentile(r.latencies_ms, 99) or 0.0 for r in loads]).text(" ms")),
        ("max latency", Spread.of([max(r.latencies_ms, default=0.0) for r in loads]).text(" ms")),
        (f"reference: one client, one request at a time ({args.reference_requests} requests), throughput",
         Spread.of([r.throughput for r in references]).text(" req/s", 0)),
        ("reference p50 / p99 latency",
         Spread.of([percentile(r.latencies_ms, 50) or 0.0 for r in references]).text(" ms") + " / "
         + Spread.of([percentile(r.latencies_ms, 99) or 0.0 for r in references]).text(" ms")),
        (f"**ratio of throughput, concurrency {args.concurrency} / one client**",
         Spread.of([load.throughput / ref.throughput for load, ref in zip(loads, references, strict=True)])
         .text("x")),
    ]
    met = "met" if errors == 0 and unsent == 0 else "NOT met"
    print(f"### Load check (`bench/load_check.py`, model `{args.model}`, {args.requests} requests at concurrency "
          f"{args.concurrency} over HTTP on 127.0.0.1, {args.trials} trials, alternating with the reference)\n")
    print(f"{context}.\n")
    print("| measurement | value: median (min-max) over trials |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    shown = "; ".join(message[:200] for result in loads + references for message in result.first_errors)
    print(f"\nGoal, zero errors and every request sent within the bound: **{met}**"
          f"{f' (first errors: {shown})' if shown else ''}.\n")
    print(footer())


if __name__ == "__main__":
    main()
