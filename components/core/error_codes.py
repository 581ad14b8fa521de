"""The closed set of problem codes: every `Problem` carries one, stable across releases, named `<area>.<what>`.

Scripts and tests match on codes, so a code is a promise: it is listed here before it is used (`Problem` refuses
any other when it is made), and tests/test_error_codes.py checks that every listed code is written somewhere in
the source and that every code the source writes where a Problem takes its code is listed. Codes whose last part
comes from a library or a closed internal vocabulary (pydantic's
error types, `source_files.NotUsable` kinds, the validator's field names) belong to an `open_families()` prefix.
"""

from __future__ import annotations

import functools
import re
import typing

CODE_SHAPE = re.compile(r"^[a-z]+(\.[a-z0-9_]+)+$")
"""`area.what` (more dots for sub-areas), lower-case words joined by `_`."""

AREAS = frozenset({
    "cli", "config", "ensemble", "files", "gpus", "hash", "input", "junit", "names", "oci", "onnx", "package",
    "pulumi", "release", "repository", "runtime", "settings", "smoke", "spec", "stacks",
})
"""What the problem is about: a command's usage, a config.pbtxt, an ensemble, the spec, the stack settings, ..."""

CODES = frozenset({
    # cli
    "cli.invalid", "cli.not_a_spec",
    # config
    "config.backend", "config.backend_inferred", "config.backend_unknown", "config.batch_input",
    "config.batch_input_target", "config.batch_io_ensemble", "config.batch_output", "config.batch_output_target",
    "config.data_type", "config.dims", "config.duplicate_tensor", "config.dynamic_batching", "config.format",
    "config.instance_count", "config.instance_group", "config.max_batch_size", "config.missing", "config.name",
    "config.no_input", "config.no_output", "config.non_linear_format", "config.optional_input", "config.parse",
    "config.platform", "config.platform_backend", "config.platform_missing", "config.preferred_batch_size",
    "config.preserve_ordering", "config.priority", "config.reshape", "config.response_cache",
    "config.sequence_batching", "config.sequence_control", "config.shape_tensor", "config.tensor_name",
    "config.version_policy", "config.warmup",
    # ensemble
    "ensemble.batch_size", "ensemble.cycle", "ensemble.data_type", "ensemble.decoupled", "ensemble.decoupled_cache",
    "ensemble.decoupled_ignored", "ensemble.decoupled_inputs", "ensemble.decoupled_outputs",
    "ensemble.duplicate_writer", "ensemble.field", "ensemble.input_unused", "ensemble.model_version",
    "ensemble.no_steps", "ensemble.optional_input", "ensemble.output_unreachable", "ensemble.output_unwritten",
    "ensemble.platform", "ensemble.shape", "ensemble.step", "ensemble.tensor_unused", "ensemble.tensor_unwritten",
    "ensemble.unknown_input", "ensemble.unknown_model", "ensemble.unknown_output", "ensemble.unmapped_input",
    # files
    "files.execution_env", "files.label", "files.model_file", "files.no_version", "files.python_model",
    "files.unreadable", "files.version_folder", "files.version_missing", "files.warmup",
    # gpus
    "gpus.beyond_target", "gpus.none_available",
    # hash
    "hash.foreign_file", "hash.not_a_file", "hash.source_changed", "hash.source_missing", "hash.unreadable",
    # input
    "input.missing",
    # junit
    "junit.not_json", "junit.not_report",
    # names
    "names.duplicate", "names.invalid",
    # oci
    "oci.artifact.bucket", "oci.artifact_too_large", "oci.autoscaling_cool_down", "oci.autoscaling_range",
    "oci.autoscaling_thresholds", "oci.backend_unknown", "oci.base_image_unpinned", "oci.command_too_long",
    "oci.config_file", "oci.config_invalid", "oci.config_profile", "oci.container_path", "oci.display_name",
    "oci.duplicate_inference_key", "oci.ensemble_step_missing", "oci.ensemble_step_not_deployed", "oci.env_key",
    "oci.env_reserved", "oci.env_too_large", "oci.fixed_shape", "oci.flex_shape", "oci.gpu_shape", "oci.header_name",
    "oci.health_port", "oci.iam", "oci.image_digest", "oci.image_digest_mismatch", "oci.image_name",
    "oci.image_source", "oci.logging", "oci.managed_flag", "oci.min_image", "oci.model_listed_twice",
    "oci.models_single_layout", "oci.ocid", "oci.ocir_username",
    "oci.platform", "oci.port", "oci.project", "oci.region", "oci.region_key", "oci.repository", "oci.repository_dir",
    "oci.routing_headers", "oci.scaling", "oci.stack_file", "oci.tag", "oci.tensorrt_needs_gpu", "oci.triton_release",
    "oci.unknown_model", "oci.unknown_shape",
    # onnx
    "onnx.data_type", "onnx.input_count", "onnx.input_missing", "onnx.input_name", "onnx.output_name",
    "onnx.sequence_control", "onnx.shape", "onnx.unreadable",
    # package
    "package.bad_name", "package.busy", "package.cache_failed", "package.not_a_file", "package.out_in_sources",
    "package.out_not_folder", "package.out_root", "package.source_missing", "package.source_unreadable",
    "package.stale_not_removed", "package.write_failed",
    # pulumi
    "pulumi.failed", "pulumi.missing", "pulumi.output", "pulumi.project", "pulumi.timeout",
    # release
    "release.file", "release.inconsistent", "release.last_update_failed", "release.mismatch", "release.no_content",
    "release.no_update", "release.not_passed", "release.other_group", "release.wrong_stack",
    # repository
    "repository.broken_link", "repository.changed", "repository.empty", "repository.link_loop",
    "repository.link_outside", "repository.not_a_file", "repository.skipped", "repository.spec_folder",
    "repository.unreadable",
    # runtime
    "runtime.already_serving", "runtime.busy", "runtime.model_load", "runtime.no_record", "runtime.no_stub",
    "runtime.no_tritonserver", "runtime.not_recorded", "runtime.not_serving", "runtime.port_in_use", "runtime.record",
    "runtime.server_exited", "runtime.start_timeout", "runtime.state_dir", "runtime.still_running",
    # smoke
    "smoke.expect", "smoke.input", "smoke.no_cases", "smoke.repeats", "smoke.unknown_model", "smoke.url",
    # spec
    "spec.byo_config", "spec.duplicate_case", "spec.duplicate_model", "spec.encoding", "spec.ensemble", "spec.enum",
    "spec.extra_config", "spec.folder", "spec.link_outside", "spec.missing", "spec.name", "spec.path_missing",
    "spec.platform_backend", "spec.platform_missing", "spec.python", "spec.shape", "spec.smoke_expect",
    "spec.smoke_input", "spec.smoke_unknown_input", "spec.smoke_unknown_output", "spec.unreadable",
    "spec.version_policy", "spec.versions", "spec.yaml", "spec.yaml_refused",
    # stacks
    "stacks.no_spec", "stacks.none", "stacks.not_yaml", "stacks.target",
})

