"""GPU ids against the target: `check_gpu_ids` for a given GPU count (an OCI shape's), `local_gpu_count` for this
machine, and `local_gpu_problems` for the local target, which serves ONNX and TorchScript models on the CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from components.core.plan import plan_from_folder
from components.core.render import parse_config
from components.core.validate import check_gpu_ids, local_gpu_count, local_gpu_problems

PYTHON = 'name: "m"\nbackend: "python"\ninput [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]\n' \
         'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'


def groups(text: str) -> dict[str, object]:
    return {"m": parse_config(PYTHON + f"instance_group [ {text} ]\n")}


@pytest.mark.parametrize(("group", "gpu_count", "expected"), [
    ("{ kind: KIND_GPU gpus: [ 0, 1 ] }", 2, []),
    ("{ kind: KIND_GPU gpus: [ 1, 2, 3 ] }", 2, [("instance_group[0].gpus", "gpus.beyond_target")]),
    ("{ kind: KIND_GPU }", 1, []),
    ("{ kind: KIND_GPU }", 0, [("instance_group[0].kind", "gpus.none_available")]),
    ('{ name: "g" kind: KIND_AUTO gpus: [ 0 ] }', 0, [("instance_group[g].gpus", "gpus.beyond_target")]),
    ('{ name: "g" kind: KIND_AUTO gpus: [ 0 ] }', 1, []),
    ("{ kind: KIND_AUTO }", 0, []),
    ("{ kind: KIND_CPU }, { kind: KIND_GPU gpus: [ 4 ] }", 4, [("instance_group[1].gpus", "gpus.beyond_target")]),
])
def test_gpu_ids_against_a_gpu_count(group: str, gpu_count: int, expected: list[tuple[str, str]]) -> None:
    problems = check_gpu_ids(groups(group), gpu_count, "shape VM.GPU.A10.2")  # type: ignore[arg-type]
    assert [(p.field, p.code) for p in problems] == expected
    assert all(p.file == "m/config.pbtxt" for p in problems)


def test_the_message_names_the_group_the_model_and_the_target() -> None:
    problems = check_gpu_ids(groups("{ kind: KIND_GPU gpus: [ 1, 2 ] }"), 2, "shape VM.GPU.A10.2")  # type: ignore[arg-type]
    assert [str(p) for p in problems] == [
        "m/config.pbtxt: instance_group[0].gpus: instance group m_0 of model m asks for GPU id(s) 2, but shape "
        "VM.GPU.A10.2 has 2 GPUs (ids 0 to 1); use GPU ids 0 to 1, or a target with more GPUs"
    ]


def test_ensembles_have_no_instance_groups_to_check() -> None:
    ensemble = parse_config('name: "e"\nplatform: "ensemble"\ninstance_group [ { kind: KIND_GPU } ]\n')
    assert check_gpu_ids({"e": ensemble}, 0, "this machine") == []


def test_the_local_gpu_count_from_the_driver_folder(tmp_path: Path) -> None:
    for index in range(3):
        (tmp_path / f"0000:0{index}:00.0").mkdir()
    assert local_gpu_count(tmp_path) == 3


def test_the_local_gpu_count_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA A10 (UUID: GPU-1)'\necho 'GPU 1: NVIDIA A10 (UUID: GPU-2)'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    assert local_gpu_count(tmp_path / "no-driver") == 2
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert local_gpu_count(tmp_path / "no-driver") == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert local_gpu_count(tmp_path / "no-driver") == 0


def test_the_local_target_runs_onnx_models_on_the_cpu(tmp_path: Path) -> None:
    onnx = PYTHON.replace('backend: "python"', 'platform: "onnxruntime_onnx"').replace('"m"', '"o"')
    for name, text in (("m", PYTHON), ("o", onnx)):
        (tmp_path / name / "1").mkdir(parents=True)
        (tmp_path / name / "config.pbtxt").write_text(text + "instance_group [ { kind: KIND_GPU gpus: [ 0 ] } ]\n")
    plan = plan_from_folder(tmp_path)
    assert [(p.file, p.code) for p in local_gpu_problems(plan, gpu_count=0)] == [
        ("m/config.pbtxt", "gpus.beyond_target")
    ]
    assert local_gpu_problems(plan, gpu_count=1) == []
