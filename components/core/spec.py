"""The model-group spec: one YAML file describing a heterogeneous group of Triton models.

Load it with `load_spec(path)`; every problem in the file is reported at once as a `Problem` with
`file:line: field.path: message`. Paths inside the spec are relative to the spec file and are
resolved with `GroupSpec.resolve`. `GroupSpec.model_json_schema()` is what `triton-groups schema`
prints.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError
from tritonclient.grpc import model_config_pb2 as mc

from components._internal.yaml_lines import line_of, load_with_lines
from components.core.problems import Problem, UserError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = (
    "must be 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-', "
    "so that it is valid as a Triton model folder and as an OCI inference key"
)

PLATFORM_BACKENDS: dict[str, str] = {
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
    "tensorflow_savedmodel": "tensorflow",
    "tensorflow_graphdef": "tensorflow",
    "tensorrt_plan": "tensorrt",
}
"""Triton's platforms and the backend each one runs on (`ensemble` has no backend)."""

DEFAULT_MODEL_FILENAMES: dict[str, str] = {
    "onnxruntime": "model.onnx",
    "pytorch": "model.pt",
    "tensorflow_savedmodel": "model.savedmodel",
    "tensorflow_graphdef": "model.graphdef",
    "tensorrt": "model.plan",
    "python": "model.py",
    "openvino": "model.xml",
}
"""The file Triton looks for in a version folder when `default_model_filename` is not set."""


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
VersionNumber = Annotated[int, AfterValidator(_check_version)]
"""A model version: Triton's numeric version folder, 1 or more."""
RelativePath = Annotated[str, Field(min_length=1, description="a path relative to the spec file")]


