"""The spec's objects: the group, its models, their tensors, batching, versions, ensembles and smoke cases.

Plain pydantic models (`rules.StrictModel`, `rules.RuledModel`) whose field types follow Triton's configuration
schema (data types and kinds are Triton's enum names, integers fit their protobuf fields).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
)
from pydantic_core import PydanticCustomError

from components._internal.schemas import mc
from components._internal.yaml_lines import line_of
from components.core.source_files import located
from components.core.spec.rules import Broken, Fields, RuledModel, StrictModel, broken
from components.core.triton import NAME_PATTERN, NAME_RULE, PLATFORM_BACKENDS, backend_of


def _normalize_enum(prefix: str, names: list[str], aliases: dict[str, str] | None = None) -> Any:
    def normalize(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        upper = value.strip().upper()
        upper = (aliases or {}).get(upper, upper)
        candidate = upper if upper.startswith(prefix) else prefix + upper
        if candidate not in names:
            shown = ", ".join(n.removeprefix(prefix) for n in names if not n.endswith("INVALID"))
            raise PydanticCustomError(
                "spec.enum", "unknown value '{value}'; use one of {shown}", {"value": value, "shown": shown}
            )
        return candidate

    return normalize


def _check_version(value: int) -> int:
    if value < 1:
        raise PydanticCustomError("spec.versions", "version numbers start at 1, got {v}", {"v": value})
    return value


def _check_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise PydanticCustomError("spec.name", "'{value}' " + NAME_RULE, {"value": value})
    return value


DataTypeName = Annotated[
    str, BeforeValidator(_normalize_enum("TYPE_", list(mc.DataType.keys()), aliases={"BYTES": "STRING"}))
]
"""A Triton data type, written `FP32` or `TYPE_FP32` (`BYTES`, the v2 name, means STRING); stored as the enum name."""

KindName = Annotated[
    str, BeforeValidator(_normalize_enum("KIND_", list(mc.ModelInstanceGroup.Kind.keys())))
]
ModelName = Annotated[str, AfterValidator(_check_name)]
INT32_MAX, INT64_MAX, UINT32_MAX, UINT64_MAX = 2**31 - 1, 2**63 - 1, 2**32 - 1, 2**64 - 1
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
Int64 = Annotated[int, Field(ge=-(2**63), le=INT64_MAX)]
UInt64 = Annotated[int, Field(ge=0, le=UINT64_MAX)]
"""Integers that fit the field of Triton's model configuration they become (protobuf refuses any other)."""
VersionNumber = Annotated[int, Field(le=INT64_MAX), AfterValidator(_check_version)]
"""A model version: Triton's numeric version folder, 1 or more."""
RelativePath = Annotated[str, Field(min_length=1, description="a path relative to the spec file")]
MAX_SPEC_BYTES = 64 << 20
"""The largest spec file read: a spec of 8,000 models is about 10 MB."""


def resolve_against(spec_file: Path, relative: str) -> Path:
    """A path written in the spec, against the spec file's folder; a link at its end is not followed (`located`)."""
    return located(spec_file.resolve().parent, relative)


class InputSpec(StrictModel):
    name: str = Field(min_length=1)
    data_type: DataTypeName
    dims: list[Int64]
    reshape: list[Int64] | None = Field(None, description="the shape the model sees, if it differs from dims")
    optional: bool = False


class OutputSpec(StrictModel):
    name: str = Field(min_length=1)
    data_type: DataTypeName
    dims: list[Int64]
    reshape: list[Int64] | None = None
    label_filename: RelativePath | None = None


class InstanceGroupSpec(StrictModel):
    kind: KindName = "KIND_AUTO"
    count: int = Field(1, ge=1, le=INT32_MAX)
    gpus: list[Int32] = Field(default_factory=list)
    name: str | None = None


class QueuePolicySpec(StrictModel):
    timeout_action: Literal["REJECT", "DELAY"] = "REJECT"
    default_timeout_microseconds: int = Field(0, ge=0, le=UINT64_MAX)
    allow_timeout_override: bool = False
    max_queue_size: int = Field(0, ge=0, le=UINT32_MAX)


class DynamicBatchingSpec(StrictModel):
    preferred_batch_size: list[Int32] = Field(default_factory=list)
    max_queue_delay_microseconds: int = Field(0, ge=0, le=UINT64_MAX)
    preserve_ordering: bool = False
    priority_levels: int = Field(0, ge=0, le=UINT64_MAX)
    default_priority_level: int = Field(0, ge=0, le=UINT64_MAX)
    default_queue_policy: QueuePolicySpec | None = None
    priority_queue_policy: dict[UInt64, QueuePolicySpec] = Field(default_factory=dict)


def _one_version_policy(fields: Fields) -> Broken | None:
    """A version policy is exactly one of latest, all: true, specific (an invalid one still counts as given)."""
    chosen = [name for name in ("latest", "specific") if fields.present(name)]
    if fields.present("all") and fields.value("all"):
        chosen.append("all")
    if len(chosen) == 1:
        return None
    return broken("spec.version_policy", "give exactly one of latest: N, all: true or specific: [versions]")


