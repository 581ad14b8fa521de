"""Start-up of the command line: a warm `triton-groups build` of an unchanged 1 GiB repository, end to end.

Run by hand from the project root: `.venv/bin/python bench/startup_bench.py [--gib 1] [--repeats 7]`. In one run:
`python -c pass` (the interpreter alone), `triton-groups --help` (the CLI's imports), and `triton-groups build REPO
--out OUT` after a first build made the zip and the hash cache (the warm rebuild: a `stat` per file, nothing read),
each the median of `--repeats` runs as separate processes, Python start-up included. Goal (issue 8): the warm
build within 0.3 s. Results go to the "Start-up" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_common import cache_bytecode_as_installed, machine_line
from packaging_bench import generate_repository, record

PROJECT = Path(__file__).resolve().parent.parent
COMMAND = PROJECT / ".venv" / "bin" / "triton-groups"
SECTION = "## Start-up"


def median_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    bytecode = cache_bytecode_as_installed()
    with tempfile.TemporaryDirectory() as scratch:
        repo = generate_repository(Path(scratch), int(options.gib * (1 << 30)), 4)
        out = Path(scratch) / "out"
        build = [str(COMMAND), "build", str(repo), "--out", str(out)]
        subprocess.run(build, check=True, capture_output=True)
        rows = {
            "`python -c pass`": median_seconds([sys.executable, "-c", "pass"], options.repeats),
            "`triton-groups --help`": median_seconds([str(COMMAND), "--help"], options.repeats),
            f"warm `triton-groups build` ({options.gib:g} GiB, unchanged)": median_seconds(build, options.repeats),
        }
    warm = list(rows.values())[-1]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([
        f"### {now}", "", f"{machine_line()}; {bytecode}; medians of {options.repeats} runs, each a new process.", "",
        "| command | seconds |", "|---|---:|", *(f"| {name} | {seconds:.3f} |" for name, seconds in rows.items()), "",
        f"Warm build end to end: **{warm:.3f} s** (goal <= 0.3 s: {'met' if warm <= 0.3 else 'NOT met'}).", "",
    ])
    print(block)
    if not options.no_record:
        record(block, section=SECTION, script="bench/startup_bench.py")


if __name__ == "__main__":
    main()