NOT_USABLE = frozenset({"missing", "broken_link", "unreadable", "not_a_folder", "is_a_folder", "not_a_file",
                        "too_large"})
"""Why `source_files` refuses a path (`NotUsable.code`); `input.<kind>` and `spec.<kind>` name them."""


@functools.cache
def open_families() -> dict[str, frozenset[str]]:
    """Prefixes whose last part is another vocabulary's: pydantic's error types for the spec and the stack settings
    (`spec.missing`, `settings.int_parsing`, `oci.extra_forbidden`), and `source_files.NotUsable` kinds
    (`input.too_large`). Built on first use: pydantic's schema module costs a command's start-up otherwise."""
    from pydantic_core.core_schema import ErrorType

    pydantic_types = frozenset(typing.get_args(ErrorType))
    return {"spec.": pydantic_types | NOT_USABLE, "settings.": pydantic_types, "oci.": pydantic_types,
            "input.": NOT_USABLE, "spec.path_": NOT_USABLE}


def is_known(code: str) -> bool:
    """Whether `code` is one of `CODES`, or an open family's prefix with one of its words, in the right shape."""
    if not CODE_SHAPE.match(code) or code.split(".", 1)[0] not in AREAS:
        return False
    return code in CODES or any(code.startswith(prefix) and code.removeprefix(prefix) in words
                                for prefix, words in open_families().items())
