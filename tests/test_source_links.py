"""Symbolic links among a model's files: followed while they stay inside the model's own source folders (the folders
its spec paths name, or its repository folder), refused otherwise naming the link and its target, unless the spec
lists the target's folder in the model's `allow_links_to`. Paths the spec writes itself may point anywhere; the
build summary shows the source of every packed file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from triton_models import PYTHON_MODEL, one_model_repository

from components.cli import main

SPEC = """\
name: g
models:
  - name: m
    backend: python
    versions: {{1: {version}}}
    inputs: [{{name: IN, data_type: FP32, dims: [3]}}]
    outputs: [{{name: OUT, data_type: FP32, dims: [3]}}]
{extra}"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def group(root: Path, version: str = "models/m/1", extra: str = "") -> Path:
    """A spec whose model m has the version folder models/m/1 (holding model.py) unless `version` says otherwise."""
    (root / "models" / "m" / "1").mkdir(parents=True)
    (root / "models" / "m" / "1" / "model.py").write_text(PYTHON_MODEL)
    spec = root / "group.yaml"
    spec.write_text(SPEC.format(version=version, extra=extra))
    return spec


def outside(root: Path) -> Path:
    """A secret file and a folder of documents outside the spec's folder."""
    (root / "outside" / "docs").mkdir(parents=True)
    (root / "outside" / "shadow").write_text("root:$6$secret\n")
    for index in range(50):
        (root / "outside" / "docs" / f"page{index}.txt").write_text("doc\n")
    return root / "outside"


def zip_names(out: Path) -> list[str]:
    with zipfile.ZipFile(out / "repository.zip") as archive:
        return archive.namelist()


def test_a_link_in_a_version_folder_to_a_file_outside_is_refused_naming_link_and_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = group(tmp_path / "g")
    secret = outside(tmp_path) / "shadow"
    link = tmp_path / "g" / "models" / "m" / "1" / "shadow"
    link.symlink_to(secret)

    for command in (["validate", str(spec)], ["build", str(spec), "--out", str(tmp_path / "out")]):
        code, _, err = run(capsys, *command)

        assert code == 1
        assert f"{link}: is a symbolic link to {secret}, outside this model's source folders; copy the file in, or " \
               "list its folder in the model's allow_links_to" in err.splitlines()
    assert not (tmp_path / "out").exists()


def test_a_folder_link_to_outside_is_one_problem_not_thousands_of_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = group(tmp_path / "g")
    docs = outside(tmp_path) / "docs"
    (tmp_path / "g" / "models" / "m" / "1" / "doc").symlink_to(docs)

    code, _, err = run(capsys, "validate", str(spec))

    assert code == 1
    assert [line for line in err.splitlines() if "symbolic link" in line] == [
        f"{tmp_path / 'g' / 'models' / 'm' / '1' / 'doc'}: is a symbolic link to {docs}, outside this model's source "
        "folders; copy the file in, or list its folder in the model's allow_links_to"
    ]


def test_links_that_stay_inside_the_models_source_folders_are_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = group(tmp_path / "g", extra="    version_policy: {all: true}\n")
    spec.write_text(spec.read_text().replace("{1: models/m/1}", "{1: models/m/1, 2: models/m/2}"))
    one, two = tmp_path / "g" / "models" / "m" / "1", tmp_path / "g" / "models" / "m" / "2"
    (one / "weights.bin").write_bytes(b"\x00" * 16)
    (one / "weights-latest.bin").symlink_to("weights.bin")
    two.mkdir()
    (two / "model.py").symlink_to(one / "model.py")
    (two / "weights.bin").symlink_to("../1/weights.bin")

    code, printed, err = run(capsys, "build", str(spec), "--out", str(tmp_path / "out"), "--json")

    assert code == 0, err
    assert zip_names(tmp_path / "out") == [
        "m/", "m/1/", "m/1/model.py", "m/1/weights-latest.bin", "m/1/weights.bin", "m/2/", "m/2/model.py",
        "m/2/weights.bin", "m/config.pbtxt", "repository.manifest.json",
    ]
    [artifact] = json.loads(printed)["artifacts"]
    real = one.resolve()
    assert {f["path"]: f["source"] for f in artifact["files"]} == {
        "m/1/model.py": str(real / "model.py"),
        "m/1/weights-latest.bin": str(real / "weights.bin"),
        "m/1/weights.bin": str(real / "weights.bin"),
        "m/2/model.py": str(real / "model.py"),
        "m/2/weights.bin": str(real / "weights.bin"),
        "m/config.pbtxt": f"rendered from {spec.resolve()}",
    }


def test_allow_links_to_lets_links_into_a_named_folder_be_packed_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = group(tmp_path / "g", extra="    allow_links_to: [../outside]\n")
    secret = outside(tmp_path) / "shadow"
    (tmp_path / "g" / "models" / "m" / "1" / "shadow").symlink_to(secret)
    (tmp_path / "g" / "models" / "m" / "1" / "etc").symlink_to("/etc")

    code, _, err = run(capsys, "validate", str(spec))
    assert code == 1, "a link outside the allowed folder is still refused"
    assert "/etc, outside this model's source folders" in err
    (tmp_path / "g" / "models" / "m" / "1" / "etc").unlink()

    code, printed, err = run(capsys, "build", str(spec), "--out", str(tmp_path / "out"))

    assert code == 0, err
    assert "m/1/shadow" in zip_names(tmp_path / "out")
    assert f"  m/1/shadow  <- {secret.resolve()}" in printed.splitlines()


def test_a_spec_path_that_is_itself_a_link_outside_is_refused_at_its_line_and_its_target_may_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.py").write_text(PYTHON_MODEL)
    spec = group(tmp_path / "g", version="models/m/model.py")
    (tmp_path / "g" / "models" / "m" / "model.py").symlink_to(weights / "model.py")

    code, _, err = run(capsys, "validate", str(spec))

    assert code == 1
    target = weights.resolve() / "model.py"
    assert f"{spec}:5: models[m].versions.1: models/m/model.py is a symbolic link to {target}, outside this model's " \
           "source folders; write the target's path in the spec, copy the file in, or list its folder in " \
           "allow_links_to" in err.splitlines()

    spec.write_text(spec.read_text().replace("models/m/model.py", "../weights/model.py"))
    code, printed, err = run(capsys, "build", str(spec), "--out", str(tmp_path / "out"))

    assert code == 0, err
    assert f"  m/1/model.py  <- {weights.resolve() / 'model.py'}" in printed.splitlines()


def test_a_repository_folder_refuses_links_leaving_a_model_folder_and_link_loops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_model_repository(tmp_path)
    secret = outside(tmp_path) / "shadow"
    (repo / "m" / "1" / "shadow").symlink_to(secret)
    (repo / "m" / "1" / "again").symlink_to(repo / "m")
    (repo / "other").symlink_to(tmp_path / "outside")

    code, _, err = run(capsys, "validate", str(repo))

    assert code == 1
    hint = ("outside its model folder; copy the file in (cp -L), or describe the group in a spec and list the folder "
            "in the model's allow_links_to")
    lines = err.splitlines()
    assert f"{repo / 'm' / '1' / 'shadow'}: is a symbolic link to {secret}, {hint}" in lines
    assert f"{repo / 'other'}: is a symbolic link to {tmp_path / 'outside'}, {hint}" in lines
    assert f"{repo / 'm' / '1' / 'again'}: is a symbolic link to {repo / 'm'}, a folder that holds it (a loop); " \
           "remove it" in lines
