"""build_artifacts: reproducible zips of a repository, with manifests, atomic, rebuilt only when something changed."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from components.core import package
from components.core.hashcache import HashCache
from components.core.package import (
    EMPTY_SHA256,
    BuildResult,
    artifact_size_bounds,
    build_artifacts,
    plan_manifest,
    repository_digest,
    stream,
)
from components.core.plan import plan_from_folder
from components.core.problems import UserError

HOUR_NS = 3600 * 10**9
STUB = b"#!/bin/sh\nexec python3 \"$@\"\n"
FILES = {
    "add/config.pbtxt": b'name: "add"\nbackend: "python"\n',
    "add/1/model.py": b"class TritonPythonModel:\n    pass\n",
    "add/1/weights.bin": bytes(range(256)) * 5000,
    "add/triton_python_backend_stub": STUB,
    "ens/config.pbtxt": b'name: "ens"\nplatform: "ensemble"\n',
}
ZIP_NAMES = [
    "add/", "add/1/", "add/1/model.py", "add/1/weights.bin", "add/config.pbtxt", "add/triton_python_backend_stub",
    "ens/", "ens/1/", "ens/config.pbtxt",
]


def write_repository(root: Path, age_ns: int = HOUR_NS, reverse: bool = False) -> Path:
    """A small repository folder: a python model with a stub and weights, and an ensemble with an empty `1/`.

    Files are dated `age_ns` ago (weights usually are old; fresh files are not cached, see hashcache).
    """
    repo = root / "repo"
    mtime = time.time_ns() - age_ns
    for rel, data in sorted(FILES.items(), reverse=reverse):
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if data is STUB else 0o644)
        os.utime(path, ns=(mtime, mtime))
    (repo / "ens" / "1").mkdir()
    return repo


def rewrite(path: Path, data: bytes, age_ns: int = HOUR_NS // 2) -> None:
    """Change a file as an edit long enough ago would."""
    path.write_bytes(data)
    mtime = time.time_ns() - age_ns
    os.utime(path, ns=(mtime, mtime))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def identities(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repository(tmp_path / "src")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file opened with open() or os.open() from now on (the packager reads sources and zips this way); not
    the folders opened with O_DIRECTORY (to lock `out` and make renames durable)."""
    seen: list[Path] = []
    real, real_os = builtins.open, os.open

    def recording(file, *args, **kwargs):
        if isinstance(file, str | os.PathLike):
            seen.append(Path(file))
        return real(file, *args, **kwargs)

    def recording_os(file, flags, *args, **kwargs):
        if not flags & os.O_DIRECTORY:
            seen.append(Path(file))
        return real_os(file, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording)
    monkeypatch.setattr(os, "open", recording_os)
    return seen


def test_single_layout_zips_the_whole_repository_in_a_fixed_form(repo: Path, tmp_path: Path) -> None:
    result = build_artifacts(plan_from_folder(repo), tmp_path / "out")

    [artifact] = result.artifacts
    assert (artifact.name, artifact.path, artifact.models) == ("repository", tmp_path / "out" / "repository.zip",
                                                               ("add", "ens"))
    assert artifact.sha256 == hashlib.sha256(artifact.path.read_bytes()).hexdigest()
    assert artifact.size == artifact.path.stat().st_size
    with zipfile.ZipFile(artifact.path) as archive:
        infos = archive.infolist()
        assert archive.comment == b""
        assert archive.read("add/1/weights.bin") == FILES["add/1/weights.bin"]
    assert [i.filename for i in infos] == [*ZIP_NAMES, "repository.manifest.json"]
    assert {(i.date_time, i.create_system, i.compress_type, i.extra, i.comment) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), 3, zipfile.ZIP_STORED, b"", b"")
    }
    modes = {i.filename: oct(i.external_attr >> 16) for i in infos}
    assert modes["add/1/model.py"] == modes["repository.manifest.json"] == oct(0o100644)
    assert modes["add/triton_python_backend_stub"] == oct(0o100755)
    assert modes["ens/1/"] == modes["add/"] == oct(0o40755)


