"""ZIP64 for real: a repository of more than 4 GiB builds into a zip that Python's zipfile and Info-ZIP's `unzip -t`
both read back whole, every CRC and byte right.

Slow (about 9 GiB written, minutes): run only when TRITON_GROUPS_SLOW=1, e.g.
`TRITON_GROUPS_SLOW=1 .venv/bin/pytest -q -s tests/test_package_zip64.py` (-s prints the timings).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.core.package import artifact_size_bounds, build_artifacts
from components.core.plan import plan_from_folder

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("TRITON_GROUPS_SLOW") != "1", reason="slow: set TRITON_GROUPS_SLOW=1 to run"),
]

BLOCK = 64 << 20
WEIGHTS_BYTES = (4 << 30) + (3 << 20) + 12345
"""Past 4 GiB (ZIP64_LIMIT is 2**31 - 1, ZIP64 sizes are needed past 2**32 - 1), not a multiple of any buffer."""
HOUR_NS = 3600 * 10**9


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """A folder removed at the end (pytest keeps its last temporary folders, and these hold GBs)."""
    needed = 2 * WEIGHTS_BYTES + (512 << 20)
    free = shutil.disk_usage(tmp_path).free
    if free < needed:
        pytest.fail(f"{tmp_path} has {free / 2**30:.1f} GiB free; this test needs {needed / 2**30:.1f} GiB")
    try:
        yield tmp_path
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def write_weights(path: Path, size: int) -> str:
    """`size` bytes: a random block repeated, each copy with its index in front (so no two blocks are alike);
    returns their sha256, computed here as they are written."""
    block = os.urandom(BLOCK)
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        index, left = 0, size
        while left:
            piece = (index.to_bytes(8, "little") + block)[: min(left, BLOCK + 8)]
            handle.write(piece)
            digest.update(piece)
            left -= len(piece)
            index += 1
    return digest.hexdigest()


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def test_a_repository_over_4_gib_builds_into_a_zip64_that_zipfile_and_unzip_read_back(work: Path) -> None:
    unzip = shutil.which("unzip")
    assert unzip is not None, "this test needs Info-ZIP's unzip (Debian/Ubuntu: apt-get install -y unzip)"
    model = work / "repo" / "big"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "big"\nbackend: "python"\n')
    (model / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    started = time.perf_counter()
    weights_sha256 = write_weights(model / "1" / "weights.bin", WEIGHTS_BYTES)
    (model / "1" / "zz-after.bin").write_bytes(b"after the 4 GiB entry: its offset needs ZIP64 too\n")
    mtime = time.time_ns() - HOUR_NS
    for path in model.rglob("*"):
        os.utime(path, ns=(mtime, mtime))
    generated_s = time.perf_counter() - started
    plan = plan_from_folder(work / "repo")

    started = time.perf_counter()
    result = build_artifacts(plan, work / "out")
    build_s = time.perf_counter() - started

    [artifact] = result.artifacts
    assert artifact.size == (work / "out" / "repository.zip").stat().st_size == artifact_size_bounds(plan)["repository"]
    assert artifact.size > 2**32
    started = time.perf_counter()
    assert sha256_of_file(artifact.path) == artifact.sha256
    by_path = {entry.path: entry for entry in artifact.manifest}
    assert by_path["big/1/weights.bin"].sha256 == weights_sha256
    with zipfile.ZipFile(artifact.path) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert infos["big/1/weights.bin"].file_size == WEIGHTS_BYTES
        assert infos["big/1/zz-after.bin"].header_offset > 2**32
        assert archive.testzip() is None
        digest = hashlib.sha256()
        with archive.open("big/1/weights.bin") as member:
            while chunk := member.read(BLOCK):
                digest.update(chunk)
        assert digest.hexdigest() == weights_sha256
        assert archive.read("big/1/zz-after.bin") == (model / "1" / "zz-after.bin").read_bytes()
    zipfile_s = time.perf_counter() - started
    started = time.perf_counter()
    tested = subprocess.run([unzip, "-t", str(artifact.path)], capture_output=True, text=True)
    unzip_s = time.perf_counter() - started

    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "No errors detected" in tested.stdout, tested.stdout
    assert "testing: big/1/weights.bin" in tested.stdout and "OK" in tested.stdout
    version = subprocess.run([unzip, "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"\nZIP64 build: {WEIGHTS_BYTES} bytes of weights generated in {generated_s:.1f} s; zip of "
          f"{artifact.size} bytes built in {build_s:.1f} s; checked by hashlib + zipfile in "
          f"{zipfile_s:.1f} s, by `unzip -t` ({version}) in {unzip_s:.1f} s; load {os.getloadavg()[0]:.2f}")
