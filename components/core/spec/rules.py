"""The framework of the spec's objects: strict models, and cross-field rules that report every problem at once.

`StrictModel` refuses unknown keys. A `RuledModel` lists `spec_rules`, functions of the object's `Fields` (its
raw values, whether or not they validated) that return a `Broken`: pydantic then reports them beside the field
errors, in one run, each with its code (`spec.*`) and field path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError


class StrictModel(BaseModel):
    """Every spec object refuses unknown keys: a typo must never be silently ignored. Validators are built on
    first use (`defer_build`): processes that never read a spec (a provider's diff, a command on a repository
    folder) do not pay for them at import."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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


def broken(code: str, message: str, context: dict[str, Any] | None = None, field: str | None = None) -> Broken:
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
            found = _broken_rules(cls.spec_rules, Fields.as_written(cls, data, failed))
            if not found:
                raise
            raise combined_error(cls.__name__, errors, found, data) from None
        found = _broken_rules(cls.spec_rules, Fields.of_model(model))
        if found:
            raise combined_error(cls.__name__, [], found, data)
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


def combined_error(title: str, errors: list[ErrorDetails], broken: list[Broken], data: Any) -> ValidationError:
    """One ValidationError with the field `errors` (kept as they are) and the `broken` rules."""
    details: list[InitErrorDetails] = [
        {"type": PydanticCustomError(e["type"], e["msg"], e.get("ctx")), "loc": e["loc"], "input": e["input"]}
        for e in errors
    ]
    details += [{"type": b.error, "loc": (b.field,) if b.field else (), "input": data} for b in broken]
    return ValidationError.from_exception_data(title, details)
