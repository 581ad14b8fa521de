"""A Dockerfile for a Triton image that holds only the backends a group needs.

Composed the way triton-inference-server/server's `compose.py` composes one: the server (bin, lib, include)
and each chosen backend are copied from the full NGC image (`nvcr.io/nvidia/tritonserver:<v>-py3`) onto its
`-min` sibling, after the same environment, user and system packages as that release's `build.py`
(`dockerfile_prepare_container_linux`, Ubuntu, GPU-enabled images, which also run on CPU shapes). What
build.py installs changed between releases, so the packages come from `RELEASES`, one entry per supported
release, read from the server repository's tag of that release (e.g. r24.08 is v2.49.0, whose HTTP
endpoint links libre2-9). Two differences: the entrypoint scripts come from the full image (compose.py
copies them from a checkout of the server repository, so the build context here can be empty), and DCGM
is not installed (it comes from NVIDIA's network apt repository; without it Triton only lacks its GPU
metrics). The image's ENTRYPOINT is NVIDIA's script, as in NGC's images; a model deployment replaces it
with its own (`components.core.oci_target.command`), whose command runs NVIDIA's script once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from components.core.oci_target.command import NVIDIA_ENTRYPOINT
from components.core.oci_target.group import GroupSource, model_views

NGC_BACKENDS = frozenset({"dali", "fil", "onnxruntime", "openvino", "python", "pytorch", "tensorflow", "tensorrt"})
"""Backends the full NGC tritonserver image ships; any other must be in a custom `baseImage`."""

BACKEND_NAME = re.compile(r"^[a-z0-9_]+$")
RELEASE_TAG = re.compile(r":(\d{2}\.\d{2})-py3(?:-min)?$")
"""An NGC tritonserver tag names its release: `...:24.08-py3` is release 24.08."""

_COMMON = ("clang", "curl", "dirmngr", "git", "gperf", "libb64-0d", "libcurl4-openssl-dev",
           "libgoogle-perftools-dev", "libjemalloc-dev", "libnuma-dev", "software-properties-common", "wget")
CUDA_COMPAT_STEP = (
    "RUN ln -sf ${_CUDA_COMPAT_PATH}/lib.real ${_CUDA_COMPAT_PATH}/lib \\",
    "    && echo ${_CUDA_COMPAT_PATH}/lib > /etc/ld.so.conf.d/00-cuda-compat.conf \\",
    "    && ldconfig \\",
    "    && rm -f ${_CUDA_COMPAT_PATH}/lib",
)
"""build.py's "extra defensive wiring for CUDA Compat lib" of GPU images (_CUDA_COMPAT_PATH comes from the base)."""


@dataclass(frozen=True)
class TritonRelease:
    """What one Triton release's build.py installs on an Ubuntu GPU image, beyond the backends' own needs."""

    release: str
    server_version: str
    common_packages: tuple[str, ...]
    python_packages: tuple[str, ...]
    python_pip: str
    """The pip step after the Python backend's apt packages."""
    pip_break_system_packages: bool
    remove_ubuntu_user: bool
    cuda_compat_step: bool = True


RELEASES: dict[str, TritonRelease] = {
    release.release: release
    for release in (
        TritonRelease(
            "24.08", "2.49.0", (*_COMMON, "libre2-9"),
            ("python3", "libarchive-dev", "python3-pip", "libpython3-dev"),
            'pip3 install --upgrade pip && pip3 install --upgrade wheel setuptools "numpy<2" virtualenv',
            pip_break_system_packages=False, remove_ubuntu_user=False,
        ),
        TritonRelease(
            "24.12", "2.53.0", (*_COMMON, "python3-pip"),
            ("python3", "libarchive-dev", "python3-pip", "python3-wheel", "python3-setuptools", "libpython3-dev"),
            'pip3 install --upgrade "numpy<2" virtualenv',
            pip_break_system_packages=True, remove_ubuntu_user=True,
        ),
        TritonRelease(
            "25.08", "2.60.0", (*_COMMON, "python3-pip"),
            ("python3", "libarchive-dev", "python3-pip", "python3-wheel", "python3-setuptools", "libpython3-dev"),
            'pip3 install --upgrade "numpy<2" virtualenv',
            pip_break_system_packages=True, remove_ubuntu_user=True,
        ),
    )
}
"""The supported releases, from build.py at the server's tags v2.49.0 (r24.08), v2.53.0 (r24.12) and v2.60.0
(r25.08). 25.08's build.py no longer sets PIP_BREAK_SYSTEM_PACKAGES itself; it is kept here (it only lets
pip install into the system Python, which the Python backend's step does)."""


def release_of(base_image: str, given: str | None = None) -> str | None:
    """The Triton release of a base image: `given` (image.build.tritonRelease) or its tag's; None when unknown."""
    if given:
        return given
    found = RELEASE_TAG.search(base_image.partition("@")[0])
    return found.group(1) if found else None


def backends_for(source: GroupSource, models: Collection[str] | None = None) -> set[str]:
    """The backends the group's models (only `models`, when given) run on; ensembles need none."""
    return {view.backend for view in model_views(source)
            if view.backend and (models is None or view.name in models)}


def min_image_for(base_image: str) -> str | None:
    """The `-min` sibling of a full NGC image (`...:24.08-py3` -> `...:24.08-py3-min`); None when the name
    does not say it (a digest-pinned or non-NGC image: give `minImage`)."""
    if "@" in base_image:
        return None
    repository, _, tag = base_image.rpartition(":")
    if not repository or "/" in tag or not tag.endswith("-py3"):
        return None
    return f"{repository}:{tag}-min"