class VersionPolicySpec(RuledModel):
    """Which versions Triton serves: the latest N, all of them, or a specific list."""

    spec_rules = (_one_version_policy,)

    latest: int | None = Field(None, ge=1, le=UINT32_MAX)
    all: bool | None = None
    specific: list[VersionNumber] | None = Field(None, min_length=1)


class PythonSpec(StrictModel):
    """Python-backend extras: a conda-pack environment and a custom backend stub."""

    execution_env: RelativePath | None = Field(
        None, description="a conda-pack tar.gz, placed at env/<file> in the model folder"
    )
    stub: RelativePath | None = Field(None, description="a custom triton_python_backend_stub binary")


class EnsembleStepSpec(StrictModel):
    model: str = Field(min_length=1)
    version: Int64 = -1
    input_map: dict[str, str] = Field(description="the step model's input name -> ensemble tensor")
    output_map: dict[str, str] = Field(description="the step model's output name -> ensemble tensor")


class EnsembleSpec(StrictModel):
    steps: list[EnsembleStepSpec] = Field(min_length=1)


def _one_input_source(fields: Fields) -> Broken | None:
    if fields.present("value") != fields.present("npy"):
        return None
    return broken("spec.smoke_input", "give exactly one of value or npy")


class SmokeInput(RuledModel):
    """One input tensor of a smoke case: an inline value or a .npy file."""

    spec_rules = (_one_input_source,)

    value: Any = None
    npy: RelativePath | None = None
    datatype: DataTypeName | None = Field(None, description="defaults to the model input's data_type")
    shape: list[int] | None = Field(None, description="defaults to the value's own shape")


MatchKind = Literal["exact", "allclose", "argmax", "top_k", "shape"]


def _value_or_npy(fields: Fields) -> Broken | None:
    if fields.present("value") and fields.present("npy"):
        return broken("spec.smoke_expect", "give value or npy, not both")
    return None


def _expected_value_fits_match(fields: Fields) -> Broken | None:
    """match: shape checks no value but needs shape and/or datatype; every other match needs a value."""
    match = fields.value("match")
    has_value = fields.present("value") or fields.present("npy")
    if match == "shape" and has_value:
        return broken("spec.smoke_expect", "match: shape checks no value; remove value/npy")
    if match == "shape" and not (fields.present("shape") or fields.present("datatype")):
        return broken("spec.smoke_expect", "match: shape needs shape, datatype or both")
    if match != "shape" and not has_value:
        return broken("spec.smoke_expect", "match: {match} needs the expected value or npy", {"match": match})
    return None


def _k_with_top_k(fields: Fields) -> Broken | None:
    if (fields.value("match") == "top_k") == fields.present("k"):
        return None
    return broken("spec.smoke_expect", "k goes with match: top_k, and top_k needs k")


class SmokeExpectation(RuledModel):
    """What one output must look like.

    exact: equal values; allclose: within rtol/atol; argmax: the index of the largest value along the
    last axis equals `value` (one per row); top_k: the k largest values' indices along the last axis
    are the set `value`; shape: only `shape` and/or `datatype` are checked. `shape` and `datatype`
    are checked in every mode when given.
    """

    spec_rules = (_value_or_npy, _expected_value_fits_match, _k_with_top_k)

    match: MatchKind
    value: Any = None
    npy: RelativePath | None = None
    rtol: float = Field(1e-5, ge=0)
    atol: float = Field(1e-8, ge=0)
    k: int | None = Field(None, ge=1)
    shape: list[int] | None = None
    datatype: DataTypeName | None = None


class SmokeCase(StrictModel):
    name: str = Field(min_length=1)
    inputs: dict[str, SmokeInput] = Field(min_length=1)
    expect: dict[str, SmokeExpectation] = Field(min_length=1)
    version: int | None = Field(None, ge=1, le=INT64_MAX,
                                description="the model version to query; default: Triton's choice")


class SmokeSettings(StrictModel):
    repeats: int = Field(1, ge=1, description="requests per case, for p50/p99 latency")
    latency_budget_ms: float | None = Field(None, gt=0, description="fail the run when p99 exceeds this")
    timeout_s: float = Field(60.0, gt=0, description="how long to wait for the server and models")


RENDERED_FIELDS = (
    "platform", "backend", "default_model_filename", "inputs", "outputs", "instance_groups", "dynamic_batching",
    "version_policy", "parameters", "ensemble", "extra_config", "python",
)
"""The ModelSpec fields that make up a rendered config.pbtxt: a bring-your-own config refuses them."""


def _config_used_as_is(fields: Fields) -> Broken | None:
    if not fields.present("config"):
        return None
    rendered = [name for name in RENDERED_FIELDS if fields.given(name)]
    if not rendered:
        return None
    return broken(
        "spec.byo_config",
        "config: {config} is used as is; move {fields} into that file or drop config",
        {"config": fields.values["config"], "fields": ", ".join(rendered)},
    )