class StrictModel(BaseModel):
    """Every spec object refuses unknown keys: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(StrictModel):
    name: str = Field(min_length=1)
    data_type: DataTypeName
    dims: list[int]
    reshape: list[int] | None = Field(None, description="the shape the model sees, if it differs from dims")
    optional: bool = False


class OutputSpec(StrictModel):
    name: str = Field(min_length=1)
    data_type: DataTypeName
    dims: list[int]
    reshape: list[int] | None = None
    label_filename: RelativePath | None = None


class InstanceGroupSpec(StrictModel):
    kind: KindName = "KIND_AUTO"
    count: int = Field(1, ge=1)
    gpus: list[int] = Field(default_factory=list)
    name: str | None = None


class QueuePolicySpec(StrictModel):
    timeout_action: Literal["REJECT", "DELAY"] = "REJECT"
    default_timeout_microseconds: int = Field(0, ge=0)
    allow_timeout_override: bool = False
    max_queue_size: int = Field(0, ge=0)


class DynamicBatchingSpec(StrictModel):
    preferred_batch_size: list[int] = Field(default_factory=list)
    max_queue_delay_microseconds: int = Field(0, ge=0)
    preserve_ordering: bool = False
    priority_levels: int = Field(0, ge=0)
    default_priority_level: int = Field(0, ge=0)
    default_queue_policy: QueuePolicySpec | None = None
    priority_queue_policy: dict[int, QueuePolicySpec] = Field(default_factory=dict)


class VersionPolicySpec(StrictModel):
    """Which versions Triton serves: the latest N, all of them, or a specific list."""

    latest: int | None = Field(None, ge=1)
    all: bool | None = None
    specific: list[VersionNumber] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> VersionPolicySpec:
        chosen = [k for k in ("latest", "all", "specific") if getattr(self, k) not in (None, False)]
        if len(chosen) != 1:
            raise PydanticCustomError(
                "spec.version_policy", "give exactly one of latest: N, all: true or specific: [versions]"
            )
        return self


class PythonSpec(StrictModel):
    """Python-backend extras (seed 000): a conda-pack environment and a custom backend stub."""

    execution_env: RelativePath | None = Field(
        None, description="a conda-pack tar.gz, placed at env/<file> in the model folder"
    )
    stub: RelativePath | None = Field(None, description="a custom triton_python_backend_stub binary")


class EnsembleStepSpec(StrictModel):
    model: str = Field(min_length=1)
    version: int = -1
    input_map: dict[str, str] = Field(description="the step model's input name -> ensemble tensor")
    output_map: dict[str, str] = Field(description="the step model's output name -> ensemble tensor")


class EnsembleSpec(StrictModel):
    steps: list[EnsembleStepSpec] = Field(min_length=1)


class SmokeInput(StrictModel):
    """One input tensor of a smoke case: an inline value or a .npy file."""

    value: Any = None
    npy: RelativePath | None = None
    datatype: DataTypeName | None = Field(None, description="defaults to the model input's data_type")
    shape: list[int] | None = Field(None, description="defaults to the value's own shape")

    @model_validator(mode="after")
    def _one_source(self) -> SmokeInput:
        if (self.value is None) == (self.npy is None):
            raise PydanticCustomError("spec.smoke_input", "give exactly one of value or npy")
        return self


MatchKind = Literal["exact", "allclose", "argmax", "top_k", "shape"]


class SmokeExpectation(StrictModel):
    """What one output must look like.

    exact: equal values; allclose: within rtol/atol; argmax: the index of the largest value along the
    last axis equals `value` (one per row); top_k: the k largest values' indices along the last axis
    are the set `value`; shape: only `shape` and/or `datatype` are checked. `shape` and `datatype`
    are checked in every mode when given.
    """

    match: MatchKind
    value: Any = None
    npy: RelativePath | None = None
    rtol: float = Field(1e-5, ge=0)
    atol: float = Field(1e-8, ge=0)
    k: int | None = Field(None, ge=1)
    shape: list[int] | None = None
    datatype: DataTypeName | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SmokeExpectation:
        has_value = self.value is not None or self.npy is not None
        if self.value is not None and self.npy is not None:
            raise PydanticCustomError("spec.smoke_expect", "give value or npy, not both")
        if self.match == "shape":
            if has_value:
                raise PydanticCustomError("spec.smoke_expect", "match: shape checks no value; remove value/npy")
            if self.shape is None and self.datatype is None:
                raise PydanticCustomError("spec.smoke_expect", "match: shape needs shape, datatype or both")
        elif not has_value:
            raise PydanticCustomError(
                "spec.smoke_expect", "match: {match} needs the expected value or npy", {"match": self.match}
            )
        if (self.match == "top_k") != (self.k is not None):
            raise PydanticCustomError("spec.smoke_expect", "k goes with match: top_k, and top_k needs k")
        return self


class SmokeCase(StrictModel):
    name: str = Field(min_length=1)
    inputs: dict[str, SmokeInput] = Field(min_length=1)
    expect: dict[str, SmokeExpectation] = Field(min_length=1)
    version: int | None = Field(None, ge=1, description="the model version to query; default: Triton's choice")


class SmokeSettings(StrictModel):
    repeats: int = Field(1, ge=1, description="requests per case, for p50/p99 latency")
    latency_budget_ms: float | None = Field(None, gt=0, description="fail the run when p99 exceeds this")
    timeout_s: float = Field(60.0, gt=0, description="how long to wait for the server and models")


class ModelSpec(StrictModel):
    """One Triton model: its name is also its folder name and its OCI inference key."""

    name: ModelName
    platform: str | None = Field(None, description="onnxruntime_onnx, pytorch_libtorch, ensemble, ...")
    backend: str | None = Field(None, description="python, onnxruntime, or any backend name")
    config: RelativePath | None = Field(None, description="an existing config.pbtxt used as is")
    versions: dict[VersionNumber, RelativePath] = Field(
        default_factory=dict, description="version number -> model file or folder"
    )
    default_model_filename: str | None = None
    max_batch_size: int = Field(0, ge=0)
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

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.config is not None:
            rendered_fields = [
                f
                for f in ("platform", "backend", "default_model_filename", "inputs", "outputs",
                          "instance_groups", "dynamic_batching", "version_policy", "parameters",
                          "ensemble", "extra_config", "python")
                if f in self.model_fields_set
            ]
            if rendered_fields:
                raise PydanticCustomError(
                    "spec.byo_config",
                    "config: {config} is used as is; move {fields} into that file or drop config",
                    {"config": self.config, "fields": ", ".join(rendered_fields)},
                )
            return self
        if self.platform is None and self.backend is None:
            raise PydanticCustomError(
                "spec.platform_missing",
                "give platform (onnxruntime_onnx, pytorch_libtorch, ensemble, ...) or backend (python, ...)",
            )
        if self.platform in PLATFORM_BACKENDS and self.backend not in (None, PLATFORM_BACKENDS[self.platform]):
            raise PydanticCustomError(
                "spec.platform_backend",
                "platform {platform} runs on backend {expected}, not {backend}",
                {"platform": self.platform, "expected": PLATFORM_BACKENDS[self.platform], "backend": self.backend},
            )
        if (self.platform == "ensemble") != (self.ensemble is not None):
            raise PydanticCustomError(
                "spec.ensemble", "platform: ensemble and an ensemble: section go together"
            )
        if self.python is not None and self.backend != "python":
            raise PydanticCustomError("spec.python", "python: settings need backend: python")
        if self.platform != "ensemble" and not self.versions:
            raise PydanticCustomError("spec.versions", "give versions: {1: path/to/model file or folder}")
        return self

    @property
    def effective_backend(self) -> str | None:
        """The backend Triton runs this model with (None for ensembles and bring-your-own configs)."""
        if self.backend:
            return self.backend
        return PLATFORM_BACKENDS.get(self.platform or "")


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

    @property
    def source(self) -> Path:
        """The spec file this group was loaded from."""
        return self._source

    @property
    def shown_path(self) -> str:
        """The spec file as the user named it, for messages."""
        return self._shown

    def resolve(self, relative: str) -> Path:
        """A path written in the spec, resolved against the spec file's folder."""
        return (self._source.parent / relative).resolve()

    def model(self, name: str) -> ModelSpec:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def line(self, *path: Any) -> int | None:
        """The spec line of a field path such as ('models', 0, 'versions', 1)."""
        return line_of(self._lines, path)