def render_dockerfile(
    backends: Iterable[str], base_image: str, *, min_image: str | None = None, platform: str = "linux/amd64",
    release: str | None = None,
) -> str:
    """The Dockerfile text; the same inputs always give the same bytes (backends are sorted).

    `base_image` is the full Triton image the server and backends are copied from; `min_image` the image
    they are copied onto (default: `min_image_for(base_image)`); `release` its Triton release (default: read
    from the tag). Raises ValueError for a backend name that is not a folder name, when the min image cannot
    be derived, or when the release is unknown or not in `RELEASES`.
    """
    chosen = sorted(set(backends))
    release_name = release_of(base_image, release)
    if release_name not in RELEASES:
        supported = ", ".join(RELEASES)
        raise ValueError(f"Triton release {release_name or '(unknown)'} of {base_image!r} is not supported "
                         f"(supported: {supported})")
    profile = RELEASES[release_name]
    for backend in chosen:
        if not BACKEND_NAME.match(backend):
            raise ValueError(f"{backend!r} is not a Triton backend name (lowercase letters, digits, '_')")
    runtime_image = min_image or min_image_for(base_image)
    if runtime_image is None:
        raise ValueError(f"cannot derive the -min image of {base_image!r}; give the min image explicitly")
    packages = set(profile.common_packages)
    if {"onnxruntime", "pytorch"} & set(chosen):
        packages.add("libgomp1")
    if "pytorch" in chosen and platform == "linux/arm64":
        packages.add("libgfortran5")

    lines = [
        "# syntax=docker/dockerfile:1",
        f"# Generated by triton-groups for Triton {profile.release} (server {profile.server_version}); do not edit.",
        f"# A Triton image holding only these backends: {' '.join(chosen) or '(none)'}",
        "",
        f"FROM {base_image} AS full",
        "",
        f"FROM {runtime_image}",
        "",
        *(["ENV PIP_BREAK_SYSTEM_PACKAGES=1"] if profile.pip_break_system_packages else []),
        "ENV DEBIAN_FRONTEND=noninteractive \\",
        "    PATH=/opt/tritonserver/bin:${PATH} \\",
        "    UCX_MEM_EVENTS=no \\",
        "    TRITON_SERVER_GPU_ENABLED=1 \\",
        "    TRITON_SERVER_USER=triton-server \\",
        "    TCMALLOC_RELEASE_RATE=200 \\",
        '    NVIDIA_PRODUCT_NAME="Triton Server"',
    ]
    if "pytorch" in chosen:
        lines.append("ENV LD_LIBRARY_PATH=/opt/hpcx/ucc/lib/:/opt/hpcx/ucx/lib/:${LD_LIBRARY_PATH}")
    if "tensorflow" in chosen:
        lines.append("ENV TF_ADJUST_HUE_FUSED=1 TF_ADJUST_SATURATION_FUSED=1 TF_ENABLE_WINOGRAD_NONFUSED=1 "
                     "TF_AUTOTUNE_THRESHOLD=2")
    lines += [
        "",
        "RUN userdel tensorrt-server > /dev/null 2>&1 || true \\",
        *(["    && userdel ubuntu > /dev/null 2>&1 || true \\"] if profile.remove_ubuntu_user else []),
        "    && if ! id -u $TRITON_SERVER_USER > /dev/null 2>&1 ; then useradd $TRITON_SERVER_USER; fi \\",
        "    && [ `id -u $TRITON_SERVER_USER` -eq 1000 ] \\",
        "    && [ `id -g $TRITON_SERVER_USER` -eq 1000 ]",
        "",
        *_apt_install(sorted(packages)),
    ]
    if profile.cuda_compat_step:
        lines += ["", *CUDA_COMPAT_STEP]
    if "python" in chosen:
        lines += ["", *_apt_install(list(profile.python_packages), then=profile.python_pip)]
    lines += [
        "",
        "WORKDIR /opt/tritonserver",
        "RUN rm -fr /opt/tritonserver/*",
        "COPY --from=full /opt/nvidia/entrypoint.d/ /opt/nvidia/entrypoint.d/",
        "COPY --chown=1000:1000 --from=full /opt/tritonserver/LICENSE .",
        "COPY --chown=1000:1000 --from=full /opt/tritonserver/TRITON_VERSION .",
        "COPY --chown=1000:1000 --from=full /opt/tritonserver/NVIDIA_Deep_Learning_Container_License.pdf .",
        "COPY --chown=1000:1000 --from=full /opt/tritonserver/bin bin/",
        "COPY --chown=1000:1000 --from=full /opt/tritonserver/lib lib/",
        "COPY --chown=1000:1000 --from=full /opt/tritonserver/include include/",
    ]
    lines += [
        f"COPY --chown=1000:1000 --from=full /opt/tritonserver/backends/{backend} /opt/tritonserver/backends/{backend}"
        for backend in chosen
    ]
    if chosen:
        lines.append("RUN chown triton-server:triton-server /opt/tritonserver/backends")
    lines += ["", f'ENTRYPOINT ["{NVIDIA_ENTRYPOINT}"]', ""]
    return "\n".join(lines)


def _apt_install(packages: list[str], then: str | None = None) -> list[str]:
    steps = ["RUN apt-get update \\", "    && apt-get install -y --no-install-recommends \\"]
    steps += [f"        {package} \\" for package in packages]
    if then:
        steps.append(f"    && {then} \\")
    steps.append("    && rm -rf /var/lib/apt/lists/*")
    return steps
