"""The project inside the real Pulumi engine: CLI acquisition, `up`, no-change previews, preview growth per model.

Run by hand from the project root: `.venv/bin/python bench/engine_bench.py [--cold] [--no-record]`. Measures, in
one run, on copies of the project (tests/pulumi_engine.py), with the CLI from `make pulumi`:

- CLI acquisition: `tools/pulumi/install.sh` when the CLI is installed (a clone's later runs), and with an empty
  cache of its own (`TRITON_GROUPS_CACHE`), i.e. a fresh clone on a machine whose Go caches are warm. `--cold`
  also measures a build with empty Go module and build caches (GOMODCACHE, GOCACHE): a fresh machine (minutes).
- with `--fresh-clone`: `git clone` of this checkout, then `make up` (venv, CLI, first up), `make up` again (no
  change) and `make down`, each timed: what a newcomer runs;
- the example group's first `pulumi up` (build, start a tritonserver, smoke test) and a no-change `pulumi up`;
- a no-change `pulumi preview` of the local stack against a no-change preview of an empty Pulumi Python
  program (`import pulumi`, nothing else) in the same run: the project's cost inside the engine (goal <= 2x);
- `pulumi preview` of generated groups of 5, 10, 20 and 50 small Python-backend models (first preview, nothing
  deployed, and a no-change preview after an up) and its growth per model (goal: linear, <= 0.1 s per model
  beyond the base).
Each time is the median of `--repeats` runs. Results go to bench/RESULTS.md (section "Real engine").
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tests"))
sys.path.insert(0, str(PROJECT / "bench"))

from local_common import PythonModel, cache_bytecode_as_installed, machine_line, write_python_group  # noqa: E402
from pulumi_engine import EngineProject, pulumi_bin  # noqa: E402

RESULTS = PROJECT / "bench" / "RESULTS.md"
SECTION = "## Real engine"
GROUP_SIZES = (5, 10, 20, 50)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_of(repeats: int, action: Callable[[], object]) -> float:
    return statistics.median(timed(action) for _ in range(repeats))


def install(env: dict[str, str]) -> None:
    result = subprocess.run(["bash", str(PROJECT / "tools" / "pulumi" / "install.sh")], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"make pulumi failed: {result.stderr.strip()}")


def acquisition(cold: bool) -> dict[str, float]:
    """Seconds for `make pulumi` when installed, with an empty CLI cache, and (cold) with empty Go caches."""
    times = {"installed": median_of(3, lambda: install(dict(os.environ)))}
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "clone"
        (clone / "tools").mkdir(parents=True)
        shutil.copytree(PROJECT / "tools" / "pulumi", clone / "tools" / "pulumi")
        shutil.copy2(PROJECT / "pyproject.toml", clone / "pyproject.toml")
        env = {**os.environ, "TRITON_GROUPS_CACHE": str(Path(scratch) / "cache")}
        times["empty CLI cache, warm Go caches"] = timed(
            lambda: subprocess.run(["bash", str(clone / "tools" / "pulumi" / "install.sh")], env=env, check=True,
                                   capture_output=True)
        )
        if cold:
            shutil.rmtree(clone / ".tools", ignore_errors=True)
            env = {**env, "TRITON_GROUPS_CACHE": str(Path(scratch) / "cache-cold"),
                   "GOMODCACHE": str(Path(scratch) / "gomod"), "GOCACHE": str(Path(scratch) / "gobuild")}
            times["empty CLI and Go caches (a fresh machine)"] = timed(
                lambda: subprocess.run(["bash", str(clone / "tools" / "pulumi" / "install.sh")], env=env,
                                       check=True, capture_output=True)
            )
            subprocess.run(["go", "clean", "-modcache"], env=env, capture_output=True)
    return times


def fresh_clone() -> dict[str, float]:
    """Seconds for `make up`, a second `make up` and `make down` in a fresh clone of this checkout's HEAD."""
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True)

        def make(target: str) -> None:
            subprocess.run(["make", "-C", str(clone), target], check=True, capture_output=True)

        times = {"fresh clone: `make up` (venv, CLI, first up)": timed(lambda: make("up")),
                 "fresh clone: `make up` again (no change)": timed(lambda: make("up")),
                 "fresh clone: `make down`": timed(lambda: make("down"))}
    return times


