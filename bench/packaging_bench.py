"""Packaging benchmark: a cold `build` against a durable copy of the same bytes; the warm rebuild of a repository.

Run by hand from the project root: `.venv/bin/python bench/packaging_bench.py [--gib 1] [--files 4] [--rounds 5]`.
It writes a repository of random weights (1 GiB by default) in a temporary folder and measures in one run:

- a durable copy: `cat` of the repository's files into one file, then `sync` of that file (every byte read
  once, written once, made durable: the floor for any artifact, the reference of issue 13's goal);
- `sha256sum` (coreutils) and `openssl dgst -sha256` over the files, and one Python pass with hashlib: hashing
  alone, for reference;
- `zip -0 -r` of the repository followed by `sha256sum` of the zip (what a shell script would do), once;
- `build_artifacts` into an empty folder with an empty hash cache (cold);
- `build_artifacts` again, nothing changed (warm; median of several).

The durable copy and the cold build are measured `--rounds` times each, alternating which goes first, and
compared by their medians (the machines are shared and noisy). It prints a markdown block and inserts it at the
end of the `## Packaging` section of bench/RESULTS.md, then deletes everything it generated. Goals: cold build
within 1.15x of the durable copy (issue 13), warm rebuild under 0.2 s (issue 2). Files are read with the page
cache warm (they were just written), by the copy and by the build alike.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import resource
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
GOAL_COLD_RATIO = 1.15
GOAL_WARM_S = 0.2
WARM_REPEATS = 7
ROUNDS = 5
SETTLE_S = 2.0
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


def durable_copy(sources: Sequence[Path], target: Path) -> None:
    """`cat` the files into `target`, then `sync` it (coreutils `sync FILE` fsyncs that file)."""
    with target.open("wb") as handle:
        subprocess.run(["cat", *map(str, sources)], stdout=handle, check=True)
    run(["sync", target])


def cold_build(repo: Path, out: Path) -> tuple[float, float, float]:
    """Wall, user and system seconds of a build into the empty folder `out` (removed afterwards)."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = timed(lambda: build_artifacts(load_plan(repo), out))
    after = resource.getrusage(resource.RUSAGE_SELF)
    remove(out)
    return seconds, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def remove(path: Path) -> None:
    """Delete `path` and let the disk settle, outside any timing: on a filesystem mounted with `discard` the
    blocks freed are trimmed when the journal next commits, which would otherwise land in the next step's fsync
    (about 2 s per GiB here, for the copy and the build alike)."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    os.sync()
    time.sleep(SETTLE_S)


def measure(work: Path, gib: float, files: int, rounds: int) -> str:
    """Run every measurement in `work` and return the markdown block."""
    load_before = os.getloadavg()
    repo = generate_repository(work, int(gib * 2**30), files)
    sources = sorted(p for p in repo.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in sources)

    copy_path, out = work / "copy.bin", work / "out"
    copies: list[float] = []
    builds: list[tuple[float, float, float]] = []
    for index in range(rounds):
        steps: list[Callable[[], None]] = [
            lambda: copies.append(timed(lambda: durable_copy(sources, copy_path))),
            lambda: builds.append(cold_build(repo, out)),
        ]
        for step in steps if index % 2 == 0 else steps[::-1]:
            step()
            remove(copy_path)
    sha256sum_s = timed(lambda: run(["sha256sum", *sources]))
    openssl_s = timed(lambda: run(["openssl", "dgst", "-sha256", *sources]))
    floor_s = timed(lambda: python_sha256(sources))
    zip_path = work / "by-zip.zip"
    zip_s = timed(lambda: run(["zip", "-0", "-r", "-q", zip_path, "repo"], cwd=work))
    zip_sha_s = timed(lambda: run(["sha256sum", zip_path]))
    zip_path.unlink()

    cold_result = build_artifacts(load_plan(repo), out)
    first_warm_s = timed(lambda: build_artifacts(load_plan(repo), out))
    warm = [timed(lambda: build_artifacts(load_plan(repo), out)) for _ in range(WARM_REPEATS)]
    warm_median, warm_max = statistics.median(warm), max(warm)
    unchanged = build_artifacts(load_plan(repo), out) == cold_result
    load_after = os.getloadavg()

    copy_s = statistics.median(copies)
    cold_s = statistics.median(wall for wall, _, _ in builds)
    cold_user = statistics.median(user for _, user, _ in builds)
    cold_system = statistics.median(system for _, _, system in builds)
    ratio = cold_s / copy_s
    paired = statistics.median(wall / copy for (wall, _, _), copy in zip(builds, copies, strict=True))
    zip_total = zip_s + zip_sha_s
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")

    def row(step: str, seconds: float, note: str = "") -> str:
        return f"| {step} | {seconds:.2f}{note} | {seconds / copy_s:.2f} |"

    return "\n".join([
        f"### {stamp}",
        "",
        f"Machine: {machine()}, {openssl_version()}. Load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in load_before)} before, {', '.join(f'{x:.2f}' for x in load_after)} after "
        "(shared machine).",
        f"Repository: {total / 2**30:.2f} GiB in {files} random weight files plus config.pbtxt and model.py; "
        "page cache warm, files older than the cache's 2 s racy window. Builds are in-process calls of "
        "`build_artifacts(load_plan(repo), out)` into an empty folder with no hash cache (the CLI adds Python "
        f"start-up, imports and validation). Durable copy and cold build: medians of {rounds} rounds each, "
        "alternating which runs first.",
        "",
        "| step | seconds | / durable copy |",
        "|---|---:|---:|",
        row("durable copy: `cat` into one file, `sync` it", copy_s,
            f" ({', '.join(f'{x:.2f}' for x in copies)})"),
        row("`build`, cold (empty cache)", cold_s, f" ({', '.join(f'{x[0]:.2f}' for x in builds)}; "
            f"CPU {cold_user:.2f} user + {cold_system:.2f} sys)"),
        row("`sha256sum` (coreutils) over the files", sha256sum_s),
        row("`openssl dgst -sha256` over the files", openssl_s),
        row("one Python pass, hashlib sha256", floor_s),
        row("`zip -0 -r` then `sha256sum` of the zip", zip_total, f" ({zip_s:.2f} + {zip_sha_s:.2f})"),
        f"| `build`, first warm rebuild (nothing changed) | {first_warm_s:.4f} | |",
        f"| `build`, warm, median of {WARM_REPEATS} more | {warm_median:.4f} (max {warm_max:.4f}) | |",
        "",
        f"Cold build / durable copy: {ratio:.2f} (medians; median of the per-round ratios {paired:.2f}). "
        f"Goal <= {GOAL_COLD_RATIO}x: {'met' if ratio <= GOAL_COLD_RATIO else 'NOT met'}. "
        f"Goal warm rebuild < {GOAL_WARM_S} s: {'met' if max(warm_max, first_warm_s) < GOAL_WARM_S else 'NOT met'} "
        f"(worst {max(warm_max, first_warm_s):.4f} s). "
        f"Warm rebuild gave the same artifacts: {'yes' if unchanged else 'NO'}.",
        "",
    ])


def openssl_version() -> str:
    return subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()


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
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds of copy and cold build (default {ROUNDS})")
    parser.add_argument("--dir", type=Path, default=None, help="where to generate (default: the temp folder)")
    parser.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("zip", "sha256sum", "openssl", "cat", "sync") if shutil.which(tool) is None]
    if missing:
        debian = sorted({tool if tool in ("zip", "openssl") else "coreutils" for tool in missing})
        print(f"bench/packaging_bench.py: {', '.join(missing)} not found; install it (Debian/Ubuntu: "
              f"`apt-get install -y {' '.join(debian)}`) "
              "and run again", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="triton-groups-bench-packaging-", dir=args.dir))
    try:
        block = measure(work, args.gib, args.files, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(block)
    if not args.no_record:
        record(block)
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
