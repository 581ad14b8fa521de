"""A small collector of `Problem`s for one model's config.pbtxt, so that each rule reads as one call."""

from __future__ import annotations

from dataclasses import dataclass, field

from components._internal.schemas import mc
from components.core.problems import Problem, Severity


@dataclass
class Findings:
    """The problems found for one config file (`<model>/config.pbtxt`), in the order they were found."""

    label: str
    problems: list[Problem] = field(default_factory=list)

    def error(self, field_path: str, message: str, code: str) -> None:
        self.problems.append(Problem(self.label, field_path, message, code))

    def warning(self, field_path: str, message: str, code: str) -> None:
        self.problems.append(Problem(self.label, field_path, message, code, severity=Severity.WARNING))


def type_name(data_type: int) -> str:
    """Triton's name of a data type enum value, e.g. `TYPE_FP32`."""
    return mc.DataType.Name(data_type)


def shape_text(dims: object) -> str:
    """A shape as Triton prints it: `[-1,3,224,224]`."""
    return "[" + ",".join(str(d) for d in dims) + "]"  # type: ignore[union-attr]