def empty_program(root: Path) -> EngineProject:
    """An EngineProject whose program is `import pulumi` and nothing else, on the same runtime settings."""
    project = EngineProject(root)
    (project.root / "infra" / "__main__.py").write_text("import pulumi  # noqa: F401\n")
    return project


def example_runs(scratch: Path, repeats: int) -> dict[str, float]:
    local = EngineProject(scratch / "local")
    empty = empty_program(scratch / "empty")
    try:
        first_up = timed(local.up)
        no_change_up = median_of(repeats, local.up)
        empty.up()
        local_preview = median_of(repeats, lambda: local.run("preview", "--expect-no-changes"))
        empty_preview = median_of(repeats, lambda: empty.run("preview", "--expect-no-changes"))
    finally:
        local.destroy()
        empty.destroy()
    return {"first up": first_up, "no-change up": no_change_up, "no-change preview (local stack)": local_preview,
            "no-change preview (empty program)": empty_preview}


def group_previews(scratch: Path, repeats: int) -> dict[int, tuple[float, float]]:
    """{models: (first preview s, no-change preview after an up s)} for generated Python-backend groups."""
    found = {}
    for size in GROUP_SIZES:
        folder = scratch / f"group{size}"
        spec = write_python_group(folder, f"group{size}", [PythonModel(f"m{index:03d}") for index in range(size)])
        project = EngineProject(scratch / f"engine{size}", config={"triton-groups:spec": str(spec)})
        try:
            first = median_of(repeats, lambda project=project: project.run("preview"))
            project.up()
            after = median_of(repeats, lambda project=project: project.run("preview", "--expect-no-changes"))
        finally:
            project.destroy()
        found[size] = (first, after)
    return found


def slope(points: dict[int, float]) -> tuple[float, float]:
    """Least-squares (base s, s per model) over {models: seconds}."""
    xs, ys = list(points), list(points.values())
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    per_model = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs)
    return mean_y - per_model * mean_x, per_model


def report(acquired: dict[str, float], example: dict[str, float], groups: dict[int, tuple[float, float]],
           repeats: int, bytecode: str) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    version = subprocess.run([str(pulumi_bin() / "pulumi"), "version"], capture_output=True, text=True).stdout.strip()
    lines = [f"### {now}", "", f"{machine_line()}; Pulumi CLI {version}; {bytecode}; medians of {repeats} runs.", "",
             "| `make pulumi`, `make up` | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in acquired.items()]
    ratio = example["no-change preview (local stack)"] / example["no-change preview (empty program)"]
    lines += ["", "| the example group (local stack) | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.2f} |" for name, seconds in example.items()]
    lines += ["", f"No-change preview of the local stack / of an empty Python program: **{ratio:.2f}x** "
              f"(goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})."]
    lines += ["", "| models | first preview (s) | no-change preview after up (s) |", "|---:|---:|---:|"]
    lines += [f"| {size} | {first:.2f} | {after:.2f} |" for size, (first, after) in groups.items()]
    for label, index in (("first preview", 0), ("no-change preview", 1)):
        base, per_model = slope({size: times[index] for size, times in groups.items()})
        lines.append(f"\n{label}: {base:.2f} s + {per_model * 1000:.1f} ms per model (least squares; goal <= 100 ms "
                     f"per model: {'met' if per_model <= 0.1 else 'NOT met'}).")
    return "\n".join(lines) + "\n"


def record(block: str) -> None:
    text = RESULTS.read_text()
    if SECTION not in text:
        text = text.rstrip() + f"\n\n{SECTION}\n\nMeasured by `bench/engine_bench.py` (see its docstring).\n"
    RESULTS.write_text(text.rstrip() + "\n\n" + block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also build the CLI with empty Go caches (minutes)")
    parser.add_argument("--fresh-clone", action="store_true", help="also time `make up` in a fresh clone (minutes)")
    parser.add_argument("--no-record", action="store_true")
    options = parser.parse_args()
    bytecode = cache_bytecode_as_installed()
    pulumi_bin()
    acquired = acquisition(options.cold)
    if options.fresh_clone:
        acquired.update(fresh_clone())
    with tempfile.TemporaryDirectory() as scratch:
        example = example_runs(Path(scratch), options.repeats)
        groups = group_previews(Path(scratch), options.repeats)
    block = report(acquired, example, groups, options.repeats, bytecode)
    print(block)
    if not options.no_record:
        record(block)


if __name__ == "__main__":
    main()
