"""What the real tritonserver does with every repository of the validation corpus, against the validator.

The corpus (tests/validation_corpus.py) says, for each repository, whether Triton refuses to load it. This
script asks the real one: one local tritonserver (the nvidia-pytriton build, explicit model control, strict
configs, a response cache so that cache rules can be reached), and for each case it empties the model
repository, writes the case, asks Triton to load the case's model, records whether it loaded and Triton's
reason (the server log's line when the API only says "failed to poll"), then unloads everything. A case that
crashes the server is recorded as refused, and the server is started again. The validator runs on the same
repository as `triton-groups validate --config-only` does, with this machine's GPU count.

Goals (issue 13): the corpus agrees with Triton on every case; of the cases Triton refuses, at least 95% are
rejected by the validator with an error naming the model and the tensor or step; every case Triton loads is
accepted. Speed is not measured here; the run takes a few minutes.

Run: .venv/bin/python bench/triton_rejects.py [--no-record] [--only SUBSTRING]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path: put the project root there instead (see harness_overhead.py),
# and tests/ for the corpus.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

import argparse
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from validation_corpus import CASES, GPU_COUNT, Case

from bench.local_common import PROJECT, SHARED_MEMORY, STARTED_SERVERS, footer, machine_line, stop_group
from components.core.plan import load_plan
from components.core.problems import errors
from components.core.runtime import triton_api
from components.core.runtime.install import prepare_install, server_environment
from components.core.runtime.ports import HOST, choose_ports
from components.core.runtime.processes import POLL_S
from components.core.runtime.server import server_command
from components.core.validate import GpuTarget, local_gpu_count, validate_plan

RESULTS = PROJECT / "bench" / "RESULTS.md"
SECTION = "## Validation against the real tritonserver"
READY_TIMEOUT_S = 120.0
LOAD_TIMEOUT_S = 120.0
UNLOAD_TIMEOUT_S = 60.0
CACHE_ARGS = ("--cache-config=local,size=1048576",)
POLL_FAILED = re.compile(r"Poll failed for model directory '[^']*': (.*?)\"?$")
GOAL_REJECTED = 0.95


@dataclass(frozen=True)
class Verdict:
    case: Case
    triton_refused: bool
    reason: str
    validator_rejected: bool
    validator_named: bool
    validator_errors: int
    validator_warnings: int


class Server:
    """One tritonserver on an empty repository, started again when a case crashes it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repository = root / "repository"
        self.repository.mkdir(parents=True)
        self.starts = 0
        self._start()

    def _start(self) -> None:
        self.starts += 1
        ports = choose_ports()
        self.log = self.root / f"server-{self.starts}.log"
        self.shm_prefix = f"bench_{secrets.token_hex(4)}_"
        command = server_command(prepare_install(), self.repository, [], ports, self.shm_prefix, CACHE_ARGS)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=server_environment(), cwd=self.root, start_new_session=True)
        STARTED_SERVERS.append(self.process.pid)
        self.url = f"http://{HOST}:{ports.http}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not triton_api.is_ready(self.url, timeout_s=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"tritonserver did not start; see {self.log}")
            time.sleep(POLL_S)

    def load(self, case: Case) -> tuple[bool, str]:
        """Write `case` as the repository, load its model: (refused, Triton's reason); unload everything after."""
        for entry in self.repository.iterdir():
            shutil.rmtree(entry)
        case.write(self.repository)
        offset = self.log.stat().st_size
        try:
            reason = triton_api.load_model(self.url, case.load, timeout_s=LOAD_TIMEOUT_S)
        except triton_api.TritonUnreachable:
            reason = "the server crashed while loading"
        if self.process.poll() is not None or not triton_api.is_live(self.url):
            crash = _signal_line(self.log, offset)
            self.stop()
            self._start()
            return True, f"the server crashed while loading ({crash})"
        if reason is not None and "failed to poll" in reason:
            reason = _poll_reason(self.log, offset) or reason
        self._unload_everything()
        return reason is not None, reason or ""

    def _unload_everything(self) -> None:
        for name in triton_api.repository_index(self.url):
            triton_api.unload_model(self.url, name, timeout_s=UNLOAD_TIMEOUT_S)
        deadline = time.monotonic() + UNLOAD_TIMEOUT_S
        busy = ("READY", "LOADING", "UNLOADING")
        while any(s.state in busy for s in triton_api.repository_index(self.url).values()):
            if time.monotonic() > deadline:
                raise SystemExit(f"models still loaded after {UNLOAD_TIMEOUT_S:g} s; see {self.log}")
            time.sleep(POLL_S)

    def stop(self) -> None:
        stop_group(self.process.pid)
        self.process.wait()
        for region in SHARED_MEMORY.glob(f"{self.shm_prefix}*"):
            region.unlink(missing_ok=True)


def _poll_reason(log: Path, offset: int) -> str | None:
    with log.open("rb") as handle:
        handle.seek(offset)
        for line in handle.read().decode(errors="replace").splitlines():
            found = POLL_FAILED.search(line)
            if found:
                return found.group(1)
    return None


def _signal_line(log: Path, offset: int) -> str:
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    return next((line.strip() for line in text.splitlines() if line.startswith("Signal")), "no signal logged")


