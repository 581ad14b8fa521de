"""Smoke run of 8 models, one of them slow: wall time over the slowest model's own time (goal: under 1.2).

Eight generated Python-backend models are served by the local runtime: seven answer at once (two
smoke cases each), one sleeps `--sleep` seconds per request (one case). `--repeats` timed requests
per case, plus the runner's one untimed warm-up each. Measured, alternating, `--trials` times:
- all: `run_smoke` over the 8 models;
- reference, the slowest model's own time: `run_smoke` on the slow model alone, same repeats.
Both use a fresh TritonTransport (HTTP), as the CLI does. The sleep floor, (repeats + 1) x sleep,
is reported too.

Run: .venv/bin/python bench/smoke_parallelism.py [--trials N] [--sleep S] [--repeats R]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path: put the project root there instead, so that
# `bench.local_common` imports as a package module and no bench file can shadow an installed package.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import tempfile

from bench.local_common import STARTED_SERVERS, PythonModel, Spread, footer, machine_line, write_python_group
from components.core.plan import load_plan
from components.core.runtime import LocalServer
from components.core.smoke.report import SmokeReport
from components.core.smoke.runner import run_smoke
from components.core.smoke.triton_transport import TritonTransport
from components.core.spec import GroupSpec, load_spec

GOAL_RATIO = 1.2
FAST_MODELS = 7
SLOW = "slow"


def timed_run(spec: GroupSpec, url: str, models: list[str] | None) -> SmokeReport:
    with TritonTransport(url) as transport:
        report = run_smoke(spec, transport, models=models)
    if not report.passed:
        raise SystemExit(f"smoke run failed, nothing to measure:\n{report.summary()}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds the slow model sleeps per request")
    parser.add_argument("--repeats", type=int, default=3, help="timed requests per smoke case")
    args = parser.parse_args()
    context = machine_line()
    models = [PythonModel(f"fast_{index}", cases=2) for index in range(FAST_MODELS)]
    models.append(PythonModel(SLOW, sleep_s=args.sleep, cases=1))
    everything, alone = [], []
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as scratch:
        spec_file = write_python_group(Path(scratch) / "group", "eight", models, repeats=args.repeats)
        spec = load_spec(spec_file)
        with LocalServer.start(load_plan(spec_file), Path(scratch) / "state") as server:
            STARTED_SERVERS.append(server.pid)
            for trial in range(args.trials):
                runs = [(everything, None), (alone, [SLOW])]
                for samples, chosen in runs if trial % 2 == 0 else reversed(runs):
                    samples.append(timed_run(spec, server.http_url, chosen).wall_time_s)
                print(f"trial {trial + 1}/{args.trials}: 8 models {everything[-1]:.3f} s, slow alone "
                      f"{alone[-1]:.3f} s", file=sys.stderr)
    floor = (args.repeats + 1) * args.sleep
    ratio = Spread.of([e / a for e, a in zip(everything, alone, strict=True)])
    met = "met" if ratio.median < GOAL_RATIO else "NOT met"
    rows = [
        (f"`run_smoke`, 8 models ({FAST_MODELS} fast x 2 cases, 1 sleeping {args.sleep:g} s x 1 case)",
         Spread.of(everything).text(" s", 3)),
        ("reference: `run_smoke` on the slow model alone (its own time)", Spread.of(alone).text(" s", 3)),
        ("**ratio 8 models / slow model alone**", ratio.text("x", 3)),
        (f"ratio 8 models / sleep floor ({args.repeats + 1} requests x {args.sleep:g} s = {floor:g} s)",
         Spread.of([e / floor for e in everything]).text("x", 3)),
    ]
    print(f"### Smoke parallelism (`bench/smoke_parallelism.py`, {args.trials} trials, {args.repeats} repeats "
          "+ 1 warm-up per case, HTTP)\n")
    print(f"{context}.\n")
    print("| measurement | median (min-max) |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(f"\nGoal under {GOAL_RATIO:g}: **{met}** (median {ratio.median:.3f}).\n")
    print(footer())


if __name__ == "__main__":
    main()
