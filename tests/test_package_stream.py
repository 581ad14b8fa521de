"""The pipelined zip writer (core/package/stream.py): the same bytes as a plain `zipfile` build, a right sha256 of
the zip, right CRCs and contents, whatever the buffer sizes, and no thread left behind when a build fails.

The expected zip is built here with `zipfile` and `hashlib` alone, from the documented conventions (entries
sorted, folders before their content, 1980-01-01, Unix modes, stored, manifest last): not by the code under test.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import random
import stat
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from components.core.package import build_artifacts, stream
from components.core.plan import plan_from_folder
from components.core.problems import UserError

HOUR_NS = 3600 * 10**9
MIB = 1 << 20


def sizes_around(copy_bytes: int) -> list[int]:
    """File sizes that fall on and beside the writer's boundaries (small writes and reads, copies, windows)."""
    edges = [stream.SMALL_WRITE, stream.SMALL_RANGE, copy_bytes]
    sizes = [0, 1, 100, *(size + delta for size in edges for delta in (-1, 0, 1)), 2 * copy_bytes + 12345]
    return sizes + ([3 * stream.MAP_BYTES + 4097] if stream.MAP_BYTES < MIB else [])


def write_repository(root: Path, sizes: list[int]) -> Path:
    """Two models of random files of `sizes`, an executable, an empty version folder; all dated an hour ago."""
    rng = random.Random(13)
    repo = root / "repo"
    for model in ("alpha", "beta"):
        (repo / model / "1").mkdir(parents=True)
        (repo / model / "config.pbtxt").write_text(f'name: "{model}"\nbackend: "python"\n')
        for index, size in enumerate(sizes):
            (repo / model / "1" / f"part-{index:02d}.bin").write_bytes(rng.randbytes(size))
    stub = repo / "alpha" / "triton_python_backend_stub"
    stub.write_bytes(b"#!/bin/sh\nexec python3 \"$@\"\n")
    stub.chmod(0o755)
    (repo / "beta" / "2").mkdir()
    mtime = time.time_ns() - HOUR_NS
    for path in repo.rglob("*"):
        os.utime(path, ns=(mtime, mtime))
    return repo