def judge(case: Case, server: Server, scratch: Path, target: GpuTarget) -> Verdict:
    refused, reason = server.load(case)
    problems = validate_plan(load_plan(case.write(scratch / case.id.replace("/", "_"))), config_only=True,
                             gpu_target=target)
    found = errors(problems)
    return Verdict(case, refused, reason, bool(found), case.named_by(problems), len(found),
                   len(problems) - len(found))


def report(verdicts: list[Verdict], skipped: list[str]) -> str:
    refused = [v for v in verdicts if v.triton_refused]
    loaded = [v for v in verdicts if not v.triton_refused]
    agree = sum(v.triton_refused == v.case.invalid for v in verdicts)
    named = sum(v.validator_named for v in refused)
    rejected = sum(v.validator_rejected for v in refused)
    accepted = sum(not v.validator_rejected for v in loaded)
    warned = sum(v.validator_warnings > 0 for v in loaded if not v.validator_rejected)
    rate = named / len(refused) if refused else 1.0
    lines = [
        "| measurement | value |",
        "|---|---|",
        f"| corpus cases run | {len(verdicts)} ({len(skipped)} skipped: {', '.join(skipped) or 'none'}) |",
        f"| corpus verdict agrees with tritonserver | {agree} of {len(verdicts)} |",
        f"| refused by tritonserver | {len(refused)} |",
        f"| of those, rejected by the validator (`--config-only`) | {rejected} of {len(refused)} |",
        f"| **of those, rejected naming the model and the tensor or step** | **{named} of {len(refused)} "
        f"({100 * rate:.1f}%)** |",
        f"| loaded by tritonserver | {len(loaded)} |",
        f"| **of those, accepted by the validator (warnings allowed)** | **{accepted} of {len(loaded)}** |",
        f"| of those, accepted with warnings | {warned} |",
        "",
    ]
    met = agree == len(verdicts) and rate >= GOAL_REJECTED and accepted == len(loaded)
    lines.append(f"Goals (corpus agrees, >= {GOAL_REJECTED:.0%} rejected and named, 100% accepted): "
                 f"**{'met' if met else 'NOT met'}**.")
    disagreements = [v for v in verdicts if v.triton_refused != v.case.invalid or
                     (v.triton_refused and not v.validator_named) or (not v.triton_refused and v.validator_rejected)]
    if disagreements:
        lines += ["", "Disagreements:", ""]
        lines += [f"- `{v.case.id}`: corpus says {'invalid' if v.case.invalid else 'valid'}, tritonserver "
                  f"{'refused' if v.triton_refused else 'loaded'} ({v.reason or 'no reason'}), validator "
                  f"{'rejected' if v.validator_rejected else 'accepted'}" for v in disagreements]
    lines += ["", "<details><summary>Every refusal, in tritonserver's words</summary>", "",
              "| case | tritonserver's reason | validator |", "|---|---|---|"]
    for v in refused:
        reason = v.reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{v.case.id}` | {reason} | {'rejected, named' if v.validator_named else 'MISSED'} |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def record(block: str, results: Path = RESULTS) -> None:
    """Add `block` at the end of this benchmark's section of RESULTS.md, making the section if missing."""
    text = results.read_text()
    if SECTION not in text:
        intro = (f"\n{SECTION}\n\nMeasured by `bench/triton_rejects.py` (run by hand from the project root: "
                 "`.venv/bin/python bench/triton_rejects.py`). It loads every repository of the validation corpus "
                 "(tests/validation_corpus.py) on the local tritonserver and compares what the server did with the "
                 "corpus's verdict and with `validate --config-only`.\n")
        text = text.rstrip("\n") + "\n" + intro
    start = text.index(SECTION)
    following = text.find("\n## ", start + len(SECTION))
    end = len(text) if following < 0 else following
    updated = text[:end].rstrip("\n") + "\n\n" + block.rstrip("\n") + "\n" + text[end:]
    temporary = results.with_suffix(".md.tmp")
    temporary.write_text(updated)
    temporary.replace(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--only", default="", help="run only the cases whose id contains this")
    args = parser.parse_args()
    gpus = local_gpu_count()
    target = GpuTarget(gpus, "this machine")
    cases = [case for case in CASES if args.only in case.id]
    skipped = [case.id for case in cases if case.rule.startswith("gpus") and gpus != GPU_COUNT]
    cases = [case for case in cases if case.id not in skipped]
    context = machine_line()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="triton_rejects_") as folder:
        server = Server(Path(folder) / "server")
        try:
            verdicts = []
            for case in cases:
                verdicts.append(judge(case, server, Path(folder), target))
                print(f"{case.id}: {'refused' if verdicts[-1].triton_refused else 'loaded'}", file=sys.stderr)
        finally:
            server.stop()
        version = next((line.split("|")[2].strip() for line in server.log.read_text(errors="replace").splitlines()
                        if "| server_version" in line), "unknown")
    elapsed = time.monotonic() - started
    block = (f"### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, tritonserver {version}, {gpus} GPU(s), "
             f"{len(cases)} cases in {elapsed:.0f} s, {server.starts} server start(s)\n\n{context}\n\n"
             f"{report(verdicts, skipped)}\n\n{footer()}\n")
    print(block)
    if not args.no_record and not args.only:
        record(block)
        print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
