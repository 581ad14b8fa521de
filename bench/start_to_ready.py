"""Start-to-ready of the local example group (goal: under 3 s), against two bare launches in the same run.

Measured, interleaved, `--trials` times:
- runtime: `LocalServer.start(plan)` on examples/vision/group.yaml, from the call (shim, repository
  written, server launched) to every model loaded and answering: what a user waits for.
- bare example: the same tritonserver command on the same shimmed repository, already on disk,
  started without our runtime and polled for strict readiness: the floor for these models, so
  runtime / bare example is the runtime's own overhead.
- bare trivial: the same server with one trivial Python model: the server's own floor.
Also per model load time (from Triton's log) and `python -c "import torch"`, which the TorchScript
shim pays when its stub starts, to explain where the time goes.

Run: .venv/bin/python bench/start_to_ready.py [--trials N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path: put the project root there instead, so that
# `bench.local_common` imports as a package module and no bench file can shadow an installed package.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import subprocess
import tempfile
import time

from bench.local_common import (
    EXAMPLE_SPEC,
    STARTED_SERVERS,
    PythonModel,
    Spread,
    bare_server,
    footer,
    machine_line,
    model_load_seconds,
    write_python_group,
)
from components.core.plan import load_plan, materialize
from components.core.runtime import LocalServer, shim_plan
from components.core.runtime.install import prepare_install

GOAL_S = 3.0


def import_torch_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=7)
    trials = parser.parse_args().trials
    context = machine_line()
    prepare_install()  # the one-off copy of the server is not part of start-to-ready
    runtime, inside, bare_example, bare_trivial, torch_import, first_install = [], [], [], [], [], []
    loads: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-start-") as scratch:
        work = Path(scratch)
        plan = load_plan(EXAMPLE_SPEC)
        example_repo = materialize(shim_plan(plan).plan, work / "example-repo")
        trivial_plan = load_plan(write_python_group(work / "trivial", "trivial", [PythonModel("echo")]))
        trivial_repo = materialize(trivial_plan, work / "trivial-repo")

        def measure_bare_trivial() -> None:
            with bare_server(trivial_repo, ["echo"], work / "bare-trivial.log") as seconds:
                bare_trivial.append(seconds)

        def measure_bare_example() -> None:
            with bare_server(example_repo, sorted(plan.models), work / "bare-example.log") as seconds:
                bare_example.append(seconds)

        def measure_runtime() -> None:
            state = work / f"state-{len(runtime)}"
            started = time.perf_counter()
            with LocalServer.start(plan, state) as server:
                runtime.append(time.perf_counter() - started)
                STARTED_SERVERS.append(server.pid)
                inside.append(server.startup_seconds)
            for name, seconds in model_load_seconds(state / "server.log").items():
                loads.setdefault(name, []).append(seconds)

        measurements = [measure_runtime, measure_bare_example, measure_bare_trivial]
        for trial in range(trials):
            for measure in measurements[trial % 3:] + measurements[:trial % 3]:
                measure()
            torch_import.append(import_torch_seconds())
            started = time.perf_counter()
            prepare_install(work / f"cache-{trial}")
            first_install.append(time.perf_counter() - started)
            print(f"trial {trial + 1}/{trials}: runtime {runtime[-1]:.2f} s, bare example {bare_example[-1]:.2f} s, "
                  f"bare trivial {bare_trivial[-1]:.2f} s", file=sys.stderr)
    overhead = Spread.of([r / b for r, b in zip(runtime, bare_example, strict=True)])
    over_trivial = Spread.of([r / b for r, b in zip(runtime, bare_trivial, strict=True)])
    total = Spread.of(runtime)
    met = "met" if total.median < GOAL_S else "NOT met"
    rows = [
        ("runtime: `LocalServer.start` on examples/vision (4 models, 2 through the shim)", total.text(" s")),
        ("  of which tritonserver launch to ready (`startup_seconds`)", Spread.of(inside).text(" s")),
        ("  of which the runtime's own work (shim, repository, digests, record: total - `startup_seconds`)",
         Spread.of([whole - launch for whole, launch in zip(runtime, inside, strict=True)]).text(" s", 3)),
        ("reference: bare tritonserver, same shimmed repository, no runtime", Spread.of(bare_example).text(" s")),
        ("reference: bare tritonserver, one trivial Python model", Spread.of(bare_trivial).text(" s")),
        ("**ratio runtime / bare example** (our overhead)", overhead.text("x")),
        ("**ratio runtime / bare trivial** (cost of these models)", over_trivial.text("x")),
        *((f"load of `{name}` (Triton log, runtime launches)", Spread.of(values).text(" s"))
          for name, values in sorted(loads.items())),
        ("`python -c \"import torch\"` (what the TorchScript shim's stub imports)", Spread.of(torch_import).text(" s")),
        ("ratio runtime / `import torch` (the floor a TorchScript model sets)",
         Spread.of([r / t for r, t in zip(runtime, torch_import, strict=True)]).text("x")),
        ("one-off on first use, not in the above: copy of the server into an empty cache (`prepare_install`)",
         Spread.of(first_install).text(" s")),
    ]
    print(f"### Start-to-ready (`bench/start_to_ready.py`, {trials} trials, order rotated each trial)\n")
    print(f"{context}.\n")
    print("| measurement | median (min-max) |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(f"\nGoal under {GOAL_S:g} s: **{met}** (median {total.median:.2f} s).\n")
    print(footer())


if __name__ == "__main__":
    main()