def load_spec(path: Path | str) -> GroupSpec:
    """Load and check a spec file; raise UserError listing every problem, each with its line."""
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        missing = Problem(shown, "", "no such file; give the path of a group spec (YAML)", "spec.missing")
        raise UserError(missing) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(Problem(shown, "", f"cannot read the file: {exc}", "spec.unreadable")) from None
    try:
        data, lines = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise UserError(
            Problem(shown, "", f"not valid YAML: {reason}", "spec.yaml", line=mark.line + 1 if mark else None)
        ) from None
    if not isinstance(data, dict):
        raise UserError(Problem(shown, "", "the spec must be a mapping with name: and models:", "spec.shape", 1))
    try:
        spec = GroupSpec.model_validate(data)
    except ValidationError as exc:
        raise UserError(_problems_from_validation(exc, shown, data, lines)) from None
    spec._source = path.resolve()
    spec._shown = shown
    spec._lines = lines
    from components.core.spec_checks import check_spec

    problems = check_spec(spec, shown)
    if any(p.is_error for p in problems):
        raise UserError(problems)
    return spec


def _problems_from_validation(
    exc: ValidationError, file: str, data: Any, lines: dict[tuple[Any, ...], int]
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        problems.append(
            Problem(
                file=file,
                field=field_path(loc, data),
                message=_plain_message(error),
                code=error["type"],
                line=line_of(lines, loc),
            )
        )
    return sorted(problems, key=lambda p: (p.line or 0, p.field))


def field_path(loc: tuple[Any, ...], data: Any) -> str:
    """`models[classifier].inputs[0].dims` from ('models', 2, 'inputs', 0, 'dims')."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            item = node[part] if part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(f"[{name}]" if isinstance(name, str) and name else f"[{part}]")
            node = item
        else:
            parts.append(f".{part}" if parts else str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts)


def _plain_message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling (`triton-groups schema` lists the keys)"
    if kind == "missing":
        return "required; add it"
    return str(error["msg"]).removeprefix("Value error, ")
