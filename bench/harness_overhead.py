"""Harness overhead: smoke-case latency from the SmokeReport against a bare tritonclient loop (goal: under 1.1x).

On the local example group, model `preprocess`, case `reference_image` (IMAGE from
examples/vision/smoke/image.npy), for each protocol, `--trials` times, the order rotated each trial:
- harness: `run_smoke(spec, TritonTransport(url, protocol), models=["preprocess"], repeats=N)`; the
  case's N latencies as the report gives them;
- reference: a bare tritonclient loop, same protocol, model, input and N: one client, the
  InferInput built once, one untimed warm-up request (the runner sends one too), then N timed
  `client.infer` calls. This is the leanest loop tritonclient allows, so the ratio is strict;
- for attribution: the transport as the runner uses it, without the runner: `TritonTransport.prepare`
  once, then one warm-up and N timed `TritonRequest.send()` calls in a plain loop.
The ratio is taken per trial on the p50 (the typical request) and on the mean (which also carries
outliers). Many short trials in rotated order, because the shared machine's speed drifts within seconds.

Run: .venv/bin/python bench/harness_overhead.py [--trials N] [--requests N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path: put the project root there instead, so that
# `bench.local_common` imports as a package module and no bench file can shadow an installed package.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from bench.local_common import EXAMPLE_SPEC, STARTED_SERVERS, Spread, footer, machine_line
from components.core.plan import plan_from_spec
from components.core.runtime import LocalServer
from components.core.smoke.report import percentile
from components.core.smoke.runner import run_smoke
from components.core.smoke.transport import Tensor
from components.core.smoke.triton_transport import Protocol, TritonTransport
from components.core.spec import GroupSpec, load_spec

GOAL_RATIO = 1.1
MODEL = "preprocess"
CASE = "reference_image"
INPUT = "IMAGE"
OUTPUT = "PIXELS"
IMAGE = EXAMPLE_SPEC.parent / "smoke" / "image.npy"


def harness_latencies(spec: GroupSpec, url: str, protocol: Protocol, requests: int) -> list[float]:
    with TritonTransport(url, protocol) as transport:
        report = run_smoke(spec, transport, models=[MODEL], repeats=requests)
    case = next(c for c in report.cases if c.case == CASE)
    if not case.passed:
        raise SystemExit(f"smoke case failed, nothing to measure:\n{report.summary()}")
    return list(case.latencies_ms)


def bare_latencies(url: str, protocol: Protocol, requests: int) -> list[float]:
    image = np.load(IMAGE)
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(url)
    try:
        given = module.InferInput(INPUT, list(image.shape), "UINT8")
        given.set_data_from_numpy(image)
        wanted = [module.InferRequestedOutput(OUTPUT)]
        client.infer(MODEL, [given], outputs=wanted).as_numpy(OUTPUT)
        latencies = []
        for _ in range(requests):
            sent = time.perf_counter()
            client.infer(MODEL, [given], outputs=wanted).as_numpy(OUTPUT)
            latencies.append((time.perf_counter() - sent) * 1000)
        return latencies
    finally:
        client.close()


def transport_latencies(url: str, protocol: Protocol, requests: int) -> list[float]:
    """The request prepared once, one warm-up then `requests` timed sends: the transport without the runner."""
    image = Tensor(INPUT, np.load(IMAGE), "UINT8")
    with TritonTransport(url, protocol) as transport:
        request = transport.prepare(MODEL, [image], [OUTPUT])
        request.send()
        latencies = []
        for _ in range(requests):
            sent = time.perf_counter()
            request.send()
            latencies.append((time.perf_counter() - sent) * 1000)
        return latencies


def ratios(runs: list[list[float]], references: list[list[float]], statistic: Callable[[list[float]], float]
           ) -> Spread:
    """Per trial, `statistic` of a run over the same statistic of the reference run of that trial."""
    return Spread.of([statistic(run) / statistic(reference) for run, reference in zip(runs, references, strict=True)])


def pooled_p50(loops: list[list[float]]) -> float:
    return percentile([latency for latencies in loops for latency in latencies], 50) or 0.0


def percentiles(loops: list[list[float]], p: float) -> str:
    """The p-th percentile of each loop's latencies, as median (min-max) over the loops."""
    return Spread.of([percentile(latencies, p) or 0.0 for latencies in loops]).text(" ms", 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per loop")
    args = parser.parse_args()
    context = machine_line()
    spec = load_spec(EXAMPLE_SPEC)
    rows = []
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="bench-harness-") as scratch, \
            LocalServer.start(plan_from_spec(spec), Path(scratch) / "state") as server:
        STARTED_SERVERS.append(server.pid)
        urls: dict[Protocol, str] = {"http": server.http_url.removeprefix("http://"), "grpc": server.grpc_url}
        for protocol, url in urls.items():
            loops: dict[str, Callable[[], list[float]]] = {
                "harness": lambda u=url, p=protocol: harness_latencies(spec, u, p, args.requests),
                "transport": lambda u=url, p=protocol: transport_latencies(u, p, args.requests),
                "bare": lambda u=url, p=protocol: bare_latencies(u, p, args.requests),
            }
            runs: dict[str, list[list[float]]] = {name: [] for name in loops}
            order = list(loops)
            for trial in range(args.trials):
                for name in order[trial % 3:] + order[:trial % 3]:
                    runs[name].append(loops[name]())
            harness, transport, bare = runs["harness"], runs["transport"], runs["bare"]
            p50_ratio = ratios(harness, bare, lambda latencies: percentile(latencies, 50) or 0.0)
            mean_ratio = ratios(harness, bare, statistics.fmean)
            print(f"{protocol}: p50 ratio {p50_ratio.median:.3f}", file=sys.stderr)
            rows += [
                (f"{protocol}: harness p50 (SmokeReport)", percentiles(harness, 50)),
                (f"{protocol}: `TritonRequest.send` loop p50 (transport without the runner)",
                 percentiles(transport, 50)),
                (f"{protocol}: reference p50 (bare tritonclient loop)", percentiles(bare, 50)),
                (f"{protocol}: harness p99", percentiles(harness, 99)),
                (f"{protocol}: reference p99", percentiles(bare, 99)),
                (f"**{protocol}: ratio of p50, harness / bare** (per trial)", p50_ratio.text("x", 3)),
                (f"{protocol}: ratio of p50 over all trials' requests pooled, harness / bare",
                 f"{pooled_p50(harness) / pooled_p50(bare):.3f}x"),
                (f"{protocol}: ratio of p50, transport loop / bare",
                 ratios(transport, bare, lambda latencies: percentile(latencies, 50) or 0.0).text("x", 3)),
                (f"{protocol}: ratio of means, harness / bare", mean_ratio.text("x", 3)),
            ]
            verdicts.append(f"{protocol} {'met' if p50_ratio.median < GOAL_RATIO else 'NOT met'} "
                            f"(p50 ratio {p50_ratio.median:.3f}, means {mean_ratio.median:.3f})")
    print(f"### Harness overhead (`bench/harness_overhead.py`, model `{MODEL}` case `{CASE}`, {args.requests} "
          f"timed requests per loop, {args.trials} trials of each loop, order rotated each trial)\n")
    print(f"{context}.\n")
    print("| measurement | median (min-max) over trials |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(f"\nGoal under {GOAL_RATIO:g}x: **{'; '.join(verdicts)}**.\n")
    print(footer())


if __name__ == "__main__":
    main()
