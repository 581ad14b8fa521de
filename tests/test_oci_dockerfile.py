"""The Triton image's Dockerfile: only the backends the group needs, copied from the full NGC image."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from components.core.oci.dockerfile import backends_for, min_image_for, render_dockerfile
from components.core.plan import plan_from_folder, plan_from_spec
from components.core.spec import GroupSpec, load_spec

BASE = "nvcr.io/nvidia/tritonserver:24.08-py3"


def heterogeneous_spec(folder: Path) -> GroupSpec:
    """Python, ONNX and TorchScript models, an ensemble, and a bring-your-own config (a TensorRT plan)."""
    for name in ("pre.py", "classifier.onnx", "cnn.pt", "engine.plan"):
        (folder / name).write_bytes(b"model bytes")
    (folder / "engine.pbtxt").write_text('name: "engine"\nplatform: "tensorrt_plan"\nmax_batch_size: 1\n')
    (folder / "group.yaml").write_text(textwrap.dedent("""\
        name: vision
        models:
          - {name: pre, backend: python, versions: {1: pre.py}}
          - {name: classifier, platform: onnxruntime_onnx, versions: {1: classifier.onnx}}
          - {name: cnn, platform: pytorch_libtorch, versions: {1: cnn.pt}}
          - {name: engine, config: engine.pbtxt, versions: {1: engine.plan}}
          - name: pipeline
            platform: ensemble
            ensemble:
              steps:
                - {model: pre, input_map: {IN: RAW}, output_map: {OUT: PIXELS}}
                - {model: classifier, input_map: {PIXELS: PIXELS}, output_map: {PROBS: PROBS}}
    """))
    return load_spec(folder / "group.yaml")


def copied_backends(dockerfile: str) -> list[str]:
    return re.findall(r"^COPY --chown=1000:1000 --from=full /opt/tritonserver/backends/(\w+) "
                      r"/opt/tritonserver/backends/\1$", dockerfile, flags=re.MULTILINE)


def test_the_backends_come_from_the_models_including_a_bring_your_own_config(tmp_path: Path) -> None:
    spec = heterogeneous_spec(tmp_path)
    assert backends_for(spec) == {"python", "onnxruntime", "pytorch", "tensorrt"}
    assert backends_for(plan_from_spec(spec)) == {"python", "onnxruntime", "pytorch", "tensorrt"}


def test_a_repository_folder_gives_its_backends_from_its_configs(tmp_path: Path) -> None:
    for name, config in {
        "tf": 'platform: "tensorflow_savedmodel"',
        "custom": 'backend: "python"',
        "chain": 'platform: "ensemble"\nensemble_scheduling { step { model_name: "tf" } }',
    }.items():
        (tmp_path / name / "1").mkdir(parents=True)
        (tmp_path / name / "config.pbtxt").write_text(f'name: "{name}"\n{config}\n')
    assert backends_for(plan_from_folder(tmp_path)) == {"tensorflow", "python"}


def test_only_the_needed_backends_are_copied_from_the_full_image_onto_the_min_image(tmp_path: Path) -> None:
    dockerfile = render_dockerfile(backends_for(heterogeneous_spec(tmp_path)), BASE)
    assert f"FROM {BASE} AS full\n\nFROM {BASE}-min\n" in dockerfile
    assert copied_backends(dockerfile) == ["onnxruntime", "python", "pytorch", "tensorrt"]
    for server_part in ("bin bin/", "lib lib/", "include include/"):
        assert f"COPY --chown=1000:1000 --from=full /opt/tritonserver/{server_part}\n" in dockerfile
    assert "RUN chown triton-server:triton-server /opt/tritonserver/backends\n" in dockerfile
    assert 'ENTRYPOINT ["/opt/nvidia/nvidia_entrypoint.sh"]' in dockerfile
    assert "tensorflow" not in dockerfile


def test_system_packages_follow_the_backends() -> None:
    python_only = render_dockerfile({"python"}, BASE)
    assert "libgomp1" not in python_only
    assert "        libarchive-dev \\\n" in python_only and 'pip3 install --upgrade "numpy<2" virtualenv' in python_only
    assert "LD_LIBRARY_PATH" not in python_only
    onnx = render_dockerfile({"onnxruntime"}, BASE)
    assert "        libgomp1 \\\n" in onnx and "libarchive-dev" not in onnx
    torch = render_dockerfile({"pytorch"}, BASE)
    assert "ENV LD_LIBRARY_PATH=/opt/hpcx/ucc/lib/:/opt/hpcx/ucx/lib/:${LD_LIBRARY_PATH}" in torch
    assert "libgfortran5" not in torch
    assert "        libgfortran5 \\\n" in render_dockerfile({"pytorch"}, BASE, platform="linux/arm64")
    assert "TF_ENABLE_WINOGRAD_NONFUSED=1" in render_dockerfile({"tensorflow"}, BASE)


def test_the_output_is_deterministic() -> None:
    first = render_dockerfile(["python", "onnxruntime", "pytorch"], BASE)
    assert render_dockerfile(["pytorch", "python", "onnxruntime", "python"], BASE) == first
    assert first.encode() == render_dockerfile(("onnxruntime", "pytorch", "python"), BASE).encode()
    assert first.endswith("\n") and "\r" not in first


def test_the_min_image_is_derived_or_given() -> None:
    assert min_image_for(BASE) == f"{BASE}-min"
    mirror = "registry.example.com:5000/triton:24.08-py3"
    assert min_image_for(mirror) == f"{mirror}-min"
    assert min_image_for(f"{BASE}@sha256:{'0' * 64}") is None
    assert min_image_for("nvcr.io/nvidia/tritonserver:24.08-py3-sdk") is None
    assert min_image_for("ubuntu") is None
    pinned_base = f"{BASE}@sha256:{'0' * 64}"
    pinned_min = f"{BASE}-min@sha256:{'1' * 64}"
    dockerfile = render_dockerfile({"python"}, pinned_base, min_image=pinned_min)
    assert f"FROM {pinned_base} AS full\n\nFROM {pinned_min}\n" in dockerfile
    with pytest.raises(ValueError, match="cannot derive the -min image"):
        render_dockerfile({"python"}, pinned_base)


def test_a_backend_name_that_is_not_a_folder_name_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a Triton backend name"):
        render_dockerfile({"python", "../etc"}, BASE)
