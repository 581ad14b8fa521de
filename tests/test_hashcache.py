"""HashCache: a file is read on a miss only, any change of size, mtime or inode is noticed, the file is atomic."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from components.core import hashcache
from components.core.hashcache import HashCache, read_chunks
from components.core.problems import UserError

AN_HOUR_AGO_NS = time.time_ns() - 3600 * 10**9


def settled_file(path: Path, data: bytes, mtime_ns: int = AN_HOUR_AGO_NS) -> Path:
    """A file last modified long ago, as model weights usually are (newer ones are racy: see hashcache)."""
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file the cache reads, in order."""
    seen: list[Path] = []
    real = hashcache.read_chunks

    def counting(path: Path, st: os.stat_result):
        seen.append(path)
        return real(path, st)

    monkeypatch.setattr(hashcache, "read_chunks", counting)
    return seen


def test_a_miss_reads_the_file_once_and_a_hit_reads_nothing(tmp_path: Path, reads: list[Path]) -> None:
    weights = settled_file(tmp_path / "w.bin", b"x" * 3_000_000)
    cache = HashCache(None)

    first = cache.sha256_of(weights, os.stat(weights))
    second = cache.sha256_of(weights, os.stat(weights))

    assert first == second == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert reads == [weights]


@pytest.mark.parametrize("change", ["size", "mtime", "inode"])
def test_a_changed_file_is_read_again(tmp_path: Path, reads: list[Path], change: str) -> None:
    weights = settled_file(tmp_path / "w.bin", b"old!")
    cache = HashCache(None)
    cache.sha256_of(weights, os.stat(weights))

    if change == "size":
        settled_file(weights, b"longer")
    elif change == "mtime":
        settled_file(weights, b"new!", mtime_ns=AN_HOUR_AGO_NS + 1)
    else:
        replacement = settled_file(tmp_path / "other.bin", b"new!", mtime_ns=os.stat(weights).st_mtime_ns)
        os.replace(replacement, weights)
    changed = os.stat(weights)

    assert cache.lookup(weights, changed) is None
    assert cache.sha256_of(weights, changed) == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert reads == [weights, weights]


def test_digests_survive_in_the_cache_file(tmp_path: Path, reads: list[Path]) -> None:
    weights = settled_file(tmp_path / "w.bin", b"weights")
    cache_file = tmp_path / "cache" / "hashes.json"
    first = HashCache(cache_file)
    digest = first.sha256_of(weights, os.stat(weights))
    first.save()

    again = HashCache(cache_file)

    assert again.sha256_of(weights, os.stat(weights)) == digest
    assert reads == [weights]
    document = json.loads(cache_file.read_text())
    assert document["format"] == "triton-groups.hash-cache/1"
    assert document["entries"][str(weights.absolute())]["sha256"] == digest
    assert [p.name for p in cache_file.parent.iterdir()] == ["hashes.json"]


def test_save_writes_nothing_when_nothing_was_learnt(tmp_path: Path) -> None:
    weights = settled_file(tmp_path / "w.bin", b"weights")
    cache_file = tmp_path / "hashes.json"
    cache = HashCache(cache_file)
    cache.sha256_of(weights, os.stat(weights))
    cache.save()
    written = os.stat(cache_file)

    warm = HashCache(cache_file)
    warm.sha256_of(weights, os.stat(weights))
    warm.save()

    assert (os.stat(cache_file).st_mtime_ns, os.stat(cache_file).st_ino) == (written.st_mtime_ns, written.st_ino)


def test_save_drops_files_that_changed_or_vanished(tmp_path: Path) -> None:
    kept, edited, deleted = (settled_file(tmp_path / name, name.encode()) for name in ("k", "e", "d"))
    cache_file = tmp_path / "hashes.json"
    cache = HashCache(cache_file)
    for path in (kept, edited, deleted):
        cache.sha256_of(path, os.stat(path))
    settled_file(edited, b"edited")
    deleted.unlink()

    cache.save()

    assert list(json.loads(cache_file.read_text())["entries"]) == [str(kept.absolute())]


def test_a_just_modified_file_is_hashed_but_not_remembered(tmp_path: Path, reads: list[Path]) -> None:
    fresh = tmp_path / "model.py"
    fresh.write_text("print('just saved')\n")
    cache = HashCache(None)

    digest = cache.sha256_of(fresh, os.stat(fresh))

    assert digest == hashlib.sha256(fresh.read_bytes()).hexdigest()
    assert cache.lookup(fresh, os.stat(fresh)) is None
    cache.sha256_of(fresh, os.stat(fresh))
    assert reads == [fresh, fresh]


def test_a_digest_of_a_file_the_caller_wrote_is_kept_even_if_fresh(tmp_path: Path) -> None:
    written = tmp_path / "artifact.zip"
    written.write_bytes(b"zip bytes")
    cache = HashCache(None)

    cache.record(written, os.stat(written), "ab" * 32)

    assert cache.lookup(written, os.stat(written)) == "ab" * 32


@pytest.mark.parametrize("content", [b"{not json", b'{"format": "something-else/9", "entries": {}}', b"[]"])
def test_an_unusable_cache_file_counts_as_empty(tmp_path: Path, content: bytes) -> None:
    weights = settled_file(tmp_path / "w.bin", b"weights")
    cache_file = tmp_path / "hashes.json"
    cache_file.write_bytes(content)

    cache = HashCache(cache_file)

    assert cache.lookup(weights, os.stat(weights)) is None
    assert cache.sha256_of(weights, os.stat(weights)) == hashlib.sha256(b"weights").hexdigest()


def test_a_file_that_is_not_a_cache_is_never_overwritten(tmp_path: Path) -> None:
    weights = settled_file(tmp_path / "w.bin", b"weights")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    cache = HashCache(notes)
    cache.sha256_of(weights, os.stat(weights))

    with pytest.raises(UserError) as caught:
        cache.save()

    assert [p.code for p in caught.value.problems] == ["hash.foreign_file"]
    assert notes.read_text() == "my notes\n"


def test_reading_a_vanished_file_is_a_user_error(tmp_path: Path) -> None:
    weights = settled_file(tmp_path / "w.bin", b"weights")
    st = os.stat(weights)
    weights.unlink()

    with pytest.raises(UserError) as caught:
        list(read_chunks(weights, st))

    assert [p.code for p in caught.value.problems] == ["hash.source_missing"]
    assert caught.value.problems[0].file == str(weights)


def test_a_file_growing_while_read_is_a_user_error(tmp_path: Path) -> None:
    weights = settled_file(tmp_path / "w.bin", b"weights")
    st = os.stat(weights)

    with pytest.raises(UserError) as caught:
        for _chunk in read_chunks(weights, st):
            with weights.open("ab") as handle:
                handle.write(b"more")

    assert [p.code for p in caught.value.problems] == ["hash.source_changed"]


def test_a_stat_of_another_file_is_refused_before_reading(tmp_path: Path) -> None:
    weights = settled_file(tmp_path / "w.bin", b"weights")
    st = os.stat(weights)
    settled_file(weights, b"WEIGHTS", mtime_ns=AN_HOUR_AGO_NS + 1)

    with pytest.raises(UserError) as caught:
        list(read_chunks(weights, st))

    assert [p.code for p in caught.value.problems] == ["hash.source_changed"]
