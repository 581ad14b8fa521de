"""`triton-groups validate SPEC_OR_REPO [--config-only]`: exit 0 when valid, 1 with one
`<model>/config.pbtxt: <field>: <message>` line per problem on stderr, 2 on bad usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from triton_models import PYTHON_CONFIG, PYTHON_MODEL, one_model_repository

from components.cli import main

SPEC = """\
name: demo
models:
  - name: m
    backend: python
    versions: {1: model.py}
    inputs: [{name: IN, data_type: FP32, dims: [3]}]
    outputs: [{name: OUT, data_type: FP32, dims: [3]}]
"""


def test_a_valid_spec_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.py").write_text(PYTHON_MODEL)
    (tmp_path / "group.yaml").write_text(SPEC)
    assert main(["validate", str(tmp_path / "group.yaml")]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{tmp_path / 'group.yaml'}: valid\n"
    assert captured.err == ""


def test_an_invalid_repository_exits_1_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = PYTHON_CONFIG.replace('name: "m"', 'name: "n"').replace("dims: [ 3 ] } ]\noutput",
                                                                    "dims: [ 0 ] } ]\noutput")
    repository = one_model_repository(tmp_path, broken)
    assert main(["validate", str(repository)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "m/config.pbtxt: input[IN].dims: dims [0] of input 'IN': every dimension must be 1 or more, or -1 for a "
        "variable size",
        "m/config.pbtxt: name: name 'n' does not match the model folder 'm'; Triton requires them to be equal: write "
        'name: "m" or leave name out',
        f"2 problem(s) found in {repository}",
    ]


def test_warnings_alone_do_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repository = one_model_repository(tmp_path, PYTHON_CONFIG.replace('"python"', '"my_backend"'), files={})
    assert main(["validate", str(repository)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("m/config.pbtxt: backend: warning: backend 'my_backend'")
    assert captured.err == ""


def test_config_only_skips_the_file_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repository = one_model_repository(tmp_path, files={})
    assert main(["validate", str(repository)]) == 1
    assert "m/config.pbtxt: default_model_filename: version folder 1/ has no model.py" in capsys.readouterr().err
    assert main(["validate", "--config-only", str(repository)]) == 0


def test_a_bad_spec_exits_1_with_file_and_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "group.yaml").write_text(SPEC.replace("backend: python", "backend: python\n    max_batch: 4"))
    assert main(["validate", str(tmp_path / "group.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith(f"{tmp_path / 'group.yaml'}:5: models[m].max_batch: unknown key")
    assert "Traceback" not in err


def test_a_missing_path_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nowhere")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["validate"], ["validate", "repo", "--strict"]])
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert "usage: triton-groups" in capsys.readouterr().err