def _platform_or_backend(fields: Fields) -> Broken | None:
    if any(fields.present(name) for name in ("config", "platform", "backend")):
        return None
    return broken(
        "spec.platform_missing",
        "give platform (onnxruntime_onnx, pytorch_libtorch, ensemble, ...) or backend (python, ...)",
    )


def _backend_of_platform(fields: Fields) -> Broken | None:
    platform, backend = fields.value("platform"), fields.value("backend")
    if fields.present("config") or platform not in PLATFORM_BACKENDS or backend in (None, PLATFORM_BACKENDS[platform]):
        return None
    return broken(
        "spec.platform_backend",
        "platform {platform} runs on backend {expected}, not {backend}",
        {"platform": platform, "expected": PLATFORM_BACKENDS[platform], "backend": backend},
        field="backend",
    )


def _ensemble_section(fields: Fields) -> Broken | None:
    """platform: ensemble and an ensemble: section go together."""
    if fields.present("config"):
        return None
    is_ensemble, has_section = fields.value("platform") == "ensemble", fields.present("ensemble")
    if is_ensemble and not has_section:
        return broken("spec.ensemble", "platform: ensemble needs an ensemble: section with its steps",
                       field="platform")
    if has_section and not is_ensemble:
        return broken("spec.ensemble", "an ensemble: section needs platform: ensemble", field="ensemble")
    return None


def _python_settings_need_python(fields: Fields) -> Broken | None:
    if fields.present("config") or not fields.present("python") or fields.value("backend") == "python":
        return None
    return broken("spec.python", "these settings are for the Python backend; add backend: python or remove them",
                   field="python")


def _versions_given(fields: Fields) -> Broken | None:
    if fields.present("config") or fields.value("platform") == "ensemble" or fields.value("versions"):
        return None
    return broken("spec.versions", "required unless platform: ensemble; give {1: path/to/model file or folder}",
                   field="versions")


class ModelSpec(RuledModel):
    """One Triton model: its name is also its folder name and its OCI inference key."""

    spec_rules = (_config_used_as_is, _platform_or_backend, _backend_of_platform, _ensemble_section,
                  _python_settings_need_python, _versions_given)

    name: ModelName
    platform: str | None = Field(None, description="onnxruntime_onnx, pytorch_libtorch, ensemble, ...")
    backend: str | None = Field(None, description="python, onnxruntime, or any backend name")
    config: RelativePath | None = Field(None, description="an existing config.pbtxt used as is")
    versions: dict[VersionNumber, RelativePath] = Field(
        default_factory=dict, description="version number -> model file or folder"
    )
    allow_links_to: list[RelativePath] = Field(
        default_factory=list,
        description="folders outside this model's own source folders that symbolic links among its files may point "
        "into (by default a link is followed only when it stays inside the folders the model's paths name)",
    )
    default_model_filename: str | None = None
    max_batch_size: int = Field(0, ge=0, le=INT32_MAX)
    inputs: list[InputSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)
    instance_groups: list[InstanceGroupSpec] = Field(default_factory=list)
    dynamic_batching: DynamicBatchingSpec | None = None
    version_policy: VersionPolicySpec | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    python: PythonSpec | None = None
    ensemble: EnsembleSpec | None = None
    extra_config: str | None = Field(
        None, description="config.pbtxt text merged into the rendered config, for fields the spec does not name"
    )
    smoke: list[SmokeCase] = Field(default_factory=list)

    @property
    def effective_backend(self) -> str | None:
        """The backend Triton runs this model with (None for ensembles and bring-your-own configs)."""
        return backend_of(self.platform, self.backend) or None


class GroupSpec(StrictModel):
    """A heterogeneous model group: the models served together behind one Triton endpoint."""

    name: ModelName = Field(description="the group's name; used in OCI display names")
    description: str = ""
    models: list[ModelSpec] = Field(min_length=1)
    server_args: list[str] = Field(
        default_factory=list, description="extra tritonserver flags, e.g. --log-verbose=1"
    )
    smoke: SmokeSettings = Field(default_factory=SmokeSettings)

    _source: Path = PrivateAttr(default=Path("group.yaml"))
    _shown: str = PrivateAttr(default="group.yaml")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)
    _positions: dict[int, int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path:
        """The spec file this group was loaded from."""
        return self._source

    @property
    def shown_path(self) -> str:
        """The spec file as the user named it, for messages."""
        return self._shown

    def resolve(self, relative: str) -> Path:
        """A path written in the spec, against the spec file's folder: its folders resolved, a link at its end kept
        as a link (`source_files.located`), so that the link rule can see it."""
        return resolve_against(self._source, relative)

    def model(self, name: str) -> ModelSpec:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def index_of(self, model: ModelSpec) -> int:
        """The position of `model` (this very object) in `models`, for its spec lines; constant time.

        Not `models.index`: that compares whole models field by field, which made a spec of thousands
        of models take minutes.
        """
        if len(self._positions) != len(self.models):
            self._positions = {id(given): index for index, given in enumerate(self.models)}
        return self._positions[id(model)]

    def line(self, *path: Any) -> int | None:
        """The spec line of a field path such as ('models', 0, 'versions', 1)."""
        return line_of(self._lines, path)
