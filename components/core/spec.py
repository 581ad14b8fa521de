"""The model-group spec: one YAML file describing a heterogeneous group of Triton models.

Load it with `load_spec(path)`; every problem in the file is reported at once as a `Problem` with
`file:line: field.path: message`: field errors, the cross-field rules of each object (see `RuledModel`)
and the checks of `spec_checks` on the models that did validate, all in one run. Paths inside the spec
are relative to the spec file and are resolved with `GroupSpec.resolve`. `GroupSpec.model_json_schema()`
is what `triton-groups schema` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from components._internal.schemas import mc
from components._internal.yaml_lines import YAMLRefused, line_of, load_with_lines
from components.core.problems import Problem, UserError
from components.core.source_files import NotUsable, located, read_file
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


class StrictModel(BaseModel):
    """Every spec object refuses unknown keys: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Unknowable(Exception):
    """A rule read a field that failed its own validation; that field's error stands, the rule is skipped."""


@dataclass(frozen=True)
class Fields:
    """What a cross-field rule sees of one spec object, whether or not the object validated.

    `given(name)`: the key was written (even as null). `present(name)`: written with a non-null value,
    known even when that value is invalid. `value(name)`: the validated value, or the default when not
    written; when other fields of the object failed, the value as written. Reading the value of a field
    that failed its own validation raises `_Unknowable`: the rule cannot decide and is skipped.
    """

    values: Mapping[str, Any]
    written: frozenset[str]
    invalid: frozenset[str] = frozenset()

    @classmethod
    def of_model(cls, model: BaseModel) -> Fields:
        """The fields of an object that validated."""
        names = type(model).model_fields
        return cls({name: getattr(model, name) for name in names}, frozenset(model.model_fields_set))

    @classmethod
    def as_written(cls, model_type: type[BaseModel], data: Mapping[str, Any], invalid: set[Any]) -> Fields:
        """The fields of `data`, an input of `model_type` that failed to validate; `invalid`: the fields that failed."""
        values = {
            name: data[name] if name in data else info.get_default(call_default_factory=True)
            for name, info in model_type.model_fields.items()
            if name in data or not info.is_required()
        }
        names = set(model_type.model_fields)
        return cls(values, frozenset(names & set(data)), frozenset(names & invalid))

    def given(self, name: str) -> bool:
        return name in self.written

    def present(self, name: str) -> bool:
        return name in self.written and self.values.get(name) is not None

    def value(self, name: str) -> Any:
        if name in self.invalid:
            raise _Unknowable(name)
        return self.values[name]


@dataclass(frozen=True)
class Broken:
    """A broken cross-field rule: its error, and the field it points at (None: the object as a whole)."""

    error: PydanticCustomError
    field: str | None = None


Rule = Callable[[Fields], Broken | None]
"""A cross-field rule of one spec object: a plain function of its `Fields`, None when the rule holds."""


def _broken(code: str, message: str, context: dict[str, Any] | None = None, field: str | None = None) -> Broken:
    return Broken(PydanticCustomError(code, message, context), field)


