"""Where and how a build publishes its artifacts: never where the next build would pack them, each zip together with
its manifest or not at all (whenever the build is interrupted), nothing left by a killed build, one build at a time
per folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from triton_models import PYTHON_MODEL, one_model_repository

from components.cli import main
from components.core.package import COMMIT_NAME, build_artifacts, plan_content
from components.core.plan import load_plan, plan_from_folder
from components.core.problems import UserError

PROJECT = Path(__file__).resolve().parents[1]
BLOCKED_BUILD = """
import sys, time
from pathlib import Path
import components.core.package as package
import components.core.package.stream as stream
from components.core.plan import plan_from_folder

real = stream.copy_chunks

def copy_chunks(path, st, *args):
    for count in real(path, st, *args):
        yield count
        if path.name == "weights.bin":
            print("zipping", flush=True)
            sys.stdin.read()

stream.copy_chunks = copy_chunks
package.build_artifacts(plan_from_folder(Path(sys.argv[1])), Path(sys.argv[2]), layout=sys.argv[3])
print("built", flush=True)
"""
"""A build of the repository argv[1] into argv[2] that stops inside weights.bin until its stdin closes."""


def repository(root: Path, weights: bytes = b"\x01" * 4096) -> Path:
    repo = one_model_repository(root, files={"1/model.py": PYTHON_MODEL.encode(), "1/weights.bin": weights})
    return repo


def consistent(out: Path) -> dict[str, str]:
    """Each zip's sha256 by name, checked to be the one its beside manifest records; no temporary file or record."""
    found = {}
    for manifest in sorted(out.glob("*.manifest.json")):
        record = json.loads(manifest.read_text())["zip"]
        data = (out / record["file"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (record["sha256"], record["size"]), manifest.name
        found[record["file"]] = record["sha256"]
    assert sorted(path.name for path in out.glob("*.zip")) == sorted(found)
    assert [path.name for path in out.iterdir() if path.name.endswith(".tmp") or path.name == COMMIT_NAME] == []
    return found


def blocked_build(repo: Path, out: Path, layout: str = "single") -> subprocess.Popen[str]:
    """A build in another process, stopped while it zips (close its stdin to let it finish, or kill it)."""
    process = subprocess.Popen([sys.executable, "-c", BLOCKED_BUILD, str(repo), str(out), layout],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert process.stdout is not None and process.stdout.readline() == "zipping\n", process.communicate()
    return process


@pytest.mark.parametrize("inside", ["repo", "repo/m", "repo/m/1/dist"])
def test_an_out_inside_a_folder_that_is_packed_is_refused(inside: str, tmp_path: Path) -> None:
    repo = repository(tmp_path)
    out = tmp_path / inside

    with pytest.raises(UserError) as refused:
        build_artifacts(plan_from_folder(repo), out)

    [problem] = refused.value.problems
    assert (problem.code, problem.file) == ("package.out_in_sources", str(out))
    assert "a folder whose files are packed, so the next build would pack these artifacts too" in problem.message


def test_an_out_inside_a_spec_version_folder_is_refused_but_beside_the_spec_is_fine(tmp_path: Path) -> None:
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "1" / "model.py").write_text(PYTHON_MODEL)
    spec = tmp_path / "group.yaml"
    spec.write_text("name: g\nmodels:\n  - name: m\n    backend: python\n    versions: {1: m/1}\n"
                    "    inputs: [{name: IN, data_type: FP32, dims: [3]}]\n"
                    "    outputs: [{name: OUT, data_type: FP32, dims: [3]}]\n")

    with pytest.raises(UserError, match="a folder whose files are packed"):
        build_artifacts(load_plan(spec), tmp_path / "m" / "1" / "out")
    first = build_artifacts(load_plan(spec), tmp_path / "dist")
    again = build_artifacts(load_plan(spec), tmp_path / "dist")

    assert again.artifacts[0].size == first.artifacts[0].size, "the previous build is not packed into the next"


def test_an_empty_out_is_a_usage_error_and_the_root_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repository(tmp_path)

    with pytest.raises(SystemExit) as usage:
        main(["build", str(repo), "--out", ""])
    assert usage.value.code == 2
    assert "argument --out: '' is not a folder; give the folder's path" in capsys.readouterr().err

    assert main(["build", str(repo), "--out", "/"]) == 1
    assert capsys.readouterr().err == "/: is the root folder; give a folder of its own for the artifacts\n"


def test_an_interrupt_while_the_new_files_are_synced_leaves_the_previous_zip_and_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, out = repository(tmp_path), tmp_path / "out"
    build_artifacts(plan_from_folder(repo), out)
    before = consistent(out)
    (repo / "m" / "1" / "weights.bin").write_bytes(b"\x02" * 8192)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(out / ".repository.zip.")):
            raise KeyboardInterrupt  # Ctrl-C during the zip's final fsync
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        build_artifacts(plan_from_folder(repo), out)
    monkeypatch.setattr(os, "fsync", real_fsync)

    assert consistent(out) == before


def test_a_build_interrupted_between_its_renames_is_finished_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, out = repository(tmp_path), tmp_path / "out"
    build_artifacts(plan_from_folder(repo), out, layout="per-model")
    (repo / "m" / "1" / "weights.bin").write_bytes(b"\x02" * 8192)
    real_replace = os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        real_replace(source, target)
        if Path(target).name == "m.zip":
            raise KeyboardInterrupt  # after the zip, before its manifest

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        build_artifacts(plan_from_folder(repo), out, layout="per-model")
    monkeypatch.setattr(os, "replace", real_replace)
    assert (out / COMMIT_NAME).is_file(), "the commit record says what is left to publish"

    result = build_artifacts(plan_from_folder(repo), out, layout="per-model")

    assert consistent(out) == {"m.zip": result.artifacts[0].sha256}
    with (out / "m.zip").open("rb") as archive:
        assert b"\x02" * 8192 in archive.read()


def test_a_killed_build_leaves_temporary_files_that_the_next_build_removes(tmp_path: Path) -> None:
    repo, out = repository(tmp_path, b"\x03" * (1 << 20)), tmp_path / "out"
    killed = blocked_build(repo, out)
    left = [path.name for path in out.iterdir() if path.name.endswith(".tmp")]
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert left and all(name.startswith(".repository.zip.") for name in left)

    build_artifacts(plan_from_folder(repo), out)

    consistent(out)


def test_two_builds_into_one_folder_take_turns_and_the_last_one_wins(tmp_path: Path) -> None:
    repo, out = repository(tmp_path), tmp_path / "out"
    first = blocked_build(repo, out, "single")
    told: list[str] = []
    finished = threading.Event()

    def second() -> None:
        build_artifacts(plan_from_folder(repo), out, layout="per-model", on_wait=told.append)
        finished.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(1.0)
    assert not finished.is_set(), "the second build waits for the first"
    assert told == [f"waiting for another build to finish writing into {out}"]
    assert first.communicate("", timeout=60)[0] == "built\n"
    thread.join(timeout=60)

    assert finished.is_set()
    assert list(consistent(out)) == ["m.zip"], "the second build saw the first's zip and removed it as stale"


def test_the_next_build_removes_every_kind_of_temporary_file_a_build_leaves_and_nothing_else(tmp_path: Path) -> None:
    """Temporary files named as a killed build leaves them (`.<target>.<8 characters>.tmp`) for a zip, a manifest,
    the hash cache and the commit record go; a temporary file of something else the user keeps there stays."""
    repo, out = repository(tmp_path), tmp_path / "out"
    out.mkdir()
    left = [".repository.zip.k1ll3d_x.tmp", ".repository.manifest.json.abcd1234.tmp", ".m.zip.0000aaaa.tmp",
            "..hash-cache.json.q9w8e7r6.tmp", f".{COMMIT_NAME}.zz11yy22.tmp"]
    kept = [".notes.txt.abcd1234.tmp", "repository.zip.tmp", ".repository.zip.tmp"]
    for name in left + kept:
        (out / name).write_bytes(b"PK\x03\x04 half written")

    result = build_artifacts(plan_from_folder(repo), out)

    assert sorted(path.name for path in out.iterdir() if path.name.endswith(".tmp")) == sorted(kept)
    for name in kept:
        (out / name).unlink()
    assert consistent(out) == {"repository.zip": result.artifacts[0].sha256}


def test_a_preview_while_a_build_runs_leaves_its_temporary_files_and_cache_alone(tmp_path: Path) -> None:
    """A preview (`plan_content`) into the folder of a running build does not write the hash cache there: the
    build, which removes what looks like a killed build's temporary files, owns the folder until it is done."""
    repo, out = repository(tmp_path, b"\x04" * (1 << 20)), tmp_path / "out"
    running = blocked_build(repo, out)
    temporaries = sorted(path.name for path in out.iterdir())

    content, digest = plan_content(plan_from_folder(repo), out)

    assert sorted(path.name for path in out.iterdir()) == temporaries
    assert running.communicate("", timeout=60)[0] == "built\n"
    result = build_artifacts(plan_from_folder(repo), out)
    assert consistent(out) == {"repository.zip": result.artifacts[0].sha256}
    assert (digest, sorted(content["m"])) == (result.repository_sha256, ["1/model.py", "1/weights.bin", "config.pbtxt"])
