"""Repository content: one format from manifest entries to model digests, and content older versions wrote."""

from __future__ import annotations

from components.core.changes import model_changes
from components.core.content import content_of, model_digests, normalized
from components.core.package import ManifestEntry
from components.providers.repository import TritonModelRepositoryProvider

SHA_A, SHA_B = "a" * 64, "b" * 64


def manifests(mode: int = 0o644, sha: str = SHA_A) -> dict[str, list[ManifestEntry]]:
    return {"m": [ManifestEntry("m/config.pbtxt", 10, SHA_B, 0o644), ManifestEntry("m/1/model.py", 5, sha, mode)]}


def test_content_records_each_files_sha256_size_and_mode_by_path_inside_the_model() -> None:
    assert content_of(manifests()) == {"m": {
        "1/model.py": {"sha256": SHA_A, "size": 5, "mode": 0o644},
        "config.pbtxt": {"sha256": SHA_B, "size": 10, "mode": 0o644},
    }}


def test_a_mode_only_change_is_a_change_of_that_model_and_of_its_digest() -> None:
    before, after = content_of(manifests()), content_of(manifests(mode=0o755))

    assert [change.describe() for change in model_changes(before, after)] == ["model m: 1/model.py changed"]
    assert model_digests(before) != model_digests(after)
    provider = TritonModelRepositoryProvider()
    props = {"layout": "single", "out_dir": "out"}
    assert provider.diff("id", {**props, "content": before}, {**props, "content": after}).changes


def test_content_written_by_older_versions_still_reads_and_compares_by_bytes() -> None:
    older = {"m": {"1/model.py": SHA_A, "config.pbtxt": SHA_B}}
    current = content_of(manifests())

    assert normalized(older)["m"]["1/model.py"] == {"sha256": SHA_A, "size": None, "mode": None}
    assert model_changes(older, current) == []
    assert [c.describe() for c in model_changes(older, content_of(manifests(sha=SHA_B)))] == [
        "model m: 1/model.py changed"]
    provider = TritonModelRepositoryProvider()
    props = {"layout": "single", "out_dir": "out"}
    assert not provider.diff("id", {**props, "content": older}, {**props, "content": current}).changes