class RuledModel(StrictModel):
    """A spec object with cross-field `spec_rules`, reported even when some of its fields are invalid.

    pydantic skips `mode="after"` validators once any field fails, so a user would only meet those
    problems on a second run. This wrap validator runs every rule on the validated object or, when
    validation failed, on the input as written (see `Fields`), and raises one ValidationError holding
    the field errors and every broken rule, each located at its object or field. Each rule is written
    once, as a function in `spec_rules`.
    """

    spec_rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="wrap")
    @classmethod
    def _check_rules(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        try:
            model = handler(data)
        except ValidationError as exc:
            if not isinstance(data, Mapping):
                raise
            errors = exc.errors(include_url=False)
            failed = {error["loc"][0] for error in errors if error["loc"]}
            broken = _broken_rules(cls.spec_rules, Fields.as_written(cls, data, failed))
            if not broken:
                raise
            raise _combined_error(cls.__name__, errors, broken, data) from None
        broken = _broken_rules(cls.spec_rules, Fields.of_model(model))
        if broken:
            raise _combined_error(cls.__name__, [], broken, data)
        return model


def _broken_rules(rules: tuple[Rule, ...], fields: Fields) -> list[Broken]:
    found = []
    for rule in rules:
        try:
            broken = rule(fields)
        except _Unknowable:
            continue
        if broken is not None:
            found.append(broken)
    return found


def _combined_error(title: str, errors: list[ErrorDetails], broken: list[Broken], data: Any) -> ValidationError:
    """One ValidationError with the field `errors` (kept as they are) and the `broken` rules."""
    details: list[InitErrorDetails] = [
        {"type": PydanticCustomError(e["type"], e["msg"], e.get("ctx")), "loc": e["loc"], "input": e["input"]}
        for e in errors
    ]
    details += [{"type": b.error, "loc": (b.field,) if b.field else (), "input": data} for b in broken]
    return ValidationError.from_exception_data(title, details)


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
    return _broken("spec.version_policy", "give exactly one of latest: N, all: true or specific: [versions]")


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
    return _broken("spec.smoke_input", "give exactly one of value or npy")


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
        return _broken("spec.smoke_expect", "give value or npy, not both")
    return None


def _expected_value_fits_match(fields: Fields) -> Broken | None:
    """match: shape checks no value but needs shape and/or datatype; every other match needs a value."""
    match = fields.value("match")
    has_value = fields.present("value") or fields.present("npy")
    if match == "shape" and has_value:
        return _broken("spec.smoke_expect", "match: shape checks no value; remove value/npy")
    if match == "shape" and not (fields.present("shape") or fields.present("datatype")):
        return _broken("spec.smoke_expect", "match: shape needs shape, datatype or both")
    if match != "shape" and not has_value:
        return _broken("spec.smoke_expect", "match: {match} needs the expected value or npy", {"match": match})
    return None


def _k_with_top_k(fields: Fields) -> Broken | None:
    if (fields.value("match") == "top_k") == fields.present("k"):
        return None
    return _broken("spec.smoke_expect", "k goes with match: top_k, and top_k needs k")


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
    return _broken(
        "spec.byo_config",
        "config: {config} is used as is; move {fields} into that file or drop config",
        {"config": fields.values["config"], "fields": ", ".join(rendered)},
    )


def _platform_or_backend(fields: Fields) -> Broken | None:
    if any(fields.present(name) for name in ("config", "platform", "backend")):
        return None
    return _broken(
        "spec.platform_missing",
        "give platform (onnxruntime_onnx, pytorch_libtorch, ensemble, ...) or backend (python, ...)",
    )


def _backend_of_platform(fields: Fields) -> Broken | None:
    platform, backend = fields.value("platform"), fields.value("backend")
    if fields.present("config") or platform not in PLATFORM_BACKENDS or backend in (None, PLATFORM_BACKENDS[platform]):
        return None
    return _broken(
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
        return _broken("spec.ensemble", "platform: ensemble needs an ensemble: section with its steps",
                       field="platform")
    if has_section and not is_ensemble:
        return _broken("spec.ensemble", "an ensemble: section needs platform: ensemble", field="ensemble")
    return None


def _python_settings_need_python(fields: Fields) -> Broken | None:
    if fields.present("config") or not fields.present("python") or fields.value("backend") == "python":
        return None
    return _broken("spec.python", "these settings are for the Python backend; add backend: python or remove them",
                   field="python")


def _versions_given(fields: Fields) -> Broken | None:
    if fields.present("config") or fields.value("platform") == "ensemble" or fields.value("versions"):
        return None
    return _broken("spec.versions", "required unless platform: ensemble; give {1: path/to/model file or folder}",
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
        return _resolve(self._source, relative)

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


def load_spec(path: Path | str) -> GroupSpec:
    """Load and check a spec file; raise UserError listing every problem, each with its line."""
    path = Path(path)
    shown = str(path)
    text = _spec_text(path, shown)
    try:
        data, lines = load_with_lines(text)
    except YAMLRefused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise UserError(Problem(shown, field_path(exc.path, None), f"refused: {exc.problem}", "spec.yaml_refused",
                                line=line)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise UserError(
            Problem(shown, "", f"not valid YAML: {reason}", "spec.yaml", line=mark.line + 1 if mark else None)
        ) from None
    if not isinstance(data, dict):
        raise UserError(Problem(shown, "", "the spec must be a mapping with name: and models:", "spec.shape", 1))
    from components.core.spec_checks import check_models, check_spec

    try:
        spec = GroupSpec.model_validate(data)
    except ValidationError as exc:
        parsed, names = _models_that_validate(data)
        problems = _problems_from_validation(exc, shown, data, lines)
        problems += check_models(
            parsed, names, shown, lambda relative: _resolve(path, relative), lambda *where: line_of(lines, where)
        )
        raise UserError(_in_line_order(problems)) from None
    spec._source = path.resolve()
    spec._shown = shown
    spec._lines = lines
    problems = check_spec(spec, shown)
    if any(p.is_error for p in problems):
        raise UserError(_in_line_order(problems))
    return spec


def _spec_text(path: Path, shown: str) -> str:
    """The spec file's text; UserError when it is not a readable UTF-8 regular file of at most MAX_SPEC_BYTES."""
    try:
        data = read_file(path, MAX_SPEC_BYTES, "a group spec")
    except NotUsable as exc:
        if exc.code == "missing":
            raise UserError(Problem(shown, "", "no such file; give the path of a group spec (YAML)",
                                    "spec.missing")) from None
        if exc.code == "is_a_folder":
            specs = sorted(str(found) for suffix in ("yaml", "yml") for found in path.glob(f"*.{suffix}"))
            raise UserError(Problem(shown, "", "is a folder; give the group spec file (YAML) itself"
                                    f"{f', e.g. {specs[0]}' if specs else ''}", "spec.folder")) from None
        if exc.code == "unreadable":
            raise UserError(Problem(shown, "", f"{exc.reason}; make it readable by this user",
                                    "spec.unreadable")) from None
        raise UserError(Problem(shown, "", f"{exc.reason}; give the group spec file (YAML)",
                                f"spec.{exc.code}")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(Problem(shown, "", f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                                f"{exc.start}); save it as UTF-8", "spec.encoding")) from None


def _resolve(spec_file: Path, relative: str) -> Path:
    """A path written in the spec, against the spec file's folder; a link at its end is not followed (`located`)."""
    return located(spec_file.resolve().parent, relative)


def _models_that_validate(data: dict[str, Any]) -> tuple[list[tuple[int, ModelSpec]], list[Any]]:
    """For a spec that failed: the (index, model) pairs that validate on their own, and every model's name.

    They let `spec_checks.check_models` report duplicate names and missing files in the same run as
    the field errors elsewhere.
    """
    written = data.get("models")
    if not isinstance(written, list):
        return [], []
    parsed = []
    for index, item in enumerate(written):
        try:
            parsed.append((index, ModelSpec.model_validate(item)))
        except ValidationError:
            continue
    return parsed, [item.get("name") if isinstance(item, dict) else None for item in written]


def _in_line_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.field))


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
    return problems


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
        elif isinstance(part, int) and not isinstance(node, dict):
            parts.append(f"[{part}]")
            node = None
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