def test_per_model_zips_unzipped_together_give_the_repository(repo: Path, tmp_path: Path) -> None:
    result = build_artifacts(plan_from_folder(repo), tmp_path / "out", layout="per-model")

    assert [(a.name, a.path.name, a.models) for a in result.artifacts] == [
        ("add", "add.zip", ("add",)), ("ens", "ens.zip", ("ens",)),
    ]
    unpacked = tmp_path / "unpacked"
    for artifact in result.artifacts:
        with zipfile.ZipFile(artifact.path) as archive:
            assert archive.namelist()[-1] == f"{artifact.name}.manifest.json"
            archive.extractall(unpacked)
    found = {p.relative_to(unpacked).as_posix(): p.read_bytes() for p in unpacked.rglob("*") if p.is_file()}
    assert found.keys() - FILES.keys() == {"add.manifest.json", "ens.manifest.json"}
    assert {rel: found[rel] for rel in FILES} == FILES
    assert (unpacked / "ens" / "1").is_dir()
    assert not any((unpacked / "ens" / "1").iterdir())


@pytest.mark.parametrize("layout", ["single", "per-model"])
def test_same_repository_gives_the_same_bytes_from_any_folder_and_any_mtimes(tmp_path: Path, layout: str) -> None:
    here = write_repository(tmp_path / "here", age_ns=HOUR_NS)
    there = write_repository(tmp_path / "there" / "deeper", age_ns=50 * HOUR_NS, reverse=True)

    first = build_artifacts(plan_from_folder(here), tmp_path / "out1", layout=layout)
    second = build_artifacts(plan_from_folder(there), tmp_path / "elsewhere" / "out2", layout=layout)

    assert [(a.name, a.sha256, a.size) for a in first.artifacts] == [(a.name, a.sha256, a.size) for a in
                                                                      second.artifacts]
    assert first.repository_sha256 == second.repository_sha256
    assert snapshot(tmp_path / "out1").keys() == snapshot(tmp_path / "elsewhere" / "out2").keys()
    for a, b in zip(first.artifacts, second.artifacts, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()


def test_the_repository_hash_does_not_depend_on_the_layout(repo: Path, tmp_path: Path) -> None:
    single = build_artifacts(plan_from_folder(repo), tmp_path / "single")
    per_model = build_artifacts(plan_from_folder(repo), tmp_path / "per-model", layout="per-model")

    assert single.repository_sha256 == per_model.repository_sha256
    assert single.repository_sha256 == repository_digest(plan_manifest(plan_from_folder(repo)))
    assert single.artifacts[0].sha256 not in {a.sha256 for a in per_model.artifacts}


def test_the_manifest_is_inside_the_zip_and_beside_it(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    [artifact] = build_artifacts(plan_from_folder(repo), out).artifacts

    with zipfile.ZipFile(artifact.path) as archive:
        inside = json.loads(archive.read("repository.manifest.json"))
    beside = json.loads((out / "repository.manifest.json").read_text())

    assert beside.pop("zip") == {"file": "repository.zip", "sha256": artifact.sha256, "size": artifact.size}
    assert inside == beside
    assert inside["format"] == "triton-groups.manifest/1"
    assert (inside["artifact"], inside["layout"], inside["models"]) == ("repository", "single", ["add", "ens"])
    assert inside["entries"] == [entry.to_json() for entry in artifact.manifest]
    files = {e["path"]: e for e in inside["entries"] if not e["path"].endswith("/")}
    assert {path: (e["size"], e["sha256"]) for path, e in files.items()} == {
        path: (len(data), hashlib.sha256(data).hexdigest()) for path, data in FILES.items()
    }
    assert files["add/triton_python_backend_stub"]["mode"] == 0o755
    assert files["add/1/model.py"]["mode"] == 0o644
    assert [e for e in inside["entries"] if e["path"].endswith("/")] == [
        {"path": "ens/1/", "size": 0, "sha256": EMPTY_SHA256, "mode": 0o755}
    ]


def test_plan_manifest_tells_what_a_build_would_change_without_writing(repo: Path, tmp_path: Path) -> None:
    present = sorted(tmp_path.rglob("*"))
    planned = plan_manifest(plan_from_folder(repo))
    assert sorted(tmp_path.rglob("*")) == present

    built = build_artifacts(plan_from_folder(repo), tmp_path / "out", layout="per-model")
    assert planned == {a.name: a.manifest for a in built.artifacts}

    rewrite(repo / "add" / "1" / "weights.bin", b"retrained")
    replanned = plan_manifest(plan_from_folder(repo), HashCache(tmp_path / "out" / ".hash-cache.json"))
    changed = {(model, e.path) for model, entries in replanned.items() for e in set(entries) - set(planned[model])}
    assert changed == {("add", "add/1/weights.bin")}


def test_an_unchanged_repository_is_neither_read_nor_rewritten(
    repo: Path, tmp_path: Path, opened: list[Path]
) -> None:
    out = tmp_path / "out"
    first = build_artifacts(plan_from_folder(repo), out, layout="per-model")
    before = identities(out)
    plan = plan_from_folder(repo)  # the plan reads each config.pbtxt; the packager must read nothing more
    opened.clear()

    again = build_artifacts(plan, out, layout="per-model")

    assert again == first
    assert identities(out) == before
    assert [p for p in opened if p.suffix != ".json"] == []


def test_a_changed_file_rewrites_only_its_models_zip(repo: Path, tmp_path: Path, opened: list[Path]) -> None:
    out = tmp_path / "out"
    first = build_artifacts(plan_from_folder(repo), out, layout="per-model")
    before = identities(out)
    rewrite(repo / "add" / "1" / "model.py", b"class TritonPythonModel:\n    version = 2\n")
    plan = plan_from_folder(repo)
    opened.clear()

    again = build_artifacts(plan, out, layout="per-model")

    assert again.artifacts[0].sha256 != first.artifacts[0].sha256
    assert again.artifacts[1] == first.artifacts[1]
    assert identities(out)["ens.zip"] == before["ens.zip"]
    assert identities(out)["add.zip"] != before["add.zip"]
    read = {p.relative_to(repo).as_posix() for p in opened if p.is_relative_to(repo)}
    assert read == {"add/1/model.py", "add/1/weights.bin", "add/config.pbtxt", "add/triton_python_backend_stub"}
    assert again.repository_sha256 != first.repository_sha256


def test_a_touched_large_file_is_rezipped_in_one_pass_to_the_same_bytes(
    repo: Path, tmp_path: Path, opened: list[Path]
) -> None:
    out = tmp_path / "out"
    first = build_artifacts(plan_from_folder(repo), out)
    before = identities(out)
    weights = repo / "add" / "1" / "weights.bin"
    assert weights.stat().st_size > package.SMALL_FILE_BYTES
    rewrite(weights, weights.read_bytes(), age_ns=HOUR_NS // 3)
    opened.clear()

    again = build_artifacts(plan_from_folder(repo), out)

    assert again == first
    assert identities(out)["repository.zip"] != before["repository.zip"]
    assert opened.count(weights) == 1


def test_a_small_file_saved_again_unchanged_does_not_rewrite_the_zip(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build_artifacts(plan_from_folder(repo), out)
    before = identities(out)
    model_py = repo / "add" / "1" / "model.py"
    model_py.write_bytes(model_py.read_bytes())

    again = build_artifacts(plan_from_folder(repo), out)

    assert again == first
    assert identities(out)["repository.zip"] == before["repository.zip"]


def test_a_tampered_zip_is_rebuilt(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build_artifacts(plan_from_folder(repo), out)
    data = bytearray(first.artifacts[0].path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.artifacts[0].path.write_bytes(bytes(data))

    again = build_artifacts(plan_from_folder(repo), out)

    assert again == first
    assert hashlib.sha256(first.artifacts[0].path.read_bytes()).hexdigest() == first.artifacts[0].sha256


@pytest.mark.parametrize("layout", ["single", "per-model"])
def test_a_file_vanishing_mid_build_leaves_the_previous_artifacts(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    out = tmp_path / "out"
    build_artifacts(plan_from_folder(repo), out, layout=layout)
    before = snapshot(out)
    rewrite(repo / "add" / "1" / "model.py", b"# edited\n")
    rewrite(repo / "ens" / "config.pbtxt", b'name: "ens"\nplatform: "ensemble"\n# edited\n')
    plan = plan_from_folder(repo)
    real = stream.copy_chunks

    def deleting_the_ensemble_config(path: Path, st: os.stat_result, *args):
        (repo / "ens" / "config.pbtxt").unlink(missing_ok=True)
        return real(path, st, *args)

    monkeypatch.setattr(stream, "copy_chunks", deleting_the_ensemble_config)
    with pytest.raises(UserError) as caught:
        build_artifacts(plan, out, layout=layout)

    assert [(p.code, p.file) for p in caught.value.problems] == [
        ("hash.source_missing", str(repo / "ens" / "config.pbtxt"))
    ]
    assert snapshot(out) == before


def test_a_removed_models_artifact_is_removed(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_artifacts(plan_from_folder(repo), out, layout="per-model")
    shutil.rmtree(repo / "ens")

    result = build_artifacts(plan_from_folder(repo), out, layout="per-model")

    assert [a.name for a in result.artifacts] == ["add"]
    assert result.removed == ("ens.zip", "ens.manifest.json")
    assert sorted(snapshot(out)) == [".hash-cache.json", "add.manifest.json", "add.zip"]


@pytest.mark.parametrize(("before", "after", "left"), [
    ("single", "per-model", ["add.manifest.json", "add.zip", "ens.manifest.json", "ens.zip"]),
    ("per-model", "single", ["repository.manifest.json", "repository.zip"]),
])
def test_switching_layout_leaves_only_the_new_layouts_artifacts(
    repo: Path, tmp_path: Path, before: str, after: str, left: list[str]
) -> None:
    out = tmp_path / "out"
    build_artifacts(plan_from_folder(repo), out, layout=before)  # type: ignore[arg-type]

    result = build_artifacts(plan_from_folder(repo), out, layout=after)  # type: ignore[arg-type]

    assert sorted(snapshot(out)) == [".hash-cache.json", *left]
    assert sorted(str(a.path) for a in result.artifacts) == [str(out / name) for name in left if name.endswith(".zip")]


def test_only_artifacts_this_tool_wrote_are_removed(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_artifacts(plan_from_folder(repo), out, layout="per-model")
    mine = {
        "notes.txt": b"my notes",
        "backup.zip": b"PK my own archive",
        "other.zip": b"PK an archive with a manifest of another tool",
        "other.manifest.json": json.dumps({"format": "another-tool/1", "artifact": "other"}).encode(),
        "renamed.manifest.json": (out / "ens.manifest.json").read_bytes(),
    }
    for name, data in mine.items():
        (out / name).write_bytes(data)
    (out / "ens.zip").write_bytes(b"PK a zip the user put in place of the built one")
    shutil.rmtree(repo / "ens")

    result = build_artifacts(plan_from_folder(repo), out, layout="per-model")

    assert result.removed == ("ens.manifest.json",)
    assert snapshot(out) == {
        **mine, ".hash-cache.json": (out / ".hash-cache.json").read_bytes(),
        "add.manifest.json": (out / "add.manifest.json").read_bytes(), "add.zip": (out / "add.zip").read_bytes(),
        "ens.zip": b"PK a zip the user put in place of the built one",
    }


def test_a_failed_build_keeps_the_artifacts_it_would_have_replaced(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    build_artifacts(plan_from_folder(repo), out, layout="per-model")
    before = snapshot(out)
    plan = plan_from_folder(repo)
    real = stream.copy_chunks

    def deleting_the_ensemble_config(path: Path, st: os.stat_result, *args):
        (repo / "ens" / "config.pbtxt").unlink(missing_ok=True)
        return real(path, st, *args)

    monkeypatch.setattr(stream, "copy_chunks", deleting_the_ensemble_config)
    with pytest.raises(UserError) as caught:
        build_artifacts(plan, out, layout="single")

    assert [p.code for p in caught.value.problems] == ["hash.source_missing"]

    assert snapshot(out) == before


@pytest.mark.parametrize("layout", ["single", "per-model"])
def test_artifact_sizes_are_known_before_building(repo: Path, tmp_path: Path, layout: str) -> None:
    (repo / "add" / "1" / "donn\u00e9es \u4e2d.bin").write_bytes(b"\x00" * 1000)
    (repo / "add" / "labels").mkdir()
    plan = plan_from_folder(repo)

    sizes = artifact_size_bounds(plan, layout)  # type: ignore[arg-type]
    result = build_artifacts(plan, tmp_path / "out", layout=layout)  # type: ignore[arg-type]

    assert sizes == {a.name: a.path.stat().st_size for a in result.artifacts}
    expected = {"repository"} if layout == "single" else {"add"}
    assert artifact_size_bounds(plan, layout, ["add"]).keys() == expected  # type: ignore[arg-type]


def test_artifact_sizes_count_the_zip64_records_of_large_archives(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 4000)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 5)
    plan = plan_from_folder(repo)

    sizes = artifact_size_bounds(plan, "single")
    [artifact] = build_artifacts(plan, tmp_path / "out").artifacts

    assert b"PK\x06\x06" in artifact.path.read_bytes()
    assert sizes == {"repository": artifact.path.stat().st_size}


def test_a_file_growing_mid_build_fails_it(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    weights = repo / "add" / "1" / "weights.bin"
    plan = plan_from_folder(repo)
    real = stream.copy_chunks

    def appending_while_read(path: Path, st: os.stat_result, *args):
        for number, chunk in enumerate(real(path, st, *args)):
            yield chunk
            if path == weights and number == 0:
                with weights.open("ab") as handle:
                    handle.write(b"still downloading")

    monkeypatch.setattr(stream, "copy_chunks", appending_while_read)
    with pytest.raises(UserError) as caught:
        build_artifacts(plan, out)

    assert [(p.code, p.file) for p in caught.value.problems] == [("hash.source_changed", str(weights))]
    assert [p.name for p in out.iterdir()] == []


def test_a_file_gone_since_planning_is_named_with_its_place_in_the_repository(repo: Path, tmp_path: Path) -> None:
    plan = plan_from_folder(repo)
    (repo / "add" / "1" / "weights.bin").unlink()

    with pytest.raises(UserError) as caught:
        build_artifacts(plan, tmp_path / "out")

    [problem] = caught.value.problems
    assert (problem.code, problem.field) == ("package.source_missing", "add/1/weights.bin")
    assert str(problem).startswith(str(repo / "add" / "1" / "weights.bin"))


def test_a_repository_with_a_file_it_cannot_read_is_not_built(repo: Path, tmp_path: Path) -> None:
    link = repo / "add" / "1" / "tokenizer.json"
    link.symlink_to(tmp_path / "deleted.json")

    with pytest.raises(UserError) as caught:
        build_artifacts(plan_from_folder(repo), tmp_path / "out")

    assert [(p.code, p.file) for p in caught.value.problems] == [("repository.broken_link", str(link))]
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.zip"
    out.write_bytes(b"")

    with pytest.raises(UserError) as caught:
        build_artifacts(plan_from_folder(repo), out)

    assert [p.code for p in caught.value.problems] == ["package.out_not_folder"]


def test_the_hash_cache_can_live_elsewhere(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "caches" / "repo.json"

    build_artifacts(plan_from_folder(repo), tmp_path / "out", cache_path=cache)

    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["repository.manifest.json", "repository.zip"]
    assert str((repo / "add" / "1" / "weights.bin").absolute()) in json.loads(cache.read_text())["entries"]


def test_the_result_as_json(repo: Path, tmp_path: Path) -> None:
    result: BuildResult = build_artifacts(plan_from_folder(repo), tmp_path / "out", layout="per-model")

    assert result.layout == "per-model"
    real = repo.resolve()
    sources = {
        "add": [{"path": f"add/{rel}", "source": str(real / "add" / rel)}
                for rel in ("1/model.py", "1/weights.bin", "config.pbtxt", "triton_python_backend_stub")],
        "ens": [{"path": "ens/config.pbtxt", "source": str(real / "ens" / "config.pbtxt")}],
    }
    assert result.to_json() == {
        "artifacts": [
            {"name": a.name, "path": str(a.path), "sha256": a.sha256, "size": a.size, "files": sources[a.name]}
            for a in result.artifacts
        ],
        "repository_sha256": result.repository_sha256,
    }
