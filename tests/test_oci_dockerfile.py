"""The Triton image's Dockerfile: only the backends the group needs, copied from the full NGC image, with the
runtime packages of the base image's Triton release (as that release's build.py installs them)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from components.core.oci_target.dockerfile import RELEASES, backends_for, min_image_for, release_of, render_dockerfile
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


def apt_steps(dockerfile: str) -> list[list[str]]:
    """The packages of each `apt-get install` step, in order."""
    steps = []
    for block in dockerfile.split("apt-get install -y --no-install-recommends \\\n")[1:]:
        packages = []
        for line in block.splitlines():
            if not line.startswith("        ") or line.strip().startswith("&&"):
                break
            packages.append(line.strip().removesuffix(" \\").strip())
        steps.append(packages)
    return steps


COMMON = ["clang", "curl", "dirmngr", "git", "gperf", "libb64-0d", "libcurl4-openssl-dev", "libgoogle-perftools-dev",
          "libjemalloc-dev", "libnuma-dev"]
COMPAT = ("RUN ln -sf ${_CUDA_COMPAT_PATH}/lib.real ${_CUDA_COMPAT_PATH}/lib \\\n"
          "    && echo ${_CUDA_COMPAT_PATH}/lib > /etc/ld.so.conf.d/00-cuda-compat.conf \\\n"
          "    && ldconfig \\\n"
          "    && rm -f ${_CUDA_COMPAT_PATH}/lib\n")


def test_release_2408_installs_libre2_9_and_the_compat_step_of_its_build_py() -> None:
    dockerfile = render_dockerfile({"python"}, "nvcr.io/nvidia/tritonserver:24.08-py3")
    assert apt_steps(dockerfile) == [
        [*COMMON, "libre2-9", "software-properties-common", "wget"],
        ["python3", "libarchive-dev", "python3-pip", "libpython3-dev"],
    ]
    assert COMPAT in dockerfile
    assert ('    && pip3 install --upgrade pip && pip3 install --upgrade wheel setuptools "numpy<2" virtualenv \\\n'
            in dockerfile)
    assert "PIP_BREAK_SYSTEM_PACKAGES" not in dockerfile and "userdel ubuntu" not in dockerfile
    assert "# Generated by triton-groups for Triton 24.08 (server 2.49.0)" in dockerfile


@pytest.mark.parametrize(("release", "server"), [("24.12", "2.53.0"), ("25.08", "2.60.0")])
def test_releases_from_2412_drop_libre2_and_install_python_from_apt(release: str, server: str) -> None:
    dockerfile = render_dockerfile({"python", "onnxruntime"}, f"nvcr.io/nvidia/tritonserver:{release}-py3")
    assert apt_steps(dockerfile) == [
        sorted([*COMMON, "libgomp1", "python3-pip", "software-properties-common", "wget"]),
        ["python3", "libarchive-dev", "python3-pip", "python3-wheel", "python3-setuptools", "libpython3-dev"],
    ]
    assert "libre2" not in dockerfile
    assert COMPAT in dockerfile
    assert '    && pip3 install --upgrade "numpy<2" virtualenv \\\n' in dockerfile
    assert "ENV PIP_BREAK_SYSTEM_PACKAGES=1\n" in dockerfile
    assert "    && userdel ubuntu > /dev/null 2>&1 || true \\\n" in dockerfile
    assert f"# Generated by triton-groups for Triton {release} (server {server})" in dockerfile


def test_the_supported_releases_are_the_three_checked_against_build_py() -> None:
    assert list(RELEASES) == ["24.08", "24.12", "25.08"]


def test_the_release_comes_from_the_tag_or_is_given() -> None:
    assert release_of(BASE) == "24.08"
    assert release_of(f"{BASE}@sha256:{'0' * 64}") == "24.08"
    assert release_of("nvcr.io/nvidia/tritonserver@sha256:" + "0" * 64) is None
    assert release_of("nvcr.io/nvidia/tritonserver@sha256:" + "0" * 64, "24.12") == "24.12"
    with pytest.raises(ValueError, match=r"Triton release 24\.05 of .* is not supported \(supported: 24\.08, "
                                         r"24\.12, 25\.08\)"):
        render_dockerfile({"python"}, "nvcr.io/nvidia/tritonserver:24.05-py3")
    with pytest.raises(ValueError, match=r"Triton release \(unknown\)"):
        render_dockerfile({"python"}, "registry.example.com/triton:latest", min_image="registry.example.com/t:min")


def test_system_packages_follow_the_backends() -> None:
    python_only = render_dockerfile({"python"}, BASE)
    assert "libgomp1" not in python_only
    assert "        libarchive-dev \\\n" in python_only
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
