"""Problems a user can cause, reported all at once with a stable code, a location and a plain message.

A `Problem` is the unit of every user-facing error: the spec loader, the validator and the OCI
pre-flight checks all return lists of them, and the CLI prints them one per line and exits 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from components.core.error_codes import is_known

_REPR_SURROGATE = re.compile(r"\\udc([89a-f][0-9a-f])")
"""How repr() writes a byte of a file name that is not UTF-8."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong, where it is, and what to do about it.

    `file` is the file the user edits (a spec, a config.pbtxt shown as `<model>/config.pbtxt`, a
    stack config); `line` is 1-based when known; `field` is a dotted path inside that file;
    `code` is stable across releases so that scripts and tests can match on it.
    """

    file: str
    field: str
    message: str
    code: str
    line: int | None = None
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        if not is_known(self.code):
            raise ValueError(f"problem code {self.code!r} is not in the registry: list it in "
                             "components/core/error_codes.py (CODES), named <area>.<what>")

    def __str__(self) -> str:
        """`file:line: field: message` on one line (see `printable`); the parts not known are left out."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        location = ": ".join(part for part in (where, self.field) if part)
        return printable(f"{location}: {prefix}{self.message}" if location else f"{prefix}{self.message}")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def printable(text: str) -> str:
    """`text` fit for one line of a terminal: line breaks, other control characters and the bytes of a file name
    that are not UTF-8 (Python's surrogate escapes) written as escapes (`\\n`, `\\x1b`, `\\xff`).

    A name already shown with repr() writes such a byte as `\\udcff`; it is shown as `\\xff` too, so that one
    file name reads the same everywhere in a message.
    """
    if not text.isprintable():
        text = "".join(
            char if char.isprintable()
            else f"\\x{ord(char) - 0xDC00:02x}" if "\udc80" <= char <= "\udcff"
            else char.encode("unicode_escape").decode("ascii")
            for char in text
        )
    return _REPR_SURROGATE.sub(r"\\x\1", text) if "\\udc" in text else text


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that make the input unusable (warnings left out)."""
    return [p for p in problems if p.is_error]


class UserError(Exception):
    """An error the user can fix: carries every problem found, never a traceback for the CLI."""

    def __init__(self, problems: Iterable[Problem] | Problem) -> None:
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