def expected_zip(repo: Path, name: str = "repository") -> bytes:
    """The single-layout artifact of `repo`, written with zipfile: every folder and file sorted by path, then the
    manifest (path, size, sha256, mode of each file and empty folder; content_sha256 over those entries)."""
    entries, zipped = [], {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if path.is_dir():
            zipped[rel + "/"] = None
            if not any(path.iterdir()):
                entries.append({"path": rel + "/", "size": 0, "sha256": hashlib.sha256(b"").hexdigest(), "mode": 0o755})
        else:
            data = path.read_bytes()
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            zipped[rel] = (data, mode)
            entries.append({"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "mode": mode})
    entries.sort(key=lambda e: e["path"])
    canonical = json.dumps(entries, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    models = sorted(p.name for p in repo.iterdir())
    document = {"format": "triton-groups.manifest/1", "artifact": name, "layout": "single", "models": models,
                "content_sha256": hashlib.sha256(canonical).hexdigest(), "entries": entries}
    manifest = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for rel, content in sorted(zipped.items()):
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            if content is None:
                info.external_attr = ((stat.S_IFDIR | 0o755) << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | content[1]) << 16
                archive.writestr(info, content[0])
        info = zipfile.ZipInfo(f"{name}.manifest.json", date_time=(1980, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        archive.writestr(info, manifest)
    return buffer.getvalue()


def check_zip(zip_path: Path, repo: Path) -> None:
    """zipfile finds every CRC right, and every file member holds its source's bytes, with its CRC-32."""
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.testzip() is None
        for info in archive.infolist():
            source = repo / info.filename
            if info.is_dir() or not source.is_file():
                continue
            data = source.read_bytes()
            assert (archive.read(info), info.CRC) == (data, zlib.crc32(data)), info.filename


@pytest.fixture(params=["default sizes", "tiny sizes"])
def copy_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The writer's unit of copy: as shipped, or 12 KiB (windows of 8 KiB, writeback every 16 KiB...), so that
    a small repository crosses every boundary many times."""
    if request.param == "tiny sizes":
        for name, value in {"COPY_BYTES": 12288, "MAP_BYTES": 8192, "SMALL_RANGE": 2048, "SMALL_WRITE": 1024,
                            "SMALL_FLUSH": 2048, "WRITEBACK_BYTES": 16384}.items():
            monkeypatch.setattr(stream, name, value)
    return stream.COPY_BYTES


def test_a_cold_build_gives_the_bytes_of_a_plain_zipfile_build(tmp_path: Path, copy_bytes: int) -> None:
    repo = write_repository(tmp_path / "src", sizes_around(copy_bytes))
    want = expected_zip(repo)

    result = build_artifacts(plan_from_folder(repo), tmp_path / "out")

    [artifact] = result.artifacts
    data = artifact.path.read_bytes()
    assert data == want
    assert (artifact.sha256, artifact.size) == (hashlib.sha256(data).hexdigest(), len(data))
    beside = json.loads((tmp_path / "out" / "repository.manifest.json").read_text())
    assert beside["zip"] == {"file": "repository.zip", "sha256": hashlib.sha256(want).hexdigest(), "size": len(want)}
    check_zip(artifact.path, repo)


def test_two_cold_builds_are_byte_identical_and_so_are_their_manifests(tmp_path: Path, copy_bytes: int) -> None:
    repo = write_repository(tmp_path / "src", sizes_around(copy_bytes))

    first = build_artifacts(plan_from_folder(repo), tmp_path / "one", cache_path=tmp_path / "one.cache")
    second = build_artifacts(plan_from_folder(repo), tmp_path / "two", cache_path=tmp_path / "two.cache")

    for name in ("repository.zip", "repository.manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert first.repository_sha256 == second.repository_sha256


@pytest.mark.parametrize("missing", ["copy_file_range", "mmap"])
def test_without_kernel_copies_or_mappings_the_bytes_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """Where os.copy_file_range cannot copy between the two files (EXDEV: another filesystem) the bytes are read
    and written; where the zip cannot be mapped it is read back with pread: the zip is the same."""
    repo = write_repository(tmp_path / "src", [0, 5000, 3 * MIB + 7])
    want = expected_zip(repo)

    def refused(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EXDEV if missing == "copy_file_range" else errno.ENODEV, "refused in this test")

    if missing == "copy_file_range":
        monkeypatch.setattr(os, "copy_file_range", refused)
    else:
        monkeypatch.setattr(stream.mmap, "mmap", refused)
    result = build_artifacts(plan_from_folder(repo), tmp_path / "out")

    assert result.artifacts[0].path.read_bytes() == want
    assert result.artifacts[0].sha256 == hashlib.sha256(want).hexdigest()


@pytest.mark.parametrize("layout", ["per-model", "single"])
def test_a_build_with_some_digests_cached_gives_the_same_bytes(tmp_path: Path, layout: str) -> None:
    """Files whose digest the cache knows are zipped without being hashed again: the zip is the same."""
    repo = write_repository(tmp_path / "src", [10, 3 * MIB])
    cache = tmp_path / "cache.json"
    cold = build_artifacts(plan_from_folder(repo), tmp_path / "cold", layout=layout, cache_path=cache)  # type: ignore[arg-type]

    warm_cache = build_artifacts(plan_from_folder(repo), tmp_path / "again", layout=layout, cache_path=cache)  # type: ignore[arg-type]

    assert [(a.name, a.sha256, a.path.read_bytes()) for a in warm_cache.artifacts] == [
        (a.name, a.sha256, a.path.read_bytes()) for a in cold.artifacts]
    for artifact in warm_cache.artifacts:
        check_zip(artifact.path, repo)


def test_a_source_changing_mid_build_stops_every_thread_of_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "COPY_BYTES", 4096)
    repo = write_repository(tmp_path / "src", [100_000, 100_000])
    changing = repo / "alpha" / "1" / "part-00.bin"
    real = stream.copy_chunks

    def growing(path: Path, st: os.stat_result, *args):  # type: ignore[no-untyped-def]
        for number, count in enumerate(real(path, st, *args)):
            yield count
            if path == changing and number == 3:
                with changing.open("ab") as handle:
                    handle.write(b"more")

    monkeypatch.setattr(stream, "copy_chunks", growing)
    before = {thread.name for thread in threading.enumerate()}
    with pytest.raises(UserError) as caught:
        build_artifacts(plan_from_folder(repo), tmp_path / "out")

    assert [p.code for p in caught.value.problems] == ["hash.source_changed"]
    assert {thread.name for thread in threading.enumerate()} - before == set()
    assert list((tmp_path / "out").iterdir()) == []
