"""Rules on a config's identity: its name, platform and backend, batch size and version policy.

Triton checks these when it loads the model (model_config_utils.cc ValidateModelConfig); the messages say
the same thing in plain words and what to change.
"""

from __future__ import annotations

from components._internal.schemas import mc
from components.core.triton import (
    CHECKED_BACKENDS,
    ENSEMBLE,
    NAME_PATTERN,
    PLATFORM_BACKENDS,
    SHIPPED_BACKENDS,
    is_ensemble,
)
from components.core.validate.report import Findings


def check_identity(folder: str, config: mc.ModelConfig, found: Findings) -> None:
    """The name matches the folder; platform and backend name something Triton can run, consistently."""
    if config.name and config.name != folder:
        fix = (f"write name: \"{folder}\" or leave name out" if NAME_PATTERN.match(folder) else
               "rename the folder to a valid model name, then write that name or leave name out")
        found.error("name", f"name {config.name!r} does not match the model folder {folder!r}; Triton requires them "
                    f"to be equal: {fix}", "config.name")
    _check_platform_backend(config, found)


def _check_platform_backend(config: mc.ModelConfig, found: Findings) -> None:
    platform, backend = config.platform, config.backend
    known_platforms = sorted([*PLATFORM_BACKENDS, ENSEMBLE])
    if not platform and not backend:
        found.error("platform", "neither platform nor backend is set; give platform (e.g. onnxruntime_onnx, "
                    "pytorch_libtorch, ensemble) or backend (e.g. python, onnxruntime)", "config.platform_missing")
        return
    if is_ensemble(config):
        if backend:
            found.error("backend", f"an ensemble has no backend; remove backend: {backend!r}", "config.backend")
        return
    if not backend and platform not in PLATFORM_BACKENDS:
        found.error("platform", f"unknown platform {platform!r} and no backend; use one of "
                    f"{', '.join(known_platforms)} or set backend", "config.platform")
        return
    implied = PLATFORM_BACKENDS.get(platform)
    if backend in CHECKED_BACKENDS and platform and implied != backend:
        expected = [p for p, b in PLATFORM_BACKENDS.items() if b == backend]
        found.error("platform", f"platform {platform!r} does not go with backend {backend!r}; use platform "
                    f"{' or '.join(expected)} or leave platform out", "config.platform_backend")
    if backend and backend not in SHIPPED_BACKENDS:
        shipped = ", ".join(sorted(SHIPPED_BACKENDS))
        found.warning("backend", f"backend {backend!r} is not one Triton ships ({shipped}); this is fine only if "
                      "the serving image has this custom backend", "config.backend_unknown")


def check_batch_and_versions(config: mc.ModelConfig, found: Findings) -> None:
    """max_batch_size is not negative and the version policy can select at least one version."""
    if config.max_batch_size < 0:
        found.error("max_batch_size", f"max_batch_size is {config.max_batch_size}; it must be 0 (no batching) or "
                    "more", "config.max_batch_size")
    policy = config.version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "latest" and policy.latest.num_versions == 0:
        found.error("version_policy.latest.num_versions", "latest with num_versions 0 selects no version; "
                    "use 1 or more", "config.version_policy")
    if choice == "specific" and not policy.specific.versions:
        found.error("version_policy.specific.versions", "specific lists no version; list the versions to "
                    "serve", "config.version_policy")
    for version in policy.specific.versions:
        if version < 0:
            found.error("version_policy.specific.versions", f"version {version} is negative; versions are "
                        "folder numbers 1, 2, ...", "config.version_policy")


def check_has_tensors(config: mc.ModelConfig, found: Findings) -> None:
    """Triton's minimal configuration lists the model's inputs and outputs."""
    if is_ensemble(config):
        return
    for kind, tensors in (("input", config.input), ("output", config.output)):
        if not tensors:
            found.warning(kind, f"no {kind} is listed; Triton's minimal model configuration lists every {kind} "
                          "with its name, data_type and dims", f"config.no_{kind}")
