"""Packaging benchmark: a cold `build` against `sha256sum` and `zip -0 -r`; the warm rebuild of a repository.

Run by hand from the project root: `.venv/bin/python bench/packaging_bench.py [--gib 1] [--files 4]`. It writes
a repository of random weights (at least 1 GiB) in a temporary folder, measures in one run:

- `sha256sum` over the repository's files (the reference: hashing alone),
- `zip -0 -r` of the repository followed by `sha256sum` of the zip (what a shell script would do),
- one Python pass reading the files with hashlib's sha256 (the floor for any build that hashes),
- `build_artifacts` into an empty folder with an empty hash cache (cold),
- `build_artifacts` again, nothing changed (warm; median of several),

prints a markdown block and inserts it at the end of the `## Packaging` section of bench/RESULTS.md,
then deletes everything it generated. Goals (issue 2): cold build within 1.3x of sha256sum alone,
warm rebuild under 0.2 s. Files are measured with the page cache warm (they were just written).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from components._internal.atomic import write_bytes_atomic
from components.core.hashcache import RACY_WINDOW_NS
from components.core.package import build_artifacts
from components.core.plan import load_plan

PROJECT = Path(__file__).resolve().parent.parent

RESULTS = PROJECT / "bench" / "RESULTS.md"
SECTION = "## Packaging"
GOAL_COLD_RATIO = 1.3
GOAL_WARM_S = 0.2
WARM_REPEATS = 7
WRITE_CHUNK = 64 << 20


def generate_repository(root: Path, total_bytes: int, files: int) -> Path:
    """A one-model repository: config.pbtxt, model.py and `files` random weight files of `total_bytes` together.

    It returns once the files are older than the hash cache's racy window, as weights in use are: digests of
    files modified less than that before they are read are not cached (see components/core/hashcache.py).
    """
    model = root / "repo" / "llm"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "llm"\nbackend: "python"\n')
    (model / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    share = total_bytes // files
    for index in range(files):
        with open(model / "1" / f"weights-{index:02d}.bin", "wb") as handle:
            left = share
            while left:
                piece = min(left, WRITE_CHUNK)
                handle.write(os.urandom(piece))
                left -= piece
    os.sync()
    time.sleep(RACY_WINDOW_NS / 1e9)
    return root / "repo"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(command: Sequence[str | Path], cwd: Path | None = None) -> None:
    subprocess.run([str(part) for part in command], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def python_sha256(files: Sequence[Path]) -> None:
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    for path in files:
        digest = hashlib.sha256()
        with open(path, "rb", buffering=0) as handle:
            while count := handle.readinto(buffer):
                digest.update(view[:count])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    sha_ni = "sha_ni" in Path("/proc/cpuinfo").read_text()
    coreutils = subprocess.run(["sha256sum", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return (f"{cpu} ({'with' if sha_ni else 'without'} SHA-NI), {os.cpu_count()} cores, "
            f"{memory_kib / 2**20:.1f} GiB RAM, Linux {platform.release()}, Python {platform.python_version()}, "
            f"{coreutils}")


def measure(work: Path, gib: float, files: int) -> str:
    """Run every measurement once in `work` and return the markdown block."""
    load_before = os.getloadavg()[0]
    repo = generate_repository(work, int(gib * 2**30), files)
    sources = sorted(p for p in repo.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in sources)

    sha256sum_s = timed(lambda: run(["sha256sum", *sources]))
    zip_path = work / "by-zip.zip"
    zip_s = timed(lambda: run(["zip", "-0", "-r", "-q", zip_path, "repo"], cwd=work))
    zip_sha_s = timed(lambda: run(["sha256sum", zip_path]))
    zip_path.unlink()
    floor_s = timed(lambda: python_sha256(sources))

    out = work / "out"
    cold_s = timed(lambda: build_artifacts(load_plan(repo), out))
    first_warm_s = timed(lambda: build_artifacts(load_plan(repo), out))
    cold_result = build_artifacts(load_plan(repo), out)
    warm = [timed(lambda: build_artifacts(load_plan(repo), out)) for _ in range(WARM_REPEATS)]
    warm_median, warm_max = statistics.median(warm), max(warm)
    unchanged = build_artifacts(load_plan(repo), out) == cold_result
    load_after = os.getloadavg()[0]

    cold_ratio = cold_s / sha256sum_s
    zip_total = zip_s + zip_sha_s
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        f"### {stamp}",
        "",
        f"Machine: {machine()}. Load average {load_before:.2f} before, {load_after:.2f} after (shared machine).",
        f"Repository: {total / 2**30:.2f} GiB in {files} random weight files plus config.pbtxt and model.py; "
        "page cache warm, files older than the cache's 2 s racy window. Timings are in-process calls of "
        "`build_artifacts(load_plan(repo), out)` (the CLI adds Python start-up, imports and validation).",
        "",
        "| step | seconds | / sha256sum |",
        "|---|---:|---:|",
        f"| `sha256sum` over the files | {sha256sum_s:.2f} | 1.00 |",
        f"| `zip -0 -r` then `sha256sum` of the zip | {zip_total:.2f} ({zip_s:.2f} + {zip_sha_s:.2f}) "
        f"| {zip_total / sha256sum_s:.2f} |",
        f"| one Python pass, hashlib sha256 (floor) | {floor_s:.2f} | {floor_s / sha256sum_s:.2f} |",
        f"| `build`, cold (empty cache) | {cold_s:.2f} | {cold_ratio:.2f} |",
        f"| `build`, first warm rebuild (nothing changed) | {first_warm_s:.4f} | |",
        f"| `build`, warm, median of {WARM_REPEATS} more | {warm_median:.4f} (max {warm_max:.4f}) | |",
        "",
        f"Cold build / (`zip -0 -r` + `sha256sum`): {cold_s / zip_total:.2f}. "
        f"Goal cold build <= {GOAL_COLD_RATIO}x sha256sum: {'met' if cold_ratio <= GOAL_COLD_RATIO else 'NOT met'} "
        f"({cold_ratio:.2f}x). Goal warm rebuild < {GOAL_WARM_S} s: "
        f"{'met' if max(warm_max, first_warm_s) < GOAL_WARM_S else 'NOT met'} "
        f"(worst {max(warm_max, first_warm_s):.4f} s). "
        f"Warm rebuild gave the same artifacts: {'yes' if unchanged else 'NO'}.",
        "",
    ])


def record(block: str, results: Path = RESULTS, section: str = SECTION, script: str = "bench/packaging_bench.py"
           ) -> None:
    """Insert `block` at the end of the `section` of `results` (the section, or the file, created when missing)."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == section)
    except StopIteration:
        text = text.rstrip("\n") + f"\n\n{section}\n\nMeasured by `{script}`.\n\n{block}"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        head = "".join(lines[:end]).rstrip("\n") + "\n\n"
        tail = "".join(lines[end:])
        text = head + block + ("\n" + tail if tail else "")
    write_bytes_atomic(results, text.encode())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="total size of the weights (default 1)")
    parser.add_argument("--files", type=int, default=4, help="number of weight files (default 4)")
    parser.add_argument("--dir", type=Path, default=None, help="where to generate (default: the temp folder)")
    parser.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("zip", "sha256sum") if shutil.which(tool) is None]
    if missing:
        print(f"bench/packaging_bench.py: {', '.join(missing)} not found; install it (Debian/Ubuntu: "
              f"`apt-get install -y {' '.join('coreutils' if t == 'sha256sum' else t for t in missing)}`) "
              "and run again", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="triton-groups-bench-packaging-", dir=args.dir))
    try:
        block = measure(work, args.gib, args.files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(block)
    if not args.no_record:
        record(block)
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
