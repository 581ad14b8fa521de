"""Large-spec benchmark: `triton-groups validate` of a generated spec of 8,000 small models (about 10 MB).

Run by hand from the project root: `.venv/bin/python bench/large_spec.py [--models 8000] [--before REV]`. It writes
the spec and one model.py per model in a temporary folder and measures, in one run:

- the reference: libyaml (PyYAML's C parser) reading the file into events, the floor of any YAML-based loader;
- libyaml composing the node graph (what the line-aware loader starts from);
- `triton-groups validate SPEC` as a command (Python start-up and imports included), median of 3, with its peak RSS;
- the same steps in this process: load_spec, plan_from_spec, validate_plan;
- with `--before REV`: the command as the git revision REV had it (the code before the change), once.

It prints a markdown block and inserts it at the end of the `## Large specs` section of bench/RESULTS.md (created at
the end of the file when missing), then deletes everything it generated.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from packaging_bench import machine, record

from components.core.plan import plan_from_spec
from components.core.spec import load_spec
from components.core.validate import validate_plan

PROJECT = Path(__file__).resolve().parent.parent
SECTION = "## Large specs"
COMMAND_RUNS = 3
MODEL_PY = "import numpy as np\n\n\nclass TritonPythonModel:\n    def execute(self, requests):\n        return []\n"
MODEL = """\
  - name: m{index:05d}
    backend: python
    versions: {{1: models/m{index:05d}/model.py}}
    max_batch_size: 8
    inputs:
      - {{name: INPUT0, data_type: FP32, dims: [4]}}
      - {{name: INPUT1, data_type: INT64, dims: [4], optional: false}}
    outputs:
      - {{name: OUTPUT0, data_type: FP32, dims: [4]}}
      - {{name: OUTPUT1, data_type: INT64, dims: [4]}}
    instance_groups:
      - {{kind: CPU, count: 1}}
    dynamic_batching: {{preferred_batch_size: [4, 8], max_queue_delay_microseconds: 100}}
    parameters: {{owner: team-{team}, purpose: "a small generated model used to measure validation of large specs"}}
    smoke:
      - name: ones
        inputs:
          INPUT0: {{value: [[1.0, 2.0, 3.0, 4.0]]}}
          INPUT1: {{value: [[1, 2, 3, 4]]}}
        expect:
          OUTPUT0: {{match: allclose, value: [[2.0, 4.0, 6.0, 8.0]], rtol: 1.0e-5, atol: 1.0e-6}}
          OUTPUT1: {{match: exact, value: [[1, 2, 3, 4]]}}
      - name: batch
        inputs:
          INPUT0: {{value: [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]}}
          INPUT1: {{value: [[1, 2, 3, 4], [5, 6, 7, 8]]}}
        expect:
          OUTPUT0: {{match: shape, shape: [2, 4], datatype: FP32}}
"""


def write_large_spec(folder: Path, models: int) -> Path:
    """A spec of `models` Python-backend models with two smoke cases each, and their model files."""
    for index in range(models):
        (folder / "models" / f"m{index:05d}").mkdir(parents=True)
        (folder / "models" / f"m{index:05d}" / "model.py").write_text(MODEL_PY)
    spec = folder / "group.yaml"
    spec.write_text("name: large\ndescription: generated\nmodels:\n" +
                    "".join(MODEL.format(index=index, team=index % 17) for index in range(models)))
    return spec


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def command(spec: Path, code: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of `triton-groups validate spec` run with the package found in `code`."""
    with tempfile.TemporaryFile() as errors:
        began = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "components.cli", "validate", str(spec)],
                                   stdout=subprocess.DEVNULL, stderr=errors, cwd=spec.parent,
                                   env={**os.environ, "PYTHONPATH": str(code)})
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"validate failed with the code in {code}:\n{errors.read()[-2000:].decode()}")
    return seconds, usage.ru_maxrss


def checkout(revision: str, into: Path) -> Path:
    """The `components` package as git revision `revision` had it, extracted into `into`."""
    archive = subprocess.run(["git", "archive", revision, "components"], cwd=PROJECT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def measure(work: Path, models: int, before: str | None) -> str:
    load_before = os.getloadavg()[0]
    spec = write_large_spec(work / "group", models)
    text = spec.read_text()
    size_mb = len(text.encode()) / 1e6

    events_s = timed(lambda: sum(1 for _ in yaml.parse(text, Loader=yaml.CSafeLoader)))
    gc.disable()
    compose_s = timed(lambda: yaml.CSafeLoader(text).get_single_node())
    gc.enable()

    runs = [command(spec, PROJECT) for _ in range(COMMAND_RUNS)]
    after_s = statistics.median(seconds for seconds, _ in runs)
    after_rss_mib = max(rss for _, rss in runs) / 1024

    loaded: list[object] = []
    load_s = timed(lambda: loaded.append(load_spec(spec)))
    planned: list[object] = []
    plan_s = timed(lambda: planned.append(plan_from_spec(loaded[0])))  # type: ignore[arg-type]
    validate_s = timed(lambda: validate_plan(planned[0]))  # type: ignore[arg-type]

    before_row = ""
    if before is not None:
        old_code = checkout(before, work / "before")
        before_s, before_rss = command(spec, old_code)
        before_row = (f"| `triton-groups validate`, the code of {before} (before) | {before_s:.1f} | "
                      f"{before_s / events_s:.1f} | {before_rss / 1024:.0f} |\n")
    load_after = os.getloadavg()[0]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    speedup = f" Before / after: {before_s / after_s:.1f}x." if before is not None else ""
    return (
        f"### {stamp}\n\n"
        f"Machine: {machine()}. Load average {load_before:.2f} before, {load_after:.2f} after (shared machine).\n"
        f"Spec: {models:,} Python-backend models with two smoke cases each, {size_mb:.1f} MB of YAML, one model.py "
        "per model.\n\n"
        "| step | seconds | / libyaml events | peak RSS MiB |\n"
        "|---|---:|---:|---:|\n"
        f"| libyaml: the file to events (reference) | {events_s:.2f} | 1.00 | |\n"
        f"| libyaml: the file to a node graph (cycle collector paused) | {compose_s:.2f} | "
        f"{compose_s / events_s:.2f} | |\n"
        f"{before_row}"
        f"| `triton-groups validate` (after), median of {COMMAND_RUNS} | {after_s:.2f} | {after_s / events_s:.1f} | "
        f"{after_rss_mib:.0f} |\n"
        f"| in process: `load_spec` | {load_s:.2f} | {load_s / events_s:.2f} | |\n"
        f"| in process: `plan_from_spec` | {plan_s:.2f} | {plan_s / events_s:.2f} | |\n"
        f"| in process: `validate_plan` | {validate_s:.2f} | {validate_s / events_s:.2f} | |\n\n"
        f"Goal: a spec of this size validates in seconds.{speedup}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8000, help="number of models (default 8000)")
    parser.add_argument("--before", metavar="REV", help="also time the code of this git revision (e.g. a commit)")
    parser.add_argument("--dir", type=Path, default=None, help="where to generate (default: the temp folder)")
    parser.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="triton-groups-bench-large-spec-", dir=args.dir))
    try:
        (work / "before").mkdir()
        block = measure(work, args.models, args.before)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(block)
    if not args.no_record:
        record(block, section=SECTION, script="bench/large_spec.py")
        print(f"recorded in {PROJECT / 'bench' / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
